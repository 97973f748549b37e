"""Helpers for the tests that run real campaigns (test_campaigns.py on this machine, test_slurm_campaigns.py on the
throwaway Slurm cluster): the engine, a tiny default-model file, direct runs to compare with, and readers of what a
campaign leaves in its experiment folder. Their fixtures (``campaign_engine``, ``tiny_model_file``) are in conftest.
"""

import json
import os
import re
import subprocess
from io import StringIO

import pandas as pd

from conftest import REPO, skip_or_fail_in_ci

WORKFLOWS = os.path.join(REPO, "workflows")
LAUNCHER = os.path.join(WORKFLOWS, "run_campaign.sh")
BUILD_ENGINE = os.path.join(WORKFLOWS, "engine", "build_engine.sh")
VENDOR = os.path.join(os.path.dirname(REPO), "shared", "vendor")
TINY_MODEL = {"synthetic_samples": 200, "synthetic_genes": 80, "latent_dim": 4, "hidden_dim": 16, "epochs": 2,
              "verbose": False, "save_model": False, "ckpt_save_interval": 0}
MLRMBO_BUDGET = {"DESIGN_SIZE": "2", "PROPOSE_POINTS": "2", "MAX_ITERATIONS": "1", "MAX_BUDGET": "4"}


def commands_missing_from_guide(guide: str, commands: list[str]) -> list[str]:
    """The ``commands`` (exact text) that the guide docs/``guide`` does not show."""
    with open(os.path.join(REPO, "docs", guide), encoding="utf-8") as handle:
        text = handle.read()
    return [command for command in commands if command not in text]


def missing_prerequisite() -> str:
    """Why the real engine cannot be built here ('' when it can)."""
    if not os.path.isdir(os.environ.get("TYBALT_VENDOR_DIR", VENDOR)):
        return (f"the vendored engine sources are not in {VENDOR} (or TYBALT_VENDOR_DIR): put the Swift/T, "
                "Supervisor, smoof and mlrMBO tarballs there")
    check = subprocess.run([BUILD_ENGINE, "--check"], capture_output=True, text=True)
    return check.stderr.strip() if check.returncode else ""


def built_engine() -> str:
    """The engine folder in the cache, built on first use; a missing prerequisite skips (fails with CI=true)."""
    reason = missing_prerequisite()
    if reason:
        skip_or_fail_in_ci(f"campaign engine not available: {reason}")
    build = subprocess.run([BUILD_ENGINE], capture_output=True, text=True, timeout=3600)
    assert build.returncode == 0, build.stderr[-3000:]
    return build.stdout.strip()


def write_tiny_model_file(folder, **values) -> str:
    """The benchmark's default-model file with tiny synthetic data in one absolute data folder under ``folder``
    (``values`` replace more of its defaults)."""
    values = {**TINY_MODEL, "data_dir": str(folder / "data"), **values}
    lines = []
    with open(os.path.join(REPO, "Tybalt", "tybalt_default_model.txt")) as handle:
        for line in handle:
            key = line.split("=", 1)[0].strip()
            lines.append(f"{key} = {values[key]!r}\n" if "=" in line and key in values else line)
    path = folder / "tiny_model.txt"
    path.write_text("".join(lines))
    return str(path)


def direct_val_loss(model_file: str, trial: dict, output_dir: str) -> float:
    """What the benchmark returns when run directly with the trial's parameters (last val_loss)."""
    import tybalt_baseline_keras2

    params = tybalt_baseline_keras2.initialize_parameters(default_model=model_file, argv=[])
    params.update({k: v for k, v in trial.items() if k != "id"}, output_dir=output_dir, run_id=trial["id"])
    return float(tybalt_baseline_keras2.run(params).history["val_loss"][-1])


def project_upf_lines(name: str, count: int) -> list[dict]:
    """The first ``count`` trials of a shipped UPF file."""
    with open(os.path.join(WORKFLOWS, f"{name}.upf")) as handle:
        return [json.loads(line) for line in handle][:count]


def write_upf(folder, trials: list[dict]) -> str:
    """``trials`` as folder/trials.upf, with the project's cfg-sys file beside it; returns the .upf path."""
    upf = folder / "trials.upf"
    upf.write_text("".join(json.dumps(t) + "\n" for t in trials))
    (folder / "cfg-sys-trials.sh").write_text(open(os.path.join(WORKFLOWS, "cfg-sys-latent_dim_sweep.sh")).read())
    return str(upf)


def launcher_environment(campaign_dir: str, model_file: str, **env: str) -> dict[str, str]:
    """The environment the guides give the launcher, with the tests' campaign folder and tiny model."""
    return {**os.environ, "CAMPAIGN_DIR": campaign_dir, "CANDLE_DEFAULT_MODEL_FILE": model_file, **env}


def launch(arguments: list[str], campaign_dir: str, model_file: str, **env: str):
    """Run the launcher with ``arguments``; return (experiment folder, its output)."""
    run = subprocess.run([LAUNCHER, *arguments], capture_output=True, text=True,
                         env=launcher_environment(campaign_dir, model_file, **env), timeout=600)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    return re.search(r"^campaign results: (.+)$", output, re.M).group(1), output


def instance_folders(experiment: str) -> dict[str, str]:
    """run id -> instance folder: py mode writes run/<id>, app mode (model.sh) <id>."""
    roots = [os.path.join(experiment, "run"), experiment]
    return {name: os.path.join(root, name) for root in roots if os.path.isdir(root) for name in os.listdir(root)
            if os.path.isfile(os.path.join(root, name, "parameters.txt"))}


def trial_result(folder: str) -> float:
    """The number in an instance folder's result.txt."""
    with open(os.path.join(folder, "result.txt")) as handle:
        return float(handle.read())


def workflow_results(output: str, trials: list[dict]) -> dict[str, float]:
    """The UPF workflow's own report (``WORKFLOW RESULT: r1;r2;...`` in UPF order), by trial id."""
    values = re.search(r"^WORKFLOW RESULT: (.+)$", output, re.M).group(1).split(";")
    return {trial["id"]: float(value) for trial, value in zip(trials, values)}


def final_results(experiment: str, engine: str) -> pd.DataFrame:
    """final_res.Rds (mlrMBO's optimisation path) as a table, read by R."""
    script = 'r <- readRDS(commandArgs(TRUE)[1]); write.csv(r[, c("y", "exec.time")], stdout(), row.names = FALSE)'
    read = subprocess.run(["Rscript", "-e", script, os.path.join(experiment, "final_res.Rds")],
                          capture_output=True, text=True, env={**os.environ, "R_LIBS": os.path.join(engine, "R-lib")})
    assert read.returncode == 0, read.stderr
    return pd.read_csv(StringIO(read.stdout))

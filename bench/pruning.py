"""Measure what campaign-wide early stopping saves: one random-search UPF campaign run twice under the real engine,
with stopping off and on: epochs trained, wall time and the best trial's objective.

    python bench/pruning.py                   # 32 trials of tybalt_bayesian on the demo's synthetic data
    python bench/pruning.py --quick           # smoke run: 4 tiny trials of a few epochs

Both campaigns get the same trials (random points of the search space, seeded) and run through
workflows/run_campaign.sh with SITE=local in app mode; only ``pruning`` differs. Epochs trained are counted from
each trial's history.txt (what model_runner saved), the wall time is the launcher's, and the best objective is the
lowest result.txt of the trials that ran to the end (the comparable scale: every finished trial's last
``val_loss``). The report goes to pruning_results.md (and .json) in bench/; measure on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, os.path.join(REPO, "Tybalt"))

from tybalt_core.train import campaign_record  # noqa: E402
from tybalt_core.tune import hpo_results  # noqa: E402
from tybalt_core.tune.search_space import load_search_space, random_point  # noqa: E402
from workloads import write_model_file  # noqa: E402

LAUNCHER = os.path.join(REPO, "workflows", "run_campaign.sh")
UPF_CFG_SYS = os.path.join(REPO, "workflows", "cfg-sys-tybalt_grid.sh")  # a UPF campaign's system settings
QUICK_MODEL = {"synthetic_samples": 300, "synthetic_genes": 100, "latent_dim": 4, "hidden_dim": 16,
               "verbose": False, "save_model": False, "ckpt_save_interval": 0}
QUICK_TRIAL = {"epochs": 4, "kappa": 1.0, "pruning_grace_epochs": 1, "pruning_min_trials": 1}
GOALS = {"saving": 0.40, "best_within": 0.01}  # issue 22: epochs and wall time cut by 40 %, best within 1 %


def campaign_trials(space_name: str, count: int, seed: int, settings: dict) -> list[dict]:
    """``count`` random points of the search space, each with the campaign's ``settings`` and an id."""
    rng = np.random.default_rng(seed)
    space = load_search_space(space_name)
    return [{"id": f"t{number:03d}", **random_point(space, rng), **settings} for number in range(1, count + 1)]


def run_campaign(trials: list[dict], pruning: str, folder: str, env: dict[str, str]) -> dict:
    """Run the trials as one UPF campaign with ``pruning``; its wall time and each trial's outcome."""
    name = f"pruning_{pruning}"
    upf = os.path.join(folder, f"{name}.upf")
    with open(upf, "w") as handle:
        handle.writelines(json.dumps({**trial, "pruning": pruning}) + "\n" for trial in trials)
    shutil.copy(UPF_CFG_SYS, os.path.join(folder, f"cfg-sys-{name}.sh"))
    started = time.monotonic()
    run = subprocess.run([LAUNCHER, "upf", "local", upf], capture_output=True, text=True,
                         env={**os.environ, **env, "EXPID": name, "CAMPAIGN_DIR": os.path.join(folder, "campaigns")})
    seconds = time.monotonic() - started
    if run.returncode != 0:
        raise SystemExit(f"the {name} campaign failed:\n{(run.stdout + run.stderr)[-3000:]}")
    experiment = os.path.join(folder, "campaigns", "upf", name)
    return {"pruning": pruning, "seconds": round(seconds, 1), "trials": trial_outcomes(experiment)}


def trial_outcomes(experiment: str) -> dict[str, dict]:
    """Per trial: epochs trained (history.txt), result (result.txt) and state in the campaign record."""
    record = campaign_record.read_record(experiment)
    outcomes = {}
    for root, _, files in os.walk(experiment):
        if "history.txt" not in files or "result.txt" not in files:
            continue
        trial_id = os.path.basename(root)
        with open(os.path.join(root, "history.txt")) as handle:
            history = json.load(handle) or {}
        with open(os.path.join(root, "result.txt")) as handle:
            result = hpo_results.parse_result(handle.read().strip())
        state = record[trial_id].state if trial_id in record else "UNRECORDED"
        outcomes[trial_id] = {"epochs": len(history.get("loss", [])), "result": result, "state": state}
    return outcomes


def summary(campaign: dict) -> dict:
    """Totals of one campaign: epochs, pruned trials, wall time, best objective of the trials that finished."""
    trials = campaign["trials"].values()
    finished = [t["result"] for t in trials if t["state"] == campaign_record.COMPLETED
                and t["result"] is not None and math.isfinite(t["result"])]
    return {"pruning": campaign["pruning"], "trials": len(trials), "epochs": sum(t["epochs"] for t in trials),
            "pruned": sum(t["state"] == campaign_record.PRUNED for t in trials), "seconds": campaign["seconds"],
            "best": min(finished) if finished else None}


def render(off: dict, on: dict, description: str) -> str:
    """The comparison as a Markdown table, with the cuts and the best objective's change against the goals."""
    def cut(key: str) -> float:
        return 1 - on[key] / off[key] if off[key] else math.nan

    best_change = (on["best"] - off["best"]) / abs(off["best"]) if off["best"] and on["best"] is not None else None
    lines = [f"# Campaign-wide early stopping: {description}", "",
             "| stopping | trials | pruned | epochs trained | wall time (s) | best objective |",
             "|---|---|---|---|---|---|"]
    for row in (off, on):
        best = "-" if row["best"] is None else f"{row['best']:.4f}"
        lines.append(f"| {row['pruning']} | {row['trials']} | {row['pruned']} | {row['epochs']} | "
                     f"{row['seconds']:.1f} | {best} |")
    lines += ["", f"- epochs trained cut by {cut('epochs'):.0%} (goal: at least {GOALS['saving']:.0%})",
              f"- wall time cut by {cut('seconds'):.0%} (goal: at least {GOALS['saving']:.0%})",
              "- best objective " + ("not comparable (no finished trial)" if best_change is None else
                                     f"{best_change:+.2%} against stopping off (goal: within "
                                     f"{GOALS['best_within']:.0%})"), ""]
    return "\n".join(lines)


def quick_model_file(folder: str) -> str:
    """The default-model file with tiny synthetic data, for the smoke run."""
    return write_model_file(os.path.join(folder, "quick_model.txt"), QUICK_MODEL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="tybalt_bayesian", help="search space to draw the trials from")
    parser.add_argument("--trials", type=int, default=32)
    parser.add_argument("--rule", default="successive_halving", choices=("median", "successive_halving"))
    parser.add_argument("--grace", type=int, default=5, help="pruning_grace_epochs")
    parser.add_argument("--procs", default="", help="PROCS for the campaigns (default: the cfg-sys file's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data_source", default="synthetic",
                        help="the trials' data (default: the demo's synthetic matrix, not the space's own TCGA)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 tiny trials of 4 epochs")
    parser.add_argument("--out", default=os.path.join(BENCH_DIR, "pruning_results.md"))
    parser.add_argument("--work_dir", default="", help="campaign folders (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.work_dir or tempfile.mkdtemp(prefix="tybalt_pruning_")
    os.makedirs(folder, exist_ok=True)
    settings = {"pruning_grace_epochs": args.grace, "data_source": args.data_source}
    env = {"CANDLE_MODEL_IMPL": "app", **({"PROCS": args.procs} if args.procs else {})}
    if args.quick:
        settings, args.trials = {**QUICK_TRIAL, "data_source": args.data_source}, 4
        env["CANDLE_DEFAULT_MODEL_FILE"] = quick_model_file(folder)
    trials = campaign_trials(args.space, args.trials, args.seed, settings)
    off, on = (summary(run_campaign(trials, rule, folder, env)) for rule in ("off", args.rule))
    description = (f"{args.trials} random trials of {args.space}, {args.rule} after {settings['pruning_grace_epochs']}"
                   f" grace epochs{' (quick smoke run)' if args.quick else ''}")
    text = render(off, on, description)
    with open(args.out, "w") as handle:
        handle.write(text)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as handle:
        json.dump({"description": description, "off": off, "on": on}, handle, indent=2)
    print(text)


if __name__ == "__main__":
    main()

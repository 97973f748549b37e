"""Campaigns on a real Slurm cluster: many GPU nodes, one trial per GPU.

workflows/engine/slurm_cluster.sh starts 2 nodes x 2 pretend GPUs on this machine once per test session (only the
GPUs are pretend: slurmctld, the slurmd daemons, sbatch, srun's MPI job across the nodes and the GPU binding are
real). ``run_campaign.sh --wait upf|mlrmbo slurm ...`` submits each campaign as one batch job through Turbine's
Slurm scheduler. Without Slurm, munge or root these tests are skipped with the install line; with CI=true they fail.
"""

import ast
import itertools
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from campaign_runs import (LAUNCHER, WORKFLOWS, commands_missing_from_guide, direct_val_loss, final_results,
                           instance_folders, launch, project_upf_lines, trial_result, workflow_results, write_upf)
from conftest import REPO, skip_or_fail_in_ci
from tybalt_core.tune import hpo_results

CLUSTER_SCRIPT = os.path.join(WORKFLOWS, "engine", "slurm_cluster.sh")
CLUSTER = {"NODES": "2", "GPUS_PER_NODE": "2"}
NODE_NAMES = {"n1", "n2"}
INSTALL = "apt-get install -y slurmctld slurmd slurm-client munge"
TRIALS = 8
# mlrMBO-ils.R evaluates a design of PROPOSE_POINTS points, then one batch of proposals: 3 trials at a time on 4
# GPUs put trials on both nodes, and two of them on one node at once, whichever workers Turbine picks.
MLRMBO_BUDGET = {"DESIGN_SIZE": "3", "PROPOSE_POINTS": "3", "MAX_ITERATIONS": "1", "MAX_BUDGET": "6"}
CAMPAIGNS = ["upf_py", "upf_app", "mlrmbo"]
# The commands these tests run, as the many-GPU-nodes guide shows them.
GUIDE_COMMANDS = ["export " + " ".join(f"{k}={v}" for k, v in CLUSTER.items()),
                  'eval "$(workflows/engine/slurm_cluster.sh start)"',
                  "CANDLE_MODEL_IMPL=py  workflows/run_campaign.sh --wait upf slurm trials.upf",
                  "CANDLE_MODEL_IMPL=app workflows/run_campaign.sh --wait upf slurm trials.upf",
                  " ".join(f"{k}={v}" for k, v in MLRMBO_BUDGET.items()) + " \\\n"
                  "    workflows/run_campaign.sh --wait mlrmbo slurm workflows/tybalt_bayesian.R",
                  "workflows/engine/slurm_cluster.sh stop"]


def test_the_guide_shows_the_commands_these_tests_run():
    assert commands_missing_from_guide("many-gpu-nodes.md", GUIDE_COMMANDS) == []


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A throwaway cluster of 2 nodes x 2 GPUs for the session; yields the environment that points at it."""
    search_path = os.environ["PATH"] + os.pathsep + "/usr/sbin"
    missing = [name for name in ("slurmctld", "slurmd", "sbatch", "munged")
               if not shutil.which(name, path=search_path)]
    if missing:
        skip_or_fail_in_ci(f"Slurm is not installed ({', '.join(missing)} missing); install it with: {INSTALL}")
    if os.geteuid() != 0:
        skip_or_fail_in_ci("the throwaway Slurm cluster needs root (mknod for its pretend GPUs, slurmd)")
    env = {**os.environ, "TYBALT_SLURM_DIR": str(tmp_path_factory.mktemp("slurm_cluster")), **CLUSTER}
    start = subprocess.run([CLUSTER_SCRIPT, "start"], env=env, capture_output=True, text=True, timeout=120)
    assert start.returncode == 0, start.stderr
    yield {"SLURM_CONF": re.search(r"^export SLURM_CONF=(.+)$", start.stdout, re.M).group(1)}
    subprocess.run([CLUSTER_SCRIPT, "stop"], env=env, capture_output=True, timeout=120)


def cluster_script(command: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([CLUSTER_SCRIPT, command], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=120)


def test_stopping_a_cluster_stops_its_own_daemons_only(slurm_cluster, tmp_path):
    other = {"TYBALT_SLURM_DIR": str(tmp_path / "other"), "NODES": "1", "GPUS_PER_NODE": "1"}
    assert cluster_script("start", other).returncode == 0
    pids = [int((tmp_path / "other" / "run" / name).read_text()) for name in os.listdir(tmp_path / "other" / "run")]
    assert len(pids) == 3   # munged, slurmctld, one slurmd
    assert cluster_script("stop", other).returncode == 0
    assert not [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
    assert cluster_script("status", other).returncode == 1
    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], env={**os.environ, **slurm_cluster},
                           capture_output=True, text=True)
    assert nodes.stdout.split() == ["n1", "idle", "n2", "idle"]


@pytest.fixture(scope="module")
def grid_trials(campaign_engine, tiny_model_file, tmp_path_factory):
    """Eight tybalt_grid.upf lines (2 epochs each, for speed) and, run directly (which also makes the tiny data
    once), their val_loss."""
    trials = [{**line, "epochs": 2} for line in project_upf_lines("tybalt_grid", TRIALS)]
    folder = tmp_path_factory.mktemp("direct")
    return trials, {t["id"]: direct_val_loss(tiny_model_file, t, str(folder / t["id"])) for t in trials}


def submit(slurm_cluster, tiny_model_file, folder, arguments: list[str], **env: str) -> dict:
    """``run_campaign.sh --wait ARGUMENTS`` on the cluster; the experiment folder, output, job id and placements."""
    experiment, launcher_output = launch(["--wait", *arguments], str(folder / "campaigns"), tiny_model_file,
                                         SLURM_POLL_SECONDS="2", **CLUSTER, **slurm_cluster, **env)
    with open(os.path.join(experiment, "output.txt")) as handle:
        job_output = handle.read()
    with open(os.path.join(experiment, "jobid.txt")) as handle:
        job_id = handle.read().strip()
    return {"experiment": experiment, "launcher_output": launcher_output, "job_output": job_output,
            "job_id": job_id, "placements": placements(experiment)}


def placements(experiment: str) -> dict[str, dict]:
    """run id -> the ``placement`` each trial recorded in its params.json."""
    found = {}
    for root, _, files in os.walk(experiment):
        if "params.json" in files:
            with open(os.path.join(root, "params.json")) as handle:
                record = json.load(handle)
            found[record["run_id"]] = record["placement"]
    return found


@pytest.fixture(scope="module")
def upf_py(slurm_cluster, grid_trials, tiny_model_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm_upf_py")
    return submit(slurm_cluster, tiny_model_file, folder, ["upf", "slurm", write_upf(folder, grid_trials[0])],
                  CANDLE_MODEL_IMPL="py")


@pytest.fixture(scope="module")
def upf_app(slurm_cluster, grid_trials, tiny_model_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm_upf_app")
    return submit(slurm_cluster, tiny_model_file, folder, ["upf", "slurm", write_upf(folder, grid_trials[0])],
                  CANDLE_MODEL_IMPL="app")


@pytest.fixture(scope="module")
def mlrmbo(slurm_cluster, grid_trials, tiny_model_file, tmp_path_factory):
    """The project's tybalt_bayesian.R, 6 trials (the tiny data made by ``grid_trials`` first)."""
    folder = tmp_path_factory.mktemp("slurm_mlrmbo")
    return submit(slurm_cluster, tiny_model_file, folder,
                  ["mlrmbo", "slurm", os.path.join(WORKFLOWS, "tybalt_bayesian.R")], **MLRMBO_BUDGET)


def placement_table(name: str, campaign: dict) -> str:
    """The per-trial (node, GPU, start, end) table, times in seconds from the first start."""
    rows = sorted(campaign["placements"].items(), key=lambda item: item[1]["started"])
    first = rows[0][1]["started"]
    lines = [f"{name}: Slurm job {campaign['job_id']}", f"  {'trial':<18} node  rank  GPU  start    end"]
    lines += [f"  {run_id:<18} {p['node']:<5} {p['rank']:>4}  {p['cuda_visible_devices']:>3}  "
              f"{p['started'] - first:5.1f}  {p['finished'] - first:5.1f}" for run_id, p in rows]
    return "\n".join(lines)


@pytest.mark.parametrize("name", CAMPAIGNS)
def test_every_trial_ran_inside_the_slurm_job_and_both_nodes_trained(name, request):
    campaign = request.getfixturevalue(name)
    found = campaign["placements"]
    assert len(found) == len(instance_folders(campaign["experiment"])) >= (6 if name == "mlrmbo" else TRIALS)
    assert {p["slurm_job_id"] for p in found.values()} == {campaign["job_id"]}
    assert {p["node"] for p in found.values()} == NODE_NAMES
    assert all(p["finished"] > p["started"] for p in found.values())


@pytest.mark.parametrize("name", CAMPAIGNS)
def test_trials_running_at_the_same_time_on_one_node_had_different_gpus(name, request, capsys):
    campaign = request.getfixturevalue(name)
    with capsys.disabled():   # the CI log shows where and when every trial ran
        print("\n" + placement_table(name, campaign))
    found = list(campaign["placements"].values())
    assert all(p["cuda_visible_devices"] in ("0", "1") for p in found)   # one GPU each, never the whole node's
    overlapping = [(a, b) for a, b in itertools.combinations(found, 2)
                   if a["node"] == b["node"] and a["started"] < b["finished"] and b["started"] < a["finished"]]
    assert overlapping, "no two trials ran at the same time on one node: the check below would prove nothing"
    assert all(a["cuda_visible_devices"] != b["cuda_visible_devices"] for a, b in overlapping)


@pytest.mark.parametrize("name", ["upf_py", "upf_app"])
def test_slurm_trials_return_what_the_benchmark_returns_directly(name, request, grid_trials):
    campaign = request.getfixturevalue(name)
    trials, direct = grid_trials
    reported = workflow_results(campaign["job_output"], trials)
    folders = instance_folders(campaign["experiment"])
    for trial_id, val_loss in direct.items():
        assert trial_result(folders[trial_id]) == pytest.approx(reported[trial_id], rel=1e-6)
        assert reported[trial_id] == pytest.approx(val_loss, rel=1e-4)


def test_mlrmbo_trials_on_slurm_return_what_the_benchmark_returns_directly(mlrmbo, campaign_engine,
                                                                           tiny_model_file, tmp_path):
    with open(os.path.join(WORKFLOWS, "tybalt_bayesian.R")) as handle:
        searched = re.findall(r'make\w+Param\("(\w+)"', handle.read())
    final = final_results(mlrmbo["experiment"], campaign_engine)
    for run_id, folder in instance_folders(mlrmbo["experiment"]).items():
        with open(os.path.join(folder, "parameters.txt")) as handle:
            given = dict(line.split("=", 1) for line in handle.read().splitlines() if "=" in line)
        trial = {"id": run_id, **{name: ast.literal_eval(given[name]) for name in searched}}
        direct = direct_val_loss(tiny_model_file, trial, str(tmp_path / run_id))
        assert trial_result(folder) == pytest.approx(direct, rel=1e-4)
        assert any(y == pytest.approx(direct, rel=1e-4) for y in final["y"])


@pytest.mark.parametrize("name", CAMPAIGNS)
def test_hpo_results_reports_every_trial_of_a_slurm_campaign(name, request, tmp_path):
    campaign = request.getfixturevalue(name)
    hpo_results.main([campaign["experiment"], "--output_dir", str(tmp_path)])
    summary = json.loads((tmp_path / hpo_results.BEST_PARAMS_FILE).read_text())
    assert summary["trials"] == summary["completed"] == len(campaign["placements"])


def test_wait_exits_non_zero_when_the_slurm_job_failed(slurm_cluster, campaign_engine, tiny_model_file, tmp_path):
    # An app-mode trial that fails, with IGNORE_ERRORS=0: model.sh aborts the workflow and so the batch job.
    upf = write_upf(tmp_path, [{"id": "failing_trial", "latent_dim": -1}])
    run = subprocess.run([LAUNCHER, "--wait", "upf", "slurm", upf], capture_output=True, text=True, timeout=600,
                         env={**os.environ, **CLUSTER, **slurm_cluster, "CAMPAIGN_DIR": str(tmp_path / "campaigns"),
                              "CANDLE_DEFAULT_MODEL_FILE": tiny_model_file, "CANDLE_MODEL_IMPL": "app",
                              "IGNORE_ERRORS": "0", "SLURM_POLL_SECONDS": "2"})
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert re.search(r"^slurm job \d+: FAILED$", run.stdout, re.M)
    assert run.stderr.splitlines()[-1].startswith("tybalt: error: the campaign stopped with an error")


def test_the_batch_job_asked_slurm_for_a_gpu_memory_and_cpus_per_trial(upf_py, slurm_cluster):
    # What Slurm itself recorded for the job: 2 nodes, 2 GPUs on each, 16G per GPU, 4 CPUs per rank (3 ranks/node).
    shown = subprocess.run(["scontrol", "show", "job", "-o", upf_py["job_id"]], capture_output=True, text=True,
                           env={**os.environ, **slurm_cluster})
    assert shown.returncode == 0, shown.stderr
    record = dict(item.split("=", 1) for item in shown.stdout.split() if "=" in item)
    assert record["NumNodes"] == "2" and record["TresPerNode"] == "gres:gpu:2"
    assert record["MemPerTres"] == "gres:gpu:16384" and record["CPUs/Task"] == "4" and record["NumCPUs"] == "24"


def test_app_mode_trials_run_the_projects_python(upf_app):
    assert {p["python"] for p in upf_app["placements"].values()} == {os.path.join(os.path.dirname(sys.executable),
                                                                                  "python3")}


# The job's shape (no cluster needed): env-slurm.sh as the Supervisor's workflow.sh sources it.

@pytest.mark.parametrize("workflow, nodes, gpus, expected", [
    ("upf", 2, 2, "PROCS=6 PPN=3 ADLB_SERVERS=2 RESIDENT_WORK_RANKS=none"),
    ("upf", 4, 4, "PROCS=20 PPN=5 ADLB_SERVERS=4 RESIDENT_WORK_RANKS=none"),
    ("mlrMBO", 4, 4, "PROCS=20 PPN=5 ADLB_SERVERS=3 RESIDENT_WORK_RANKS=16"),
    ("mlrMBO", 1, 4, "PROCS=6 PPN=6 ADLB_SERVERS=1 RESIDENT_WORK_RANKS=4")])
def test_every_gpu_gets_a_trial_rank_and_every_node_one_rank_more(workflow, nodes, gpus, expected, campaign_engine):
    # Trial ranks = NODES x GPUS_PER_NODE; the rest are ADLB servers and, for mlrMBO, the R optimiser's rank, which
    # Turbine takes from the last worker ranks (the ones just before the servers).
    workflows = os.path.join(campaign_engine, "Supervisor", "workflows")
    script = (f"source {workflows}/common/sh/utils.sh; source {WORKFLOWS}/site/env-slurm.sh; "
              'echo "PROCS=$PROCS PPN=$PPN ADLB_SERVERS=$ADLB_SERVERS RESIDENT_WORK_RANKS=${RESIDENT_WORK_RANKS:-none}"')
    env = {k: v for k, v in os.environ.items() if "RESIDENT_WORK" not in k}
    env.update(WORKFLOWS_ROOT=workflows, EMEWS_PROJECT_ROOT=os.path.join(workflows, workflow), NODES=str(nodes),
               GPUS_PER_NODE=str(gpus), MODEL_PYTHON_DIR=os.path.join(REPO, "Tybalt"))
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == expected


# The Biowulf site's per-trial language file (no cluster needed): sourced by model.sh under `set -eu`.

LANGS_APP_BIOWULF = os.path.join(WORKFLOWS, "site", "langs-app-biowulf.sh")


def python_after_langs_app_biowulf(tmp_path, module: str | None) -> subprocess.CompletedProcess:
    """Source langs-app-biowulf.sh as model.sh does, with a `module` command whose load puts an old python3 first on
    PATH, and CANDLE_DEFAULT_PYTHON_MODULE set to ``module`` (unset when None); print the python3 a trial runs."""
    old = tmp_path / "old_python"
    old.mkdir()
    (old / "python3").write_text("#!/bin/sh\necho 'Python 3.7'\n")
    (old / "python3").chmod(0o755)
    script = (f'set -eu; module() {{ PATH={old}:$PATH; }}; WORKFLOWS_ROOT={tmp_path}; '
              f'source {LANGS_APP_BIOWULF}; command -v python3')
    env = {k: v for k, v in os.environ.items() if k != "CANDLE_DEFAULT_PYTHON_MODULE"}
    env.update(TYBALT_PYTHON=sys.executable, **({"CANDLE_DEFAULT_PYTHON_MODULE": module} if module else {}))
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("module", [None, "python/3.7"])
def test_biowulf_trials_run_the_projects_python_whatever_the_python_module(module, tmp_path):
    run = python_after_langs_app_biowulf(tmp_path, module)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == os.path.join(os.path.dirname(sys.executable), "python3")


def test_the_launcher_refuses_a_node_count_that_is_not_a_number(tmp_path):
    run = subprocess.run([LAUNCHER, "upf", "slurm",
                          os.path.join(WORKFLOWS, "latent_dim_sweep.upf")], capture_output=True, text=True,
                         env={**os.environ, "NODES": "two", "CAMPAIGN_DIR": str(tmp_path)}, cwd=REPO)
    assert run.returncode == 2
    assert run.stderr.splitlines()[-1].startswith("tybalt: error: NODES=two is not a positive whole number")


def test_a_run_outside_slurm_records_its_host_and_when_it_ran(tiny_params, tmp_path, monkeypatch):
    import socket
    import time

    from tybalt_baseline_keras2 import run

    for name in ("SLURMD_NODENAME", "SLURM_JOB_ID", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    before = time.time()
    run(tiny_params("--epochs", "1", "--output_dir", str(tmp_path / "run")))
    placement = json.loads((tmp_path / "run" / "params.json").read_text())["placement"]
    assert placement["node"] == socket.gethostname()
    assert placement["slurm_job_id"] is None and placement["rank"] is None
    assert placement["cuda_visible_devices"] == os.environ.get("CUDA_VISIBLE_DEVICES")
    assert placement["python"] == sys.executable
    assert before <= placement["started"] < placement["finished"] <= time.time()

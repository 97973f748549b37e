"""Campaigns under the real CANDLE engine: Swift/T + Supervisor, launched by workflows/run_campaign.sh.

The engine is built from ../shared/vendor into its cache by workflows/engine/build_engine.sh (minutes once, then
reused). Without the vendored sources or the system packages these tests are skipped with what to install;
with CI=true they fail instead. Trials are cheap: the project's UPF lines and search space over tiny data set by
CANDLE_DEFAULT_MODEL_FILE (the study's TCGA trials download tiny raw TCGA files from a local HTTP server).
"""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from campaign_runs import (BUILD_ENGINE, LAUNCHER, MLRMBO_BUDGET, VENDOR, WORKFLOWS, commands_missing_from_guide,
                           direct_val_loss, final_results, instance_folders, launch, launcher_environment,
                           project_upf_lines, trial_result, workflow_results, write_upf)
from conftest import REPO, skip_or_fail_in_ci
from tybalt_core.train import campaign_record
from tybalt_core.tune import hpo_results

# The launcher commands these tests run, as the HPO guide shows them ("A tiny campaign to check the set-up").
GUIDE_COMMANDS = ["CANDLE_MODEL_IMPL=py  workflows/run_campaign.sh upf local trials.upf",
                   "CANDLE_MODEL_IMPL=app workflows/run_campaign.sh upf local trials.upf",
                   " ".join(f"{k}={v}" for k, v in MLRMBO_BUDGET.items()) + " \\\n"
                   "    workflows/run_campaign.sh mlrmbo local workflows/tybalt_bayesian.R",
                   "export CANDLE_DEFAULT_MODEL_FILE=$PWD/tiny_model.txt PROCS=4"]


def test_hpo_guide_shows_the_launcher_commands_these_tests_run():
    assert commands_missing_from_guide("hpo-and-campaigns.md", GUIDE_COMMANDS) == []


def test_a_complete_engine_is_not_built_again(campaign_engine):
    stamp = os.path.join(campaign_engine, ".complete")
    built = os.path.getmtime(stamp)
    again = subprocess.run([BUILD_ENGINE], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "up to date" in again.stderr
    assert again.stdout == campaign_engine + "\n" and os.path.getmtime(stamp) == built


def launch_local(kind: str, search_file: str, campaign_dir: str, model_file: str, **env: str):
    """Run the launcher as the HPO guide shows it (SITE=local); return (experiment folder, its output)."""
    return launch([kind, "local", search_file], campaign_dir, model_file, PROCS="4", **env)


def upf_campaign(tmp_path_factory, model_file: str, trials: list[dict], model_impl: str):
    """A UPF campaign of ``trials`` (a .upf + its cfg-sys next to it), after running the good ones directly
    (which also makes the data once); returns (experiment folder, output, trials, id -> direct val_loss)."""
    folder = tmp_path_factory.mktemp(f"upf_{model_impl}")
    direct = {t["id"]: direct_val_loss(model_file, t, str(folder / "direct" / t["id"])) for t in trials
              if t["id"] != "failing_trial"}
    experiment, output = launch_local("upf", write_upf(folder, trials), str(folder / "campaigns"), model_file,
                                      CANDLE_MODEL_IMPL=model_impl)
    return experiment, output, trials, direct


@pytest.fixture(scope="module")
def upf_py(campaign_engine, tiny_model_file, tmp_path_factory):
    """Three tybalt_grid.upf lines in the workers' embedded Python (CANDLE_MODEL_IMPL=py)."""
    return upf_campaign(tmp_path_factory, tiny_model_file, project_upf_lines("tybalt_grid", 3), "py")


@pytest.fixture(scope="module")
def upf_app(campaign_engine, tiny_model_file, tmp_path_factory):
    """Two latent_dim_sweep.upf lines and one failing trial, one model.sh process each (CANDLE_MODEL_IMPL=app)."""
    trials = project_upf_lines("latent_dim_sweep", 2) + [{"id": "failing_trial", "latent_dim": -1}]
    return upf_campaign(tmp_path_factory, tiny_model_file, trials, "app")


@pytest.fixture(scope="module")
def mlrmbo(campaign_engine, tiny_model_file, tmp_path_factory):
    """The project's tybalt_bayesian.R with its cfg-prm/cfg-sys files and a budget of 4 trials."""
    campaigns = str(tmp_path_factory.mktemp("mlrmbo"))
    experiment, output = launch_local("mlrmbo", os.path.join(WORKFLOWS, "tybalt_bayesian.R"), campaigns,
                                      tiny_model_file, **MLRMBO_BUDGET)
    return experiment, output, campaign_engine


@pytest.mark.parametrize("campaign", ["upf_py", "upf_app"])
def test_upf_trials_return_what_the_benchmark_returns_directly(campaign, request):
    experiment, output, trials, direct = request.getfixturevalue(campaign)
    reported = workflow_results(output, trials)
    folders = instance_folders(experiment)
    for trial_id, val_loss in direct.items():
        assert trial_result(folders[trial_id]) == pytest.approx(reported[trial_id], rel=1e-6)
        assert reported[trial_id] == pytest.approx(val_loss, rel=1e-4)


def test_app_mode_campaign_survives_a_failed_trial(upf_app):
    # The launcher's IGNORE_ERRORS=1: the failing trial gets NaN, the others finish, the campaign exits 0.
    experiment, output, trials, _ = upf_app
    reported = workflow_results(output, trials)
    assert math.isnan(reported["failing_trial"])
    assert all(math.isfinite(reported[t["id"]]) for t in trials if t["id"] != "failing_trial")
    assert not os.path.exists(os.path.join(experiment, "failing_trial", "result.txt"))


def test_trials_leave_no_candle_lib_folders_in_their_instance_folders(upf_py, upf_app):
    for experiment, *_ in (upf_py, upf_app):
        for folder in instance_folders(experiment).values():
            assert not os.path.exists(os.path.join(folder, "EXP000")), os.listdir(folder)


def test_mlrmbo_campaign_finishes_with_final_res(mlrmbo):
    experiment, output, engine = mlrmbo
    final = final_results(experiment, engine)
    assert len(final) == len(instance_folders(experiment)) >= 4
    assert final["y"].notna().all()
    # Every rank's output file: TURBINE_STDOUT uses "@r" (the site override), not the "%r" Turbine keeps as is.
    outputs = os.listdir(os.path.join(experiment, "out"))
    assert len(outputs) == 4 and "out-%r.txt" not in outputs


RESTART_CHECK = """
suppressMessages({library(ParamHelpers); library(jsonlite)}); args <- commandArgs(TRUE); source(args[1])
res <- read.csv(args[2]); dummy <- generateDesign(100, param.set)  # what mlrMBO-ils.R does with RESTART_FILE
res <- rbind(dummy, subset(res, select = names(dummy)))[-(1:100), ]
for (i in seq_len(nrow(res))) {
  x <- dfRowToList(res, param.set, i); stopifnot(isFeasible(param.set, x))
  cat(toJSON(trafoValue(param.set, x), auto_unbox = TRUE, digits = NA), "\n")
}
"""


def test_restart_file_holds_the_design_points_of_the_evaluated_trials(mlrmbo, tmp_path):
    experiment, _, engine = mlrmbo
    restart = tmp_path / "restart.csv"
    hpo_results.main([experiment, "--restart-file", str(restart)])
    table = pd.read_csv(restart)
    trials = [t for t in hpo_results.read_trials(experiment) if t["status"] == hpo_results.COMPLETED]
    assert len(table) == len(trials) >= 4 and list(table["y"]) == [t["objective"] for t in trials]
    read = subprocess.run(["Rscript", "-e", RESTART_CHECK, os.path.join(WORKFLOWS, "tybalt_bayesian.R"),
                           str(restart)], capture_output=True, text=True,
                          env={**os.environ, "R_LIBS": os.path.join(engine, "R-lib")})
    assert read.returncode == 0, read.stderr
    for trial, line in zip(trials, read.stdout.strip().splitlines()):  # each point gives back what the trial got
        for name, value in json.loads(line).items():
            sent = trial["params"][name]
            assert str(value) == str(sent) if isinstance(value, str) else value == pytest.approx(float(sent)), name


def searched_points(experiment: str) -> set[str]:
    """The searched values of every evaluated trial of an mlrMBO experiment, each as one comparable text."""
    names = ("depth", "hidden_dim", "log10_kappa", "batch_size", "epochs", "log10_learning_rate")
    return {json.dumps([t["params"].get(n) for n in names]) for t in hpo_results.read_trials(experiment)}


def test_mlrmbo_search_relaunched_from_its_restart_file_evaluates_only_new_points(mlrmbo, tiny_model_file,
                                                                                  tmp_path):
    experiment, _, engine = mlrmbo
    restart = tmp_path / "restart.csv"
    hpo_results.main([experiment, "--restart-file", str(restart)])
    evaluated = len(pd.read_csv(restart))
    budget = {**MLRMBO_BUDGET, "MAX_BUDGET": str(evaluated + 2), "RESTART_FILE": str(restart), "RESTART_NUMBER": "2"}
    search_file = os.path.join(WORKFLOWS, "tybalt_bayesian.R")
    relaunched, _ = launch_local("mlrmbo", search_file, str(tmp_path / "campaigns"), tiny_model_file, **budget)
    new_points = searched_points(relaunched)
    assert new_points and not new_points & searched_points(experiment)
    assert len(final_results(relaunched, engine)) == evaluated + len(new_points)


def campaign_best(name: str, campaign) -> tuple[int, str, float]:
    """(trials, best trial's id, best objective) as the campaign itself reports them."""
    if name == "mlrmbo":
        experiment, _, engine = campaign
        final = final_results(experiment, engine)
        best = float(final["y"].min())
        folders = instance_folders(experiment)
        best_ids = [i for i, folder in folders.items() if trial_result(folder) == pytest.approx(best, rel=1e-12)]
        return len(final), best_ids[0], best
    _, output, trials, _ = campaign
    reported = {i: v for i, v in workflow_results(output, trials).items() if math.isfinite(v)}
    best_id = min(reported, key=reported.get)
    return len(trials), best_id, reported[best_id]


@pytest.mark.parametrize("name", ["upf_py", "upf_app", "mlrmbo"])
def test_hpo_results_reports_every_trial_and_the_campaigns_best(name, request, tmp_path):
    campaign = request.getfixturevalue(name)
    trials, best_id, best = campaign_best(name, campaign)
    hpo_results.main([campaign[0], "--output_dir", str(tmp_path)])
    table = pd.read_csv(tmp_path / hpo_results.RESULTS_FILE)
    summary = json.loads((tmp_path / hpo_results.BEST_PARAMS_FILE).read_text())
    assert len(table) == summary["trials"] == trials
    assert summary["best_trial_id"] == best_id
    assert summary["best_objective"] == pytest.approx(best, rel=1e-9)
    assert summary["completed"] == trials - (name == "upf_app")   # the failing trial


@pytest.mark.parametrize("name", ["upf_py", "upf_app", "mlrmbo"])
def test_every_trained_trial_reports_to_the_record_in_its_experiment_folder(name, request):
    # py mode (<experiment>/run/<id>), app mode (<experiment>/<id>) and mlrMBO all find the same record
    experiment = request.getfixturevalue(name)[0]
    record = campaign_record.read_record(experiment)
    trained = {i: folder for i, folder in instance_folders(experiment).items()
               if os.path.exists(os.path.join(folder, "result.txt")) and math.isfinite(trial_result(folder))}
    assert sorted(record) == sorted(trained)
    for trial_id, folder in trained.items():
        assert record[trial_id].state == campaign_record.COMPLETED
        assert record[trial_id].value == pytest.approx(trial_result(folder), rel=1e-5)


RESTART_TRIALS = [{"id": f"restart_{n}", "latent_dim": 2 + n, "epochs": 6} for n in range(6)]


def trial_outputs(experiment: str) -> dict[str, str]:
    """run id -> the trial's own output folder (the one holding params.json) inside its instance folder."""
    found = {}
    for trial_id, instance in instance_folders(experiment).items():
        for folder, _, files in os.walk(instance):
            if "params.json" in files:
                found[trial_id] = folder
    return found


def kill_when_some_trials_finished(command: list[str], env: dict, experiment: str, trials: int) -> None:
    """Start the launcher and SIGKILL its whole process group (Swift/T, MPI, workers) once some trials, not all,
    have a result.txt."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 600
    while process.poll() is None and time.monotonic() < deadline:
        done = [f for f in instance_folders(experiment).values() if os.path.exists(os.path.join(f, "result.txt"))]
        if 0 < len(done) < trials:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the campaign ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_upf_campaign_killed_mid_way_and_relaunched_finishes_every_trial_once(campaign_engine, tiny_model_file,
                                                                              tmp_path):
    direct = {t["id"]: direct_val_loss(tiny_model_file, t, str(tmp_path / "direct" / t["id"])) for t in RESTART_TRIALS}
    upf = tmp_path / "trials.upf"
    upf.write_text("".join(json.dumps(t) + "\n" for t in RESTART_TRIALS))
    (tmp_path / "cfg-sys-trials.sh").write_text(open(os.path.join(WORKFLOWS, "cfg-sys-latent_dim_sweep.sh")).read())
    campaigns, expid = str(tmp_path / "campaigns"), "EXP_KILLED"
    experiment = os.path.join(campaigns, "upf", expid)
    env = launcher_environment(campaigns, tiny_model_file, PROCS="4", CANDLE_MODEL_IMPL="py", EXPID=expid)
    kill_when_some_trials_finished([LAUNCHER, "upf", "local", str(upf)], env, experiment, len(RESTART_TRIALS))
    finished_before = {trial_id: os.path.getmtime(os.path.join(folder, "history.csv"))
                       for trial_id, folder in trial_outputs(experiment).items()
                       if os.path.exists(os.path.join(folder, "history.csv"))}
    assert 0 < len(finished_before) < len(RESTART_TRIALS)

    _, output = launch_local("upf", str(upf), campaigns, tiny_model_file, CANDLE_MODEL_IMPL="py", EXPID=expid)

    reported, folders, outputs = workflow_results(output, RESTART_TRIALS), instance_folders(experiment), \
        trial_outputs(experiment)
    assert set(folders) == set(direct)
    for trial_id, expected in direct.items():
        assert trial_result(folders[trial_id]) == pytest.approx(expected, rel=1e-4)
        assert reported[trial_id] == pytest.approx(expected, rel=1e-4)
        assert len(pd.read_csv(os.path.join(outputs[trial_id], "history.csv"))) == 6  # every epoch once
    for trial_id, modified in finished_before.items():  # not trained again
        assert os.path.getmtime(os.path.join(outputs[trial_id], "history.csv")) == modified


# Reading and plotting campaign results (no engine needed).

def write_app_mode_trial(folder, run_id: str, learning_rate: float, result_text: str) -> None:
    """An instance folder as app mode leaves it: model_runner's parameters.txt, model.sh's result.txt."""
    folder.mkdir(parents=True)
    (folder / "parameters.txt").write_text(f"[Global Params]\nlearning_rate={learning_rate}\nrun_id='{run_id}'\n"
                                           "[Monitor Params]\ntimeout=-1\n")
    (folder / "result.txt").write_text(result_text + "\n")


def test_results_split_by_model_sh_are_read_as_the_numbers_they_were(tmp_path):
    # model.sh's grep -Eo '[+-]?[0-9]+([.][0-9]+)?' turns 3.179433770128526e-05 into "3.179433770128526 -05".
    write_app_mode_trial(tmp_path / "a", "a", 0.001, "3.179433770128526 -05")
    write_app_mode_trial(tmp_path / "b", "b", 0.002, "1 -05")
    write_app_mode_trial(tmp_path / "c", "c", 0.003, "0.5")
    table, _ = hpo_results.read_campaign(str(tmp_path))
    assert list(table["status"]) == [hpo_results.COMPLETED] * 3
    assert list(table["objective"]) == [3.179433770128526e-05, 1e-05, 0.5]
    assert hpo_results.best_trial(table)["trial_id"] == "b"


def campaign_table(trials: int, failed_every: int) -> pd.DataFrame:
    """A campaign of ``trials`` over a log-scaled learning rate and integer batch sizes; some trials failed."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for number in range(trials):
        learning_rate = float(10 ** rng.uniform(math.log10(0.0005), math.log10(0.0025)))
        failed = number % failed_every == failed_every - 1
        rows.append({"trial_id": f"t{number:03d}", "values": {"learning_rate": learning_rate,
                                                              "batch_size": int(rng.choice([50, 100, 128, 200]))},
                     "status": "FAILED" if failed else "COMPLETED",
                     "objective": None if failed else 50 + 5 * abs(math.log10(learning_rate) + 3) + rng.normal()})
    return hpo_results.results_table(rows, ["learning_rate", "batch_size"])


def test_hpo_plot_stays_readable_at_hundreds_of_trials():
    table = campaign_table(300, failed_every=20)
    figure = hpo_results.results_figure(table, ["learning_rate", "batch_size"], "val_loss", "EXP300")
    trials_axis, learning_rate_axis, batch_size_axis = figure.axes
    lines = {line.get_label(): line for line in trials_axis.get_lines()}
    objective = table["objective"].astype(float)
    assert list(lines["best so far"].get_ydata()) == pytest.approx(list(objective.cummin()), nan_ok=True)
    assert list(lines["failed"].get_xdata()) == [n + 1 for n in range(300) if n % 20 == 19]
    figure.canvas.draw()
    assert all(tick.get_text().lstrip("−-").isdigit() for tick in trials_axis.get_xticklabels() if tick.get_text())
    assert learning_rate_axis.get_xscale() == "log" and batch_size_axis.get_xscale() == "linear"
    assert all(float(t).is_integer() for t in batch_size_axis.get_xticks())


# Trials' working folders (no engine needed).

def test_empty_run_folder_made_by_candle_lib_is_removed_and_a_used_one_kept(tmp_path, monkeypatch):
    # Real candle_lib's finalize_parameters makes ./EXP000/RUN000 (output_dir '') before the trial's ids apply.
    import tybalt_baseline_keras2

    monkeypatch.chdir(tmp_path)
    (tmp_path / "EXP000" / "RUN000").mkdir(parents=True)
    tybalt_baseline_keras2.remove_empty_candle_lib_run_folder(str(tmp_path / "EXP000" / "RUN000"), "EXP000", "RUN000")
    assert os.listdir(tmp_path) == []
    (tmp_path / "EXP001" / "RUN001").mkdir(parents=True)
    (tmp_path / "EXP001" / "RUN001" / "history.csv").write_text("loss\n")
    tybalt_baseline_keras2.remove_empty_candle_lib_run_folder(str(tmp_path / "EXP001" / "RUN001"), "EXP001", "RUN001")
    assert (tmp_path / "EXP001" / "RUN001" / "history.csv").exists()
    (tmp_path / "mine").mkdir()
    tybalt_baseline_keras2.remove_empty_candle_lib_run_folder(str(tmp_path / "mine"), "EXP000", "RUN000")
    assert (tmp_path / "mine").is_dir()


def test_initialize_parameters_leaves_the_working_folder_empty(tmp_path, monkeypatch):
    # What a Supervisor trial does first, in its instance folder; the compat layer, like candle_lib with the fix
    # above, leaves nothing behind.
    import tybalt_baseline_keras2

    monkeypatch.chdir(tmp_path)
    params = tybalt_baseline_keras2.initialize_parameters(argv=[])
    assert params["output_dir"] == "" and os.listdir(tmp_path) == []


# upf_runner.py against the Supervisor's own model_runner.py (needs only the vendored Supervisor tarball).

PARITY_TRIALS = [{"id": "widths_as_text", "latent_dim": 2, "extra_widths": "16 8"},
                 {"id": "diverging", "learning_rate": 1e6, "epochs": 3}]
REAL_RUNNER = """
import json, os
import model_runner   # found through PYTHONPATH; no command-line arguments, as under model_py.swift's template
campaign, trials = os.environ["PARITY_CAMPAIGN"], os.environ["PARITY_TRIALS"]
for trial in json.loads(trials):
    outdir = os.path.join(campaign, "run", trial["id"])   # as model_py.swift builds the map
    os.makedirs(outdir)
    hyper_parameter_map = dict(trial, framework="keras", save=outdir + "/output", instance_directory=outdir,
                               model_name=os.environ["MODEL_NAME"], experiment_id="EXP_PARITY",
                               run_id=trial["id"], timeout=-1)
    model_runner.run_model(hyper_parameter_map)
"""


@pytest.fixture(scope="module")
def supervisor_python(tmp_path_factory) -> str:
    """workflows/common/python of the vendored Supervisor (model_runner.py, runner_utils.py), extracted."""
    import glob
    import tarfile

    tarballs = glob.glob(os.path.join(os.environ.get("TYBALT_VENDOR_DIR", VENDOR), "Supervisor-*.tar.gz"))
    if not tarballs:
        skip_or_fail_in_ci(f"no Supervisor-*.tar.gz in {VENDOR}: put the vendored Supervisor tarball there")
    folder = tmp_path_factory.mktemp("supervisor")
    with tarfile.open(tarballs[0]) as archive:
        archive.extractall(folder, members=[m for m in archive.getmembers() if "/workflows/common/python/" in m.name],
                           filter="data")
    return glob.glob(str(folder / "*" / "workflows" / "common" / "python"))[0]


@pytest.fixture(scope="module")
def both_runners(supervisor_python, tiny_model_file, tmp_path_factory):
    """The same trials through the real model_runner (subprocess) and through upf_runner: two campaign folders."""
    from tybalt_core.candle import upf_runner

    real, ours = tmp_path_factory.mktemp("real") / "EXP_PARITY", tmp_path_factory.mktemp("ours") / "EXP_PARITY"
    env = {"MODEL_NAME": "tybalt", "MODEL_RETURN": "val_loss", "CANDLE_DEFAULT_MODEL_FILE": tiny_model_file}
    runner_env = {"PARITY_CAMPAIGN": str(real), "PARITY_TRIALS": json.dumps(PARITY_TRIALS),
                  "PYTHONPATH": os.pathsep.join([supervisor_python, os.path.join(REPO, "Tybalt")])}
    run = subprocess.run([sys.executable, "-c", REAL_RUNNER], capture_output=True, text=True, timeout=600,
                         env={**os.environ, **env, **runner_env})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    upf = ours.parent / "parity.upf"
    upf.write_text("".join(json.dumps(t) + "\n" for t in PARITY_TRIALS))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        upf_runner.run_campaign(str(upf), str(ours))
    return real, ours


@pytest.mark.parametrize("trial_id", [t["id"] for t in PARITY_TRIALS])
def test_upf_runner_writes_what_model_runner_writes(both_runners, trial_id):
    real, ours = (folder / "run" / trial_id for folder in both_runners)
    real_parameters = (real / "parameters.txt").read_text().replace(str(both_runners[0]), str(both_runners[1]))
    assert (ours / "parameters.txt").read_text() == real_parameters
    assert "model_name='tybalt'" in real_parameters
    assert ("extra_widths=[16, 8]" in real_parameters) == (trial_id == "widths_as_text")
    real_result, our_result = (float((folder / "result.txt").read_text()) for folder in (real, ours))
    assert our_result == pytest.approx(real_result, rel=1e-5, nan_ok=True)
    histories = [json.loads((folder / "history.txt").read_text()) for folder in (real, ours)]
    assert histories[0].keys() == histories[1].keys()
    markers = [(folder / "stop.marker").read_text() if (folder / "stop.marker").exists() else None
               for folder in (real, ours)]
    assert markers[0] == markers[1] and (markers[0] is not None) == (trial_id == "diverging")


def test_launcher_names_a_missing_file_and_creates_nothing(tmp_path):
    run = subprocess.run([LAUNCHER, "upf", "local", "missing.upf"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("tybalt: error: missing.upf does not exist")
    assert len(run.stderr.splitlines()) == 1 and "give an existing file" in run.stderr
    assert os.listdir(tmp_path) == []

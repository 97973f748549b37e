"""Campaign-wide early stopping and the live view under the real engine (Swift/T + Supervisor, local site).

One UPF campaign in app mode (a process per trial): two good trials and a hopeless one (a learning rate too small
to learn, and slow epochs of one sample per step, so the good ones finish first as they would in a real campaign).
While it runs, hpo_results.py reports the running trials; at the end the hopeless one has been stopped early,
recorded pruned, and every trial has its result.
"""

import json
import math
import os
import subprocess
import time

import pandas as pd
import pytest

from campaign_runs import LAUNCHER, WORKFLOWS, instance_folders, launcher_environment, workflow_results
from tybalt_core.train import campaign_record
from tybalt_core.tune import hpo_results

# Two finished trials before the median rule judges: with one, the slower of two good trials could be stopped
# for being a little worse than the first to finish.
STOPPING = {"pruning": "median", "pruning_grace_epochs": 1, "pruning_min_trials": 2, "kappa": 1.0,
            "synthetic_samples": 1000}
GOOD_EPOCHS, HOPELESS_EPOCHS = 6, 12
TRIALS = [{"id": "good_1", "learning_rate": 0.005, "epochs": GOOD_EPOCHS, **STOPPING},
          {"id": "good_2", "learning_rate": 0.003, "epochs": GOOD_EPOCHS, **STOPPING},
          {"id": "hopeless", "learning_rate": 1e-7, "batch_size": 1, "steps_per_execution": 1,
           "epochs": HOPELESS_EPOCHS, **STOPPING}]


def live_views_while_running(process: subprocess.Popen, experiment: str, output_dir: str) -> list[pd.DataFrame]:
    """hpo_results.py's table each time it ran while the record showed a trial running with epochs reported."""
    tables = []
    while process.poll() is None:
        record = campaign_record.read_record(experiment) if os.path.isdir(experiment) else {}
        if any(t.state == campaign_record.RUNNING and t.epochs for t in record.values()):
            hpo_results.main([experiment, "--output_dir", output_dir])
            tables.append(pd.read_csv(os.path.join(output_dir, hpo_results.RESULTS_FILE)))
        time.sleep(0.3)
    return tables


@pytest.fixture(scope="module")
def stopping_campaign(campaign_engine, tiny_model_file, tmp_path_factory):
    """The campaign's experiment folder, its output, and hpo_results.py's tables taken while it ran."""
    folder = tmp_path_factory.mktemp("stopping")
    upf = folder / "trials.upf"
    upf.write_text("".join(json.dumps(t) + "\n" for t in TRIALS))
    (folder / "cfg-sys-trials.sh").write_text(open(os.path.join(WORKFLOWS, "cfg-sys-latent_dim_sweep.sh")).read())
    experiment = str(folder / "campaigns" / "upf" / "EXP_STOP")
    env = launcher_environment(str(folder / "campaigns"), tiny_model_file, CANDLE_MODEL_IMPL="app", PROCS="4",
                               EXPID="EXP_STOP")
    with subprocess.Popen([LAUNCHER, "upf", "local", str(upf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env) as process:
        tables = live_views_while_running(process, experiment, str(folder / "live"))
        output = process.stdout.read()
    assert process.returncode == 0, output[-4000:]
    return experiment, output, tables


def test_the_hopeless_trial_is_stopped_early_and_recorded_pruned(stopping_campaign):
    experiment, _, _ = stopping_campaign
    record = campaign_record.read_record(experiment)
    assert record["hopeless"].state == campaign_record.PRUNED, record
    assert 2 <= record["hopeless"].epochs < HOPELESS_EPOCHS, record  # judged from epoch 2 (warm-up 1 + grace 1)
    assert all(record[f"good_{n}"].state == campaign_record.COMPLETED for n in (1, 2))
    assert all(record[f"good_{n}"].epochs == GOOD_EPOCHS for n in (1, 2))


def test_every_trial_returns_its_result_the_pruned_one_its_objective_so_far(stopping_campaign):
    experiment, output, _ = stopping_campaign
    reported = workflow_results(output, TRIALS)
    assert all(math.isfinite(value) for value in reported.values()), reported
    pruned = campaign_record.read_record(experiment)["hopeless"]
    assert reported["hopeless"] == pytest.approx(pruned.curve[pruned.epochs], rel=1e-5)
    assert reported["hopeless"] > max(reported["good_1"], reported["good_2"])
    # model_runner marks a trial that ran fewer epochs than asked, so rerunning the campaign skips it
    assert os.path.exists(os.path.join(instance_folders(experiment)["hopeless"], "stop.marker"))


def test_hpo_results_reports_running_trials_while_the_campaign_runs(stopping_campaign):
    _, _, tables = stopping_campaign
    running = [table for table in tables if (table["status"] == hpo_results.RUNNING).any()]
    assert running, f"hpo_results.py never saw a running trial in {len(tables)} reads during the campaign"
    table = running[0]
    assert table.loc[table["status"] == hpo_results.RUNNING, "objective"].isna().all()
    # the read was taken once a running trial had reported an epoch (a trial in its warm-up has reported none)
    assert table.loc[table["status"] == hpo_results.RUNNING, "epochs_trained"].ge(1).any()
    assert not (table["status"] == hpo_results.FAILED).any()


def test_hpo_results_of_the_finished_campaign_lists_the_pruned_trial(stopping_campaign, tmp_path):
    experiment, _, _ = stopping_campaign
    hpo_results.main([experiment, "--output_dir", str(tmp_path)])
    table = pd.read_csv(tmp_path / hpo_results.RESULTS_FILE).set_index("trial_id")
    assert table.loc["hopeless", "status"] == hpo_results.PRUNED
    assert table.loc["hopeless", "epochs_trained"] < HOPELESS_EPOCHS
    assert list(table.loc[["good_1", "good_2"], "status"]) == [hpo_results.COMPLETED] * 2
    summary = json.loads((tmp_path / hpo_results.BEST_PARAMS_FILE).read_text())
    assert summary["pruned"] == 1 and summary["completed"] == 2 and summary["best_trial_id"].startswith("good")


# The live view from folders and a record written here (no engine needed).

def app_mode_trial(folder, run_id: str, learning_rate: float, result: float | None) -> None:
    """An instance folder as app mode leaves it: parameters.txt, and result.txt once the trial has ended."""
    folder.mkdir(parents=True)
    (folder / "parameters.txt").write_text(f"[Global Params]\nlearning_rate={learning_rate}\nrun_id='{run_id}'\n")
    if result is not None:
        (folder / "result.txt").write_text(f"{result}\n")


def test_live_view_tells_running_pruned_and_finished_trials_apart_and_draws_their_curves(tmp_path):
    from tybalt_core.train.campaign_record import StoppingRule, TrialReport, record_path

    curves = {"done": [5.0, 4.0, 3.0], "stopped": [9.0, 9.0], "going": [6.0, 4.5]}
    for number, (trial_id, curve) in enumerate(curves.items()):
        report = TrialReport(record_path(str(tmp_path)), trial_id, StoppingRule("off", 1))
        for epoch, value in enumerate(curve, start=1):
            report.report(epoch, value)
        if trial_id != "going":
            report.finish(curve[-1], pruned=trial_id == "stopped")
        app_mode_trial(tmp_path / trial_id, trial_id, 0.001 * (number + 1), None if trial_id == "going" else curve[-1])
    app_mode_trial(tmp_path / "waiting", "waiting", 0.004, None)  # started, not yet in the record: no result
    table, _ = hpo_results.read_campaign(str(tmp_path))
    status = dict(zip(table["trial_id"], table["status"]))
    assert status == {"done": hpo_results.COMPLETED, "stopped": hpo_results.PRUNED, "going": hpo_results.RUNNING,
                      "waiting": hpo_results.FAILED}
    epochs = dict(zip(table["trial_id"], table["epochs_trained"].fillna(0)))
    assert epochs == {"done": 3, "stopped": 2, "going": 2, "waiting": 0}
    assert hpo_results.best_trial(table)["trial_id"] == "done"  # a pruned trial's objective so far is not a result
    recorded = {trial_id: trial.curve for trial_id, trial in campaign_record.read_record(str(tmp_path)).items()}
    figure = hpo_results.results_figure(table, ["learning_rate"], "val_loss", "live", recorded)
    curves_axis = figure.axes[1]
    assert curves_axis.get_xlabel() == "epoch"
    assert [line.get_label() for line in curves_axis.get_lines() if not line.get_label().startswith("_")] == \
        ["going (running)"]
    assert [list(line.get_ydata()) for line in curves_axis.get_lines()][:3] == [[5.0, 4.0, 3.0], [9.0, 9.0], [9.0]]

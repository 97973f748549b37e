"""The campaign record (Optuna's journal file) and the stopping rules over it, without TensorFlow."""

import os
import subprocess
import sys
import time

from tybalt_core.train import campaign_record
from tybalt_core.train.campaign_record import StoppingRule, TrialReport, read_record, record_path

REPORTER = """
import sys, time
from tybalt_core.train.campaign_record import StoppingRule, TrialReport
path, trial_id, start, epochs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
report = TrialReport(path, trial_id, StoppingRule("median", 1, 1))
while time.time() < start:   # both processes report from the same moment on
    time.sleep(0.001)
for epoch in range(1, epochs + 1):
    report.report(epoch, 1000.0 * len(trial_id) + epoch)
report.finish(1000.0 * len(trial_id) + epochs)
"""


def test_two_trials_reporting_at_the_same_moment_lose_nothing(tmp_path):
    path, epochs = record_path(str(tmp_path)), 40
    start = time.time() + 3  # time enough for both to import optuna and open the study
    processes = [subprocess.Popen([sys.executable, "-c", REPORTER, path, trial_id, str(start), str(epochs)],
                                  stderr=subprocess.PIPE, text=True) for trial_id in ("a", "bb")]
    for process in processes:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    record = read_record(str(tmp_path))
    assert sorted(record) == ["a", "bb"]
    for trial_id, trial in record.items():
        assert trial.state == campaign_record.COMPLETED
        assert trial.curve == {epoch: 1000.0 * len(trial_id) + epoch for epoch in range(1, epochs + 1)}


def finished_trial(folder: str, trial_id: str, curve: list[float]) -> None:
    """A trial that reported ``curve`` (epochs 1, 2, ...) and completed."""
    report = TrialReport(record_path(folder), trial_id, StoppingRule("off", 1))
    for epoch, value in enumerate(curve, start=1):
        report.report(epoch, value)
    report.finish(curve[-1])


def epochs_stopped(report: TrialReport, curve: list[float]) -> list[int]:
    """The epochs at which the rule says stop, reporting ``curve`` epoch by epoch."""
    return [epoch for epoch, value in enumerate(curve, start=1) if report.report(epoch, value)]


def test_median_rule_stops_a_trial_worse_than_the_finished_ones_only_from_its_first_epoch(tmp_path):
    folder = str(tmp_path)
    for name in ("good1", "good2", "good3"):
        finished_trial(folder, name, [10.0, 8.0, 6.0, 5.0, 4.5, 4.0])
    median = StoppingRule("median", first_epoch=4, min_trials=3)
    assert epochs_stopped(TrialReport(record_path(folder), "bad", median), [50.0] * 6) == [4, 5, 6]
    assert epochs_stopped(TrialReport(record_path(folder), "good4", median), [9.0, 7.0, 6.0, 4.9, 4.4, 3.9]) == []


def test_median_rule_waits_for_enough_finished_trials(tmp_path):
    folder = str(tmp_path)
    finished_trial(folder, "good1", [10.0, 8.0, 6.0])
    waiting = StoppingRule("median", first_epoch=1, min_trials=2)
    assert epochs_stopped(TrialReport(record_path(folder), "bad", waiting), [50.0] * 3) == []


def test_successive_halving_compares_with_running_trials(tmp_path):
    # Every trial of a campaign may run at once: the rule must not wait for any to finish.
    path = record_path(str(tmp_path))
    halving = StoppingRule("successive_halving", first_epoch=2)
    running = [TrialReport(path, f"good{n}", halving) for n in range(4)]
    for report in running:
        assert epochs_stopped(report, [10.0, 5.0]) == []
    assert epochs_stopped(TrialReport(path, "bad", halving), [10.0, 50.0]) == [2]
    assert all(trial.state == campaign_record.RUNNING for trial in read_record(str(tmp_path)).values())


def test_rule_off_records_every_epoch_and_never_stops(tmp_path):
    folder = str(tmp_path)
    finished_trial(folder, "good", [1.0, 1.0, 1.0])
    report = TrialReport(record_path(folder), "bad", StoppingRule("off", 1))
    assert epochs_stopped(report, [99.0, 99.0, 99.0]) == []
    assert read_record(folder)["bad"].curve == {1: 99.0, 2: 99.0, 3: 99.0}


def test_a_restarted_trial_replaces_its_earlier_attempt_in_the_record(tmp_path):
    path = record_path(str(tmp_path))
    first = TrialReport(path, "t1", StoppingRule("off", 1))
    first.report(1, 5.0)  # its process dies here
    second = TrialReport(path, "t1", StoppingRule("off", 1))
    second.report(2, 4.0)
    second.finish(4.0)
    states = [trial.state.name for trial in second.study.get_trials()]
    assert states == ["FAIL", "COMPLETE"]
    assert read_record(str(tmp_path))["t1"].state == campaign_record.COMPLETED


def test_experiment_folder_of_py_and_app_mode_instance_folders(tmp_path):
    assert campaign_record.experiment_folder(str(tmp_path / "EXP001" / "run" / "t1")) == str(tmp_path / "EXP001")
    assert campaign_record.experiment_folder(str(tmp_path / "EXP001" / "t1")) == str(tmp_path / "EXP001")


def test_no_record_reads_as_no_trials(tmp_path):
    assert read_record(str(tmp_path)) == {} and not os.listdir(tmp_path)

"""Relaunching a campaign: finished trials give their recorded result back without TensorFlow, trials the time
limit stopped are reopened and resume, trials early stopping ended stay closed."""

import json
import os
import subprocess
import sys

import pandas as pd

from conftest import ENTRY_POINT, TINY_FLAGS
from tybalt_core.tune import hpo_results
from tybalt_core.tune.campaign_restart import STOP_MARKER

RERUN = """
import json, sys
import tybalt_baseline_keras2 as benchmark
history = benchmark.run(benchmark.initialize_parameters(argv=json.loads(sys.argv[1])))
print(json.dumps({"tensorflow_imported": "tensorflow" in sys.modules, "result": history.history["val_loss"][-1]}))
"""


def trial_flags(shared_data_dir: str, output_dir, *extra: str) -> list[str]:
    return [*TINY_FLAGS, "--data_dir", shared_data_dir, "--output_dir", str(output_dir), *extra]


def train(flags: list[str]) -> dict:
    """Run the entry point with ``flags``; return the params.json it wrote."""
    done = subprocess.run([sys.executable, ENTRY_POINT, *flags], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    output_dir = flags[flags.index("--output_dir") + 1]
    with open(os.path.join(output_dir, "params.json")) as handle:
        return json.load(handle)


def test_finished_trial_rerun_returns_its_recorded_result_without_importing_tensorflow(tmp_path, shared_data_dir):
    flags = trial_flags(shared_data_dir, tmp_path / "trial")
    record = train(flags)
    history_before = (tmp_path / "trial" / "history.csv").read_bytes()
    rerun = subprocess.run([sys.executable, "-c", RERUN, json.dumps(flags)], capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    answer = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert answer == {"tensorflow_imported": False, "result": record["objective_value"]}
    assert (tmp_path / "trial" / "history.csv").read_bytes() == history_before


def instance_folder(root, name: str, flags_extra: tuple[str, ...], shared_data_dir: str):
    """A trial run in an instance folder (its outputs below it, as in a campaign) with stop.marker written as
    model_runner writes it after a history shorter than ``epochs``; returns (folder, its params.json)."""
    folder = root / name
    record = train(trial_flags(shared_data_dir, folder / "Output" / name, *flags_extra))
    (folder / STOP_MARKER).write_text("early stopping: n/m\n")
    return folder, record


def test_relaunch_reopens_trials_stopped_by_the_time_limit_and_they_resume(tmp_path, shared_data_dir):
    time_limited, record = instance_folder(tmp_path, "time_limited", ("--epochs", "500", "--timeout", "3"),
                                           shared_data_dir)
    assert record["status"] == "stopped_early"
    converged, record = instance_folder(tmp_path, "converged", ("--epochs", "60", "--early_stop", "true",
                                                                "--patience", "1", "--min_delta", "1000"), shared_data_dir)
    assert record["status"] == "converged"

    hpo_results.main([str(tmp_path), "--reopen-time-limited"])

    assert not (time_limited / STOP_MARKER).exists() and (converged / STOP_MARKER).exists()
    output = time_limited / "Output" / "time_limited"
    epochs_before = len(pd.read_csv(output / "history.csv"))
    resumed = train(trial_flags(shared_data_dir, output, "--epochs", str(epochs_before + 2)))
    assert resumed["resumed_after_epoch"] == epochs_before and resumed["status"] == "finished"
    assert len(pd.read_csv(output / "history.csv")) == epochs_before + 2

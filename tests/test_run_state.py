"""A run's life cycle: the time limit, diverging trials, finished folders that must not be overwritten, provenance."""

import json
import math
import os

import pandas as pd
import pytest
from test_checkpointing import tiny_params

from conftest import run_entry_point
from tybalt_core.common.errors import TybaltInputError


def _record(folder) -> dict:
    with open(os.path.join(folder, "params.json")) as handle:
        return json.load(handle)


def test_timeout_stops_training_early_writes_outputs_and_a_checkpoint_to_resume_from(tmp_path,
                                                                                     shared_data_dir):
    from tybalt_baseline_keras2 import run

    folder = tmp_path / "run"
    params = tiny_params(shared_data_dir, epochs=10_000, timeout=3, ckpt_save_interval=10_000,
                         output_dir=str(folder))
    history = run(params).history

    epochs_run = len(history["loss"])
    assert 1 <= epochs_run < 10_000
    assert _record(folder)["status"] == "stopped_early"
    assert len(pd.read_csv(folder / "history.csv")) == epochs_run
    assert os.path.isfile(folder / "encoded_features.tsv") and os.path.isfile(folder / "encoder.keras")
    assert os.listdir(folder / "ckpt") == [f"epoch-{epochs_run:05d}"]  # written at the stop, not by the interval


def test_diverging_trial_stops_is_recorded_and_returns_nan_as_its_last_val_loss(tmp_path,
                                                                                shared_data_dir):
    from tybalt_baseline_keras2 import run

    folder = tmp_path / "run"
    params = tiny_params(shared_data_dir, epochs=20, optimizer="sgd", learning_rate=1e6,
                         output_dir=str(folder))
    history = run(params)

    assert math.isnan(history.history["val_loss"][-1])
    assert len(history.history["loss"]) < 20
    assert _record(folder)["status"] == "diverged"
    assert math.isnan(pd.read_csv(folder / "history.csv")["val_loss"].iloc[-1])
    assert not os.path.exists(folder / "ckpt")  # no checkpoint of NaN weights
    again = run(params)  # a restarted campaign asks again: it gets the recorded failure back
    assert math.isnan(again.history["val_loss"][-1])
    assert len(again.history["loss"]) == len(history.history["loss"])
    with pytest.raises(TybaltInputError, match="already holds a finished run"):
        run({**params, "learning_rate": 1e5})


def test_last_val_loss_is_nan_even_when_the_diverged_epoch_logged_no_val_loss():
    from tybalt_core.run.run_state import mark_failed_trial

    history = {"loss": [3.0, float("nan")], "val_loss": [2.5], "val_objective": [2.6]}
    mark_failed_trial(history)
    for key in ("val_loss", "val_objective"):  # a rerun returns the objective: NaN too
        assert len(history[key]) == 2 and math.isnan(history[key][-1])


def test_finished_run_is_refused_then_replaced_with_overwrite(tmp_path, shared_data_dir):
    from tybalt_baseline_keras2 import run

    folder = tmp_path / "run"
    run(tiny_params(shared_data_dir, epochs=1, output_dir=str(folder)))
    encodings = (folder / "encoded_features.tsv").read_bytes()

    refused = run_entry_point("--data_dir", shared_data_dir, "--output_dir", str(folder), "--rng_seed", "9")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (f"tybalt: error: output folder {folder} already holds a finished "
                                      f"run; pass --overwrite true or choose another --output_dir")
    assert (folder / "encoded_features.tsv").read_bytes() == encodings

    run(tiny_params(shared_data_dir, epochs=1, output_dir=str(folder), rng_seed=9, overwrite=True))
    assert (folder / "encoded_features.tsv").read_bytes() != encodings
    assert _record(folder)["rng_seed"] == 9 and _record(folder)["resumed_after_epoch"] == 0


def test_rerun_with_the_same_parameters_returns_the_saved_history_and_touches_nothing(tmp_path,
                                                                                     shared_data_dir):
    from tybalt_baseline_keras2 import run

    folder = tmp_path / "run"
    params = tiny_params(shared_data_dir, epochs=2, output_dir=str(folder))
    first = run(params).history
    files = {name: ((folder / name).read_bytes(), os.path.getmtime(folder / name))
             for name in os.listdir(folder) if os.path.isfile(folder / name)}

    again = run({**params, "verbose": True}).history  # output-only settings do not make it another run
    for quantity in ("loss", "val_loss", "kl_loss", "beta"):
        assert again[quantity] == pytest.approx(first[quantity], rel=1e-6)
    assert {name: ((folder / name).read_bytes(), os.path.getmtime(folder / name)) for name in files} == files

    command = run_entry_point("--data_dir", shared_data_dir, "--output_dir", str(folder), "--epochs", "2",
                              "--synthetic_samples", "600", "--synthetic_genes", "300", "--latent_dim", "8",
                              "--verbose", "false")
    assert command.returncode == 0, command.stderr[-2000:]
    assert "returning its saved history without training" in command.stderr
    assert "fit took" not in command.stderr


def test_params_json_records_package_versions_and_the_git_commit(tmp_path, shared_data_dir):
    import subprocess

    from tybalt_baseline_keras2 import run

    run(tiny_params(shared_data_dir, epochs=1, output_dir=str(tmp_path / "run")))
    provenance = _record(tmp_path / "run")["provenance"]

    import numpy
    import tensorflow

    assert provenance["versions"]["numpy"] == numpy.__version__
    assert provenance["versions"]["tensorflow"] == tensorflow.__version__
    assert all(provenance["versions"][name] for name in ("python", "keras", "pandas", "scikit-learn"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=os.path.dirname(__file__)).stdout.strip()
    assert provenance["git_commit"] == head


def test_provenance_outside_a_git_checkout_has_no_commit_and_no_error(tmp_path):
    from tybalt_core.run.run_state import _git_commit

    assert _git_commit(str(tmp_path)) == {"git_commit": None, "git_uncommitted_changes": None}


def test_a_run_killed_while_writing_its_outputs_without_checkpoints_trains_again_when_rerun_the_same(
        tmp_path, shared_data_dir):
    # A relaunched campaign reruns its interrupted trials with the same parameters: with no checkpoint to resume
    # from, the trial starts again; another run's unfinished outputs are still refused.
    from tybalt_baseline_keras2 import run

    folder = tmp_path / "run"
    params = tiny_params(shared_data_dir, epochs=2, output_dir=str(folder), ckpt_save_interval=0)
    run(params)
    killed = {**_record(folder), "status": "running"}  # as written before training, the final record never came
    (folder / "params.json").write_text(json.dumps(killed))
    (folder / "history.csv").write_text("epoch,loss\n1,")  # cut off mid-write

    with pytest.raises(TybaltInputError, match="unfinished run"):
        run({**params, "learning_rate": params["learning_rate"] * 2})
    again = run(params).history

    assert len(again["val_loss"]) == 2 and _record(folder)["status"] in ("finished", "converged")
    assert len(pd.read_csv(folder / "history.csv")) == 2

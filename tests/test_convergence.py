"""Training to convergence: early stopping keeps the best epoch, waits out the KL warm-up, reduce_lr halves the rate,
both survive a kill and resume, and the diagnosis says whether to train longer or stop sooner."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ENTRY_POINT, TINY_FLAGS, checkpoint_epochs, kill_after_checkpoint
from tybalt_core.train.convergence import STILL_FALLING, Plateau, diagnose

NEVER_IMPROVES = "1e9"  # min_delta so large that only the first counted epoch is ever an improvement


def read_run(folder):
    with open(os.path.join(folder, "params.json")) as handle:
        record = json.load(handle)
    return record, pd.read_csv(os.path.join(folder, "history.csv"))


def test_diagnosis_tells_still_falling_from_over_fitting_and_from_levelled_off():
    assert diagnose([10.0, 9.0, 8.0, 7.0, 6.0, 5.0]).message == STILL_FALLING
    rising = diagnose([10.0, 8.0, 7.0, 7.5, 8.0, 8.5])
    assert rising.warning and rising.message.startswith("validation loss rising for 3 epochs: over-fitting from "
                                                        "epoch 3")
    levelled = diagnose([10.0, 8.0, 7.0, 7.0001, 6.9999, 7.0])
    assert not levelled.warning and "levelled off" in levelled.message


def test_diagnosis_does_not_read_the_noise_of_a_flat_validation_loss_as_a_trend():
    """As in make demo's VAE: val_loss flat at ~676.5 with +-0.7 of sampling noise after 60 epochs."""
    noise = np.random.default_rng(0).normal(0.0, 0.5, size=40)
    assert "levelled off" in diagnose(list(676.5 + noise)).message
    assert diagnose(list(700.0 - 0.5 * np.arange(40) + noise)).message == STILL_FALLING
    assert "rising" in diagnose(list(676.5 + np.r_[np.zeros(20), 0.3 * np.arange(20)] + noise)).message


def test_diagnosis_ignores_the_warm_up_epochs_whose_loss_grows_with_beta():
    warm_up_then_falling = [5.0, 6.0, 7.0, 9.0, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5]  # beta final from epoch index 3
    assert diagnose(warm_up_then_falling, first_counted_epoch=3).message == STILL_FALLING
    assert "warm-up" in diagnose([5.0, 6.0], first_counted_epoch=3).message


def test_plateau_counts_epochs_without_an_improvement_beyond_min_delta_and_its_state_round_trips():
    plateau = Plateau(min_delta=0.5)
    assert [plateau.update(epoch, value) for epoch, value in enumerate([10.0, 9.8, 9.0, 9.2])] == [
        True, False, True, False]
    assert (plateau.best, plateau.best_epoch, plateau.wait) == (9.0, 2, 1)
    assert Plateau.from_state(json.loads(json.dumps(plateau.state()))) == plateau
    assert Plateau.from_state(json.loads(json.dumps(Plateau().state()))) == Plateau()


def test_early_stopping_stops_and_the_saved_model_is_the_best_epochs(tiny_params, tmp_path):
    """The Supervisor's objective and the saved encoder/decoder are the kept epoch's, not the last one's."""
    from tybalt_baseline_keras2 import run
    from tybalt_core.data.expression import split_train_validation, write_synthetic_files
    from tybalt_core.models.saved_models import load_saved_model

    params = tiny_params("--model_type", "ae", "--loss", "mse", "--epochs", "20", "--batch_size", "64",
                         "--early_stop", "true", "--patience", "2", "--min_delta", NEVER_IMPROVES)
    returned = run(params)
    record, history = read_run(params["output_dir"])

    assert record["status"] == "converged" and record["best_epoch"] == 1 and len(history) == 3
    assert "early stopping after epoch 3" in record["stop_reason"]
    assert returned.history["val_loss"] == [history["val_loss"][0]]  # CANDLE's objective: val_loss[-1]
    path, _ = write_synthetic_files(params["data_dir"], params["synthetic_samples"], params["synthetic_genes"],
                                    params["rng_seed"])
    values = pd.read_csv(path, sep="\t", index_col=0).to_numpy(dtype=np.float32)
    _, val_rows = split_train_validation(len(values), params["val_split"], params["rng_seed"])
    encoder, decoder = (load_saved_model(os.path.join(params["output_dir"], name))
                        for name in ("encoder.keras", "decoder.keras"))
    reconstruction = np.asarray(decoder(encoder(values[val_rows])))
    mse = float(np.mean((reconstruction - values[val_rows]) ** 2))
    assert mse == pytest.approx(history["val_loss"][0], rel=1e-4)
    assert abs(history["val_loss"][2] - history["val_loss"][0]) > 1e-3 * history["val_loss"][0]
    # A restarted campaign's rerun gets the same objective back from the saved run, without training.
    assert run(params).history["val_loss"] == returned.history["val_loss"]


def test_early_stopping_never_stops_before_the_kl_warm_up_is_over(tiny_params):
    from tybalt_baseline_keras2 import run

    params = tiny_params("--epochs", "20", "--kappa", "0.25", "--early_stop", "true", "--patience", "1",
                         "--min_delta", NEVER_IMPROVES)
    run(params)
    record, history = read_run(params["output_dir"])

    # beta = 0, 0.25, 0.5, 0.75 in epochs 1-4: epoch 5 is the first comparable one and the best; epoch 6 stops
    assert history["beta"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert record["status"] == "converged" and record["best_epoch"] == 5


def test_reduce_lr_halves_the_learning_rate_each_time_the_validation_loss_is_flat(tiny_params):
    from tybalt_baseline_keras2 import run

    params = tiny_params("--model_type", "ae", "--loss", "mse", "--epochs", "4", "--learning_rate", "0.001",
                         "--reduce_lr", "true", "--patience", "2", "--min_delta", NEVER_IMPROVES)
    run(params)
    record, history = read_run(params["output_dir"])

    # lr_patience = patience // 2 = 1: epoch 1 is the best, every later one is flat and halves the rate
    np.testing.assert_allclose(history["learning_rate"], [0.001, 0.001, 0.0005, 0.00025], rtol=1e-6)
    assert record["status"] == "finished"


@pytest.mark.parametrize("legacy_keras", ["0", "1"], ids=["keras3", "tf_keras"])
def test_early_stopping_and_reduce_lr_state_survive_a_kill_and_resume(tmp_path, shared_data_dir, legacy_keras):
    """Killed mid-run, the rerun keeps the first epoch as the best, the halved rate, and stops where it would have."""
    output_dir, ckpt_dir = str(tmp_path / "run"), str(tmp_path / "run" / "ckpt")
    command = [sys.executable, ENTRY_POINT, *TINY_FLAGS, "--model_type", "ae", "--loss", "mse", "--epochs", "12",
               "--batch_size", "16", "--learning_rate", "0.001", "--early_stop", "true", "--reduce_lr", "true",
               "--patience", "6", "--min_delta", NEVER_IMPROVES, "--ckpt_keep_limit", "2", "--output_dir",
               output_dir, "--data_dir", shared_data_dir]
    environment = {**os.environ, "TF_USE_LEGACY_KERAS": legacy_keras}
    kill_after_checkpoint(command, ckpt_dir, env=environment)
    killed_after = checkpoint_epochs(ckpt_dir)[-1]
    assert killed_after < 7

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    record, history = read_run(output_dir)
    assert record["resumed_after_epoch"] == killed_after
    # Uninterrupted: epoch 1 best; flat for 3 epochs halves the rate (after epochs 4 and 7); 6 flat epochs stop at 7.
    # A resume that lost the state would take its first epoch as the best and run on past epoch 7.
    assert record["status"] == "converged" and record["best_epoch"] == 1 and len(history) == 7
    np.testing.assert_allclose(history["learning_rate"], [0.001] * 4 + [0.0005] * 3, rtol=1e-6)


def test_kerastuner_scores_a_trial_by_the_val_loss_of_the_model_early_stopping_kept(tmp_path, shared_data_dir):
    """For a plain mse autoencoder, val_loss is the validation reconstruction MSE that the tuner measures on the
    model after the trial: they agree only if the kept (best) epoch's weights were put back."""
    from test_tuning import search

    from tybalt_core.tune import hpo_results

    space = tmp_path / "space.yaml"
    space.write_text("description: one trial\nparameters:\n  latent_dim: [4]\n")
    _, table, _ = search(tmp_path, shared_data_dir, tuner="random", search_space=str(space), max_trials=1,
                         model_type="ae", loss="mse", epochs=6, batch_size=64, early_stop=True, patience=2,
                         min_delta=float(NEVER_IMPROVES))
    row = table.iloc[0]
    assert row["status"] == hpo_results.COMPLETED
    assert row["objective"] == pytest.approx(row["val_reconstruction_mse"], rel=1e-4)

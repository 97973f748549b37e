"""Training behaviour: the KL warm-up schedule, both Tybalt models learning on tiny data, and many trials in one
process."""

import gc

import pandas as pd
import pytest

import tybalt_baseline_keras2
from tybalt_core.models.backend import tf
from tybalt_core.train.training import beta_for_epoch, first_final_beta_epoch


@pytest.mark.parametrize("kappa, expected", [(0.4, [0.0, 0.4, 0.8, 1.0, 1.0]), (1.0, [0.0, 1.0, 1.0, 1.0, 1.0])])
def test_beta_grows_by_kappa_per_epoch_up_to_one(kappa, expected):
    assert [beta_for_epoch(epoch, kappa, "warmup") for epoch in range(5)] == pytest.approx(expected)


@pytest.mark.parametrize("kappa", [1.0, 0.5, 0.4, 0.3, 0.1, 1 / 3, 0.07, 0.01, 3.0, 1e-3])
def test_first_epoch_of_final_beta_is_the_first_epoch_whose_beta_reaches_one(kappa):
    first = next(epoch for epoch in range(10_000) if beta_for_epoch(epoch, kappa, "warmup") >= 1.0)
    assert first_final_beta_epoch(kappa, "warmup") == first
    assert first_final_beta_epoch(kappa, "faithful") == 0


def test_a_tiny_kappa_puts_the_end_of_the_warm_up_far_away_without_counting_to_it():
    assert first_final_beta_epoch(1e-10, "warmup") == 10**10
    assert first_final_beta_epoch(1e-30, "warmup") >= 10**29  # an epoch-by-epoch search would never end


@pytest.mark.parametrize("flag", [("--kappa", "1e-10"), ("--log10_kappa", "-30")])
def test_a_run_with_a_tiny_kappa_ends_and_says_the_warm_up_never_finished(tiny_params, tmp_path, flag):
    tybalt_baseline_keras2.run(tiny_params("--epochs", "2", "--early_stop", "true", *flag))
    record = pd.read_json(tmp_path / "out" / "params.json", typ="series")
    assert record["status"] == "finished" and "during the KL warm-up" in record["convergence"]


def test_faithful_mode_keeps_beta_at_zero():
    assert {beta_for_epoch(epoch, 0.5, "faithful") for epoch in range(5)} == {0.0}


def test_history_csv_records_the_warm_up_and_the_kl_term_enters_the_loss(tiny_params, tmp_path):
    history = tybalt_baseline_keras2.run(tiny_params("--epochs", "4", "--kappa", "0.4")).history
    table = pd.read_csv(tmp_path / "out" / "history.csv")
    assert list(table["beta"]) == pytest.approx([0.0, 0.4, 0.8, 1.0])
    expected_loss = table["reconstruction_loss"] + table["beta"] * table["kl_loss"]
    assert list(table["loss"]) == pytest.approx(list(expected_loss), rel=1e-3)
    assert len(history["val_loss"]) == 4


def test_vae_validation_loss_improves_over_training(tiny_params):
    history = tybalt_baseline_keras2.run(tiny_params("--epochs", "6", "--learning_rate", "0.005")).history
    assert history["val_reconstruction_loss"][-1] < history["val_reconstruction_loss"][0]


@pytest.mark.parametrize("tied", ["true", "false"])
def test_adage_trains_with_and_without_tied_weights(tiny_params, tied):
    history = tybalt_baseline_keras2.run(tiny_params("--model_type", "adage", "--tied_weights", tied, "--epochs",
                                                     "6", "--learning_rate", "0.01", "--loss", "mse")).history
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_trials_run_one_after_another_in_one_process_do_not_keep_the_earlier_graphs(tiny_params, tmp_path):
    """A Supervisor worker or a KerasTuner search runs many trials in one process: its memory must not grow."""
    params = tiny_params()
    live_graph_operations = []
    for trial in range(3):
        tybalt_baseline_keras2.run(dict(params, output_dir=str(tmp_path / f"trial_{trial}")))
        gc.collect()
        live_graph_operations.append(sum(isinstance(o, tf.Operation) for o in gc.get_objects()))
    assert live_graph_operations[2] == live_graph_operations[1]

"""Checkpoint and resume: a run killed with SIGKILL continues where it stopped, under Keras 3 and tf_keras."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import ENTRY_POINT, TINY_FLAGS, checkpoint_epochs, kill_after_checkpoint

KAPPA = 0.2


def _entry_point_command(output_dir: str, data_dir: str, epochs: int) -> list[str]:
    return [sys.executable, ENTRY_POINT, *TINY_FLAGS, "--epochs", str(epochs), "--batch_size", "16",
            "--kappa", str(KAPPA), "--ckpt_keep_limit", "2", "--output_dir", output_dir, "--data_dir", data_dir]


def tiny_params(data_dir: str, **overrides) -> dict:
    """The benchmark's parameters as the CANDLE Supervisor gets them (no flags), made tiny, with ``overrides``."""
    from tybalt_baseline_keras2 import initialize_parameters

    params = initialize_parameters(argv=[])
    params.update(synthetic_samples=600, synthetic_genes=300, latent_dim=8, verbose=False, data_dir=data_dir)
    params.update(overrides)
    return params


def test_run_killed_with_sigkill_resumes_from_its_last_checkpoint_and_logs_every_epoch_once(tmp_path,
                                                                                            shared_data_dir):
    epochs = 8
    output_dir, ckpt_dir = str(tmp_path / "run"), str(tmp_path / "run" / "ckpt")
    command = _entry_point_command(output_dir, shared_data_dir, epochs)
    kill_after_checkpoint(command, ckpt_dir)
    saved = checkpoint_epochs(ckpt_dir)
    assert 2 <= saved[-1] < epochs and len(saved) <= 2  # ckpt_keep_limit 2
    with open(os.path.join(ckpt_dir, f"epoch-{saved[-1]:05d}", "state.json")) as handle:
        history_before_kill = json.load(handle)["history"]

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr[-2000:]
    with open(os.path.join(output_dir, "params.json")) as handle:
        record = json.load(handle)
    assert record["status"] == "finished" and record["resumed_after_epoch"] == saved[-1]
    history = pd.read_csv(os.path.join(output_dir, "history.csv"))
    assert history["epoch"].tolist() == list(range(1, epochs + 1))
    expected_beta = [min(1.0, KAPPA * (epoch - 1)) for epoch in range(1, epochs + 1)]
    np.testing.assert_allclose(history["beta"], expected_beta, rtol=1e-6)
    np.testing.assert_allclose(history["val_loss"][: saved[-1]], history_before_kill["val_loss"], rtol=1e-6)
    assert checkpoint_epochs(ckpt_dir)[-1] == epochs


# Runs in this process (Keras 3) and, through __main__, in a tf_keras subprocess.
def _continuing_after_restore_matches_uninterrupted_training(folder: str) -> tuple[float, float]:
    """Train 2 epochs and checkpoint; continue 1 epoch in the original and in a restored copy from the same seed.

    Returns the largest weight difference with the optimizer state restored and without it (the control).
    """
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.models.backend import keras
    from tybalt_core.train.checkpointing import CheckpointSettings, save_checkpoint
    from tybalt_core.train.resumable_training import KERAS_FLAVOUR, restore
    from tybalt_core.train.training import compile_autoencoder

    x = np.random.default_rng(0).random((120, 40), dtype=np.float32)

    def fresh_model():
        autoencoder = build_autoencoder("adage", 40, 5, noise=0.0)
        compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.01, loss="binary_crossentropy")
        return autoencoder.model

    def one_more_epoch(model):
        keras.utils.set_random_seed(7)
        model.fit(x, x, epochs=3, initial_epoch=2, batch_size=16, verbose=0)
        return model.get_weights()

    keras.utils.set_random_seed(1)
    original = fresh_model()
    original.fit(x, x, epochs=2, batch_size=16, verbose=0)
    save_checkpoint(original, folder, 2, {"loss": [1.0, 0.5]}, KERAS_FLAVOUR, keep_limit=1)
    restored, without_optimizer_state = fresh_model(), fresh_model()
    resume = restore(restored, CheckpointSettings(folder))
    assert resume.epochs_done == 2 and resume.history == {"loss": [1.0, 0.5]}
    without_optimizer_state.set_weights(original.get_weights())
    expected = one_more_epoch(original)
    difference = max(np.abs(a - b).max() for a, b in zip(expected, one_more_epoch(restored)))
    control = max(np.abs(a - b).max() for a, b in zip(expected, one_more_epoch(without_optimizer_state)))
    return float(difference), float(control)


def test_restored_optimizer_state_continues_training_exactly_under_keras3(tmp_path):
    difference, control = _continuing_after_restore_matches_uninterrupted_training(str(tmp_path / "ckpt"))
    assert difference < 1e-6 < control


def test_restored_optimizer_state_continues_training_exactly_under_tf_keras(tmp_path):
    script = ("import test_checkpointing as t; "  # python -c imports from its working directory, tests/
              f"print(*t._continuing_after_restore_matches_uninterrupted_training({str(tmp_path / 'ckpt')!r}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(__file__), env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    difference, control = map(float, done.stdout.split()[-2:])
    assert difference < 1e-6 < control
    with open(tmp_path / "ckpt" / "epoch-00002" / "state.json") as handle:
        assert json.load(handle)["keras"] == "tf_keras"


def test_restart_modes_auto_resumes_and_off_starts_afresh_from_a_shared_checkpoint_folder(tmp_path,
                                                                                            shared_data_dir):
    from tybalt_baseline_keras2 import run

    def params(output: str, epochs: int, mode: str, seed: int = 123) -> dict:
        return tiny_params(shared_data_dir, epochs=epochs, output_dir=str(tmp_path / output),
                           ckpt_directory=str(tmp_path / "ckpt"), ckpt_restart_mode=mode, rng_seed=seed)

    first = run(params("first", 2, "auto")).history
    resumed = run(params("resumed", 3, "auto")).history
    # Another seed: had it resumed, its first two epochs would be copies of the first run's.
    fresh = run(params("fresh", 3, "off", seed=5)).history

    assert len(resumed["loss"]) == 3 and resumed["loss"][:2] == first["loss"]
    assert len(fresh["loss"]) == 3 and fresh["loss"][:2] != first["loss"]
    for output, after in (("resumed", 2), ("fresh", 0)):
        with open(tmp_path / output / "params.json") as handle:
            assert json.load(handle)["resumed_after_epoch"] == after


def test_run_whose_checkpoint_holds_every_epoch_returns_the_saved_history_without_training(tmp_path,
                                                                                           shared_data_dir):
    from tybalt_baseline_keras2 import run

    params = tiny_params(shared_data_dir, epochs=2, output_dir=str(tmp_path / "run"))
    first = run(params).history
    # Simulate a kill after the last checkpoint but before the outputs: no results, status still 'running'.
    for name in ("history.csv", "encoded_features.tsv", "encoder.keras", "decoder.keras", "loss.png"):
        os.remove(tmp_path / "run" / name)
    with open(tmp_path / "run" / "params.json") as handle:
        record = json.load(handle)
    with open(tmp_path / "run" / "params.json", "w") as handle:
        json.dump({**record, "status": "running"}, handle)
    state_file = tmp_path / "run" / "ckpt" / "epoch-00002" / "state.json"
    state_before = state_file.read_bytes()

    again = run(params).history

    assert again == first
    assert state_file.read_bytes() == state_before
    assert os.path.isfile(tmp_path / "run" / "encoded_features.tsv")


@pytest.mark.parametrize("interval, keep, expected", [(1, 2, [3, 4]), (2, 5, [2, 4]), (0, 5, [])])
def test_save_interval_and_keep_limit_choose_which_checkpoints_remain(tmp_path, interval, keep, expected):
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.train.checkpointing import CheckpointSettings, Resume
    from tybalt_core.train.resumable_training import fit_resumable
    from tybalt_core.train.training import compile_autoencoder

    x = np.random.default_rng(0).random((60, 20), dtype=np.float32)
    autoencoder = build_autoencoder("adage", 20, 3)
    compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.01, loss="binary_crossentropy")
    settings = CheckpointSettings(str(tmp_path), interval=interval, keep_limit=keep)
    fit_resumable(autoencoder, x, np.arange(50), np.arange(50, 60), settings, Resume(), epochs=4, batch_size=10,
                  verbose=False)
    assert checkpoint_epochs(str(tmp_path)) == expected


def test_checkpoint_of_another_model_shape_or_keras_flavour_is_refused_with_the_fix(tmp_path):
    from tybalt_core.common.errors import TybaltInputError
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.train.checkpointing import CheckpointSettings
    from tybalt_core.train.checkpointing import restore as restore_checkpoint
    from tybalt_core.train.checkpointing import save_checkpoint
    from tybalt_core.train.resumable_training import KERAS_FLAVOUR
    from tybalt_core.train.training import compile_autoencoder

    def compiled(latent_dim: int):
        autoencoder = build_autoencoder("adage", 20, latent_dim)
        compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.01, loss="binary_crossentropy")
        return autoencoder.model

    save_checkpoint(compiled(3), str(tmp_path), 1, {"loss": [1.0]}, KERAS_FLAVOUR, keep_limit=1)
    with pytest.raises(TybaltInputError, match="another shape .*--ckpt_restart_mode off"):
        restore_checkpoint(compiled(4), CheckpointSettings(str(tmp_path)), KERAS_FLAVOUR)
    with pytest.raises(TybaltInputError, match="same TF_USE_LEGACY_KERAS setting"):
        restore_checkpoint(compiled(3), CheckpointSettings(str(tmp_path)), "some other keras")

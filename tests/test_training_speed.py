"""The fast training path (input pipeline, steps_per_execution, XLA) learns the same as plain Keras fit."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tybalt_core.config.objective import OBJECTIVE_KEY
from tybalt_core.data.synthetic_data import make_synthetic_data
from tybalt_core.models.autoencoders import build_autoencoder
from tybalt_core.models.backend import keras
from tybalt_core.train.training import KLWarmup, compile_autoencoder, resolve_jit_compile, set_seed, train

EPOCHS = 4


@pytest.fixture(scope="module")
def expression():
    """A small planted-biology matrix split 90/10, as the benchmark trains on."""
    return make_synthetic_data(500, 200, 7)[0].to_numpy(dtype=np.float32)


TRAIN_ROWS, VAL_ROWS = np.arange(450), np.arange(450, 500)


def _plain_keras_history(model_type: str, values, seed: int) -> dict:
    """The reference: compile with defaults and fit on NumPy arrays."""
    x_train, x_val = values[TRAIN_ROWS], values[VAL_ROWS]
    keras.backend.clear_session()
    set_seed(seed)
    autoencoder = build_autoencoder(model_type, x_train.shape[1], 8)
    autoencoder.model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0005),
                              loss=None if model_type == "vae" else "binary_crossentropy")
    callbacks = [KLWarmup(autoencoder.model, 1.0, "warmup")] if model_type == "vae" else []
    history = autoencoder.model.fit(x_train, x_train, validation_data=(x_val, x_val), batch_size=50, epochs=EPOCHS,
                                    shuffle=True, callbacks=callbacks, verbose=0)
    return history.history


def _fast_path_history(model_type: str, values, seed: int, *, jit_compile: bool, steps_per_execution: int) -> dict:
    keras.backend.clear_session()
    set_seed(seed)
    autoencoder = build_autoencoder(model_type, values.shape[1], 8)
    compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.0005, loss="binary_crossentropy",
                        jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    return train(autoencoder, values, TRAIN_ROWS, VAL_ROWS, epochs=EPOCHS, batch_size=50, verbose=False).history


@pytest.mark.parametrize("model_type, jit_compile", [("vae", True), ("adage", False)])
def test_fast_path_gives_the_plain_keras_loss_curve_within_seed_noise(expression, model_type, jit_compile):
    plain = [_plain_keras_history(model_type, expression, seed)["val_loss"] for seed in (1, 2)]
    fast = _fast_path_history(model_type, expression, 1, jit_compile=jit_compile, steps_per_execution=5)
    seed_noise = np.abs(np.subtract(*plain))
    tolerance = 3 * seed_noise + 0.002 * np.abs(plain[0])
    assert np.all(np.abs(np.array(fast["val_loss"]) - plain[0]) <= tolerance), (fast["val_loss"], plain)
    objective = fast[OBJECTIVE_KEY]  # the full KL at every epoch, so it falls as the model learns during the warm-up
    assert objective[-1] < objective[0]


def test_steps_per_execution_changes_no_result(expression):
    one_step = _fast_path_history("vae", expression, 3, jit_compile=False, steps_per_execution=1)["val_loss"]
    seven_steps = _fast_path_history("vae", expression, 3, jit_compile=False, steps_per_execution=7)["val_loss"]
    np.testing.assert_allclose(seven_steps, one_step, rtol=1e-5)


def test_auto_jit_compile_chooses_xla_only_for_long_small_batch_vae_runs():
    assert resolve_jit_compile("auto", "vae", epochs=100, n_train=9413, batch_size=50)
    assert not resolve_jit_compile("auto", "vae", epochs=2, n_train=540, batch_size=50)
    assert resolve_jit_compile("auto", "vae", epochs=100, n_train=9413, batch_size=200)
    assert not resolve_jit_compile("auto", "vae", epochs=100, n_train=9413, batch_size=500)
    assert not resolve_jit_compile("auto", "vae", epochs=4, n_train=9413, batch_size=50)
    assert not resolve_jit_compile("auto", "adage", epochs=100, n_train=9413, batch_size=50)
    assert resolve_jit_compile("true", "adage", epochs=1, n_train=10, batch_size=50)
    assert not resolve_jit_compile("false", "vae", epochs=100, n_train=9413, batch_size=50)


IMPORT_PROBE = """
import sys
import tybalt_baseline_keras2
try:
    tybalt_baseline_keras2.main({flags!r})
except SystemExit as stop:
    print("exit", stop.code)
print("tensorflow imported:", "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("flags", [["--help"], ["--model_type", "nope"], ["--epochs", "0"],
                                   ["--steps_per_execution", "0"], ["--jit_compile", "maybe"]])
def test_help_and_parameter_errors_do_not_import_tensorflow(flags):
    probe = IMPORT_PROBE.format(flags=flags)
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TF_USE_LEGACY_KERAS": ""})
    lines = result.stdout.strip().splitlines()
    assert lines[-2] == ("exit 0" if flags == ["--help"] else "exit 2"), result.stdout + result.stderr
    assert lines[-1] == "tensorflow imported: False"

"""Mixed precision (issue 17): float16 compute with float32 outputs, loss and KL; the loss stays finite and close to
float32 on a fixed seed (Keras 3 and tf_keras); 'auto' is off on the CPU, so a default CPU run is unchanged."""

import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import ENTRY_POINT, TINY_FLAGS
from tybalt_baseline_keras2 import run
from tybalt_core.models.autoencoders import build_autoencoder
from tybalt_core.models.backend import DeviceSetup, dtype_policy, keras, resolve_mixed_precision

CPU = DeviceSetup(requested=())
RELATIVE_TOLERANCE = 0.01  # final val_loss, mixed vs float32, after 3 epochs of the tiny data
RUN_TO_RUN_NOISE = 1e-6  # two identical float32 runs in one process differ in the 7th digit on this CPU


def gpus(*capabilities):
    return DeviceSetup(requested=(), gpu_names=tuple(f"GPU:{i}" for i in range(len(capabilities))),
                       compute_capabilities=capabilities)


def test_auto_is_on_only_for_gpus_with_tensor_cores():
    assert not resolve_mixed_precision("auto", CPU)
    assert resolve_mixed_precision("auto", gpus((7, 0)))
    assert resolve_mixed_precision("auto", gpus((9, 0), (8, 0)))
    assert not resolve_mixed_precision("auto", gpus((6, 0)))  # P100
    assert not resolve_mixed_precision("auto", gpus((8, 0), (6, 1)))
    assert resolve_mixed_precision("true", CPU) and not resolve_mixed_precision("false", gpus((9, 0)))


@pytest.mark.parametrize("model_type", ["vae", "adage"])
def test_mixed_models_compute_in_float16_but_output_float32(model_type):
    with dtype_policy(True):
        autoencoder = build_autoencoder(model_type, 30, 4, tied_weights=model_type == "adage")
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the block
    layers = {layer.name: layer for layer in autoencoder.decoder.layers + autoencoder.encoder.layers}
    assert layers["reconstruction"].compute_dtype == "float32"
    hidden = "z_mean_dense" if model_type == "vae" else "encodings"
    assert layers[hidden].compute_dtype == "float16" and layers[hidden].variable_dtype == "float32"
    assert autoencoder.model(np.full((2, 30), 0.5, dtype=np.float32)).dtype.name == "float32"


@pytest.mark.parametrize("model_flags", [["--model_type", "vae"],
                                        ["--model_type", "adage", "--tied_weights", "true", "--sparsity", "0.001"]])
def test_mixed_precision_loss_is_finite_and_close_to_float32(tiny_params, tmp_path, model_flags):
    losses = {}
    for setting in ("false", "true"):
        params = tiny_params(*model_flags, "--epochs", "3", "--mixed_precision", setting, "--save_model", "false",
                             "--output_dir", str(tmp_path / setting))
        losses[setting] = run(params).history["val_loss"]
    assert all(math.isfinite(value) for value in losses["true"])
    assert losses["true"][-1] == pytest.approx(losses["false"][-1], rel=RELATIVE_TOLERANCE)
    assert losses["true"][-1] != pytest.approx(losses["false"][-1], rel=RUN_TO_RUN_NOISE)  # it did use float16


def test_default_on_the_cpu_is_the_float32_run(tiny_params, tmp_path):
    default = run(tiny_params("--output_dir", str(tmp_path / "default"))).history
    float32 = run(tiny_params("--mixed_precision", "false", "--output_dir", str(tmp_path / "float32"))).history
    assert default.keys() == float32.keys()
    for name, values in default.items():
        assert values == pytest.approx(float32[name], rel=RUN_TO_RUN_NOISE), name


def test_mixed_precision_under_legacy_keras_matches_float32(tmp_path, shared_data_dir):
    final = {}
    for setting in ("false", "true"):
        result = subprocess.run([sys.executable, ENTRY_POINT, *TINY_FLAGS, "--epochs", "3", "--data_dir",
                                 shared_data_dir, "--mixed_precision", setting, "--save_model", "false",
                                 "--output_dir", str(tmp_path / setting)], capture_output=True, text=True,
                                env={**os.environ, "TF_USE_LEGACY_KERAS": "1"}, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        final[setting] = float(re.search(r"of the kept model (\S+);", result.stderr).group(1))
    assert math.isfinite(final["true"]) and final["true"] == pytest.approx(final["false"], rel=RELATIVE_TOLERANCE)

"""Loading a saved model: only Keras model files load, in safe mode, and every failure is one clear error."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tybalt_core.common.errors import TybaltInputError


def _save_lambda_model(path: str) -> None:
    """A .keras file whose model carries Python code (a Lambda layer): safe mode must refuse to load it."""
    from tybalt_core.models.backend import keras

    inputs = keras.Input(shape=(3,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(path)


def test_encoder_saved_by_a_run_loads_and_predicts_the_same(tmp_path):
    from tybalt_core.common.outputs import save_models
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.models.saved_models import load_saved_model

    autoencoder = build_autoencoder("vae", 20, 3)
    save_models(str(tmp_path), autoencoder.encoder, autoencoder.decoder)
    x = np.random.default_rng(0).random((5, 20), dtype=np.float32)
    loaded = load_saved_model(str(tmp_path / "encoder.keras"))
    np.testing.assert_allclose(loaded.predict(x, verbose=0), autoencoder.encoder.predict(x, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("content", [b"not a model\n", b"PK\x03\x04 truncated zip"])
def test_file_that_is_not_a_keras_model_is_refused_with_the_fix(tmp_path, content):
    from tybalt_core.models.saved_models import load_saved_model

    path = tmp_path / "encoder.keras"
    path.write_bytes(content)
    with pytest.raises(TybaltInputError, match=r"is not a Keras model file .*give the encoder.keras"):
        load_saved_model(str(path))


def test_missing_model_file_is_refused_with_the_fix(tmp_path):
    from tybalt_core.models.saved_models import load_saved_model

    with pytest.raises(TybaltInputError, match="not found; give the encoder.keras"):
        load_saved_model(str(tmp_path / "absent.keras"))


def test_model_carrying_python_code_is_refused_by_safe_mode(tmp_path):
    from tybalt_core.models.saved_models import load_saved_model

    path = str(tmp_path / "lambda.keras")
    _save_lambda_model(path)
    with pytest.raises(TybaltInputError, match="loaded safely .*Lambda.*give the encoder.keras"):
        load_saved_model(path)


def test_model_carrying_python_code_is_refused_by_safe_mode_under_tf_keras(tmp_path):
    path = str(tmp_path / "lambda.keras")
    script = (f"import conftest, test_model_loading as t;"  # python -c imports from its working directory, tests/
              f" from tybalt_core.models.saved_models import load_saved_model; t._save_lambda_model({path!r})\n"
              f"try:\n    load_saved_model({path!r})\nexcept Exception as error:\n"
              f"    print(type(error).__name__, error)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(__file__), env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("TybaltInputError") and "Lambda" in done.stdout

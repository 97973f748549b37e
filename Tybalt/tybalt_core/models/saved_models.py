"""Load the ``.keras`` models a run saved (the encoder for encoding new samples, both for tests and analysis)."""

from __future__ import annotations

from tybalt_core.common.outputs import check_model_file, unloadable_model_error
from tybalt_core.models.backend import keras


def load_saved_model(path: str):
    """Load a ``.keras`` model written by a run, in Keras safe mode so the file can never run code."""
    check_model_file(path)
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types (ValueError, OSError, zipfile errors, TypeError)
        reason = str(error).split(". ")[0].splitlines()[0][:200] if str(error) else type(error).__name__
        raise unloadable_model_error(path, reason) from None

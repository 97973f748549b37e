"""Import Keras once for the whole benchmark: Keras 3, or legacy Keras 2 when TF_USE_LEGACY_KERAS is set.

Real candle_lib needs legacy Keras 2 (``tf-keras``); everything else in the benchmark runs under both.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the logs

import tensorflow as tf  # noqa: E402

LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")

if LEGACY_KERAS:
    import tf_keras as keras
else:
    import keras

__all__ = ["keras", "tf", "LEGACY_KERAS"]

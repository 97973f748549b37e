"""Import Keras once for the whole benchmark: Keras 3, or legacy Keras 2 when TF_USE_LEGACY_KERAS is set.

Real candle_lib needs legacy Keras 2 (``tf-keras``); everything else in the benchmark runs under both.
"""

import gc
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter out of the logs

import tensorflow as tf  # noqa: E402

LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")

if LEGACY_KERAS:
    import tf_keras as keras
else:
    import keras

# TensorFlow and Keras leave ~390,000 objects that live as long as the process. Taking them out of the garbage
# collector's view makes each full collection (one per trial, in clear_session) 0.03 s instead of 0.22 s.
gc.freeze()


def import_keras_tuner():
    """Import KerasTuner so that it builds and accepts models of the Keras in use.

    KerasTuner 1.4.8 imports ``keras`` (Keras 3) and rejects tf_keras models; under legacy Keras it must find
    tf_keras under that name, so ``sys.modules['keras']`` is pointed at it before the first import.
    """
    if LEGACY_KERAS:
        sys.modules["keras"] = keras
    import keras_tuner

    return keras_tuner


__all__ = ["keras", "tf", "LEGACY_KERAS", "import_keras_tuner"]

"""Import Keras once for the whole benchmark: Keras 3, or legacy Keras 2 when TF_USE_LEGACY_KERAS is set.

Real candle_lib needs legacy Keras 2 (``tf-keras``); everything else in the benchmark runs under both.
"""

import contextlib
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


CUSTOM_GRADIENT_PREFIX = "CustomGradient-"  # how tf.custom_gradient names its registrations


@contextlib.contextmanager
def custom_gradients_released():
    """When the block ends, forget the custom gradients TensorFlow registered while it traced (tensorflow#97697).

    Keras sums each step's gradients through ``tf.custom_gradient``. In a traced function TensorFlow registers
    each one in a process-wide registry that is never emptied, and the entry keeps the whole traced graph alive:
    ~17,600 Python objects and tens of MB more with every trial of a process that runs many. A registration is
    only read while a function is traced, so dropping it once training is over changes no result.
    """
    registry = _gradient_registry()
    registered_before = set(registry)
    try:
        yield
    finally:
        for name in set(registry) - registered_before:
            if name.startswith(CUSTOM_GRADIENT_PREFIX):
                del registry[name]


def _gradient_registry() -> dict:
    """TensorFlow's gradient functions by name (a private table; an empty one if a TensorFlow release moves it)."""
    from tensorflow.python.framework import ops

    return getattr(getattr(ops, "_gradient_registry", None), "_registry", {})


def import_keras_tuner():
    """Import KerasTuner so that it builds and accepts models of the Keras in use.

    KerasTuner 1.4.8 imports ``keras`` (Keras 3) and rejects tf_keras models; under legacy Keras it must find
    tf_keras under that name, so ``sys.modules['keras']`` is pointed at it before the first import.
    """
    if LEGACY_KERAS:
        sys.modules["keras"] = keras
    import keras_tuner

    return keras_tuner


__all__ = ["keras", "tf", "LEGACY_KERAS", "custom_gradients_released", "import_keras_tuner"]

"""Set the process up for TensorFlow: one explicit call made by the entry points once the input is checked.

Importing any ``tybalt_core`` module changes nothing global; this call quiets TensorFlow's C++ start-up chatter,
imports TensorFlow and Keras (``backend``), and takes their long-lived objects out of the garbage collector's view.
"""

from __future__ import annotations

import gc
import os

_set_up = False


def set_up_tensorflow() -> None:
    """Import TensorFlow and Keras quietly and freeze their start-up objects; later calls do nothing."""
    global _set_up
    if _set_up:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # read once, when TensorFlow's C++ library loads
    from tybalt_core.models import backend  # noqa: F401  (imports TensorFlow and Keras)

    # TensorFlow and Keras leave ~390,000 objects that live as long as the process. Taking them out of the garbage
    # collector's view makes each full collection (one per trial, in clear_session) 0.03 s instead of 0.22 s.
    gc.freeze()
    _set_up = True

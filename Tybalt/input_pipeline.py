"""Feed training batches from one in-memory tensor: shuffled row indices, one gather per batch, prefetched.

``model.fit`` on NumPy arrays re-slices the arrays through a generic adapter on every epoch; here the whole
matrix becomes one tensor, shared by the training and validation batches (no copy of either subset), each
epoch shuffles only the row indices, and each batch is a single ``tf.gather``, prepared while the previous step
trains.
"""

from __future__ import annotations

import numpy as np

from keras_backend import tf

PREFETCHED_BATCHES = 2  # the next batches are gathered while the current step trains


def autoencoder_batches(matrix: tf.Tensor | np.ndarray, rows: np.ndarray, batch_size: int, *,
                        shuffle: bool) -> tf.data.Dataset:
    """(input, target) batches of ``matrix[rows]`` (target = input), reshuffled each epoch when ``shuffle``."""
    matrix = tf.convert_to_tensor(matrix, dtype=tf.float32)  # no copy when it is a tensor already
    rows = tf.data.Dataset.from_tensor_slices(np.asarray(rows, dtype=np.int64))
    if shuffle:  # seeded by the global TensorFlow seed (training.set_seed), so runs repeat
        rows = rows.shuffle(len(rows), reshuffle_each_iteration=True)
    batches = (rows.batch(batch_size)
               .map(lambda batch_rows: _input_and_target(tf.gather(matrix, batch_rows)))
               .prefetch(PREFETCHED_BATCHES))
    return batches.with_options(_without_autotuning())


def _without_autotuning() -> tf.data.Options:
    """A gather is cheap; tf.data's autotuner threads would only compete with the training step for the cores.

    Measured at 10,459 x 5,000, VAE, batch 50, XLA, 2 cores: epochs of 0.84-1.02 s without it, 0.88-1.41 s with
    a parallel, autotuned map (the slow epochs are the autotuner at work).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def _input_and_target(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """An autoencoder reconstructs its input: the batch is both."""
    return batch, batch

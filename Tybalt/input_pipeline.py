"""Feed training batches from one in-memory tensor: shuffled row indices, one gather per batch, prefetched.

``model.fit`` on NumPy arrays re-slices the arrays through a generic adapter on every epoch; here the matrix
is turned into a tensor once, each epoch shuffles only the row indices, and each batch is a single
``tf.gather`` that a background thread prepares while the previous step trains.
"""

from __future__ import annotations

import numpy as np

from keras_backend import tf


def autoencoder_batches(values: np.ndarray, batch_size: int, *, shuffle: bool) -> tf.data.Dataset:
    """(input, target) batches of ``values`` (target = input), reshuffled each epoch when ``shuffle``."""
    matrix = tf.convert_to_tensor(values, dtype=tf.float32)
    rows = tf.data.Dataset.range(matrix.shape[0])
    if shuffle:  # seeded by the global TensorFlow seed (training.set_seed), so runs repeat
        rows = rows.shuffle(matrix.shape[0], reshuffle_each_iteration=True)
    return (rows.batch(batch_size)
            .map(lambda batch_rows: _input_and_target(tf.gather(matrix, batch_rows)),
                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .prefetch(tf.data.AUTOTUNE))


def _input_and_target(batch: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """An autoencoder reconstructs its input: the batch is both."""
    return batch, batch

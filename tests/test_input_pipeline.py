"""The index-gather input pipeline: every row once per epoch, reshuffled between epochs, target = input; the data
becomes one tensor, sharing the cached memory map where TensorFlow can."""

import numpy as np
import pytest

from tybalt_core.models.backend import tf
from tybalt_core.train.input_pipeline import autoencoder_batches, shared_tensor


def _rows_seen(dataset) -> list[list[int]]:
    """The row numbers (stored in column 0) of each batch of one pass, checking target == input."""
    batches = []
    for inputs, targets in dataset:
        np.testing.assert_array_equal(inputs.numpy(), targets.numpy())
        batches.append(inputs.numpy()[:, 0].astype(int).tolist())
    return batches


def test_each_training_epoch_sees_every_row_once_in_a_new_order():
    values = np.repeat(np.arange(103, dtype=np.float32)[:, None], 4, axis=1)
    dataset = autoencoder_batches(values, np.arange(103), 10, shuffle=True)
    first, second = _rows_seen(dataset), _rows_seen(dataset)
    for epoch in (first, second):
        assert [len(b) for b in epoch] == [10] * 10 + [3]
        assert sorted(sum(epoch, [])) == list(range(103))
    assert sum(first, []) != sum(second, []) != list(range(103))


def test_validation_batches_keep_the_row_order_and_values():
    values = np.random.default_rng(0).random((25, 6), dtype=np.float32)
    batches = [inputs.numpy() for inputs, _ in autoencoder_batches(values, np.arange(25), 8, shuffle=False)]
    np.testing.assert_array_equal(np.concatenate(batches), values)


def test_batches_hold_only_the_given_rows_and_every_one_of_them_once_per_epoch():
    values = np.repeat(np.arange(40, dtype=np.float32)[:, None], 3, axis=1)
    training_rows = np.random.default_rng(1).permutation(40)[:30]
    seen = sum(_rows_seen(autoencoder_batches(values, training_rows, 7, shuffle=True)), [])
    assert sorted(seen) == sorted(training_rows.tolist())
    validation_rows = np.setdiff1d(np.arange(40), training_rows)
    seen = sum(_rows_seen(autoencoder_batches(values, validation_rows, 7, shuffle=False)), [])
    assert seen == validation_rows.tolist()


def test_a_row_ordered_memory_map_becomes_a_tensor_that_shares_its_memory(tmp_path):
    np.save(tmp_path / "matrix.npy", np.arange(12, dtype=np.float32).reshape(4, 3))
    mapped = np.load(tmp_path / "matrix.npy", mmap_mode="c")  # how the data cache is opened
    tensor = shared_tensor(mapped)
    mapped[2, 1] = -1.0
    assert tensor.numpy()[2, 1] == -1.0


@pytest.mark.parametrize("layout", ["column-ordered", "read-only", "float64"])
def test_arrays_tensorflow_cannot_share_are_copied_with_their_values(layout):
    values = {"column-ordered": np.asfortranarray(np.arange(12, dtype=np.float32).reshape(4, 3)),
              "read-only": np.arange(12, dtype=np.float32).reshape(4, 3),
              "float64": np.arange(12, dtype=np.float64).reshape(4, 3)}[layout]
    values.flags.writeable = layout != "read-only"
    tensor = shared_tensor(values)
    assert tensor.dtype == tf.float32
    np.testing.assert_array_equal(tensor.numpy(), np.arange(12).reshape(4, 3))
    if values.flags.writeable:
        values[0, 0] = 99.0
        assert tensor.numpy()[0, 0] == 0.0

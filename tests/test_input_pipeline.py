"""The index-gather input pipeline: every row once per epoch, reshuffled between epochs, target = input."""

import numpy as np

from input_pipeline import autoencoder_batches


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

"""Run outputs that other tools read back: the encodings table keeps every value and sample id."""

import numpy as np
import pandas as pd

from tybalt_core.common.outputs import write_encodings


def test_encodings_table_reads_back_with_pandas_to_six_significant_digits(tmp_path):
    rng = np.random.default_rng(0)
    encodings = (rng.random((40, 7)) * 10.0 ** rng.integers(-8, 4, size=(40, 7))).astype(np.float32)
    encodings[::3, 2] = 0.0  # ReLU zeros
    sample_ids = [f"TCGA-00-{i:04d}-01" for i in range(40)]
    path = write_encodings(str(tmp_path), encodings, sample_ids)
    table = pd.read_csv(path, sep="\t", index_col=0)
    assert table.index.name == "sample_id"
    assert list(table.index) == sample_ids
    assert list(table.columns) == [str(k) for k in range(1, 8)]
    np.testing.assert_allclose(table.to_numpy(), encodings, rtol=5e-6, atol=0)

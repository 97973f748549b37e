"""A user's own samples x genes TSV: each kind of bad input gets its own clear message; the binary cache follows
the source file."""

import json
import logging
import os

import numpy as np
import pytest

import data
from errors import TybaltInputError

HEADER = "sample_id\tG1\tG2\tG3\n"


def write(path, text):
    path.write_text(text)
    return str(path)


def load(path, tmp_path, **options):
    return data.load_dataset(path, str(tmp_path / "data"), **options)


@pytest.mark.parametrize("body, message", [
    (HEADER + "S1\t0.1\tlow\t0.3\nS2\t0.4\t0.5\t0.6\n", r"non-numeric cells in column\(s\) G2"),
    (HEADER + "S1\t0.1\t0.2\t0.3\nS1\t0.4\t0.5\t0.6\n", r"duplicated sample ids \(S1\)"),
    ("sample_id\tG1\tG2\tG1\nS1\t0.1\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\n", r"duplicated gene names \(G1\)"),
    (HEADER + "S1\t0.1\t\t0.3\nS2\t0.4\t0.5\t0.6\n", "missing or infinite values; impute or drop them"),
    (HEADER + "S1\t0.1\t0.2\t0.3\nS2\t0.4\t7.5\t0.6\n",
     r"outside \[0, 1\].*scale each gene to \[0, 1\] or use --loss mse"),
    ("sample_id\nS1\nS2\n", "no data rows or no gene columns"),
], ids=["non-numeric", "duplicated-samples", "duplicated-genes", "missing-values", "outside-unit-range", "no-genes"])
def test_bad_user_table_is_refused_with_a_message_naming_the_problem_and_the_file(tmp_path, body, message):
    path = write(tmp_path / "mine.tsv", body)
    with pytest.raises(TybaltInputError, match=message) as refused:
        load(path, tmp_path)
    assert path in str(refused.value)


def test_values_outside_unit_range_are_accepted_when_the_loss_does_not_need_probabilities(tmp_path):
    path = write(tmp_path / "mine.tsv", HEADER + "S1\t-1.5\t0.2\t0.3\nS2\t0.4\t7.5\t0.6\n")
    dataset = load(path, tmp_path, require_unit_range=False)
    assert dataset.values[1, 1] == 7.5 and dataset.genes == ["G1", "G2", "G3"]


def test_missing_user_file_names_the_path_and_the_alternatives(tmp_path):
    with pytest.raises(TybaltInputError, match="not found.*--data_source synthetic"):
        load(str(tmp_path / "absent.tsv"), tmp_path)


def test_clinical_table_is_aligned_to_the_expression_samples(tmp_path):
    path = write(tmp_path / "mine.tsv", HEADER + "S1\t0.1\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\nS3\t0\t1\t0\n")
    clinical = write(tmp_path / "clinical.tsv", "sample_id\tsex\nS3\tF\nS1\tM\nS9\tF\n")
    dataset = load(path, tmp_path, clinical_data=clinical)
    assert dataset.clinical.index.tolist() == ["S1", "S2", "S3"]
    assert dataset.clinical["sex"].tolist()[::2] == ["M", "F"] and dataset.clinical["sex"].isna().tolist()[1]


def test_sample_ids_that_look_like_numbers_are_kept_as_written_and_match_the_clinical_table(tmp_path):
    path = write(tmp_path / "mine.tsv", HEADER + "01005\t0.1\t0.2\t0.3\n2\t0.4\t0.5\t0.6\n")
    clinical = write(tmp_path / "clinical.tsv", "sample_id\tsex\n01005\tF\n2\tM\n")
    loaded = load(path, tmp_path)
    assert loaded.sample_ids == ["01005", "2"]
    assert load(path, tmp_path).sample_ids == ["01005", "2"]  # and from the binary cache
    assert data.load_clinical_table(clinical, loaded.sample_ids)["sex"].tolist() == ["F", "M"]


def test_binary_cache_serves_the_second_load_and_is_rebuilt_when_the_source_changes(tmp_path, caplog):
    path = write(tmp_path / "mine.tsv", HEADER + "S1\t0.1\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\n")
    load(path, tmp_path)
    with caplog.at_level(logging.INFO, logger="data"):
        cached = load(path, tmp_path)
    assert "from its binary cache" in caplog.text
    np.testing.assert_allclose(cached.values, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], rtol=1e-6)

    write(tmp_path / "mine.tsv", HEADER + "S1\t0.9\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\n")  # same size, new content
    status = os.stat(path)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="data"):
        changed = load(path, tmp_path)
    assert "from its binary cache" not in caplog.text
    assert changed.values[0, 0] == pytest.approx(0.9)
    assert load(path, tmp_path).values[0, 0] == pytest.approx(0.9)  # and the new cache is the one used next


def test_cached_matrix_is_row_ordered_and_changing_it_in_memory_never_changes_the_cache(tmp_path):
    path = write(tmp_path / "mine.tsv", HEADER + "S1\t0.1\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\n")
    load(path, tmp_path)
    cached = load(path, tmp_path)
    assert cached.values.flags.c_contiguous and cached.values.flags.writeable  # what a shared tensor needs
    cached.values[0, 0] = 5.0
    assert load(path, tmp_path).values[0, 0] == pytest.approx(0.1)


def test_cache_written_by_an_older_version_is_rebuilt_not_used(tmp_path, caplog):
    path = write(tmp_path / "mine.tsv", HEADER + "S1\t0.1\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\n")
    load(path, tmp_path)
    (meta_path,) = (tmp_path / "data").rglob("*.json")
    meta = json.loads(meta_path.read_text())
    del meta["format"]  # as version 1 wrote it, with the matrix column by column
    meta_path.write_text(json.dumps(meta))
    (matrix_path,) = (tmp_path / "data").rglob("*.npy")
    np.save(matrix_path, np.asfortranarray(np.load(matrix_path)))
    with caplog.at_level(logging.INFO, logger="data"):
        rebuilt = load(path, tmp_path)
    assert "from its binary cache" not in caplog.text
    np.testing.assert_allclose(rebuilt.values, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], rtol=1e-6)
    assert np.load(matrix_path, mmap_mode="r").flags.c_contiguous

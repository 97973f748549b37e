"""Encoding new samples with a saved encoder: same encodings as the run, genes aligned by name, clear errors."""

import os

import numpy as np
import pandas as pd
import pytest

from conftest import run_entry_point
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.data.expression import write_synthetic_files

N_SAMPLES, N_GENES = 200, 100


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run folder with a saved encoder, and the synthetic expression file it was trained on."""
    from tybalt_baseline_keras2 import initialize_parameters, run

    folder = str(tmp_path_factory.mktemp("encode_run"))
    data_dir = str(tmp_path_factory.mktemp("encode_data"))
    params = initialize_parameters(argv=[])
    params.update(synthetic_samples=N_SAMPLES, synthetic_genes=N_GENES, latent_dim=4, epochs=1, verbose=False,
                  output_dir=folder, data_dir=data_dir)
    run(params)
    training_file, _ = write_synthetic_files(data_dir, N_SAMPLES, N_GENES, params["rng_seed"])  # already written
    return {"folder": folder, "data_dir": data_dir, "training_file": training_file, "params": params}


def encode(trained, data_file, output_dir):
    from tybalt_baseline_keras2 import encode as encode_entry

    params = dict(trained["params"], encode_data=data_file, model_dir=trained["folder"], output_dir=str(output_dir))
    return pd.read_csv(encode_entry(params), sep="\t", index_col=0)


def run_encodings(trained):
    return pd.read_csv(os.path.join(trained["folder"], "encoded_features.tsv"), sep="\t", index_col=0)


def test_encoding_the_training_file_reproduces_the_encodings_of_the_run(trained, tmp_path):
    encoded = encode(trained, trained["training_file"], tmp_path / "out")
    expected = run_encodings(trained)
    assert list(encoded.index) == list(expected.index)
    assert list(encoded.columns) == list(expected.columns)
    np.testing.assert_allclose(encoded.to_numpy(), expected.to_numpy(), rtol=1e-4, atol=1e-5)


def test_genes_are_matched_by_name_whatever_their_order_and_extra_genes_are_ignored(trained, tmp_path):
    expression = pd.read_csv(trained["training_file"], sep="\t", index_col=0)
    shuffled = expression[expression.columns[::-1]].assign(NOT_A_TRAINING_GENE=0.5)
    path = tmp_path / "shuffled.tsv"
    shuffled.to_csv(path, sep="\t")
    encoded = encode(trained, str(path), tmp_path / "out")
    np.testing.assert_allclose(encoded.to_numpy(), run_encodings(trained).to_numpy(), rtol=1e-4, atol=1e-5)


def test_missing_genes_are_an_error_that_names_them_and_counts_them(trained, tmp_path):
    expression = pd.read_csv(trained["training_file"], sep="\t", index_col=0)
    path = tmp_path / "missing.tsv"
    expression.drop(columns=["XIST", "ESR1"]).to_csv(path, sep="\t")
    with pytest.raises(TybaltInputError) as error:
        encode(trained, str(path), tmp_path / "out")
    assert "ESR1" in str(error.value) and "XIST" in str(error.value)
    assert f"2 of the {N_GENES} training genes" in str(error.value)
    assert not (tmp_path / "out").exists()


def test_command_line_encode_with_missing_gene_prints_one_line_and_exits_2(trained, tmp_path):
    expression = pd.read_csv(trained["training_file"], sep="\t", index_col=0)
    path = tmp_path / "missing.tsv"
    expression.drop(columns=["RPS4Y1"]).to_csv(path, sep="\t")
    result = run_entry_point("--encode_data", str(path), "--model_dir", trained["folder"],
                             "--output_dir", str(tmp_path / "out"), "--data_dir", trained["data_dir"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("tybalt: error:")
    assert "RPS4Y1" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_dir_that_is_not_a_run_folder_is_an_error(trained, tmp_path):
    params = dict(trained["params"], encode_data=trained["training_file"], model_dir=str(tmp_path),
                  output_dir=str(tmp_path / "out"))
    from tybalt_baseline_keras2 import encode as encode_entry

    with pytest.raises(TybaltInputError, match="genes.txt"):
        encode_entry(params)


def test_encodings_are_never_written_over_the_run_folder(trained):
    from tybalt_baseline_keras2 import encode as encode_entry

    before = os.path.getmtime(os.path.join(trained["folder"], "encoded_features.tsv"))
    params = dict(trained["params"], encode_data=trained["training_file"], model_dir=trained["folder"],
                  output_dir=trained["folder"])
    with pytest.raises(TybaltInputError, match="output_dir"):
        encode_entry(params)
    assert os.path.getmtime(os.path.join(trained["folder"], "encoded_features.tsv")) == before

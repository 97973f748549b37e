"""Your own matrix: gene selection and scaling fitted on the training samples, saved with the run and applied
unchanged by --encode_data; the analysis reads your own clinical columns."""

import os

import numpy as np
import pandas as pd
import pytest

from conftest import run_entry_point
from tybalt_core.data.expression import ExpressionData, split_train_validation
from tybalt_core.data.labels import plan_labels
from tybalt_core.data.preprocessing import fit_user_preprocessing

N_SAMPLES, N_GENES, KEPT_GENES = 150, 60, 30


def write_user_files(folder):
    """Log2-like expression (values 0-14, far outside [0, 1]) with a two-group signal, and a clinical table."""
    rng = np.random.default_rng(4)
    group = np.where(np.arange(N_SAMPLES) % 2 == 0, "case", "control")
    cell_type = np.array(["alpha", "beta", "gamma"])[np.arange(N_SAMPLES) % 3]
    values = rng.uniform(2, 8, size=(N_SAMPLES, N_GENES))
    values[group == "case", :10] += 6.0
    samples = [f"S{i:03d}" for i in range(N_SAMPLES)]
    expression = pd.DataFrame(values, index=pd.Index(samples, name="sample_id"),
                              columns=[f"G{j}" for j in range(N_GENES)])
    clinical = pd.DataFrame({"sample_id": samples, "group": group, "cell_type": cell_type,
                             "age": rng.integers(20, 80, N_SAMPLES), "patient": [f"P{i}" for i in range(N_SAMPLES)]})
    expression_path, clinical_path = os.path.join(folder, "expression.tsv"), os.path.join(folder, "clinical.tsv")
    expression.to_csv(expression_path, sep="\t", float_format="%.5f")
    clinical.to_csv(clinical_path, sep="\t", index=False)
    return expression_path, clinical_path


@pytest.fixture(scope="module")
def user_run(tmp_path_factory):
    """A VAE trained through run() on the raw user matrix with gene selection, minmax scaling and the analysis."""
    from tybalt_baseline_keras2 import initialize_parameters, run

    inputs = str(tmp_path_factory.mktemp("user_inputs"))
    expression_path, clinical_path = write_user_files(inputs)
    params = initialize_parameters(argv=[])
    params.update(data_source=expression_path, clinical_data=clinical_path, num_genes=KEPT_GENES, scaling="minmax",
                  latent_dim=4, epochs=3, verbose=False, analyze=True,
                  output_dir=str(tmp_path_factory.mktemp("user_run")),
                  data_dir=str(tmp_path_factory.mktemp("user_data")))
    run(params)
    return {"params": params, "expression": expression_path, "inputs": inputs}


def read_tsv(path, **options):
    return pd.read_csv(path, sep="\t", **options)


def test_selection_and_scaling_are_fitted_on_the_training_samples_only():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, size=(40, 5)).astype(np.float32)
    train_rows, val_rows = split_train_validation(40, 0.25, 1)
    values[train_rows, 4], values[val_rows, 4] = 0.5, 100.0  # varies only in the validation samples: not chosen
    dataset = ExpressionData(values, [f"S{i}" for i in range(40)], [f"G{j}" for j in range(5)])

    prepared = fit_user_preprocessing(dataset, train_rows, 4, "mean_absolute_deviation", "minmax")

    assert "G4" not in prepared.genes and len(prepared.genes) == 4
    table = prepared.gene_table.set_index("gene")
    np.testing.assert_allclose(table["min"], values[train_rows][:, [int(g[1]) for g in table.index]].min(axis=0))
    assert prepared.values[train_rows].min() == 0 and prepared.values[train_rows].max() == 1
    assert 0 <= prepared.values.min() and prepared.values.max() <= 1  # validation values clipped into [0, 1]


def test_no_selection_or_scaling_asked_leaves_the_data_as_given():
    dataset = ExpressionData(np.arange(12, dtype=np.float32).reshape(4, 3), ["a", "b", "c", "d"], ["x", "y", "z"])
    assert fit_user_preprocessing(dataset, np.arange(3), 5000, "mean_absolute_deviation", "auto") is dataset


def test_the_run_saves_the_selected_genes_and_their_scaling(user_run):
    folder = user_run["params"]["output_dir"]
    with open(os.path.join(folder, "genes.txt")) as handle:
        genes = handle.read().split()
    table = read_tsv(os.path.join(folder, "scaling.tsv"))
    assert len(genes) == KEPT_GENES and table["gene"].tolist() == genes
    assert {"gene", "deviation", "min", "max"} <= set(table.columns)
    assert {f"G{j}" for j in range(10)} <= set(genes)  # the genes carrying the group signal vary most


def test_encoding_the_training_file_again_reproduces_the_runs_encodings(user_run, tmp_path):
    from tybalt_baseline_keras2 import encode

    params = dict(user_run["params"], encode_data=user_run["expression"], model_dir=user_run["params"]["output_dir"],
                  output_dir=str(tmp_path / "encoded"))
    encoded = read_tsv(encode(params), index_col=0)
    expected = read_tsv(os.path.join(user_run["params"]["output_dir"], "encoded_features.tsv"), index_col=0)
    pd.testing.assert_frame_equal(encoded, expected, rtol=1e-5, atol=1e-6, check_dtype=False)


def test_new_samples_get_the_same_selection_and_scaling_whatever_their_column_order(user_run, tmp_path):
    from tybalt_baseline_keras2 import encode

    raw = read_tsv(user_run["expression"], index_col=0)
    new = raw.iloc[[3, 0, 7], ::-1]  # three samples, genes in reverse order
    new_path = str(tmp_path / "new.tsv")
    new.to_csv(new_path, sep="\t")
    params = dict(user_run["params"], encode_data=new_path, model_dir=user_run["params"]["output_dir"],
                  output_dir=str(tmp_path / "encoded"))
    encoded = read_tsv(encode(params), index_col=0)
    expected = read_tsv(os.path.join(user_run["params"]["output_dir"], "encoded_features.tsv"), index_col=0)
    pd.testing.assert_frame_equal(encoded, expected.loc[new.index], rtol=1e-5, atol=1e-6, check_dtype=False)


def test_analysis_reads_the_users_own_columns(user_run):
    folder = user_run["params"]["output_dir"]
    signals = read_tsv(os.path.join(folder, "signals.tsv"))
    pairs = set(zip(signals["attribute"], signals["group"], signals["reference"]))
    assert ("group", "case", "control") in pairs  # a two-level column is one pair
    assert {("cell_type", level, "rest") for level in ("alpha", "beta", "gamma")} <= pairs
    assert set(read_tsv(os.path.join(folder, "correlations.tsv"))["attribute"]) == {"age"}
    comparison = read_tsv(os.path.join(folder, "comparison.tsv")).set_index("method")
    assert comparison.loc[["input", "vae", "pca"], "knn_accuracy_group"].notna().all()
    assert "knn_accuracy_cell_type" in comparison.columns
    with open(os.path.join(folder, "report.md")) as handle:
        report = handle.read()
    assert "patient: skipped, every value differs" in report and "Convergence:" in report


def test_label_plan_sorts_columns_by_kind_and_named_columns_restrict_it():
    clinical = pd.DataFrame({"sex": ["F", "M"] * 15, "flag": [0, 1] * 15, "age": range(30),
                             "id": [f"x{i}" for i in range(30)], "acronym": ["A", "B", "C"] * 10,
                             "site": [f"s{i % 25}" for i in range(30)]})
    plan = plan_labels(clinical)
    assert plan.categorical == ["sex", "flag", "acronym"] and plan.numeric == ["age"]
    assert plan.knn == ["acronym"]
    assert plan.notes == ["id: skipped, every value differs (an identifier)", "site: skipped, 25 levels (more than 20)"]
    named = plan_labels(clinical, "sex, age")
    assert (named.categorical, named.numeric, named.knn) == (["sex"], ["age"], ["sex"])


def test_raw_values_with_the_default_loss_get_the_advice_to_scale(tmp_path):
    expression_path, _ = write_user_files(str(tmp_path))
    done = run_entry_point("--data_source", expression_path, "--data_dir", str(tmp_path / "data"),
                           "--output_dir", str(tmp_path / "out"), "--latent_dim", "4", "--epochs", "1")
    assert done.returncode == 2 and not os.path.exists(tmp_path / "out")
    assert done.stderr.startswith("tybalt: error: ") and "--scaling minmax" in done.stderr


def test_a_label_column_the_clinical_table_lacks_is_refused_before_training(tmp_path):
    expression_path, clinical_path = write_user_files(str(tmp_path))
    done = run_entry_point("--data_source", expression_path, "--clinical_data", clinical_path, "--scaling", "minmax",
                           "--label_columns", "group,lineage", "--data_dir", str(tmp_path / "data"),
                           "--output_dir", str(tmp_path / "out"), "--latent_dim", "4", "--epochs", "1")
    assert done.returncode == 2 and not os.path.exists(tmp_path / "out")
    assert "label_columns names lineage" in done.stderr

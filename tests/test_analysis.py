"""The analysis finds the biology planted in the synthetic data: sex and tumour/normal encodings with their genes,
cancer-type kNN accuracy beside PCA and the raw input, tSNE maps and a two-panel figure, a report that links it all.
"""

import os
import re
import struct

import numpy as np
import pandas as pd
import pytest

from tybalt_core.data.expression import write_synthetic_files
from tybalt_core.data.synthetic_data import CANCER_TYPES, FEMALE_GENES, MALE_GENES, NORMAL_GENES, TUMOR_GENES

N_SAMPLES = 800
LATENT_DIM = 100
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """Train one small VAE with --analyze true --tsne true and return its run folder."""
    from tybalt_baseline_keras2 import initialize_parameters, run

    folder = str(tmp_path_factory.mktemp("analysis_run"))
    params = initialize_parameters(argv=[])
    params.update(synthetic_samples=N_SAMPLES, synthetic_genes=150, latent_dim=LATENT_DIM, epochs=80,
                  learning_rate=0.002,
                  verbose=False, analyze=True, tsne=True, output_dir=folder,
                  data_dir=str(tmp_path_factory.mktemp("analysis_data")))
    run(params)
    return folder


def read_tsv(folder, name, **options):
    return pd.read_csv(os.path.join(folder, name), sep="\t", **options)


def best_signal(folder, attribute):
    """The top-ranked row of signals.tsv for an attribute."""
    signals = read_tsv(folder, "signals.tsv", dtype={"encoding": str})
    return signals[(signals["attribute"] == attribute) & (signals["rank"] == 1)].iloc[0]


def top_genes(folder, encoding, n_top=10):
    weights = read_tsv(folder, "gene_weights.tsv", dtype={"encoding": str})
    return set(weights[(weights["encoding"] == encoding) & (weights["rank"] <= n_top)]["gene"])


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the file signature."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == PNG_SIGNATURE
    return struct.unpack(">II", header[16:24])


def test_top_gender_encoding_separates_sex_and_its_top_genes_are_the_planted_sex_genes(run_folder):
    best = best_signal(run_folder, "gender")
    assert best["auc"] >= 0.95
    assert best["q_value"] < 1e-6
    assert len(top_genes(run_folder, best["encoding"]) & set(FEMALE_GENES + MALE_GENES)) >= 5


def test_top_tumour_normal_encoding_separates_them_and_its_top_genes_are_the_planted_ones(run_folder):
    best = best_signal(run_folder, "sample_type")
    assert best["auc"] >= 0.95
    assert best["q_value"] < 1e-6
    assert top_genes(run_folder, best["encoding"]) & set(TUMOR_GENES + NORMAL_GENES)


def test_latent_space_as_a_whole_separates_tumour_from_normal(run_folder):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    encodings = read_tsv(run_folder, "encoded_features.tsv", index_col=0)
    params = pd.read_json(os.path.join(run_folder, "params.json"), typ="series")
    _, clinical_file = write_synthetic_files(params["data_dir"], N_SAMPLES, 150, params["rng_seed"])  # existing
    clinical = pd.read_csv(clinical_file, sep="\t", index_col=0).reindex(encodings.index)
    normal = (clinical["sample_type"] == "Solid Tissue Normal").to_numpy()
    scores = cross_val_score(LogisticRegression(max_iter=2000), encodings.to_numpy(), normal, scoring="roc_auc")
    assert scores.mean() >= 0.95


def test_signal_table_covers_every_cancer_type_and_every_encoding(run_folder):
    signals = read_tsv(run_folder, "signals.tsv")
    assert set(signals.loc[signals["attribute"] == "acronym", "group"]) == set(CANCER_TYPES)
    assert (signals.groupby(["attribute", "group"]).size() == LATENT_DIM).all()
    assert signals["auc"].between(0.5, 1).all()


def test_comparison_reports_cancer_type_knn_accuracy_for_vae_pca_and_raw_input(run_folder):
    comparison = read_tsv(run_folder, "comparison.tsv", index_col="method")
    assert {"vae", "pca", "ica", "nmf", "input"} <= set(comparison.index)
    accuracy = comparison["knn_accuracy_cancer_type"]
    assert accuracy[["vae", "pca", "input"]].between(0, 1).all()
    assert accuracy["input"] > 0.9  # the planted cancer-type markers are strong
    assert accuracy["vae"] > 1 / len(CANCER_TYPES) + 0.3  # far above guessing
    errors = comparison["val_reconstruction_mse"]
    assert errors[["vae", "pca", "ica", "nmf"]].gt(0).all() and np.isnan(errors["input"])
    assert comparison.loc["vae", "latent_dim"] == comparison.loc["pca", "latent_dim"] == LATENT_DIM
    assert comparison.loc[["input", "vae"], "tsne_trustworthiness"].between(0.5, 1).all()


def test_tsne_tables_have_one_row_per_sample_in_the_order_of_the_encodings(run_folder):
    samples = read_tsv(run_folder, "encoded_features.tsv", index_col=0).index
    for name in ("tsne_rnaseq.tsv", "tsne_encoded.tsv"):
        table = read_tsv(run_folder, name, index_col=0)
        assert len(table) == N_SAMPLES
        assert list(table.index) == list(samples)
        assert np.isfinite(table[["tsne_1", "tsne_2"]].to_numpy()).all()


def test_tsne_png_is_a_real_wide_image_and_the_figure_has_two_panels_and_a_cancer_type_legend(run_folder):
    from tybalt_core.analysis.embedding import plot_tsne_pair

    width, height = png_size(os.path.join(run_folder, "tsne.png"))
    assert width > 1.5 * height > 300
    rng = np.random.default_rng(0)
    labels = rng.choice(list(CANCER_TYPES), size=50)
    figure = plot_tsne_pair(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)), labels, "encodings")
    assert len(figure.axes) == 2
    assert sorted(text.get_text() for text in figure.legends[0].get_texts()) == sorted(set(labels))


def test_report_links_only_files_that_exist_and_shows_the_comparison(run_folder):
    with open(os.path.join(run_folder, "report.md")) as handle:
        report = handle.read()
    links = set(re.findall(r"\]\(([^)]+)\)", report))
    assert {"loss.png", "signals.png", "tsne.png", "comparison.tsv", "gene_weights.tsv"} <= links
    assert all(os.path.isfile(os.path.join(run_folder, link)) for link in links)
    assert f"| vae | {LATENT_DIM} |" in report
    png_size(os.path.join(run_folder, "signals.png"))


def test_auc_per_column_agrees_with_sklearn_including_ties():
    from sklearn.metrics import roc_auc_score

    from tybalt_core.analysis.signals import roc_auc_per_column

    rng = np.random.default_rng(1)
    values = rng.integers(0, 4, size=(60, 3)).astype(float)  # many ties
    positive = rng.random(60) < 0.3
    expected = [roc_auc_score(positive, values[:, k]) for k in range(3)]
    np.testing.assert_allclose(roc_auc_per_column(values, positive), expected)


def test_signal_rows_give_the_group_an_encoding_is_higher_in_and_skip_tiny_groups():
    from tybalt_core.analysis.signals import clinical_comparisons, signal_table

    clinical = pd.DataFrame({"gender": ["female"] * 10 + ["male"] * 10,
                             "sample_type": ["Solid Tissue Normal"] * 2 + ["Primary Tumor"] * 18})
    comparisons = clinical_comparisons(clinical)
    assert [c.attribute for c in comparisons] == ["gender"]  # two normal samples are too few to compare
    encodings = np.column_stack([np.r_[np.zeros(10), np.ones(10)], np.r_[np.ones(10), np.zeros(10)]])
    table = signal_table(encodings, ["1", "2"], comparisons).set_index("encoding")
    assert table.loc["1", "higher_in"] == "male" and table.loc["2", "higher_in"] == "female"
    assert (table["auc"] == 1.0).all()


def test_depth_one_gene_weights_are_the_product_of_the_two_decoder_kernels():
    from tybalt_core.analysis.signals import decoder_gene_weights
    from tybalt_core.models.autoencoders import build_vae

    decoder = build_vae(n_genes=20, latent_dim=3, depth=1, hidden_dim=5).decoder
    hidden = decoder.get_layer("decoder_hidden").get_weights()[0]
    output = decoder.get_layer("reconstruction").get_weights()[0]
    weights = decoder_gene_weights(decoder)
    assert weights.shape == (3, 20)
    np.testing.assert_allclose(weights, hidden @ output, rtol=1e-5)


def test_perplexity_not_below_the_sample_count_is_a_user_error():
    from tybalt_core.analysis.embedding import tsne_map
    from tybalt_core.common.errors import TybaltInputError

    with pytest.raises(TybaltInputError, match="perplexity"):
        tsne_map(np.zeros((10, 3)), perplexity=20, seed=0)

"""The embedded synthetic data: real TCGA file format, deterministic, with the planted biology present."""

import numpy as np
import pandas as pd

from tybalt_core.data import expression as data
from tybalt_core.data.synthetic_data import FEMALE_GENES, MALE_GENES, METASTASIS_GENES, TUMOR_GENES, make_synthetic_data


def test_same_seed_gives_identical_data_and_another_seed_does_not():
    first, _ = make_synthetic_data(200, 120, seed=5)
    again, _ = make_synthetic_data(200, 120, seed=5)
    other, _ = make_synthetic_data(200, 120, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first.to_numpy(), other.to_numpy())


def test_files_use_the_tcga_layout(tmp_path):
    expression_path, clinical_path = data.write_synthetic_files(str(tmp_path), 300, 150, 1)
    expression = pd.read_csv(expression_path, sep="\t", index_col=0)
    clinical = pd.read_csv(clinical_path, sep="\t")
    assert expression.shape == (300, 150)
    assert expression.index.str.match(r"^TCGA-\d\d-\d{4}-(01|11|06)$").all()
    assert expression.to_numpy().min() >= 0 and expression.to_numpy().max() <= 1
    assert list(clinical["sample_id"]) == list(expression.index)
    assert {"acronym", "gender", "sample_type", "organ", "disease"} <= set(clinical.columns)
    assert clinical["acronym"].nunique() >= 5
    assert set(clinical["sample_type"]) == {"Primary Tumor", "Solid Tissue Normal", "Metastatic"}


def program_is_higher_in(expression, group, genes, margin):
    """Every gene of the program has a mean in ``group`` above its mean in the other samples by ``margin``."""
    return (expression.loc[group, list(genes)].mean() > expression.loc[~group, list(genes)].mean() + margin).all()


def test_planted_programs_follow_the_clinical_groups():
    expression, clinical = make_synthetic_data(1500, 200, seed=2)
    female = clinical["gender"] == "female"
    tumour = clinical["sample_type"] != "Solid Tissue Normal"
    melanoma = clinical["acronym"] == "SKCM"
    metastatic = clinical["sample_type"] == "Metastatic"
    assert program_is_higher_in(expression, female, FEMALE_GENES, 0.2)
    assert program_is_higher_in(expression, ~female, MALE_GENES, 0.2)
    assert program_is_higher_in(expression, tumour, TUMOR_GENES, 0.1)
    assert program_is_higher_in(expression[melanoma], metastatic[melanoma], METASTASIS_GENES, 0.2)
    assert set(clinical.loc[clinical["acronym"] == "PRAD", "gender"]) == {"male"}


def test_split_reproduces_the_original_90_10_sizes():
    train, validation = data.split_train_validation(10459, 0.1, 123)
    assert (len(train), len(validation)) == (9413, 1046)
    assert len(np.intersect1d(train, validation)) == 0


def test_split_draws_the_same_training_rows_as_the_original_pandas_sample():
    frame = pd.DataFrame({"x": range(500)})
    original_training_rows = frame.sample(frac=0.9, random_state=123).index.to_numpy()
    train, _ = data.split_train_validation(500, 0.1, 123)
    np.testing.assert_array_equal(train, original_training_rows)


def test_unnamed_genes_also_follow_tissue_state_in_both_directions_and_a_few_follow_sex():
    expression, clinical = make_synthetic_data(1500, 400, seed=3)
    unnamed = [gene for gene in expression.columns if gene.startswith("GENE")]
    normal = (clinical["sample_type"] == "Solid Tissue Normal").to_numpy()
    female = (clinical["gender"] == "female").to_numpy()
    tissue_shift = expression.loc[normal, unnamed].mean() - expression.loc[~normal, unnamed].mean()
    sex_shift = expression.loc[female, unnamed].mean() - expression.loc[~female, unnamed].mean()
    assert 0.25 <= (tissue_shift > 0.1).mean() + (tissue_shift < -0.1).mean() <= 0.45
    assert (tissue_shift > 0.1).any() and (tissue_shift < -0.1).any()
    assert 0.09 <= (sex_shift > 0.1).mean() <= 0.15


def test_sex_genes_change_by_orders_of_magnitude_so_each_one_alone_tells_the_sexes_apart():
    """+10 on the log2-like scale before scaling (~1,000-fold, as XIST and RPS4Y1): after min-max scaling every sex
    gene's mean differs between the sexes by almost half its range or more (at +6 the weakest differed by 0.39)."""
    from tybalt_core.analysis.signals import roc_auc_per_column

    expression, clinical = make_synthetic_data(1500, 200, seed=2)
    female = (clinical["gender"] == "female").to_numpy()
    sex_genes = list(FEMALE_GENES + MALE_GENES)
    gaps = (expression.loc[female, sex_genes].mean() - expression.loc[~female, sex_genes].mean()).abs()
    assert gaps.min() >= 0.45
    auc = roc_auc_per_column(expression[sex_genes].to_numpy(), female)
    assert np.maximum(auc, 1 - auc).min() >= 0.999


def test_cancer_types_are_not_plain_in_the_raw_input_at_the_demo_size_but_far_above_chance():
    """The demo's comparison must be able to show a difference: the raw input's 5-NN accuracy is no ceiling of 1."""
    from tybalt_core.analysis.baselines import knn_fold_accuracies

    expression, clinical = make_synthetic_data(2000, 1000, seed=123)  # make demo's data
    accuracy = knn_fold_accuracies(expression.to_numpy(), clinical["acronym"].to_numpy(), seed=123).mean()
    assert 0.6 < accuracy < 0.95

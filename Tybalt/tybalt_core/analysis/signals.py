"""Which encodings carry which clinical signal: per-attribute ROC AUC and Welch t-tests, and decoder gene weights.

An encoding "separates" two groups of samples when its values rank one group above the other (ROC AUC far from
0.5) and the group means differ beyond chance (Welch t-test, Benjamini-Hochberg corrected over the whole table).
The decoder weights then say which genes an encoding switches on or off, so a signal comes with its genes.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

logger = logging.getLogger(__name__)

MIN_GROUP_SIZE = 5  # comparisons with a smaller group are skipped: their AUC and t-test mean little
TOP_GENES = 20  # genes listed per encoding in gene_weights.tsv
SIGNAL_COLUMNS = ["attribute", "group", "reference", "encoding", "auc", "higher_in", "t_statistic", "p_value",
                  "q_value", "n_group", "n_reference", "rank"]
CORRELATION_COLUMNS = ["attribute", "encoding", "spearman_rho", "p_value", "q_value", "n", "rank"]


@dataclass
class Comparison:
    """Two groups of samples to tell apart, e.g. attribute 'gender', group 'female' vs reference 'male'."""

    attribute: str
    group: str
    reference: str
    in_group: np.ndarray  # boolean mask over samples
    in_reference: np.ndarray  # boolean mask over samples


def clinical_comparisons(clinical: pd.DataFrame, categorical: list[str] | None = None) -> list[Comparison]:
    """The comparisons of the ``categorical`` columns (default: all): levels against the rest, two-level columns as
    one pair; TCGA's gender, sample_type, acronym keep their own, and melanoma metastatic vs primary is added."""
    columns = [str(c) for c in clinical.columns] if categorical is None else categorical
    comparisons: list[Comparison] = []
    for column in columns:
        special = TCGA_COMPARISONS.get(column)
        comparisons += special(clinical) if special else level_comparisons(column, clinical[column])
    if {"acronym", "sample_type"} <= set(columns):
        comparisons.append(_melanoma_comparison(clinical))
    kept = []
    for comparison in comparisons:
        if min(comparison.in_group.sum(), comparison.in_reference.sum()) >= MIN_GROUP_SIZE:
            kept.append(comparison)
        else:
            logger.info("skipping %s %s vs %s: fewer than %d samples in a group", comparison.attribute,
                        comparison.group, comparison.reference, MIN_GROUP_SIZE)
    return kept


def level_comparisons(column: str, values: pd.Series, rest: str = "rest") -> list[Comparison]:
    """A two-level column as one pair (first level vs second, sorted); more levels: each against the ``rest``."""
    known = values.notna().to_numpy()
    text = values.astype(str).to_numpy()
    levels = sorted(values.dropna().astype(str).unique())
    if len(levels) == 2:
        return [Comparison(column, levels[0], levels[1], known & (text == levels[0]), known & (text == levels[1]))]
    return [Comparison(column, level, rest, known & (text == level), known & (text != level)) for level in levels]


def _gender_comparisons(clinical: pd.DataFrame) -> list[Comparison]:
    """Female against male (TCGA's spelling, any case)."""
    gender = clinical["gender"].astype(str).str.lower().to_numpy()
    return [Comparison("gender", "female", "male", gender == "female", gender == "male")]


def _sample_type_comparisons(clinical: pd.DataFrame) -> list[Comparison]:
    """Normal tissue (every sample type containing 'normal') against tumour."""
    sample_type = clinical["sample_type"]
    known = sample_type.notna().to_numpy()
    normal = sample_type.astype(str).str.contains("normal", case=False).to_numpy() & known
    return [Comparison("sample_type", "normal", "tumour", normal, known & ~normal)]


def _cancer_type_comparisons(clinical: pd.DataFrame) -> list[Comparison]:
    """Each cancer type against all other types."""
    return level_comparisons("acronym", clinical["acronym"], rest="other types")


def _melanoma_comparison(clinical: pd.DataFrame) -> Comparison:
    """Metastatic against primary melanoma (SKCM)."""
    melanoma = (clinical["acronym"].astype(str) == "SKCM").to_numpy()
    sample_type = clinical["sample_type"].astype(str)
    metastatic = sample_type.str.contains("metasta", case=False).to_numpy() & melanoma
    primary = (sample_type == "Primary Tumor").to_numpy() & melanoma
    return Comparison("melanoma", "metastatic", "primary", metastatic, primary)


# TCGA columns with comparisons of their own (the tumour/normal split and the cancer types of the Tybalt paper)
TCGA_COMPARISONS = {"gender": _gender_comparisons, "sample_type": _sample_type_comparisons,
                    "acronym": _cancer_type_comparisons}


def correlation_table(encodings: np.ndarray, encoding_names: list[str], clinical: pd.DataFrame,
                      numeric: list[str]) -> pd.DataFrame:
    """Spearman correlation of every encoding with each numeric column (known values only), ranked by |rho|."""
    rows = []
    for column in numeric:
        values = pd.to_numeric(clinical[column], errors="coerce").to_numpy(dtype=float)
        known = np.isfinite(values)
        for k, name in enumerate(encoding_names):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", stats.ConstantInputWarning)  # a dead encoding correlates with nothing
                rho, p_value = stats.spearmanr(encodings[known, k], values[known])
            rows.append({"attribute": column, "encoding": name, "spearman_rho": np.nan_to_num(rho),
                         "p_value": 1.0 if np.isnan(p_value) else p_value, "n": int(known.sum())})
    if not rows:
        return pd.DataFrame(columns=CORRELATION_COLUMNS)
    table = pd.DataFrame(rows)
    table["q_value"] = stats.false_discovery_control(table["p_value"].to_numpy(), method="bh")
    table["abs_rho"] = table["spearman_rho"].abs()
    table = table.sort_values(["attribute", "abs_rho"], ascending=[True, False])
    table["rank"] = table.groupby("attribute").cumcount() + 1
    return table[CORRELATION_COLUMNS].reset_index(drop=True)


def roc_auc_per_column(values: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC of every column for predicting ``positive`` (Mann-Whitney rank identity; ties count one half)."""
    ranks = stats.rankdata(values, axis=0)
    n_positive, n_negative = positive.sum(), (~positive).sum()
    rank_sum = ranks[positive].sum(axis=0)
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def signal_table(encodings: np.ndarray, encoding_names: list[str], comparisons: list[Comparison]) -> pd.DataFrame:
    """One row per comparison and encoding, ranked by AUC within each comparison; q-values over the whole table."""
    rows = []
    for comparison in comparisons:
        rows.append(_compare(encodings, encoding_names, comparison))
    if not rows:
        return pd.DataFrame(columns=SIGNAL_COLUMNS)
    table = pd.concat(rows, ignore_index=True)
    table["q_value"] = stats.false_discovery_control(table["p_value"].to_numpy(), method="bh")
    table = table.sort_values(["attribute", "group", "auc", "p_value"], ascending=[True, True, False, True])
    table["rank"] = table.groupby(["attribute", "group"]).cumcount() + 1
    return table[SIGNAL_COLUMNS].reset_index(drop=True)


def _compare(encodings: np.ndarray, encoding_names: list[str], comparison: Comparison) -> pd.DataFrame:
    """AUC (as max(AUC, 1 - AUC) with the group it is higher in) and Welch t-test of every encoding."""
    both = comparison.in_group | comparison.in_reference
    values, positive = encodings[both], comparison.in_group[both]
    auc = roc_auc_per_column(values, positive)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # Encodings that are (nearly) 0 for every sample make scipy warn about precision; their rows are kept.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        t_statistic, p_value = stats.ttest_ind(values[positive], values[~positive], axis=0, equal_var=False)
    constant = ~np.isfinite(p_value)  # an encoding that never changes (e.g. a dead ReLU) separates nothing
    return pd.DataFrame({
        "attribute": comparison.attribute, "group": comparison.group, "reference": comparison.reference,
        "encoding": encoding_names,
        "auc": np.maximum(auc, 1 - auc),
        "higher_in": np.where(auc >= 0.5, comparison.group, comparison.reference),
        "t_statistic": np.where(constant, 0.0, t_statistic),
        "p_value": np.where(constant, 1.0, p_value),
        "n_group": int(positive.sum()), "n_reference": int((~positive).sum()),
    })


def best_per_attribute(table: pd.DataFrame) -> pd.DataFrame:
    """The single strongest row of each attribute (for 'acronym', the best cancer type and its encoding)."""
    if table.empty:
        return table
    ordered = table.sort_values(["auc", "p_value"], ascending=[False, True])
    return ordered.groupby("attribute", sort=False).head(1).sort_values("attribute").reset_index(drop=True)


def decoder_gene_weights(decoder) -> np.ndarray:
    """Latent x genes weights of a decoder: the output Dense kernel, or the product of the Dense kernels.

    With one hidden decoder layer (depth 1) the product of the two kernels is the linear part of the decoder;
    it ignores the ReLU between them, so it is an approximation of what each encoding switches on.
    """
    kernels = [np.asarray(layer.get_weights()[0]) for layer in decoder.layers if _is_dense(layer)]
    weights = kernels[0]
    for kernel in kernels[1:]:
        weights = weights @ kernel
    return weights


def _is_dense(layer) -> bool:
    """A layer with a 2-d kernel as its first weight (Dense), as opposed to input or activation layers."""
    weights = layer.get_weights()
    return bool(weights) and np.ndim(weights[0]) == 2


def top_gene_table(weights: np.ndarray, genes: list[str], encoding_names: list[str],
                   n_top: int = TOP_GENES) -> pd.DataFrame:
    """Per encoding, the ``n_top`` genes with the largest absolute weight, with the weight's z-score."""
    spread = weights.std(axis=1, keepdims=True)
    z_scores = (weights - weights.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
    n_top = min(n_top, weights.shape[1])
    rows = []
    for k, name in enumerate(encoding_names):
        order = np.argsort(-np.abs(weights[k]))[:n_top]
        rows.append(pd.DataFrame({"encoding": name, "rank": np.arange(1, n_top + 1),
                                  "gene": [genes[g] for g in order], "weight": weights[k, order],
                                  "z_score": z_scores[k, order]}))
    return pd.concat(rows, ignore_index=True)


def plot_best_signals(best: pd.DataFrame, encodings: np.ndarray, encoding_names: list[str],
                      comparisons: list[Comparison]):
    """One panel per attribute: the distribution of its best encoding in the two groups (a matplotlib Figure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_key = {(c.attribute, c.group): c for c in comparisons}
    column = {name: k for k, name in enumerate(encoding_names)}
    figure, axes = plt.subplots(1, len(best), figsize=(4 * len(best), 3.4), squeeze=False)
    for axis, row in zip(axes[0], best.itertuples()):
        comparison = by_key[(row.attribute, row.group)]
        values = encodings[:, column[row.encoding]]
        bins = np.histogram_bin_edges(values[comparison.in_group | comparison.in_reference], bins=30)
        for mask, label in ((comparison.in_group, row.group), (comparison.in_reference, row.reference)):
            axis.hist(values[mask], bins=bins, density=True, alpha=0.55, label=f"{label} (n={mask.sum()})")
        axis.set_title(f"{row.attribute}: encoding {row.encoding} (AUC {row.auc:.2f})", fontsize=9)
        axis.set_xlabel(f"encoding {row.encoding}")
        axis.set_ylabel("density")
        axis.legend(fontsize=7)
    figure.tight_layout()
    return figure

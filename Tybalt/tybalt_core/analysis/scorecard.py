"""The scorecard: how much of the biology each encoding keeps, per clinical label, with its spread.

For every method (the trained autoencoder, PCA, FastICA, NMF and the raw input as the reference) and every run
(one seed: one train/validation split, one initialisation), per categorical label: 5-NN accuracy (5-fold
cross-validated, one value per fold), the silhouette of the label's groups and the adjusted Rand index (ARI) of a
k-means clustering (k = the number of groups) against the label; per method: reconstruction error on the validation
samples and trustworthiness; and, over several runs of one method, stability: the mean overlap of every sample's
5 nearest neighbours in two runs' encodings (1 = the same neighbourhood graph). ``scores`` keeps every value (per
fold, seed, pair of seeds); ``summarize`` gives each metric's mean and standard deviation over them.
"""

from __future__ import annotations

import itertools
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from tybalt_core.analysis.baselines import (INPUT_ROW, KNN_NEIGHBOURS, iteration_limit_accepted, knn_fold_accuracies,
                                            reconstruction_mse, scorable_label_rows, subset_trustworthiness)
from tybalt_core.common.atomic_files import write_table
from tybalt_core.common.markdown import markdown_table
from tybalt_core.common.outputs import save_figure
from tybalt_core.data.labels import knn_column

SCORES_FILE = "scorecard_scores.tsv"
SUMMARY_FILE = "scorecard.tsv"
FIGURE_FILE = "scorecard.png"

LABEL_METRICS = ("knn_accuracy", "silhouette", "ari")
METHOD_METRICS = ("val_reconstruction_mse", "trustworthiness", "stability")
METRIC_TITLES = {"knn_accuracy": "5-NN accuracy (5-fold CV)", "silhouette": "silhouette of the label's groups",
                 "ari": "ARI of k-means vs label", "val_reconstruction_mse": "validation reconstruction MSE",
                 "trustworthiness": "trustworthiness (k = 5)", "stability": "seed stability (5-NN overlap)"}
SCORE_COLUMNS = ["method", "latent_dim", "seed", "label", "metric", "value"]
SUMMARY_COLUMNS = ["method", "latent_dim", "label", "metric", "mean", "sd", "n"]
SINGLE_THREAD_SAMPLES = 2000  # up to this many samples the label metrics run on one thread (see label_scores)
NO_LABEL = ""  # the label cell of the metrics that belong to the method, not to a label


@dataclass
class MethodEncoding:
    """One method's encodings of every sample in one run, with the run's seed and its label-free measures."""

    method: str
    seed: int
    encodings: np.ndarray
    val_reconstruction_mse: float = float("nan")
    trustworthiness: float = float("nan")
    dataset: str = ""  # runs compare for stability only on the same data set


def encode_with_methods(methods: dict, values: np.ndarray, val_rows: np.ndarray, seed: int,
                        dataset: str = "") -> list[MethodEncoding]:
    """The raw input, then every method's encodings of all samples with its validation MSE and trustworthiness."""
    encoded = [MethodEncoding(INPUT_ROW, seed, values, dataset=dataset)]
    for name, method in methods.items():
        with iteration_limit_accepted():
            latent, mse = method.transform(values), reconstruction_mse(method, values[val_rows])
        encoded.append(MethodEncoding(name, seed, np.asarray(latent), mse,
                                      subset_trustworthiness(values, latent, seed), dataset))
    return encoded


def run_scores(encoded: list[MethodEncoding], labels: dict[str, np.ndarray]) -> pd.DataFrame:
    """The long score table of one run: label metrics per method and label, then the label-free ones."""
    rows = []
    for item in encoded:
        key = {"method": item.method, "latent_dim": item.encodings.shape[1], "seed": str(item.seed)}
        for label, values in labels.items():
            rows += [{**key, "label": label, "metric": metric, "value": value}
                     for metric, value in label_scores(item.encodings, values, item.seed)]
        if item.method != INPUT_ROW:
            rows += [{**key, "label": NO_LABEL, "metric": metric, "value": getattr(item, metric)}
                     for metric in ("val_reconstruction_mse", "trustworthiness")]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def label_scores(features: np.ndarray, labels: np.ndarray, seed: int) -> list[tuple[str, float]]:
    """(metric, value) pairs of one label: 5-NN accuracy per fold, silhouette, ARI of k-means (none when the label
    has fewer than two groups of at least 5 samples)."""
    keep = scorable_label_rows(labels)
    if keep is None:
        return []
    features, labels = features[keep], np.asarray(labels, dtype=object)[keep].astype(str)
    # k-means and the neighbour searches on a few hundred samples: thread start-up and spinning cost more than the
    # work (128 x 2,000 on a busy 2-core machine: 0.44 s CPU with the default threads, 0.04 s with one)
    with threadpool_limits(1 if len(features) <= SINGLE_THREAD_SAMPLES else None):
        folds = knn_fold_accuracies(features, labels, seed)
        return [*(("knn_accuracy", float(score)) for score in folds),
                ("silhouette", float(silhouette_score(features, labels))),
                ("ari", clustering_agreement(features, labels, seed))]


def clustering_agreement(features: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Adjusted Rand index between the label and k-means with as many clusters as the label has groups."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a collapsed encoding has fewer distinct points than k
        clusters = KMeans(len(set(labels)), n_init=10, random_state=seed).fit_predict(features)
    return float(adjusted_rand_score(labels, clusters))


def stability_scores(encoded: list[MethodEncoding]) -> pd.DataFrame:
    """Neighbour-graph overlap of every pair of runs of the same method and latent size on the same data set (seed
    cell 'a/b')."""
    rows = []
    groups: dict[tuple[str, int, str], list[MethodEncoding]] = {}
    for item in encoded:
        if item.method != INPUT_ROW:
            groups.setdefault((item.method, item.encodings.shape[1], item.dataset), []).append(item)
    for (method, latent_dim, _), runs in groups.items():
        for first, second in itertools.combinations(runs, 2):
            rows.append({"method": method, "latent_dim": latent_dim, "seed": f"{first.seed}/{second.seed}",
                         "label": NO_LABEL, "metric": "stability",
                         "value": neighbour_overlap(first.encodings, second.encodings)})
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def neighbour_overlap(first: np.ndarray, second: np.ndarray, k: int = KNN_NEIGHBOURS) -> float:
    """Mean fraction of each sample's ``k`` nearest neighbours (itself excluded) shared by two encodings."""
    neighbours = [NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)
                  for x in (first, second)]
    shared = [len(set(a[a != i][:k]) & set(b[b != i][:k])) for i, (a, b) in enumerate(zip(*neighbours))]
    return float(np.mean(shared) / k)


def summarize(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (over folds, seeds or pairs of seeds) and count per method, latent size, label and
    metric, in the order methods first appear."""
    grouped = scores.groupby(["method", "latent_dim", "label", "metric"], sort=False)["value"]
    summary = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    return summary[SUMMARY_COLUMNS]


def label_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per label and method, each label metric as 'mean ± sd' (the scorecard's first Markdown table)."""
    rows = summary[summary["label"] != NO_LABEL]
    return _wide(rows, ["label", "method", "latent_dim"], LABEL_METRICS)


def method_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per method, reconstruction error, trustworthiness and stability as 'mean ± sd' (the second table)."""
    return _wide(summary[summary["label"] == NO_LABEL], ["method", "latent_dim"], METHOD_METRICS)


def _wide(rows: pd.DataFrame, keys: list[str], metrics: tuple[str, ...]) -> pd.DataFrame:
    """One row per ``keys`` and one 'mean ± sd' column per metric, rows in their first-seen order."""
    text = rows.assign(cell=[_mean_sd(m, s) for m, s in zip(rows["mean"], rows["sd"])])
    wide = text.pivot_table(index=keys, columns="metric", values="cell", aggfunc="first", sort=False)
    return wide.reindex(columns=[m for m in metrics if m in wide.columns]).reset_index().fillna("")


def _mean_sd(mean: float, sd: float) -> str:
    """'0.912 ± 0.031' (just the mean when there is no spread to show)."""
    return f"{mean:.3g}" if np.isnan(sd) else f"{mean:.3g} ± {sd:.2g}"


def plot_scorecard(summary: pd.DataFrame, title: str):
    """Bars of every metric's mean with its sd: label metrics grouped by label, one colour per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summary.assign(series=_series_names(summary))
    methods = list(dict.fromkeys(summary["series"]))
    colours = dict(zip(methods, plt.get_cmap("tab10" if len(methods) <= 10 else "tab20").colors))
    labels = [label for label in dict.fromkeys(summary["label"]) if label != NO_LABEL]
    figure, axes = plt.subplots(2, 3, figsize=(15, 8))
    for axis, metric in zip(axes.flat, LABEL_METRICS + METHOD_METRICS):
        groups = labels if metric in LABEL_METRICS else [NO_LABEL]
        width = 0.8 / len(methods)
        for offset, method in enumerate(methods):
            rows = summary[(summary["metric"] == metric) & (summary["series"] == method)].set_index("label")
            heights = [rows["mean"].get(group, np.nan) for group in groups]
            errors = [rows["sd"].get(group, np.nan) for group in groups]
            axis.bar(np.arange(len(groups)) + (offset - (len(methods) - 1) / 2) * width, heights, width,
                     yerr=np.nan_to_num(errors), capsize=2, color=colours[method], label=method)
        axis.set_xticks(np.arange(len(groups)), groups if metric in LABEL_METRICS else ["all samples"])
        if not (summary["metric"] == metric).any():
            axis.text(0.5, 0.5, "needs two runs or more\n(compare_runs.py)", ha="center", va="center",
                      transform=axis.transAxes)
        axis.set_title(METRIC_TITLES[metric], fontsize=10)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _series_names(summary: pd.DataFrame) -> list[str]:
    """The method's name, with its latent size when the summary holds several latent sizes (input: its name)."""
    several = summary.loc[summary["method"] != INPUT_ROW, "latent_dim"].nunique() > 1
    return [f"{method} {latent}" if several and method != INPUT_ROW else method
            for method, latent in zip(summary["method"], summary["latent_dim"])]


def plot_latent_sweep(summary: pd.DataFrame, title: str):
    """Every metric against the latent size, one line per method (band: ± sd); the input as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(label, metric) for label in dict.fromkeys(summary["label"]) if label != NO_LABEL
              for metric in LABEL_METRICS] + [(NO_LABEL, metric) for metric in METHOD_METRICS]
    columns = 3
    figure, axes = plt.subplots(-(-len(panels) // columns), columns, figsize=(5 * columns, 3.6 * -(-len(panels) // 3)),
                                squeeze=False)
    colours = dict(zip(dict.fromkeys(summary["method"]), plt.get_cmap("tab10").colors))
    sizes = sorted(summary.loc[summary["method"] != INPUT_ROW, "latent_dim"].unique())
    for axis, (label, metric) in zip(axes.flat, panels):
        rows = summary[(summary["label"] == label) & (summary["metric"] == metric)]
        for method, line in rows.groupby("method", sort=False):
            if method == INPUT_ROW:
                axis.axhline(line["mean"].iloc[0], color="grey", linestyle="--", label="input")
                continue
            line = line.sort_values("latent_dim")
            sd = line["sd"].fillna(0)
            axis.plot(line["latent_dim"], line["mean"], marker="o", color=colours[method], label=method)
            axis.fill_between(line["latent_dim"], line["mean"] - sd, line["mean"] + sd, color=colours[method],
                              alpha=0.15)
        axis.set_xscale("log", base=2)
        axis.set_xticks(sizes, [str(size) for size in sizes])
        axis.set_xlabel("latent size")
        axis.set_title(f"{label}: {METRIC_TITLES[metric]}" if label else METRIC_TITLES[metric], fontsize=9)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def comparison_table(summary: pd.DataFrame, tsne_trustworthiness: dict[str, float]) -> pd.DataFrame:
    """comparison.tsv: per method the means of validation MSE, each label's 5-NN accuracy (column
    knn_accuracy_<label>) and trustworthiness, and the trustworthiness of its tSNE map where one was drawn."""
    means = summary.set_index(["method", "label", "metric"])["mean"]
    labels = [label for label in dict.fromkeys(summary["label"]) if label != NO_LABEL]
    rows = []
    for method, latent_dim in dict.fromkeys(zip(summary["method"], summary["latent_dim"])):
        row = {"method": method, "latent_dim": latent_dim,
               "val_reconstruction_mse": means.get((method, NO_LABEL, "val_reconstruction_mse"), np.nan)}
        row.update({knn_column(label): means.get((method, label, "knn_accuracy"), np.nan) for label in labels})
        row["trustworthiness"] = means.get((method, NO_LABEL, "trustworthiness"), np.nan)
        row["tsne_trustworthiness"] = tsne_trustworthiness.get(method, np.nan)
        rows.append(row)
    return pd.DataFrame(rows)


def write_scorecard(folder: str, scores: pd.DataFrame, title: str) -> pd.DataFrame:
    """Write scorecard_scores.tsv (every value), scorecard.tsv (mean, sd, n) and scorecard.png; return the summary."""
    summary = summarize(scores)
    write_table(scores, os.path.join(folder, SCORES_FILE), index=False, float_format="%.6g")
    write_table(summary, os.path.join(folder, SUMMARY_FILE), index=False, float_format="%.6g")
    save_figure(plot_scorecard(summary, title), os.path.join(folder, FIGURE_FILE))
    return summary


def scorecard_markdown(summary: pd.DataFrame) -> list[str]:
    """The scorecard section of a report: the figure, the per-label table, the per-method table, how to read them."""
    return [f"![scorecard]({FIGURE_FILE})", "", markdown_table(label_table(summary)), "",
            markdown_table(method_table(summary)), "",
            "Mean ± sd over the 5 cross-validation folds and the runs (5-NN accuracy), over the runs (silhouette, "
            "ARI, reconstruction MSE, trustworthiness) or over the pairs of runs (stability: the mean share of each "
            "sample's 5 nearest neighbours two runs' encodings agree on; it needs two runs or more). ARI: k-means "
            "with as many clusters as the label has groups. Labels score only their groups of 5 samples or more. "
            f"Every value: [{SCORES_FILE}]({SCORES_FILE}); the summary: [{SUMMARY_FILE}]({SUMMARY_FILE}).", ""]

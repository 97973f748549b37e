"""After training: do the encodings keep the biology? tSNE maps, signal report, gene weights, baselines, report.md.

``analyze_run`` is the one call ``run()`` makes; each step lives in its own module (embedding, signals,
baselines) and this module only writes their results into the run folder and links them in ``report.md``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tybalt_core.analysis import scorecard
from tybalt_core.analysis.baselines import TrainedAutoencoder, fit_baselines, subset_trustworthiness
from tybalt_core.analysis.embedding import plot_tsne_pair, tsne_frame, tsne_map
from tybalt_core.analysis.signals import (best_per_attribute, clinical_comparisons, correlation_table,
                                          decoder_gene_weights, plot_best_signals, signal_table, top_gene_table)
from tybalt_core.common import outputs
from tybalt_core.common.atomic_files import write_table, write_text
from tybalt_core.common.markdown import markdown_table
from tybalt_core.data.expression import ExpressionData
from tybalt_core.data.labels import LabelPlan, plan_labels

logger = logging.getLogger(__name__)

SIGNALS_FILE = "signals.tsv"
SIGNALS_PLOT_FILE = "signals.png"
CORRELATIONS_FILE = "correlations.tsv"
GENE_WEIGHTS_FILE = "gene_weights.tsv"
COMPARISON_FILE = "comparison.tsv"
TSNE_INPUT_FILE = "tsne_rnaseq.tsv"
TSNE_ENCODED_FILE = "tsne_encoded.tsv"
TSNE_PLOT_FILE = "tsne.png"
REPORT_FILE = "report.md"
REPORT_SIGNALS_PER_GROUP = 3  # encodings listed per comparison in report.md
REPORT_GENES = 8  # genes listed per encoding in report.md
LEGEND_TITLES = {"acronym": "cancer type"}
ANALYSIS_FILES = (SIGNALS_FILE, SIGNALS_PLOT_FILE, CORRELATIONS_FILE, GENE_WEIGHTS_FILE, COMPARISON_FILE,
                  scorecard.SCORES_FILE, scorecard.SUMMARY_FILE, scorecard.FIGURE_FILE,
                  TSNE_INPUT_FILE, TSNE_ENCODED_FILE, TSNE_PLOT_FILE, REPORT_FILE)  # what an overwrite removes


@dataclass
class AnalysisResults:
    """What the analysis produced, for the report (None or empty when a step did not run)."""

    signals: pd.DataFrame | None = None
    correlations: pd.DataFrame | None = None
    gene_weights: pd.DataFrame | None = None
    comparison: pd.DataFrame | None = None
    scorecard: pd.DataFrame | None = None
    files: list[str] = field(default_factory=list)
    label_notes: list[str] = field(default_factory=list)
    convergence: str = ""


def analyze_run(folder: str, dataset: ExpressionData, encoder, decoder, encodings: np.ndarray,
                train_rows: np.ndarray, val_rows: np.ndarray, *, model_name: str, analyze: bool, tsne: bool,
                perplexity: float, seed: int, label_columns: str = "", convergence: str = "") -> AnalysisResults:
    """Write the requested analyses of a trained model into ``folder`` and link them in report.md."""
    results = AnalysisResults(convergence=convergence)
    plan = plan_labels(dataset.clinical, label_columns) if dataset.clinical is not None else LabelPlan()
    results.label_notes = plan.notes
    for note in plan.notes:
        logger.info("clinical column %s", note)
    colour_by = plan.knn[0] if plan.knn else None
    tsne_maps: dict[str, np.ndarray] = {}
    if tsne:
        tsne_maps = write_tsne(folder, dataset, encodings, colour_by, model_name, perplexity, seed, results)
    if analyze:
        write_signals(folder, dataset, encodings, decoder, plan, results)
        write_comparison(folder, dataset, encoder, decoder, encodings.shape[1], train_rows, val_rows, plan,
                         model_name, seed, tsne_maps, results)
    write_report(folder, model_name, results)
    return results


def write_comparison(folder: str, dataset: ExpressionData, encoder, decoder, latent_dim: int, train_rows: np.ndarray,
                     val_rows: np.ndarray, plan: LabelPlan, model_name: str, seed: int,
                     tsne_maps: dict[str, np.ndarray], results: AnalysisResults) -> None:
    """The scorecard of the model against PCA, FastICA, NMF and the input (scorecard.*), and comparison.tsv."""
    methods = {model_name: TrainedAutoencoder(encoder, decoder),
               **fit_baselines(dataset.values[train_rows], latent_dim, seed)}
    encoded = scorecard.encode_with_methods(methods, dataset.values, val_rows, seed)
    labels = {label: dataset.clinical[label].to_numpy(dtype=object) for label in plan.knn}
    results.scorecard = scorecard.write_scorecard(folder, scorecard.run_scores(encoded, labels),
                                                  f"{model_name} against the baselines (one run, seed {seed})")
    tsne_trust = {name: subset_trustworthiness(dataset.values, values, seed) for name, values in tsne_maps.items()}
    results.comparison = scorecard.comparison_table(results.scorecard, tsne_trust)
    write_table(results.comparison, os.path.join(folder, COMPARISON_FILE), index=False, float_format="%.6g")
    results.files += [scorecard.FIGURE_FILE, scorecard.SUMMARY_FILE, scorecard.SCORES_FILE, COMPARISON_FILE]


def write_tsne(folder: str, dataset: ExpressionData, encodings: np.ndarray, colour_by: str | None,
               model_name: str, perplexity: float, seed: int, results: AnalysisResults) -> dict[str, np.ndarray]:
    """tSNE maps of the input and of the encodings as TSVs and the two-panel tsne.png coloured by the clinical
    column ``colour_by`` (None: one colour); returns the maps."""
    logger.info("tSNE of %d samples (perplexity %g)", len(encodings), perplexity)
    labels = dataset.clinical[colour_by].to_numpy(dtype=object) if colour_by else None
    maps = {"input": tsne_map(dataset.values, perplexity, seed), model_name: tsne_map(encodings, perplexity, seed)}
    for name, file_name in (("input", TSNE_INPUT_FILE), (model_name, TSNE_ENCODED_FILE)):
        write_table(tsne_frame(maps[name], dataset.sample_ids, labels, colour_by), os.path.join(folder, file_name),
                    float_format="%.5g")
    figure = plot_tsne_pair(maps["input"], maps[model_name], labels, f"tSNE of the {model_name} encodings",
                            legend_title=LEGEND_TITLES.get(colour_by, colour_by))
    outputs.save_figure(figure, os.path.join(folder, TSNE_PLOT_FILE))
    results.files += [TSNE_INPUT_FILE, TSNE_ENCODED_FILE, TSNE_PLOT_FILE]
    return maps


def write_signals(folder: str, dataset: ExpressionData, encodings: np.ndarray, decoder, plan: LabelPlan,
                  results: AnalysisResults) -> None:
    """signals.tsv and signals.png (categorical clinical columns), correlations.tsv (numeric ones), gene_weights.tsv."""
    names = [str(k) for k in range(1, encodings.shape[1] + 1)]
    results.gene_weights = top_gene_table(decoder_gene_weights(decoder), dataset.genes, names)
    write_table(results.gene_weights, os.path.join(folder, GENE_WEIGHTS_FILE), index=False, float_format="%.5g")
    results.files.append(GENE_WEIGHTS_FILE)
    if plan.numeric:
        results.correlations = correlation_table(encodings, names, dataset.clinical, plan.numeric)
        write_table(results.correlations, os.path.join(folder, CORRELATIONS_FILE), index=False, float_format="%.6g")
        results.files.append(CORRELATIONS_FILE)
    comparisons = clinical_comparisons(dataset.clinical, plan.categorical) if plan.categorical else []
    if not comparisons:
        logger.warning("no clinical groups to compare (no clinical table, or groups too small): no signal report")
        return
    results.signals = signal_table(encodings, names, comparisons)
    write_table(results.signals, os.path.join(folder, SIGNALS_FILE), index=False, float_format="%.6g")
    figure = plot_best_signals(best_per_attribute(results.signals), encodings, names, comparisons)
    outputs.save_figure(figure, os.path.join(folder, SIGNALS_PLOT_FILE))
    results.files += [SIGNALS_FILE, SIGNALS_PLOT_FILE]


def write_report(folder: str, model_name: str, results: AnalysisResults) -> str:
    """report.md: the loss curve, the comparison table, the top signals with their genes, links to everything."""
    lines = [f"# Tybalt run report: {model_name}", "", "## Loss", "", f"![loss per epoch]({outputs.LOSS_PLOT_FILE})",
             f"Per-epoch values: [{outputs.HISTORY_FILE}]({outputs.HISTORY_FILE})", ""]
    if results.convergence:
        lines += [f"Convergence: {results.convergence}.", ""]
    if results.scorecard is not None:
        lines += ["## Scorecard: the encodings against PCA, FastICA, NMF and the input (same latent size, same "
                  "training samples)", "", *scorecard.scorecard_markdown(results.scorecard),
                  "For several seeds and the stability across them, train them and run "
                  "`python Tybalt/compare_runs.py RUN_FOLDER ...` (docs/analysis.md).", ""]
    if results.signals is not None:
        lines += ["## Top signals", "", f"![best encoding per attribute]({SIGNALS_PLOT_FILE})", "",
                  markdown_table(_top_signals_with_genes(results.signals, results.gene_weights)), ""]
    if results.correlations is not None:
        top = results.correlations[results.correlations["rank"] <= REPORT_SIGNALS_PER_GROUP]
        lines += ["## Numeric clinical columns (Spearman correlation)", "", markdown_table(top), ""]
    if results.label_notes:
        lines += ["## Clinical columns not analysed", ""] + [f"- {note}" for note in results.label_notes] + [""]
    if TSNE_PLOT_FILE in results.files:
        lines += ["## tSNE", "", f"![tSNE of input and encodings]({TSNE_PLOT_FILE})", ""]
    lines += ["## Files", ""] + [f"- [{name}]({name})" for name in results.files] + [""]
    path = os.path.join(folder, REPORT_FILE)
    write_text(path, "\n".join(lines))
    return path


def _top_signals_with_genes(signals: pd.DataFrame, gene_weights: pd.DataFrame) -> pd.DataFrame:
    """The best few encodings per comparison (acronym: its best one), each with its top decoder genes."""
    top = signals[signals["rank"] <= REPORT_SIGNALS_PER_GROUP]
    acronym = top[top["attribute"] == "acronym"]
    top = pd.concat([top[top["attribute"] != "acronym"], acronym[acronym["rank"] == 1]])
    genes = {encoding: ", ".join(f"{g}{'+' if w > 0 else '-'}" for g, w in zip(rows.gene, rows.weight))
             for encoding, rows in gene_weights[gene_weights["rank"] <= REPORT_GENES].groupby("encoding")}
    table = top[["attribute", "group", "reference", "encoding", "auc", "higher_in", "q_value"]].copy()
    table["top_genes (weight sign)"] = table["encoding"].map(genes)
    return table

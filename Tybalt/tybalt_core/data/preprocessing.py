"""Your own expression matrix, prepared as the TCGA data are: the most variable genes, each gene scaled.

The gene ranking (mean or median absolute deviation) and the scaling (minmax or zscore) are TCGA's
(``tcga.fit_gene_scaling`` / ``apply_gene_scaling``), but fitted on the training samples only, so the validation
samples stay unseen. The fitted gene table (gene, deviation, min/max or mean/std) is saved with the run as
``scaling.tsv`` and ``--encode_data`` applies it unchanged to new samples. Minmax-scaled values are clipped to
[0, 1]: samples outside the training range would otherwise leave the range binary cross-entropy needs.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from tybalt_core.common.atomic_files import write_table
from tybalt_core.data.expression import ExpressionData
from tybalt_core.data.tcga import apply_gene_scaling, fit_gene_scaling, read_gene_table

logger = logging.getLogger(__name__)

SCALING_FILE = "scaling.tsv"
BUILT_IN_SOURCES = ("synthetic", "toy", "tcga")
SCALING_COLUMNS = {"minmax": ("min", "max"), "zscore": ("mean", "std")}


def is_user_file(data_source: str) -> bool:
    """Whether ``data_source`` names the user's own TSV rather than a built-in data set."""
    return data_source not in BUILT_IN_SOURCES


def user_scaling(scaling: str) -> str:
    """The scaling a ``scaling`` parameter asks for on the user's own data: 'auto' means none (values as given)."""
    return "none" if scaling == "auto" else scaling


def fit_user_preprocessing(dataset: ExpressionData, train_rows: np.ndarray, num_genes: int, gene_selection: str,
                           scaling: str) -> ExpressionData:
    """The data set with its ``num_genes`` most variable genes, scaled; both fitted on ``train_rows`` only.

    Unchanged when the matrix has no more genes than ``num_genes`` and ``scaling`` is 'none'; otherwise the
    returned data set carries the fitted ``gene_table``.
    """
    scaling = user_scaling(scaling)
    kept = min(num_genes, dataset.n_genes)
    if kept == dataset.n_genes and scaling == "none":
        return dataset
    training = pd.DataFrame(np.asarray(dataset.values)[train_rows], columns=dataset.genes)
    table = fit_gene_scaling(training, kept, gene_selection, "minmax" if scaling == "none" else scaling)
    if scaling == "none":
        table = table[["gene", "deviation"]]
    logger.info("your data: %d of %d genes kept (most variable by %s), scaling %s, fitted on %d training samples",
                kept, dataset.n_genes, gene_selection, scaling, len(train_rows))
    values = apply_gene_table(dataset.values, dataset.genes, table)
    return ExpressionData(values=values, sample_ids=dataset.sample_ids, genes=table["gene"].tolist(),
                          clinical=dataset.clinical, gene_table=table)


def apply_gene_table(values: np.ndarray, genes: list[str], table: pd.DataFrame) -> np.ndarray:
    """The columns of ``values`` (named ``genes``) that ``table`` lists, in its order, scaled as it says."""
    frame = pd.DataFrame(np.asarray(values), columns=genes, copy=False)
    kind = next((name for name, columns in SCALING_COLUMNS.items() if set(columns) <= set(table.columns)), None)
    if kind is None:
        selected = frame[table["gene"].tolist()].to_numpy()
    else:
        selected = apply_gene_scaling(frame, table).to_numpy()
        if kind == "minmax":
            selected = np.clip(selected, 0.0, 1.0)
    return np.ascontiguousarray(selected, dtype=np.float32)


def save_gene_table(folder: str, table: pd.DataFrame) -> str:
    """Write the fitted gene table into the run folder (``scaling.tsv``)."""
    path = os.path.join(folder, SCALING_FILE)
    write_table(table, path, index=False, float_format="%.9g")
    return path


def saved_gene_table(model_dir: str) -> pd.DataFrame | None:
    """The gene table a run on the user's own data saved, or None when the run saved none."""
    path = os.path.join(model_dir, SCALING_FILE)
    return read_gene_table(path) if os.path.isfile(path) else None

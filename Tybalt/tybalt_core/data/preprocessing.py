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
from tybalt_core.common.errors import TybaltInputError
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
    # in float64: the squares of a z-score's variance overflow float32 for values beyond about 1e19
    training = pd.DataFrame(np.asarray(dataset.values, dtype=np.float64)[train_rows], columns=dataset.genes)
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


def saved_gene_table(model_dir: str, genes: list[str]) -> pd.DataFrame | None:
    """The gene table a run on the user's own data saved for its training ``genes``, or None when it saved none.

    A table that is not the one the run wrote (unreadable, columns or genes not those of the run) is refused.
    """
    path = os.path.join(model_dir, SCALING_FILE)
    if not os.path.isfile(path):
        return None
    try:
        table = read_gene_table(path)
    except (ValueError, UnicodeDecodeError) as error:  # pandas' parser errors are ValueErrors
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise _damaged(path, f"not a readable TSV: {problem}") from None
    scaling = [column for columns in SCALING_COLUMNS.values() for column in columns if column in table.columns]
    if "gene" not in table.columns or table["gene"].tolist() != genes:
        raise _damaged(path, f"its gene column does not list the {len(genes)} genes of genes.txt in order")
    numbers = table[scaling].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(numbers).all():
        raise _damaged(path, f"its {', '.join(scaling)} columns hold cells that are not finite numbers")
    table[scaling] = numbers
    return table


def _damaged(path: str, problem: str) -> TybaltInputError:
    return TybaltInputError(f"{path} is damaged ({problem}); give the folder of an unmodified training run "
                            f"(or retrain it)")

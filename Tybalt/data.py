"""Load expression data (synthetic, TCGA or a user's TSV) through one function, validate it, split it.

The TCGA files are downloaded and preprocessed by ``tcga.prepare_tcga``; every source then goes through the same
TSV loader. A parsed TSV is cached as a float32 ``.npy`` matrix plus its sample and gene names, so later trials load in
milliseconds instead of re-parsing; the cache is rebuilt when the source file's size or time stamp changes. The cache
is opened as a memory map that training shares without copying it (``input_pipeline.shared_tensor``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from atomic_files import replaced_atomically, write_table, write_text
from errors import TybaltInputError
from synthetic_data import GENERATOR_VERSION, make_synthetic_data
from tcga import TcgaOptions, prepare_tcga
from toy_data import TOY_GENES, make_toy_values, toy_sample_ids

logger = logging.getLogger(__name__)

CACHE_FORMAT = 2  # 2: the matrix is stored row by row (C order), so a tensor can share its memory map


@dataclass
class ExpressionData:
    """A samples x genes matrix with its names, and the clinical table aligned to the samples (if any)."""

    values: np.ndarray
    sample_ids: list[str]
    genes: list[str]
    clinical: pd.DataFrame | None = None
    gene_table: pd.DataFrame | None = None  # gene selection and scaling fitted on your own data (preprocessing.py)

    @property
    def n_genes(self) -> int:
        return self.values.shape[1]


def load_dataset(data_source: str, data_dir: str, *, train_data: str = "", clinical_data: str = "",
                 synthetic_samples: int = 2000, synthetic_genes: int = 1000, toy_samples: int = 1000,
                 toy_variant: str = "binary", rng_seed: int = 123, tcga_options: TcgaOptions | None = None,
                 require_unit_range: bool = True) -> ExpressionData:
    """Load the expression matrix named by ``data_source`` ('synthetic', 'toy', 'tcga' or a TSV path), validated.

    For 'tcga' the raw files are downloaded and preprocessed first if the processed ones are missing or were made
    with other ``tcga_options``; ``train_data`` then names the processed file ('' = named after the scaling).
    """
    data_dir = os.path.expanduser(data_dir)
    if data_source == "toy":
        return make_toy_dataset(toy_samples, rng_seed, toy_variant)
    if data_source == "synthetic":
        expression_path, clinical_path = write_synthetic_files(data_dir, synthetic_samples, synthetic_genes, rng_seed)
    elif data_source == "tcga":
        if tcga_options is None:
            raise ValueError("load_dataset('tcga', ...) needs tcga_options (URLs and preprocessing settings)")
        files = prepare_tcga(data_dir, tcga_options, train_data)
        expression_path, clinical_path = files.expression, files.clinical
    else:
        expression_path, clinical_path = data_source, clinical_data
    data = load_expression_tsv(expression_path, os.path.join(data_dir, "cache"))
    check_values(data.values, expression_path, require_unit_range)
    if clinical_path:
        data.clinical = load_clinical_table(clinical_path, data.sample_ids)
    return data


def make_toy_dataset(n_samples: int, seed: int, variant: str = "binary") -> ExpressionData:
    """The 3-gene teaching data ('binary' or 'continuous'), made in memory: it is tiny and quick to draw."""
    return ExpressionData(values=make_toy_values(n_samples, seed, variant), sample_ids=toy_sample_ids(n_samples),
                          genes=list(TOY_GENES))


def write_synthetic_files(data_dir: str, n_samples: int, n_genes: int, seed: int) -> tuple[str, str]:
    """Write the synthetic expression and clinical TSVs once per (samples, genes, seed, generator version)."""
    folder = os.path.join(data_dir, "synthetic")
    stem = os.path.join(folder, f"synthetic_{n_samples}x{n_genes}_seed{seed}_v{GENERATOR_VERSION}")
    expression_path, clinical_path = f"{stem}_rnaseq.tsv", f"{stem}_clinical.tsv"
    if not (os.path.isfile(expression_path) and os.path.isfile(clinical_path)):
        os.makedirs(folder, exist_ok=True)
        logger.info("generating synthetic data: %d samples x %d genes (seed %d)", n_samples, n_genes, seed)
        expression, clinical = make_synthetic_data(n_samples, n_genes, seed)
        write_table(clinical, clinical_path, index=False)
        write_table(expression, expression_path, index=True, float_format="%.6g")
    return expression_path, clinical_path


def load_expression_tsv(path: str, cache_dir: str) -> ExpressionData:
    """Read a samples x genes TSV (first column sample ids, header gene symbols), via the binary cache."""
    if os.path.isdir(path):
        raise TybaltInputError(f"data file {path} is a folder; give the path of a samples x genes TSV file")
    if not os.path.isfile(path):
        raise TybaltInputError(f"data file {path} not found; give an existing samples x genes TSV "
                               f"as data_source, or use --data_source synthetic")
    cache_stem = _cache_stem(path, cache_dir)
    cached = _read_cache(cache_stem, path)
    if cached is not None:
        return cached
    data = _parse_expression_tsv(path)
    _write_cache(cache_stem, path, data)
    return data


def load_clinical_table(path: str, sample_ids: list[str]) -> pd.DataFrame:
    """Read a clinical TSV (sample ids in the first column) and align its rows to the expression samples."""
    if not os.path.isfile(path):
        raise TybaltInputError(f"clinical file {path} not found; give an existing TSV or set clinical_data = ''")
    table = pd.read_csv(path, sep="\t", index_col=0)
    table.index = table.index.astype(str)
    if table.index.has_duplicates:
        raise TybaltInputError(f"clinical file {path} lists some samples twice; keep one row per sample")
    return table.reindex(sample_ids)


def check_values(values: np.ndarray, source: str, require_unit_range: bool) -> None:
    """Refuse missing values, and values outside [0, 1] when the loss needs probabilities."""
    if not np.isfinite(values).all():
        raise TybaltInputError(f"data file {source} contains missing or infinite values; "
                               f"impute or drop them before training")
    if require_unit_range and (values.min() < 0 or values.max() > 1):
        raise TybaltInputError(
            f"data file {source} has values outside [0, 1] (min {values.min():.3g}, max {values.max():.3g}), "
            f"which binary cross-entropy cannot fit; add --scaling minmax to scale each gene to [0, 1] "
            f"or use --loss mse")


def split_train_validation(n_samples: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random train/validation row indices, drawn as the original Tybalt did (pandas sample with the seed)."""
    n_train = int(round((1.0 - val_split) * n_samples))
    train = np.random.RandomState(seed).choice(n_samples, size=n_train, replace=False)
    validation = np.setdiff1d(np.arange(n_samples), train)
    return train, validation


def _parse_expression_tsv(path: str) -> ExpressionData:
    """Parse the TSV with pandas and check its structure, naming the first problem found."""
    try:
        frame = pd.read_csv(path, sep="\t", index_col=0)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TybaltInputError(f"data file {path} is not a readable TSV ({first_line}); "
                               f"give a tab-separated samples x genes table") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise TybaltInputError(f"data file {path} has no data rows or no gene columns; "
                               f"give a samples x genes table with a header row")
    frame.columns = _header_names(path, frame.columns)
    text_columns = [str(c) for c, dtype in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    if text_columns:
        raise TybaltInputError(f"data file {path} has non-numeric cells in column(s) {', '.join(text_columns[:5])}; "
                               f"every cell after the sample id must be a number")
    for axis_name, labels in (("sample ids", frame.index), ("gene names", frame.columns)):
        duplicated = labels[labels.duplicated()].astype(str).unique().tolist()
        if duplicated:
            raise TybaltInputError(f"data file {path} has duplicated {axis_name} ({', '.join(duplicated[:5])}); "
                                   f"keep one row per sample and one column per gene")
    sample_ids, genes = frame.index.astype(str).tolist(), frame.columns.astype(str).tolist()
    by_column = frame.to_numpy(dtype=np.float32)  # pandas' layout
    del frame  # frees pandas' float64 matrix before the row-ordered copy is made
    return ExpressionData(values=np.ascontiguousarray(by_column), sample_ids=sample_ids, genes=genes)


def _header_names(path: str, parsed: pd.Index) -> pd.Index:
    """The gene names exactly as written in the header (pandas renames repeated names 'G', 'G.1')."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        names = handle.readline().rstrip("\r\n").split("\t")[1:]
    return pd.Index(names) if len(names) == len(parsed) else parsed


def _cache_stem(path: str, cache_dir: str) -> str:
    """Cache files are named after the source file and a hash of its absolute path."""
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
    return os.path.join(cache_dir, f"{os.path.basename(path)}.{digest}")


def _source_signature(path: str) -> dict:
    """What identifies a version of the source file: its size and modification time."""
    status = os.stat(path)
    return {"source": os.path.abspath(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns}


def _read_cache(stem: str, path: str) -> ExpressionData | None:
    """Return the cached matrix if it was built from this exact version of the source, else None."""
    try:
        with open(f"{stem}.json") as handle:
            meta = json.load(handle)
        if meta.get("format") != CACHE_FORMAT or meta["signature"] != _source_signature(path):
            return None
        values = np.load(f"{stem}.npy", mmap_mode="c")  # copy-on-write: writable in memory, the file never changes
    except (OSError, ValueError, KeyError):
        return None
    logger.info("loaded %s from its binary cache", path)
    return ExpressionData(values=np.asarray(values), sample_ids=meta["sample_ids"], genes=meta["genes"])


def _write_cache(stem: str, path: str, data: ExpressionData) -> None:
    """Write the matrix then its metadata (the metadata marks the cache as complete)."""
    try:
        os.makedirs(os.path.dirname(stem), exist_ok=True)
        with replaced_atomically(f"{stem}.npy") as temporary:
            np.save(temporary, data.values)
        meta = {"format": CACHE_FORMAT, "signature": _source_signature(path), "sample_ids": data.sample_ids,
                "genes": data.genes}
        write_text(f"{stem}.json", json.dumps(meta))
    except OSError as error:
        logger.warning("could not write the binary cache for %s (%s); it will be parsed again next time", path, error)


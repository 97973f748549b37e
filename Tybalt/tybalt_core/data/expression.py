"""Load expression data (synthetic, TCGA or a user's TSV) through one function, validate it, split it.

The TCGA files are downloaded and preprocessed by ``tcga.prepare_tcga``; every source then goes through the same
TSV loader. A parsed TSV is cached as a float32 ``.npy`` matrix plus its sample and gene names, so later trials load in
milliseconds instead of re-parsing; the cache is rebuilt when the source file's size, time stamps or inode change. The
cache is opened as a memory map that training shares without copying it (``input_pipeline.shared_tensor``).

Many trials of a campaign may start at once on one data folder: generating the synthetic files and writing a cache
happen under a file lock (``file_locks.producer_lock``), so one process makes them while the others wait and reuse
them; every file is renamed into place complete, so nobody reads half of one.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tybalt_core.common.atomic_files import replaced_atomically, write_table, write_text
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.file_locks import producer_lock
from tybalt_core.common.user_files import require_file
from tybalt_core.data.synthetic_data import GENERATOR_VERSION, make_synthetic_data
from tybalt_core.data.tcga import TcgaOptions, prepare_tcga
from tybalt_core.data.toy_data import TOY_GENES, make_toy_values, toy_sample_ids

logger = logging.getLogger(__name__)

CACHE_FORMAT = 4  # 2: the matrix is stored row by row (C order); 3: the signature also holds inode and ctime;
# 4: sample ids that look like numbers are kept as text
PARSE_ATTEMPTS = 3  # reads of a source that changes while it is parsed, before giving up
IDS_SHOWN = 3


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
    if os.path.isfile(expression_path) and os.path.isfile(clinical_path):
        return expression_path, clinical_path
    os.makedirs(folder, exist_ok=True)
    with producer_lock(stem, (expression_path, clinical_path), f"generating {stem}_*.tsv"):
        if not (os.path.isfile(expression_path) and os.path.isfile(clinical_path)):  # another process made them
            logger.info("generating synthetic data: %d samples x %d genes (seed %d)", n_samples, n_genes, seed)
            expression, clinical = make_synthetic_data(n_samples, n_genes, seed)
            write_table(clinical, clinical_path, index=False)
            write_table(expression, expression_path, index=True, float_format="%.6g")  # written last: marks both
    return expression_path, clinical_path


def load_expression_tsv(path: str, cache_dir: str) -> ExpressionData:
    """Read a samples x genes TSV (first column sample ids, header gene symbols), via the binary cache."""
    require_file(path, "data file", "give the path of a samples x genes TSV file as data_source, "
                                    "or use --data_source synthetic")
    cache_stem = _cache_stem(path, cache_dir)
    cached = _read_cache(cache_stem, path)
    if cached is not None:
        return cached
    if not _writable_folder(cache_dir):
        logger.warning("cannot write the binary cache folder %s; parsing %s without caching it", cache_dir, path)
        return parse_unchanged(path)[0]
    with producer_lock(cache_stem, (f"{cache_stem}.npy", f"{cache_stem}.json"), f"caching {path}"):
        return _read_cache(cache_stem, path) or _parse_and_cache(path, cache_stem)  # the wait may have made it


def load_clinical_table(path: str, sample_ids: list[str]) -> pd.DataFrame:
    """Read a clinical TSV (sample ids in the first column) and align its rows to the expression samples.

    A table sharing no sample id with the data is refused; one sharing some is used with a warning giving counts.
    """
    require_file(path, "clinical file", "give an existing TSV or set clinical_data = ''")
    table = _read_tsv(path, "clinical file", "give a tab-separated table with sample ids in the first column")
    if table.shape[0] == 0:
        raise TybaltInputError(f"clinical file {path} has no rows; give one row per sample, sample ids first")
    table.index = table.index.astype(str)
    if table.index.has_duplicates:
        raise TybaltInputError(f"clinical file {path} lists some samples twice; keep one row per sample")
    _check_overlap(path, table.index, sample_ids)
    return table.reindex(sample_ids)


def _check_overlap(path: str, clinical_ids: pd.Index, sample_ids: list[str]) -> None:
    """Refuse a clinical table that names none of the data's samples; warn (with counts) when it names only some."""
    matched = int(pd.Index(sample_ids).isin(clinical_ids).sum())
    if matched == 0:
        raise TybaltInputError(
            f"none of the {len(clinical_ids)} sample ids of clinical file {path} match the data's sample ids (first "
            f"ids: {', '.join(clinical_ids[:IDS_SHOWN])} vs {', '.join(sample_ids[:IDS_SHOWN])}); its first column "
            f"must hold the data file's sample ids")
    if matched < len(sample_ids) or matched < len(clinical_ids):
        logger.warning("clinical file %s covers %d of the %d data samples (%d of its %d rows match no data sample); "
                       "the others count as unknown", path, matched, len(sample_ids), len(clinical_ids) - matched,
                       len(clinical_ids))


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


def parse_unchanged(path: str, parse=None) -> tuple[ExpressionData, dict]:
    """Parse ``path`` (with ``parse``, default the TSV parser) and return it with the signature of what was read.

    The signature is taken before and after parsing; if they differ the file changed meanwhile and is read again,
    so the values never belong to another version than the signature names.
    """
    parse = parse or _parse_expression_tsv
    for _ in range(PARSE_ATTEMPTS):
        before = _source_signature(path)
        data = parse(path)
        if _source_signature(path) == before:
            return data, before
        logger.warning("data file %s changed while it was read; reading it again", path)
    raise TybaltInputError(f"data file {path} kept changing while it was read ({PARSE_ATTEMPTS} attempts); wait "
                           f"until whatever writes it has finished, then rerun")


def _read_tsv(path: str, what: str, fix: str) -> pd.DataFrame:
    """A TSV read with pandas (first column as index); unreadable text is one line naming ``what`` and ``fix``.

    Sample ids stay text as written: read as numbers, '01005' would become 1005 and match no clinical row.
    """
    try:
        return pd.read_csv(path, sep="\t", index_col=0, dtype={0: str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, EOFError, gzip.BadGzipFile,
            zlib.error) as error:  # the last three: a damaged .gz file
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TybaltInputError(f"{what} {path} is not a readable TSV ({first_line}); {fix}") from None


def _parse_expression_tsv(path: str) -> ExpressionData:
    """Parse the TSV with pandas and check its structure, naming the first problem found."""
    frame = _read_tsv(path, "data file", "give a tab-separated samples x genes table")
    _refuse_comma_separated(path, frame)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise TybaltInputError(f"data file {path} has no data rows or no gene columns; "
                               f"give a samples x genes table with a header row")
    frame.columns = _header_names(path, frame.columns)
    frame.index = _sample_ids_as_written(path, frame.index)
    _check_names_present(path, frame)
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
    with np.errstate(over="ignore"):  # values beyond float32 become infinite: refused below, naming them
        by_column = frame.to_numpy(dtype=np.float32)  # pandas' layout
    _refuse_beyond_float32(path, frame, by_column)
    del frame  # frees pandas' float64 matrix before the row-ordered copy is made
    return ExpressionData(values=np.ascontiguousarray(by_column), sample_ids=sample_ids, genes=genes)


def _refuse_beyond_float32(path: str, frame: pd.DataFrame, as_float32: np.ndarray) -> None:
    """Refuse finite values too large for the 32-bit floats training uses (they would become infinite)."""
    overflowed = np.isinf(as_float32) & np.isfinite(frame.to_numpy(dtype=np.float64))
    if overflowed.any():
        columns = [str(frame.columns[c]) for c in np.flatnonzero(overflowed.any(axis=0))[:5]]
        raise TybaltInputError(f"data file {path} has values beyond the 32-bit float range (+-3.4e38) in column(s) "
                               f"{', '.join(columns)}; rescale them (e.g. log2(x + 1)) before training")


def _sample_ids_as_written(path: str, parsed: pd.Index) -> pd.Index:
    """The sample ids exactly as written: pandas reads an id such as 'NA' or 'null' as missing (re-read only then)."""
    if not parsed.isna().any():
        return parsed
    column = pd.read_csv(path, sep="\t", usecols=[0], dtype=str, keep_default_na=False).iloc[:, 0]
    return pd.Index(column.tolist(), name=parsed.name) if len(column) == len(parsed) else parsed


def _refuse_comma_separated(path: str, frame: pd.DataFrame) -> None:
    """Read with tabs, a comma-separated file is one column of 'S0,0.1,...' texts; say so, not 'no columns'/'NaN'."""
    first_cells = [str(frame.index.name or ""), *frame.index.astype(str)[:5]]
    rows_without_values = frame.shape[1] == 0 or frame.iloc[:5].isna().all(axis=1).any()
    if rows_without_values and any("," in cell for cell in first_cells):
        raise TybaltInputError(f"data file {path} is comma-separated; save it tab-separated (a samples x genes TSV "
                               f"with sample ids in the first column)")


def _header_names(path: str, parsed: pd.Index) -> pd.Index:
    """The gene names exactly as written in the header, compressed files included.

    pandas renames a repeated name 'G' to 'G.1' and an empty one to 'Unnamed: 3'; both must be seen to be refused.
    """
    header = pd.read_csv(path, sep="\t", header=None, nrows=1, dtype=str, keep_default_na=False)
    names = header.iloc[0].tolist()[1:]
    return pd.Index(names) if len(names) == len(parsed) else parsed


def _check_names_present(path: str, frame: pd.DataFrame) -> None:
    """Refuse an empty gene name (a blank header cell) or a row without a sample id."""
    blank_columns = [str(i + 2) for i, name in enumerate(frame.columns) if not str(name).strip()]
    if blank_columns:
        raise TybaltInputError(f"data file {path} has an empty gene name in header column(s) "
                               f"{', '.join(blank_columns[:5])}; give every gene column a name")
    unnamed = frame.index.isna() | (frame.index.astype(str).str.strip() == "")
    if unnamed.any():
        lines = ", ".join(str(i + 2) for i in np.flatnonzero(unnamed)[:5])
        raise TybaltInputError(f"data file {path} has rows without a sample id (line(s) {lines}); "
                               f"start every row with its sample id")


def _cache_stem(path: str, cache_dir: str) -> str:
    """Cache files are named after the source file and a hash of its absolute path."""
    digest = hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:12]
    return os.path.join(cache_dir, f"{os.path.basename(path)}.{digest}")


def _source_signature(path: str) -> dict:
    """What identifies a version of the source file: size, modification and change times, inode.

    The change time moves on every write, even one that restores the modification time; the inode changes when
    a new version is renamed into place.
    """
    status = os.stat(path)
    return {"source": os.path.abspath(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns,
            "ctime_ns": status.st_ctime_ns, "inode": status.st_ino}


def _read_cache(stem: str, path: str) -> ExpressionData | None:
    """Return the cached matrix if it was built from this exact version of the source, else None.

    A cache that does not hold together (metadata without names, a matrix of another shape or type) is not used,
    and is rebuilt.
    """
    try:
        with open(f"{stem}.json") as handle:
            meta = json.load(handle)
        if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT or (
                meta.get("signature") != _source_signature(path)):
            return None
        values = np.load(f"{stem}.npy", mmap_mode="c")  # copy-on-write: writable in memory, the file never changes
    except (OSError, ValueError, EOFError):
        return None
    sample_ids, genes = meta.get("sample_ids"), meta.get("genes")
    if not (_are_names(sample_ids) and _are_names(genes) and values.dtype == np.float32
            and values.shape == (len(sample_ids), len(genes)) and values.flags.c_contiguous
            and (meta.get("finite") is not True or np.isfinite(values).all())):
        logger.warning("the binary cache of %s does not match its metadata; parsing the file again", path)
        return None
    logger.info("loaded %s from its binary cache", path)
    return ExpressionData(values=np.asarray(values), sample_ids=sample_ids, genes=genes)


def _writable_folder(folder: str) -> bool:
    """Whether ``folder`` exists (or could be made) and files can be created in it."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _are_names(names) -> bool:
    """Whether a cache's metadata entry is a list of names (texts), as written."""
    return isinstance(names, list) and all(isinstance(name, str) for name in names)


def _parse_and_cache(path: str, stem: str) -> ExpressionData:
    """Parse the source (as one unchanged version) and cache it under the signature of the version read."""
    data, signature = parse_unchanged(path)
    try:
        with replaced_atomically(f"{stem}.npy") as temporary:
            np.save(temporary, data.values)
        meta = {"format": CACHE_FORMAT, "signature": signature, "sample_ids": data.sample_ids, "genes": data.genes,
                "finite": bool(np.isfinite(data.values).all())}  # a cache of finite values gaining a NaN is damaged
        write_text(f"{stem}.json", json.dumps(meta))  # written last: marks the cache as complete
        logger.debug("binary cache written for %s: %s.npy", path, stem)
    except OSError as error:
        logger.warning("could not write the binary cache for %s (%s); it will be parsed again next time", path, error)
    return data


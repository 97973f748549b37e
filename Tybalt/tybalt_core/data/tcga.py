"""The real TCGA pan-cancer data: download the raw files, preprocess them as Tybalt did, keep the result.

Raw inputs (see docs/data.md, "Using the real TCGA data"): the Zenodo 56735 archive holding UCSC Xena's ``HiSeqV2``
(genes x samples, log2(RSEM+1)) and ``PANCAN_mutation``; Snaptron's clinical ``samples.tsv``; optionally the GISTIC2
copy-number table (downloaded only). Outputs in ``<data_dir>/tcga``: the scaled samples x genes matrix, its gene
table (selection score and scaling parameters, to put new samples on the same scale) and the clinical table in the
same sample order. A manifest records the settings they were made with, so a later run reuses them untouched.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from tybalt_core.common.atomic_files import write_table, write_text
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.file_locks import producer_lock
from tybalt_core.data.download import extract_tar, fetch

logger = logging.getLogger(__name__)

GENE_SELECTIONS = ("mean_absolute_deviation", "median_absolute_deviation")
SCALINGS = ("minmax", "zscore")
EXPRESSION_FILE_NAMES = {"minmax": "pancan_scaled_zeroone_rnaseq.tsv", "zscore": "pancan_scaled_rnaseq.tsv"}
CLINICAL_FILE_NAME = "clinical_data.tsv"
RAW_EXPRESSION_NAME = "HiSeqV2"
UNMAPPED_GENE = "?"  # the symbol of HiSeqV2's rows without a gene
SAMPLE_ID_LENGTH = 15  # TCGA-02-0047-01: project, site, participant, sample type
SAMPLE_ID_COLUMN = "gdc_cases.samples.submitter_id"
# Snaptron column -> name in clinical_data.tsv (the names used by the original Tybalt analyses)
CLINICAL_COLUMNS = {
    SAMPLE_ID_COLUMN: "sample_id",
    "gdc_cases.submitter_id": "patient_id",
    "gdc_platform": "platform",
    "gdc_center.short_name": "analysis_center",
    "gdc_cases.demographic.gender": "gender",
    "gdc_cases.demographic.race": "race",
    "gdc_cases.demographic.ethnicity": "ethnicity",
    "gdc_cases.project.primary_site": "organ",
    "gdc_cases.project.project_id": "acronym",
    "gdc_cases.tissue_source_site.project": "disease",
    "gdc_cases.diagnoses.vital_status": "vital_status",
    "gdc_cases.samples.sample_type": "sample_type",
    "cgc_case_age_at_diagnosis": "age_at_diagnosis",
    "cgc_portion_id": "portion_id",
    "cgc_slide_percent_tumor_nuclei": "percent_tumor_nuclei",
    "cgc_drug_therapy_drug_name": "drug",
    "xml_year_of_initial_pathologic_diagnosis": "year_of_diagnosis",
    "xml_stage_event_pathologic_stage": "stage",
}
GENE_BLOCK = 2000  # genes scored at a time, to bound the memory of the deviation computation


@dataclass(frozen=True)
class TcgaOptions:
    """Where the raw files come from, their expected digests ('' = not checked), and how to preprocess them."""

    data_url: str
    clinical_url: str
    copy_number_url: str = ""
    data_sha256: str = ""
    clinical_sha256: str = ""
    num_genes: int = 5000
    gene_selection: str = "mean_absolute_deviation"
    scaling: str = "minmax"
    progress: bool = True

    def __post_init__(self) -> None:
        for name, value, choices in (("gene_selection", self.gene_selection, GENE_SELECTIONS),
                                     ("scaling", self.scaling, SCALINGS)):
            if value not in choices:
                raise TybaltInputError(f"{name} = {value!r} is not one of {', '.join(choices)}; pick one of those")
        if self.num_genes < 1:
            raise TybaltInputError(f"num_genes = {self.num_genes} must be at least 1")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "TcgaOptions":
        """Pick the TCGA settings out of the benchmark parameters."""
        return cls(data_url=params["data_url"], clinical_url=params["clinical_url"],
                   copy_number_url=params["copy_number_url"], data_sha256=params["data_sha256"],
                   clinical_sha256=params["clinical_sha256"], num_genes=params["num_genes"],
                   gene_selection=params["gene_selection"], scaling=tcga_scaling(params["scaling"]),
                   progress=params["verbose"])


def tcga_scaling(scaling: str) -> str:
    """The TCGA scaling a ``scaling`` parameter asks for: 'auto' means minmax, as Tybalt scaled TCGA."""
    return "minmax" if scaling == "auto" else scaling


@dataclass(frozen=True)
class TcgaFiles:
    """Paths of the processed TCGA files (and of the optional raw copy-number table)."""

    expression: str
    genes: str
    clinical: str
    manifest: str
    copy_number: str = ""

    def describe(self) -> str:
        """Lines naming each file, for the output of --preprocess_only."""
        lines = [f"expression (samples x genes): {self.expression}", f"gene list and scaling: {self.genes}",
                 f"clinical table: {self.clinical}"]
        if self.copy_number:
            lines.append(f"copy number (raw, GISTIC2): {self.copy_number}")
        return "\n".join(lines)


def prepare_tcga(data_dir: str, options: TcgaOptions, expression_name: str = "") -> TcgaFiles:
    """Make sure the processed TCGA files for ``options`` exist in ``<data_dir>/tcga``; return their paths.

    Trials started together on one data folder prepare it once: the others wait for the lock, then find it done.
    Files already prepared are used without the lock, so a read-only data folder works.
    """
    folder = os.path.join(os.path.expanduser(data_dir), "tcga")
    files = _file_paths(folder, expression_name or EXPRESSION_FILE_NAMES[options.scaling])
    if not options.copy_number_url and _reusable(files, _settings(options), folder):
        return files
    os.makedirs(folder, exist_ok=True)
    with producer_lock(os.path.join(folder, "prepare"), (files.expression, files.genes, files.clinical,
                                                         files.manifest), f"preparing the TCGA data in {folder}"):
        return _prepare_tcga_files(folder, files, options)


def _prepare_tcga_files(folder: str, files: TcgaFiles, options: TcgaOptions) -> TcgaFiles:
    """Download and preprocess what ``files`` lack (the caller holds the folder's lock)."""
    raw_folder = os.path.join(folder, "raw")
    if options.copy_number_url:
        files = replace(files, copy_number=fetch(options.copy_number_url, raw_folder, progress=options.progress))
    settings = _settings(options)
    if _reusable(files, settings, folder):
        return files
    if os.path.exists(files.manifest):
        os.remove(files.manifest)  # the outputs are about to change; an interrupted run must not look complete
    archive = fetch(options.data_url, raw_folder, sha256=options.data_sha256, checksum_parameter="data_sha256",
                    progress=options.progress)
    samples_path = fetch(options.clinical_url, raw_folder, sha256=options.clinical_sha256,
                         checksum_parameter="clinical_sha256", progress=options.progress)
    expression_path = _raw_expression_member(extract_tar(archive, raw_folder), archive, raw_folder)
    logger.info("preprocessing %s: top %d genes by %s, %s scaling", expression_path, options.num_genes,
                options.gene_selection, options.scaling)
    expression = clean_expression(read_hiseq(expression_path), expression_path)
    gene_table = fit_gene_scaling(expression, options.num_genes, options.gene_selection, options.scaling)
    clinical = clinical_table(read_samples_table(samples_path), expression.index)
    write_table(apply_gene_scaling(expression, gene_table), files.expression, float_format="%.6g")
    write_table(gene_table, files.genes, index=False)
    write_table(clinical, files.clinical)
    _write_manifest(files, settings)
    logger.info("wrote %s (%d samples x %d genes), %s and %s", files.expression, len(expression), len(gene_table),
                files.genes, files.clinical)
    return files


def read_hiseq(path: str) -> pd.DataFrame:
    """Read Xena's HiSeqV2 as it is distributed: genes x samples, gene symbols first, sample barcodes as header."""
    try:
        raw = pd.read_csv(path, sep="\t", index_col=0)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise TybaltInputError(f"{path} is not a readable genes x samples TSV ({str(error).splitlines()[0]}); "
                               f"delete the downloaded archive so that it is fetched again") from None
    text_columns = [str(c) for c, dtype in raw.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
    if text_columns:
        raise TybaltInputError(f"{path} has non-numeric values for sample(s) {', '.join(text_columns[:5])}; "
                               f"it is not the expected HiSeqV2 file (check data_url)")
    return raw


def clean_expression(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Genes x samples -> samples x genes: drop unreliable genes, cut barcodes to 15 characters, NaN -> 0.

    Unreliable genes are the '?' rows and every symbol listed more than once (SLC35E2 in HiSeqV2: which row is
    right cannot be told, so both go). Works on one copy of the values (the full HiSeqV2 is 1.7 GB as float64);
    samples come out sorted by barcode.
    """
    genes = raw.index.astype(str).str.split("|").str[0]
    repeated = genes[genes.duplicated() & (genes != UNMAPPED_GENE)].unique().tolist()
    if repeated:
        logger.info("dropping genes listed more than once in %s: %s", source, ", ".join(repeated[:10]))
    keep = ~genes.isin([UNMAPPED_GENE, *repeated])
    samples = raw.columns.astype(str).str.slice(0, SAMPLE_ID_LENGTH)
    duplicated = samples[samples.duplicated()].unique().tolist()
    if duplicated:
        raise TybaltInputError(f"{source} has duplicated sample barcodes ({', '.join(duplicated[:5])}); "
                               f"it is not the expected HiSeqV2 file (check data_url)")
    order = np.argsort(samples.to_numpy(), kind="stable")
    values = raw.to_numpy(dtype=np.float64)[np.ix_(keep, order)]
    values[np.isnan(values)] = 0.0
    return pd.DataFrame(values.T, index=samples[order], columns=genes[keep], copy=False)


def gene_deviation(expression: pd.DataFrame, gene_selection: str) -> pd.Series:
    """Each gene's spread across samples: mean (as the original code) or median (as the paper) absolute deviation."""
    values = expression.to_numpy(dtype=np.float64)
    scores = np.empty(values.shape[1])
    for start in range(0, values.shape[1], GENE_BLOCK):
        block = values[:, start:start + GENE_BLOCK]
        if gene_selection == "mean_absolute_deviation":
            scores[start:start + GENE_BLOCK] = np.abs(block - block.mean(axis=0)).mean(axis=0)
        else:
            scores[start:start + GENE_BLOCK] = np.median(np.abs(block - np.median(block, axis=0)), axis=0)
    return pd.Series(scores, index=expression.columns, name=gene_selection)


def fit_gene_scaling(expression: pd.DataFrame, num_genes: int, gene_selection: str, scaling: str) -> pd.DataFrame:
    """The ``num_genes`` most variable genes, most variable first (ties keep file order), with their scaling."""
    if num_genes > expression.shape[1]:
        raise TybaltInputError(f"num_genes = {num_genes} but the expression data have only {expression.shape[1]} "
                               f"genes after cleaning; lower num_genes")
    deviation = gene_deviation(expression, gene_selection)
    top = deviation.iloc[np.argsort(-deviation.to_numpy(), kind="stable")[:num_genes]]
    selected = expression[top.index]
    if scaling == "minmax":
        parameters = {"min": selected.min(axis=0), "max": selected.max(axis=0)}
    else:
        parameters = {"mean": selected.mean(axis=0), "std": selected.std(axis=0, ddof=0)}
    table = pd.DataFrame({"gene": top.index, "deviation": top.to_numpy(),
                          **{name: column.to_numpy() for name, column in parameters.items()}})
    return table


def apply_gene_scaling(samples: pd.DataFrame, gene_table: pd.DataFrame) -> pd.DataFrame:
    """Put a samples x genes table (log2(RSEM+1), as HiSeqV2) on the scale of the processed TCGA data.

    Keeps the gene table's genes in its order; missing values become 0 as in the preprocessing. Constant genes map
    to 0. New samples may fall slightly outside [0, 1] (minmax) where they exceed the TCGA range.
    """
    genes = gene_table["gene"].astype(str).tolist()
    missing = [gene for gene in genes if gene not in samples.columns]
    if missing:
        raise TybaltInputError(f"the samples lack {len(missing)} of the {len(genes)} genes of the gene table "
                               f"({', '.join(missing[:5])}); give a value for every gene listed there")
    values = samples[genes].to_numpy(dtype=np.float64, copy=True)
    values[np.isnan(values)] = 0.0
    if {"min", "max"} <= set(gene_table.columns):
        offset, spread = gene_table["min"].to_numpy(), (gene_table["max"] - gene_table["min"]).to_numpy()
    elif {"mean", "std"} <= set(gene_table.columns):
        offset, spread = gene_table["mean"].to_numpy(), gene_table["std"].to_numpy()
    else:
        raise TybaltInputError("the gene table has neither min/max nor mean/std columns; "
                               "use the *_genes.tsv file written by the TCGA preprocessing")
    scaled = (values - offset) / np.where(spread == 0, 1.0, spread)
    return pd.DataFrame(scaled, index=samples.index, columns=genes, copy=False)


def read_gene_table(path: str) -> pd.DataFrame:
    """Read a gene table written by the preprocessing (gene, deviation, min/max or mean/std)."""
    if not os.path.isfile(path):
        raise TybaltInputError(f"gene table {path} not found; run with --data_source tcga --preprocess_only true")
    return pd.read_csv(path, sep="\t", keep_default_na=False, dtype={"gene": str})


def read_samples_table(path: str) -> pd.DataFrame:
    """Read Snaptron's TCGA samples.tsv (one row per sequenced aliquot, hundreds of metadata columns)."""
    try:
        table = pd.read_csv(path, sep="\t", low_memory=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise TybaltInputError(f"{path} is not a readable TSV ({str(error).splitlines()[0]}); "
                               f"check clinical_url") from None
    if SAMPLE_ID_COLUMN not in table.columns:
        raise TybaltInputError(f"{path} has no column {SAMPLE_ID_COLUMN}; it is not Snaptron's TCGA samples.tsv "
                               f"(check clinical_url)")
    return table


def clinical_table(samples: pd.DataFrame, sample_ids: pd.Index) -> pd.DataFrame:
    """Renamed clinical columns, one row per expression sample in the same order (empty where unknown)."""
    missing = [column for column in CLINICAL_COLUMNS if column not in samples.columns]
    if missing:
        logger.warning("clinical table lacks %d expected column(s): %s", len(missing), ", ".join(missing))
    table = samples[[c for c in CLINICAL_COLUMNS if c in samples.columns]].rename(columns=CLINICAL_COLUMNS)
    table["sample_id"] = table["sample_id"].astype(str).str.slice(0, SAMPLE_ID_LENGTH)
    if "acronym" in table.columns:
        table["acronym"] = table["acronym"].astype("string").str.removeprefix("TCGA-")
    table = table.drop_duplicates("sample_id").set_index("sample_id").reindex(sample_ids)
    table.index.name = "sample_id"
    matched = int(table.notna().any(axis=1).sum())
    logger.info("clinical data found for %d of %d expression samples", matched, len(sample_ids))
    return table


def _file_paths(folder: str, expression_name: str) -> TcgaFiles:
    stem = os.path.join(folder, os.path.splitext(os.path.basename(expression_name))[0])
    return TcgaFiles(expression=os.path.join(folder, os.path.basename(expression_name)), genes=f"{stem}_genes.tsv",
                     clinical=os.path.join(folder, CLINICAL_FILE_NAME), manifest=f"{stem}.manifest.json")


def _settings(options: TcgaOptions) -> dict[str, Any]:
    """What the processed files depend on (the copy-number table and the progress bar do not count)."""
    settings = asdict(options)
    for name in ("copy_number_url", "progress"):
        settings.pop(name)
    return settings


def _reusable(files: TcgaFiles, settings: dict[str, Any], folder: str) -> bool:
    """Whether the processed files were made with ``settings`` and are intact (logged as a cache hit)."""
    if not _outputs_current(files, settings):
        return False
    logger.info("cache hit: processed TCGA files in %s match the settings; nothing downloaded or parsed", folder)
    return True


def _outputs_current(files: TcgaFiles, settings: dict[str, Any]) -> bool:
    """Whether the manifest says the outputs were made with ``settings`` and they are unchanged since."""
    try:
        with open(files.manifest) as handle:
            manifest = json.load(handle)
        folder = os.path.dirname(files.manifest)
        return manifest["settings"] == settings and all(
            os.path.getsize(os.path.join(folder, name)) == size for name, size in manifest["sizes"].items())
    except (OSError, ValueError, KeyError, AttributeError):
        return False


def _write_manifest(files: TcgaFiles, settings: dict[str, Any]) -> None:
    """Record the settings and output sizes; written last, so it marks the outputs as complete."""
    sizes = {os.path.basename(path): os.path.getsize(path) for path in (files.expression, files.genes, files.clinical)}
    write_text(files.manifest, json.dumps({"settings": settings, "sizes": sizes}, indent=1))


def _raw_expression_member(members: list[str], archive: str, folder: str) -> str:
    """Path of the extracted HiSeqV2 file."""
    for name in members:
        if os.path.basename(name) == RAW_EXPRESSION_NAME:
            return os.path.join(folder, name)
    raise TybaltInputError(f"archive {archive} holds no {RAW_EXPRESSION_NAME} file; check data_url")

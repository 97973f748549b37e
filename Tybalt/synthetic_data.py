"""Embedded default data: a small pan-cancer-like expression matrix with known biology planted in it.

Samples get a cancer type, a sex and a tissue state (primary tumour, normal tissue, metastasis); each of these
switches on a gene program, so tests and demos can check that a model's encodings recover them. The files
have the real TCGA formats: a samples x genes TSV of values in [0, 1] indexed by 15-character barcodes, and a
clinical TSV with the columns of the processed TCGA table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# Cancer type -> (organ, disease, marker genes switched on in that type).
CANCER_TYPES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "BRCA": ("Breast", "breast invasive carcinoma", ("ESR1", "GATA3", "KRT18", "TFF1")),
    "LUAD": ("Lung", "lung adenocarcinoma", ("NKX2-1", "SFTPC", "SFTPB", "NAPSA")),
    "SKCM": ("Skin", "skin cutaneous melanoma", ("PMEL", "MLANA", "TYR", "DCT")),
    "OV": ("Ovary", "ovarian serous cystadenocarcinoma", ("PAX8", "WT1", "MUC16", "MSLN")),
    "GBM": ("Brain", "glioblastoma multiforme", ("GFAP", "OLIG2", "SOX2", "PTPRZ1")),
    "COAD": ("Colon", "colon adenocarcinoma", ("CDX2", "CDH17", "VIL1", "LGALS4")),
    "KIRC": ("Kidney", "kidney clear cell carcinoma", ("CA9", "PAX2", "NDUFA4L2", "ANGPTL4")),
    "PRAD": ("Prostate", "prostate adenocarcinoma", ("KLK3", "KLK2", "NKX3-1", "TMPRSS2")),
}
SEX_LIMITED = {"OV": "female", "PRAD": "male"}
FEMALE_GENES = ("XIST", "TSIX")
MALE_GENES = ("RPS4Y1", "DDX3Y", "KDM5D", "UTY", "EIF1AY", "ZFY", "USP9Y", "NLGN4Y")
TUMOR_GENES = ("MKI67", "TOP2A", "CCNB1", "BIRC5", "UBE2C", "CDK1")
NORMAL_GENES = ("ADH1B", "CA4", "FABP4", "CD36")
METASTASIS_GENES = ("ROPN1", "SOX10", "MAGEA4", "CSAG1")
PRIMARY_MELANOMA_GENES = ("KRT14", "KRT5", "KRT1", "LOR")
PLANTED_GENES = (tuple(g for _, _, markers in CANCER_TYPES.values() for g in markers) + FEMALE_GENES + MALE_GENES
                 + TUMOR_GENES + NORMAL_GENES + METASTASIS_GENES + PRIMARY_MELANOMA_GENES)
SAMPLE_TYPE_CODES = {"Primary Tumor": "01", "Solid Tissue Normal": "11", "Metastatic": "06"}
NORMAL_FRACTION = 0.08
SKCM_METASTATIC_FRACTION = 0.75


def make_synthetic_data(n_samples: int, n_genes: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (expression samples x genes in [0, 1], clinical table), both indexed by sample barcode."""
    if n_genes < len(PLANTED_GENES) + 10:
        raise ValueError(f"synthetic_genes must be at least {len(PLANTED_GENES) + 10} to hold the planted programs")
    rng = np.random.default_rng(seed)
    clinical = _make_clinical(n_samples, rng)
    genes = list(PLANTED_GENES) + [f"GENE{i:05d}" for i in range(n_genes - len(PLANTED_GENES))]
    signal = _planted_signal(clinical, genes, rng)
    background = _background_expression(n_samples, len(genes), rng)
    expression = _scale_each_gene_to_unit_range(signal + background)
    return pd.DataFrame(expression, index=clinical.index, columns=genes), clinical


def _make_clinical(n_samples: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw cancer type, sex and sample type per sample, with TCGA-like barcodes and columns."""
    acronyms = rng.choice(list(CANCER_TYPES), size=n_samples)
    sexes = np.where(rng.random(n_samples) < 0.5, "female", "male")
    for acronym, sex in SEX_LIMITED.items():
        sexes[acronyms == acronym] = sex
    sample_types = np.where(rng.random(n_samples) < NORMAL_FRACTION, "Solid Tissue Normal", "Primary Tumor")
    melanoma_tumours = (acronyms == "SKCM") & (sample_types == "Primary Tumor")
    metastatic = melanoma_tumours & (rng.random(n_samples) < SKCM_METASTATIC_FRACTION)
    sample_types[metastatic] = "Metastatic"
    barcodes = [f"TCGA-{i // 10000:02d}-{i % 10000:04d}-{SAMPLE_TYPE_CODES[t]}" for i, t in enumerate(sample_types)]
    return pd.DataFrame({
        "sample_id": barcodes,
        "gender": sexes,
        "race": rng.choice(["white", "black or african american", "asian"], size=n_samples, p=[0.75, 0.15, 0.1]),
        "organ": [CANCER_TYPES[a][0] for a in acronyms],
        "acronym": acronyms,
        "disease": [CANCER_TYPES[a][1] for a in acronyms],
        "vital_status": rng.choice(["alive", "dead"], size=n_samples, p=[0.7, 0.3]),
        "sample_type": sample_types,
        "age_at_diagnosis": rng.integers(25, 85, size=n_samples),
    }).set_index("sample_id", drop=False).rename_axis(None)


def _planted_signal(clinical: pd.DataFrame, genes: list[str], rng: np.random.Generator) -> np.ndarray:
    """Add each gene program where its group is present; filler genes get a weaker cancer-type pattern."""
    column = {gene: i for i, gene in enumerate(genes)}
    signal = np.zeros((len(clinical), len(genes)))

    def switch_on(mask: np.ndarray, program: tuple[str, ...], strength: float) -> None:
        signal[np.ix_(mask, [column[g] for g in program])] += strength

    acronym = clinical["acronym"].to_numpy()
    sample_type = clinical["sample_type"].to_numpy()
    for cancer, (_, _, markers) in CANCER_TYPES.items():
        switch_on(acronym == cancer, markers, 3.0)
    switch_on(clinical["gender"].to_numpy() == "female", FEMALE_GENES, 4.0)
    switch_on(clinical["gender"].to_numpy() == "male", MALE_GENES, 4.0)
    switch_on(sample_type != "Solid Tissue Normal", TUMOR_GENES, 8.0)
    switch_on(sample_type == "Solid Tissue Normal", NORMAL_GENES, 8.0)
    switch_on(sample_type == "Metastatic", METASTASIS_GENES, 3.0)
    switch_on((acronym == "SKCM") & (sample_type == "Primary Tumor"), PRIMARY_MELANOMA_GENES, 3.0)

    filler = np.arange(len(PLANTED_GENES), len(genes))
    type_index = pd.Categorical(acronym, categories=list(CANCER_TYPES)).codes
    type_profiles = rng.normal(0.0, 1.0, size=(len(CANCER_TYPES), filler.size))
    signal[:, filler] += type_profiles[type_index]
    return signal


def _background_expression(n_samples: int, n_genes: int, rng: np.random.Generator) -> np.ndarray:
    """Per-gene baseline, a few shared nuisance factors and measurement noise."""
    baseline = rng.normal(5.0, 2.0, size=n_genes)
    factors = rng.normal(size=(n_samples, 5)) @ rng.normal(0.0, 0.4, size=(5, n_genes))
    noise = rng.normal(0.0, 0.7, size=(n_samples, n_genes))
    return baseline + factors + noise


def _scale_each_gene_to_unit_range(values: np.ndarray) -> np.ndarray:
    """Min-max scale every column to [0, 1], as the TCGA processing does."""
    low, high = values.min(axis=0), values.max(axis=0)
    return ((values - low) / np.where(high > low, high - low, 1.0)).astype(np.float32)

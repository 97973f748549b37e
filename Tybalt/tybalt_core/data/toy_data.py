"""The teaching data set: three genes where gene 3 is expressed when genes 1 and 2 both are.

Variant 'binary' (the deck's): genes 1 and 2 are independent fair coin flips and gene3 = gene1 AND gene2, so the
four patterns (0,0,0), (0,1,0), (1,0,0), (1,1,1) are equally likely. The four points do not lie in a plane, so a
2-d linear code (PCA, a shallow linear autoencoder) cannot reconstruct them exactly, while a deep nonlinear
autoencoder can. But four points also fit on a 1-d code, so a latent-size search cannot tell 1 from 2.

Variant 'continuous': genes 1 and 2 uniform in [0, 1] and gene3 = gene1 x gene2 (a soft AND). The samples fill
a curved 2-d surface, so a 1-d code loses information and a 2-d code does not.
"""

from __future__ import annotations

import numpy as np

TOY_GENES = ("gene1", "gene2", "gene3")
TOY_VARIANTS = ("binary", "continuous")


def make_toy_values(n_samples: int, seed: int, variant: str = "binary") -> np.ndarray:
    """Return an ``n_samples`` x 3 float32 matrix in [0, 1]: gene3 = gene1 AND gene2 ('binary') or x ('continuous')."""
    rng = np.random.default_rng(seed)
    if variant == "binary":
        genes_1_2 = rng.integers(0, 2, size=(n_samples, 2)).astype(np.float64)
    elif variant == "continuous":
        genes_1_2 = rng.uniform(0.0, 1.0, size=(n_samples, 2))
    else:
        raise ValueError(f"unknown toy variant {variant!r}; expected one of {TOY_VARIANTS}")
    gene_3 = genes_1_2[:, 0] * genes_1_2[:, 1]
    return np.column_stack([genes_1_2, gene_3]).astype(np.float32)


def toy_sample_ids(n_samples: int) -> list[str]:
    """Sample names toy_00000, toy_00001, ..."""
    return [f"toy_{i:05d}" for i in range(n_samples)]


def toy_pattern(values: np.ndarray) -> np.ndarray:
    """Index 0..3 of each sample's pattern (2 x gene1 + gene2), e.g. to colour plots by pattern."""
    return (2 * values[:, 0] + values[:, 1]).round().astype(int)

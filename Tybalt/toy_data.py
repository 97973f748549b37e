"""The teaching data set: three binary genes where gene 3 is expressed exactly when genes 1 and 2 both are.

Genes 1 and 2 are independent fair coin flips, so the four patterns (0,0,0), (0,1,0), (1,0,0), (1,1,1) are
equally likely. The four points do not lie in a plane, so a 2-d linear code (PCA, a shallow linear autoencoder)
cannot reconstruct them exactly, while a deep nonlinear autoencoder can.
"""

from __future__ import annotations

import numpy as np

TOY_GENES = ("gene1", "gene2", "gene3")


def make_toy_values(n_samples: int, seed: int) -> np.ndarray:
    """Return an ``n_samples`` x 3 float32 matrix of 0/1 values with gene3 = gene1 AND gene2."""
    rng = np.random.default_rng(seed)
    genes_1_2 = rng.integers(0, 2, size=(n_samples, 2))
    gene_3 = genes_1_2[:, 0] & genes_1_2[:, 1]
    return np.column_stack([genes_1_2, gene_3]).astype(np.float32)


def toy_sample_ids(n_samples: int) -> list[str]:
    """Sample names toy_00000, toy_00001, ..."""
    return [f"toy_{i:05d}" for i in range(n_samples)]


def toy_pattern(values: np.ndarray) -> np.ndarray:
    """Index 0..3 of each sample's pattern (2 x gene1 + gene2), e.g. to colour plots by pattern."""
    return (2 * values[:, 0] + values[:, 1]).round().astype(int)

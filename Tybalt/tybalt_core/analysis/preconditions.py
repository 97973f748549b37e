"""What the analysis after training needs of the data, checked before training starts.

A run asked for ``--analyze`` or ``--tsne`` that cannot be analysed is refused before any epoch, instead of
failing after the model is written: trustworthiness needs more than twice its neighbours in samples, PCA and
FastICA cannot give more components than the training samples have independent directions, and a tSNE map needs
a perplexity below the number of samples.
"""

from __future__ import annotations

import numpy as np

from tybalt_core.analysis.baselines import TRUSTWORTHINESS_NEIGHBOURS
from tybalt_core.common.errors import TybaltInputError


def check_analysis_can_run(values: np.ndarray, train_rows: np.ndarray, latent_dim: int, source: str, *,
                           analyze: bool, tsne: bool, perplexity: float) -> None:
    """Refuse, before training, an analysis the data set ``values`` (samples x genes) cannot support."""
    n_samples = len(values)
    if tsne and perplexity >= n_samples:
        raise TybaltInputError(f"perplexity = {perplexity:g} must be below the number of samples ({n_samples}) of "
                               f"{source} for the tSNE maps; lower --perplexity or drop --tsne")
    if not analyze:
        return
    fewest = 2 * TRUSTWORTHINESS_NEIGHBOURS + 1
    if n_samples < fewest:
        raise TybaltInputError(f"--analyze needs at least {fewest} samples (trustworthiness compares each sample's "
                               f"{TRUSTWORTHINESS_NEIGHBOURS} nearest neighbours) and {source} has {n_samples}; "
                               f"give more samples or drop --analyze")
    training = np.asarray(values)[train_rows]
    varying = int(np.count_nonzero(np.ptp(training, axis=0) > 0))
    directions = min(len(train_rows) - 1, varying)  # the rank of the centred training matrix, at most
    if latent_dim > directions:
        raise TybaltInputError(
            f"--analyze compares with PCA and FastICA of latent_dim = {latent_dim} components, but the "
            f"{len(train_rows)} training samples of {source} span at most {directions} directions ({varying} genes "
            f"vary among them); choose a latent_dim of at most {directions}, give more samples, or drop --analyze")

"""The baselines PCA, FastICA and NMF of the autoencoder's latent size, fitted on the same samples, and the measures
every method shares.

Every method is used through the scikit-learn contract (``transform`` to the latent space, ``inverse_transform``
back to genes), so one loop measures them all (scorecard.py): reconstruction error on the validation samples, kNN
accuracy of a label in the latent space, and how well the latent space keeps the input's neighbourhoods
(trustworthiness).
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF, PCA, FastICA
from sklearn.exceptions import ConvergenceWarning
from sklearn.manifold import trustworthiness
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)

KNN_NEIGHBOURS = 5
KNN_FOLDS = 5
TRUSTWORTHINESS_NEIGHBOURS = 5
TRUSTWORTHINESS_SAMPLES = 2000  # trustworthiness needs all pairwise distances: measured on a random subset
INPUT_ROW = "input"  # the raw expression, as the reference row of the comparison


class TrainedAutoencoder:
    """A trained encoder/decoder pair seen through scikit-learn's transform / inverse_transform."""

    def __init__(self, encoder, decoder):
        self.encoder, self.decoder = encoder, decoder

    def transform(self, values: np.ndarray) -> np.ndarray:
        from tybalt_core.models.autoencoders import \
            apply_in_batches  # imports TensorFlow, which the linear methods do not need

        return apply_in_batches(self.encoder, values)

    def inverse_transform(self, encodings: np.ndarray) -> np.ndarray:
        from tybalt_core.models.autoencoders import apply_in_batches

        return apply_in_batches(self.decoder, encodings)


LINEAR_METHODS = ("pca", "ica", "nmf")


def linear_method(name: str, latent_dim: int, seed: int):
    """An unfitted PCA, FastICA or NMF with ``latent_dim`` components (the one definition the tuner shares)."""
    if name == "pca":
        return PCA(latent_dim, random_state=seed)
    if name == "ica":
        # FastICA whitens onto the top principal components itself, but with a full SVD of the data (minutes at
        # 9,413 x 5,000); a PCA step first gives the same model in seconds.
        return make_pipeline(PCA(latent_dim, random_state=seed),
                             FastICA(latent_dim, whiten="unit-variance", max_iter=400, random_state=seed))
    if name == "nmf":
        return NMF(latent_dim, init="nndsvda", max_iter=200, random_state=seed)
    raise ValueError(f"unknown linear method {name!r}")


def fit_baselines(x_train: np.ndarray, latent_dim: int, seed: int) -> dict:
    """PCA, FastICA and (for non-negative data) NMF with ``latent_dim`` components, fitted on the training rows."""
    names = [name for name in LINEAR_METHODS if name != "nmf" or x_train.min() >= 0]
    if "nmf" not in names:
        logger.info("skipping the NMF baseline: the data have negative values")
    methods = {name: linear_method(name, latent_dim, seed) for name in names}
    for name, method in methods.items():
        # FastICA iterates on small latent x latent matrices, where BLAS threads only add overhead
        # (34x slower on a busy 2-core machine); the other methods multiply large matrices and keep them.
        with iteration_limit_accepted(), threadpool_limits(1 if name == "ica" else None):
            method.fit(x_train)
        logger.info("fitted the %s baseline (%d components)", name, latent_dim)
    return methods


@contextlib.contextmanager
def iteration_limit_accepted():
    """FastICA and NMF run to a fixed iteration budget, in fitting and in ``transform``: reaching it is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def reconstruction_mse(method, values: np.ndarray) -> float:
    """Mean squared error of reconstructing ``values`` through the method's latent space (same for all methods)."""
    reconstructed = method.inverse_transform(method.transform(values))
    return float(np.mean((values - reconstructed) ** 2))


def scorable_label_rows(labels: np.ndarray) -> np.ndarray | None:
    """The samples a label can be scored on: those of its groups with at least 5 samples (one per kNN fold),
    missing labels left out; None when fewer than two such groups remain (nothing to tell apart)."""
    labels = pd.Series(labels, dtype="object")
    counts = labels.value_counts()
    large = counts[counts >= KNN_FOLDS].index
    if len(large) < 2:
        return None
    return labels.isin(large).to_numpy()


def knn_fold_accuracies(features: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Accuracy of a 5-nearest-neighbour classifier of ``labels`` on each of 5 stratified folds (the samples of
    ``scorable_label_rows``)."""
    folds = StratifiedKFold(KNN_FOLDS, shuffle=True, random_state=seed)
    return cross_val_score(KNeighborsClassifier(KNN_NEIGHBOURS), features, labels, cv=folds)


def subset_trustworthiness(original: np.ndarray, embedded: np.ndarray, seed: int) -> float:
    """sklearn trustworthiness (k=5) of ``embedded`` with respect to ``original``, on at most 2,000 samples."""
    n_samples = len(original)
    rows = np.arange(n_samples)
    if n_samples > TRUSTWORTHINESS_SAMPLES:
        rows = np.sort(np.random.default_rng(seed).choice(n_samples, TRUSTWORTHINESS_SAMPLES, replace=False))
    return float(trustworthiness(original[rows], embedded[rows], n_neighbors=TRUSTWORTHINESS_NEIGHBOURS))

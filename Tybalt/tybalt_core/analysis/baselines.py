"""Compare the trained autoencoder with PCA, FastICA and NMF of the same latent size, fitted on the same samples.

Every method is used through the scikit-learn contract (``transform`` to the latent space, ``inverse_transform``
back to genes), so one loop measures them all: reconstruction error on the validation samples, cancer-type kNN
accuracy in the latent space, and how well the latent space keeps the input's neighbourhoods (trustworthiness).
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
COMPARISON_COLUMNS = ["method", "latent_dim", "val_reconstruction_mse", "trustworthiness", "tsne_trustworthiness"]


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


def knn_accuracy(features: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour classifier of ``labels`` (classes too small are left out)."""
    labels = pd.Series(labels, dtype="object")
    counts = labels.value_counts()
    keep = labels.isin(counts[counts >= KNN_FOLDS].index).to_numpy()
    if len(counts[counts >= KNN_FOLDS]) < 2:
        return float("nan")
    folds = StratifiedKFold(KNN_FOLDS, shuffle=True, random_state=seed)
    scores = cross_val_score(KNeighborsClassifier(KNN_NEIGHBOURS), features[keep], labels[keep].to_numpy(),
                             cv=folds)
    return float(scores.mean())


def subset_trustworthiness(original: np.ndarray, embedded: np.ndarray, seed: int) -> float:
    """sklearn trustworthiness (k=5) of ``embedded`` with respect to ``original``, on at most 2,000 samples."""
    n_samples = len(original)
    rows = np.arange(n_samples)
    if n_samples > TRUSTWORTHINESS_SAMPLES:
        rows = np.sort(np.random.default_rng(seed).choice(n_samples, TRUSTWORTHINESS_SAMPLES, replace=False))
    return float(trustworthiness(original[rows], embedded[rows], n_neighbors=TRUSTWORTHINESS_NEIGHBOURS))


def comparison_table(methods: dict, values: np.ndarray, val_rows: np.ndarray, labels: dict[str, np.ndarray],
                     seed: int, tsne_maps: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per method plus the raw input: validation reconstruction MSE, kNN accuracy, trustworthiness.

    ``labels`` maps a column name (e.g. 'knn_accuracy_cancer_type') to the per-sample labels it is the kNN accuracy
    of. ``tsne_maps`` maps a row name ('input' or a method) to its tSNE map, whose trustworthiness with respect to
    the input is reported too; rows without a map get an empty cell.
    """
    tsne_maps = tsne_maps or {}
    rows = [{"method": INPUT_ROW, "latent_dim": values.shape[1], **_knn_accuracies(values, labels, seed)}]
    for name, method in methods.items():
        with iteration_limit_accepted():
            latent, mse = method.transform(values), reconstruction_mse(method, values[val_rows])
        rows.append({"method": name, "latent_dim": latent.shape[1], "val_reconstruction_mse": mse,
                     **_knn_accuracies(latent, labels, seed),
                     "trustworthiness": subset_trustworthiness(values, latent, seed)})
    for row in rows:
        if row["method"] in tsne_maps:
            row["tsne_trustworthiness"] = subset_trustworthiness(values, tsne_maps[row["method"]], seed)
    columns = COMPARISON_COLUMNS[:3] + list(labels) + COMPARISON_COLUMNS[3:]
    return pd.DataFrame(rows, columns=columns)


def _knn_accuracies(features: np.ndarray, labels: dict[str, np.ndarray], seed: int) -> dict[str, float]:
    """The kNN accuracy of each label set, under its column name."""
    return {column: knn_accuracy(features, values, seed) for column, values in labels.items()}

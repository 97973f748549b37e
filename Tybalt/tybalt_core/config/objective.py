"""The objective a trial is judged by: one scale for every trial of a campaign, whatever its kappa and epochs.

A VAE trains on reconstruction + beta x KL with beta warming up to 1 (``training.KLWarmup``): its ``val_loss``
leaves out part of the KL while beta < 1, so a trial with a slow warm-up or few epochs would look better for that
reason alone. The objective 'full_loss' counts the KL at full weight (beta = 1) in every epoch; 'reconstruction'
counts the reconstruction error alone. ADAGE and the plain autoencoder have no KL: both are their ``val_loss``.

Each epoch's value is logged under ``OBJECTIVE_KEY``: early stopping watches it, the history records it, and what a
trial returns to the Supervisor, the UPF runner and KerasTuner is its value for the kept model.
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math

OBJECTIVE_KEY = "val_objective"  # the per-epoch log key (and history.csv column) of the comparable objective
OBJECTIVES = ("full_loss", "reconstruction")
DEFAULT_OBJECTIVE = "full_loss"
LABELS = {"full_loss": "validation loss, full KL (beta = 1)", "reconstruction": "validation reconstruction loss"}
RECONSTRUCTION_KEY, KL_KEY = "val_reconstruction_loss", "val_kl_loss"  # what the VAE logs beside val_loss


def objective_value(logs: dict[str, float], objective: str = DEFAULT_OBJECTIVE) -> float:
    """The epoch's objective from its logs: a VAE's from its reconstruction and KL parts, else ``val_loss``.

    NaN when the epoch has no validation values.
    """
    if RECONSTRUCTION_KEY in logs and KL_KEY in logs:
        reconstruction = float(logs[RECONSTRUCTION_KEY])
        return reconstruction + float(logs[KL_KEY]) if objective == "full_loss" else reconstruction
    return float(logs.get("val_loss", math.nan))


def objective_label(objective: str | None) -> str:
    """The objective in words, for plots and tables ('val_loss' for results that predate the parameter)."""
    return LABELS.get(objective or "", "val_loss")

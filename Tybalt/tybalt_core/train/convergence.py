"""Has training converged? Plateau bookkeeping for early stopping and learning-rate reduction, and a diagnosis.

``Plateau`` follows the best validation loss and counts epochs without an improvement larger than ``min_delta``;
its state is plain numbers, so a checkpoint can carry it across a kill and resume. ``diagnose`` reads a finished
history and says whether the validation loss was still falling (train longer) or rising (over-fitting).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

# A validation loss counts as risen or fallen only when its moving average moved by more than this fraction, and
# more than twice its noise: the VAE's validation loss samples the latent space, so it jitters from epoch to epoch.
DIAGNOSIS_TOLERANCE = 1e-3
TREND_EPOCHS = 5  # epochs averaged when judging a trend
# The lowest of many noisy moving averages lies well below their typical value: a flat loss with noise sd s has a
# lowest 5-epoch average about 2 x s / sqrt(5) ~ s below its last one. 2.5 s keeps flat runs from reading as trends.
NOISE_MULTIPLE = 2.5
STILL_FALLING = "validation loss still falling at the last epoch: train longer / use early_stop"


@dataclass
class Plateau:
    """The best value seen, its 0-based epoch, and how many epochs since then brought no real improvement."""

    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = -1
    wait: int = 0

    def update(self, epoch: int, value: float) -> bool:
        """Record ``value`` for ``epoch``; True when it improves on the best by more than ``min_delta``."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            return True
        self.wait += 1
        return False

    def state(self) -> dict:
        """The numbers a checkpoint stores (JSON-ready; infinity is written as None)."""
        state = asdict(self)
        state["best"] = None if math.isinf(self.best) else self.best
        return state

    @classmethod
    def from_state(cls, state: dict) -> "Plateau":
        """The plateau a checkpoint stored with ``state``."""
        best = state.get("best")
        return cls(state["min_delta"], math.inf if best is None else best, state["best_epoch"], state["wait"])


@dataclass
class Diagnosis:
    """A sentence about the validation loss, and whether it is a warning (train longer, or over-fitting)."""

    message: str
    warning: bool


def diagnose(val_loss: list[float], first_counted_epoch: int = 0) -> Diagnosis:
    """One sentence on the validation loss from ``first_counted_epoch`` (0-based; earlier epochs are warm-up).

    Judged on moving averages of up to ``TREND_EPOCHS`` epochs, so the epoch-to-epoch noise of a VAE's sampled
    loss is not read as a trend (a change counts beyond ``change_threshold``): still falling when the lowest average
    is among the last ones and clearly below the average a quarter of the run earlier; over-fitting when the last
    average has risen clearly above the lowest one, at least two epochs before; otherwise levelled off.
    """
    counted = np.asarray([value for value in val_loss[first_counted_epoch:] if math.isfinite(value)])
    if len(counted) < 2:
        return Diagnosis("training ended during the KL warm-up (beta never reached its final value): train longer"
                         if len(val_loss) <= first_counted_epoch else
                         "too few epochs to judge convergence: train longer", warning=True)
    window = max(1, min(TREND_EPOCHS, len(counted) // 3))
    smoothed = np.convolve(counted, np.ones(window) / window, mode="valid")
    threshold = change_threshold(counted)
    lowest, last = int(np.argmin(smoothed)), len(smoothed) - 1
    earlier = smoothed[max(0, last - max(window, len(smoothed) // 4))]
    if lowest >= last - window and earlier - smoothed[last] > threshold:
        return Diagnosis(STILL_FALLING, warning=True)
    best_index = int(np.argmin(counted))
    rising_epochs = len(counted) - 1 - best_index
    if last - lowest >= 2 and rising_epochs >= 2 and smoothed[last] - smoothed[lowest] > threshold:
        best_epoch = first_counted_epoch + best_index + 1
        return Diagnosis(f"validation loss rising for {rising_epochs} epochs: over-fitting from epoch {best_epoch} "
                         f"(use early_stop, or stop at epoch {best_epoch})", warning=True)
    return Diagnosis("validation loss levelled off: training converged", warning=False)


def change_threshold(values: np.ndarray) -> float:
    """The smallest change of a moving average that is more than noise: ``NOISE_MULTIPLE`` times the epoch-to-epoch
    noise (estimated robustly from successive differences), and at least 0.1 % of the loss."""
    differences = np.diff(values)
    noise = 1.4826 * np.median(np.abs(differences - np.median(differences))) / math.sqrt(2)
    return max(DIAGNOSIS_TOLERANCE * float(np.min(np.abs(values))), NOISE_MULTIPLE * noise)

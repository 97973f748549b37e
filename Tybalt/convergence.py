"""Has training converged? Plateau bookkeeping for early stopping and learning-rate reduction, and a diagnosis.

``Plateau`` follows the best validation loss and counts epochs without an improvement larger than ``min_delta``;
its state is plain numbers, so a checkpoint can carry it across a kill and resume. ``diagnose`` reads a finished
history and says whether the validation loss was still falling (train longer) or rising (over-fitting).
Nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

# A validation loss counts as risen or fallen when it moved by more than this fraction of the best one: the VAE's
# validation loss samples the latent space, so it jitters by a few parts in ten thousand from epoch to epoch.
DIAGNOSIS_TOLERANCE = 1e-3
TREND_EPOCHS = 5  # "still falling": the last epoch is the best and below the value this many epochs before
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

    Still falling when the last epoch is the best and clearly below a few epochs before; over-fitting when the
    loss has risen above the best epoch's value for two or more epochs since; otherwise levelled off.
    """
    counted = [value for value in val_loss[first_counted_epoch:] if math.isfinite(value)]
    if len(counted) < 2:
        return Diagnosis("training ended during the KL warm-up (beta never reached its final value): train longer"
                         if len(val_loss) <= first_counted_epoch else
                         "too few epochs to judge convergence: train longer", warning=True)
    best_index = min(range(len(counted)), key=counted.__getitem__)
    best = counted[best_index]
    tolerance = DIAGNOSIS_TOLERANCE * abs(best)
    window = min(TREND_EPOCHS, len(counted) - 1)
    if best_index == len(counted) - 1 and counted[-1 - window] > best + tolerance:
        return Diagnosis(STILL_FALLING, warning=True)
    rising_epochs = len(counted) - 1 - best_index
    if rising_epochs >= 2 and counted[-1] > best + tolerance:
        best_epoch = first_counted_epoch + best_index + 1
        return Diagnosis(f"validation loss rising for {rising_epochs} epochs: over-fitting from epoch {best_epoch} "
                         f"(use early_stop, or stop at epoch {best_epoch})", warning=True)
    return Diagnosis("validation loss levelled off: training converged", warning=False)

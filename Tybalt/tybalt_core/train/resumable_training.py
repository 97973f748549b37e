"""Train with checkpoints: resume where a killed run stopped, and return a history covering every epoch once.

Resuming continues ``fit`` at ``initial_epoch``, so the KL warm-up beta (computed from the epoch index) carries on
where it stopped; the optimizer resumes with its saved step counter and moment estimates.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from tybalt_core.models.backend import LEGACY_KERAS, keras, tf
from tybalt_core.train.checkpointing import CheckpointSettings, Resume
from tybalt_core.train.checkpointing import restore as restore_checkpoint
from tybalt_core.train.checkpointing import save_checkpoint
from tybalt_core.train.training import ConvergenceMonitor, build_convergence_monitor, first_comparable_epoch, train

logger = logging.getLogger(__name__)

KERAS_FLAVOUR = "tf_keras" if LEGACY_KERAS else "keras3"


class CheckpointSaver(keras.callbacks.Callback):
    """Append each epoch's logs to the resumed history; checkpoint every ``interval`` epochs, at the first epoch end
    ``minutes`` after the last checkpoint, and when training ends early.

    Each checkpoint also holds the ``monitor``'s early-stopping / reduce_lr state. The checkpoint when training ends
    covers a run stopped by the time limit, so a resubmitted job loses nothing; checkpointing by time alone skips it
    when all ``epochs`` ran or early stopping ended training (nothing left to resume).
    """

    def __init__(self, settings: CheckpointSettings, resume: Resume, monitor: ConvergenceMonitor | None = None,
                 epochs: int = 0):
        super().__init__()
        self.settings, self.monitor, self.epochs = settings, monitor, epochs
        self.history = {key: list(values) for key, values in resume.history.items()}
        self.epochs_done = self.saved_epochs = resume.epochs_done
        self.fresh = resume.epochs_done == 0
        self.last_saved = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, [math.nan] * epoch).append(float(value))
        self.epochs_done = epoch + 1
        by_epochs = self.settings.interval and self.epochs_done % self.settings.interval == 0
        by_time = self.settings.minutes and time.monotonic() - self.last_saved >= 60 * self.settings.minutes
        if by_epochs or by_time:
            self._save()

    def on_train_end(self, logs=None):
        if self.epochs_done <= self.saved_epochs:
            return
        ended_for_good = self.epochs_done >= self.epochs or (self.monitor is not None and self.monitor.converged)
        if self.settings.interval or (self.settings.minutes and not ended_for_good):
            self._save()

    def _save(self) -> None:
        monitor_state = self.monitor.state() if self.monitor else None
        best_weights = self.monitor.best_weights if self.monitor else None
        save_checkpoint(self.model, self.settings.directory, self.epochs_done, self.history, KERAS_FLAVOUR,
                        self.settings.keep_limit, drop_newer=self.fresh,
                        training_parameters=self.settings.training_parameters, monitor=monitor_state,
                        best_weights=best_weights)
        self.saved_epochs, self.last_saved = self.epochs_done, time.monotonic()


def restore(model, settings: CheckpointSettings) -> Resume:
    """Restore the latest checkpoint written under this Keras (see ``checkpointing.restore``)."""
    return restore_checkpoint(model, settings, KERAS_FLAVOUR)


@dataclass
class TrainingResult:
    """A History covering every epoch once, and what ended training: early stopping's best epoch, if it kept one."""

    history: keras.callbacks.History
    best_epoch: int | None = None
    converged: bool = False
    first_counted_epoch: int = 0


def fit_resumable(autoencoder, values: np.ndarray | tf.Tensor, train_rows: np.ndarray, val_rows: np.ndarray,
                  settings: CheckpointSettings, resume: Resume, *, epochs: int, early_stop: bool = False,
                  reduce_lr: bool = False, patience: int = 10, min_delta: float = 0.0,
                  extra_callbacks: list | None = None, **train_options) -> TrainingResult:
    """Train from ``resume`` up to ``epochs`` with checkpoints; with ``early_stop`` keep the best epoch's weights.

    ``extra_callbacks`` run after the checkpoint saver (campaign pruning).
    When the checkpoint already holds every epoch, or early stopping had ended the run, nothing is trained.
    """
    kl_options = {"kappa": train_options.get("kappa", 1.0), "kl_mode": train_options.get("kl_mode", "warmup")}
    monitor = build_convergence_monitor(autoencoder.model, early_stop=early_stop, reduce_lr=reduce_lr,
                                        patience=patience, min_delta=min_delta, **kl_options)
    if monitor is not None:
        monitor.set_model(autoencoder.model)
        monitor.load(resume.monitor, resume.best_weights)
    saver = CheckpointSaver(settings, resume, monitor, epochs)
    if resume.epochs_done >= epochs or (monitor is not None and monitor.converged):
        logger.info("training had ended before (%d epochs done); returning the saved history without training",
                    resume.epochs_done)
        history = keras.callbacks.History()
    else:
        history = train(autoencoder, values, train_rows, val_rows, epochs=epochs, initial_epoch=resume.epochs_done,
                        extra_callbacks=[c for c in (monitor, saver, *(extra_callbacks or [])) if c], **train_options)
    history.history = saver.history
    history.epoch = list(range(len(saver.history.get("loss", []))))
    first_counted_epoch = first_comparable_epoch(autoencoder.model, **kl_options)
    if monitor is None:
        return TrainingResult(history, first_counted_epoch=first_counted_epoch)
    monitor.restore_best_weights()
    return TrainingResult(history, monitor.best_epoch(), monitor.converged, first_counted_epoch)

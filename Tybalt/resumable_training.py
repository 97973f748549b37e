"""Train with checkpoints: resume where a killed run stopped, and return a history covering every epoch once.

Resuming continues ``fit`` at ``initial_epoch``, so the KL warm-up beta (computed from the epoch index) carries on
where it stopped; the optimizer resumes with its saved step counter and moment estimates.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from checkpointing import CheckpointSettings, Resume, save_checkpoint
from checkpointing import restore as restore_checkpoint
from keras_backend import LEGACY_KERAS, keras, tf
from training import train

logger = logging.getLogger(__name__)

KERAS_FLAVOUR = "tf_keras" if LEGACY_KERAS else "keras3"


class CheckpointSaver(keras.callbacks.Callback):
    """Append each epoch's logs to the resumed history; checkpoint every ``interval`` epochs and when training ends.

    The end-of-training checkpoint covers a run stopped by the time limit, so a resubmitted job loses nothing.
    """

    def __init__(self, settings: CheckpointSettings, resume: Resume):
        super().__init__()
        self.settings = settings
        self.history = {key: list(values) for key, values in resume.history.items()}
        self.epochs_done = self.saved_epochs = resume.epochs_done
        self.fresh = resume.epochs_done == 0

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, [math.nan] * epoch).append(float(value))
        self.epochs_done = epoch + 1
        if self.settings.interval and self.epochs_done % self.settings.interval == 0:
            self._save()

    def on_train_end(self, logs=None):
        if self.settings.interval and self.epochs_done > self.saved_epochs:
            self._save()

    def _save(self) -> None:
        save_checkpoint(self.model, self.settings.directory, self.epochs_done, self.history, KERAS_FLAVOUR,
                        self.settings.keep_limit, drop_newer=self.fresh,
                        training_parameters=self.settings.training_parameters)
        self.saved_epochs = self.epochs_done


def restore(model, settings: CheckpointSettings) -> Resume:
    """Restore the latest checkpoint written under this Keras (see ``checkpointing.restore``)."""
    return restore_checkpoint(model, settings, KERAS_FLAVOUR)


def fit_resumable(autoencoder, values: np.ndarray | tf.Tensor, train_rows: np.ndarray, val_rows: np.ndarray,
                  settings: CheckpointSettings, resume: Resume, *, epochs: int, **train_options):
    """Train from ``resume`` up to ``epochs`` with checkpoints; return a History covering every epoch once.

    When the checkpoint already holds every epoch, nothing is trained and its history is returned.
    """
    saver = CheckpointSaver(settings, resume)
    if resume.epochs_done >= epochs:
        logger.info("all %d epochs were done before; returning the saved history without training", epochs)
        history = keras.callbacks.History()
    else:
        history = train(autoencoder, values, train_rows, val_rows, epochs=epochs, initial_epoch=resume.epochs_done,
                        extra_callbacks=[saver], **train_options)
    history.history = saver.history
    history.epoch = list(range(len(saver.history.get("loss", []))))
    return history

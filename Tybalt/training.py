"""Train an autoencoder: seeding, optimizer, the KL warm-up, the time limit, and the Keras fit call."""

from __future__ import annotations

import logging
import random
import sys
import time

import numpy as np

from keras_backend import keras
from models import Autoencoder, TybaltVAE

logger = logging.getLogger(__name__)

OPTIMIZER_CLASSES = {
    "adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
    "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam",
}


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def build_optimizer(name: str, learning_rate: float):
    """A Keras optimizer by its lower-case name, with the given learning rate."""
    return getattr(keras.optimizers, OPTIMIZER_CLASSES[name])(learning_rate=learning_rate)


def beta_for_epoch(epoch: int, kappa: float, kl_mode: str) -> float:
    """KL weight for a 0-based epoch: 0, kappa, 2 kappa, ... capped at 1; always 0 in 'faithful' mode."""
    return 0.0 if kl_mode == "faithful" else min(1.0, epoch * kappa)


class KLWarmup(keras.callbacks.Callback):
    """Set the VAE's beta at the start of each epoch and record it in the epoch's logs."""

    def __init__(self, vae: TybaltVAE, kappa: float, kl_mode: str):
        super().__init__()
        self.vae, self.kappa, self.kl_mode = vae, kappa, kl_mode

    def on_epoch_begin(self, epoch, logs=None):
        self.vae.beta.assign(beta_for_epoch(epoch, self.kappa, self.kl_mode))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = beta_for_epoch(epoch, self.kappa, self.kl_mode)


class StopBeforeTimeout(keras.callbacks.Callback):
    """Stop training cleanly when another epoch would overrun ``timeout_seconds`` (CANDLE's timeout)."""

    def __init__(self, timeout_seconds: float):
        super().__init__()
        self.timeout_seconds = timeout_seconds
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.monotonic() - self.started
        if elapsed * (epoch + 2) / (epoch + 1) > self.timeout_seconds:
            logger.warning("stopping after epoch %d: the next epoch would pass the %g s timeout",
                           epoch + 1, self.timeout_seconds)
            self.model.stop_training = True


def compile_autoencoder(autoencoder: Autoencoder, *, optimizer: str, learning_rate: float, loss: str) -> None:
    """Attach the optimizer, and for plain autoencoders the reconstruction loss (the VAE computes its own)."""
    model = autoencoder.model
    if isinstance(model, TybaltVAE):
        model.compile(optimizer=build_optimizer(optimizer, learning_rate))
    else:
        model.compile(optimizer=build_optimizer(optimizer, learning_rate), loss=loss)


def train(autoencoder: Autoencoder, x_train: np.ndarray, x_val: np.ndarray, *, epochs: int, batch_size: int,
          kappa: float = 1.0, kl_mode: str = "warmup", timeout: float = -1, verbose: bool = True,
          extra_callbacks: list | None = None, initial_epoch: int = 0):
    """Fit the compiled autoencoder to reconstruct its input (from ``initial_epoch`` when resuming)."""
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if isinstance(autoencoder.model, TybaltVAE):
        callbacks.append(KLWarmup(autoencoder.model, kappa, kl_mode))
    if timeout and timeout > 0:
        callbacks.append(StopBeforeTimeout(timeout))
    callbacks.extend(extra_callbacks or [])
    return autoencoder.model.fit(
        x_train, x_train, validation_data=(x_val, x_val), epochs=epochs, batch_size=batch_size,
        shuffle=True, callbacks=callbacks, verbose=_keras_verbosity(verbose), initial_epoch=initial_epoch)


def _keras_verbosity(verbose: bool) -> int:
    """Keras progress bar on a terminal, one line per epoch in log files, nothing when quiet."""
    if not verbose:
        return 0
    return 1 if sys.stdout.isatty() else 2

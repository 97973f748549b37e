"""Train an autoencoder: seeding, optimizer, the KL warm-up, the time limit, and the Keras fit call.

Training runs close to the hardware without changing the model: batches come from an index-gather input
pipeline (``input_pipeline``), several steps run per call into TensorFlow (``steps_per_execution``), and the
VAE's train step is compiled with XLA (``jit_compile``); bench/results.md records what each one gains.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time

import numpy as np

from tybalt_core.models.autoencoders import Autoencoder, TybaltVAE
from tybalt_core.models.backend import custom_gradients_released, keras, tf
from tybalt_core.train.convergence import Plateau
from tybalt_core.train.input_pipeline import autoencoder_batches, shared_tensor
from tybalt_core.config.objective import DEFAULT_OBJECTIVE, OBJECTIVE_KEY, objective_value

logger = logging.getLogger(__name__)

OPTIMIZER_CLASSES = {
    "adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
    "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam",
}

# jit_compile = 'auto': XLA only where bench/run.py measured a gain (bench/results.md). On a quiet 2-core machine
# at 10,459 x 5,000 it cut the VAE's epoch from 1.3-1.5 s to 0.9-1.0 s at batch 50 and from 0.8 s to 0.65-0.75 s
# at batch 200, for ~1.5 s more in the first epoch (the compile), repaid well within 1,000 steps. Larger batches
# were not measured. ADAGE's input Dropout draws its random mask through XLA's slow CPU random-number kernel and
# trains ~10x slower compiled.
XLA_MODELS = ("vae",)
XLA_MAX_BATCH_SIZE = 200
XLA_MIN_TRAINING_STEPS = 1000  # about 5 epochs at batch 50 on the full data
# On a GPU (rule to be re-measured on a GPU: bench/gpu_check.sh): XLA for both models at any batch size from the
# same 1,000 steps. These models are small enough that a GPU step is bound by kernel launches, which XLA's fusion of
# the element-wise work (BatchNorm, activations, KL, Adam's updates) cuts; Dropout's mask uses the GPU's fast
# random-number kernel, not the slow CPU one that made ADAGE slower compiled.
XLA_GPU_MODELS = ("vae", "adage")

LR_FACTOR = 0.5  # reduce_lr multiplies the learning rate by this on a plateau


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


class ObjectiveLogger(keras.callbacks.Callback):
    """Log each epoch's comparable objective (``objective.OBJECTIVE_KEY``) for the callbacks after it to read."""

    def __init__(self, objective: str = DEFAULT_OBJECTIVE):
        super().__init__()
        self.objective = objective

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[OBJECTIVE_KEY] = objective_value(logs, self.objective)


def first_final_beta_epoch(kappa: float, kl_mode: str) -> int:
    """The first 0-based epoch whose beta is final (1; 0 from the start in 'faithful' mode): validation losses are
    comparable from there on. Computed, not searched: a tiny kappa puts it beyond any number of epochs."""
    if kl_mode == "faithful":
        return 0
    epoch = math.ceil(1.0 / kappa)  # within one epoch of the answer, whatever the rounding of 1 / kappa
    if beta_for_epoch(epoch, kappa, kl_mode) < 1.0:
        return epoch + 1
    return epoch - 1 if epoch > 0 and beta_for_epoch(epoch - 1, kappa, kl_mode) >= 1.0 else epoch


class ConvergenceMonitor(keras.callbacks.Callback):
    """Watch the objective from ``first_epoch`` on: stop early keeping the best weights, and/or halve the rate.

    Epochs of the KL warm-up are not watched: the model is not yet trained on its final loss, so they can neither be
    the best nor count towards patience. Its state (``state``/``load``) travels in the checkpoints.
    """

    def __init__(self, *, early_stop: bool, reduce_lr: bool, patience: int, min_delta: float, first_epoch: int):
        super().__init__()
        self.early_stop, self.reduce_lr, self.patience, self.first_epoch = early_stop, reduce_lr, patience, first_epoch
        self.lr_patience = max(1, patience // 2)
        self.plateau, self.lr_plateau = Plateau(min_delta), Plateau(min_delta)
        self.best_weights: list | None = None
        self.converged = False
        self.learning_rate: float | None = None  # set by ``load``: tf_keras keeps the rate outside its variables

    def on_train_begin(self, logs=None):
        if self.learning_rate is not None:
            self.model.optimizer.learning_rate = self.learning_rate

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if self.reduce_lr:
            logs["learning_rate"] = current_learning_rate(self.model.optimizer)
        value = logs.get(OBJECTIVE_KEY)
        if epoch < self.first_epoch or value is None or not math.isfinite(value):
            return
        if self.plateau.update(epoch, value) and self.early_stop:
            self.best_weights = self.model.get_weights()
        if self.reduce_lr and not self.lr_plateau.update(epoch, value) and self.lr_plateau.wait >= self.lr_patience:
            self._halve_learning_rate(epoch)
        if self.early_stop and self.plateau.wait >= self.patience:
            logger.info("early stopping after epoch %d: the objective has not improved on epoch %d's %.6g for %d "
                        "epochs", epoch + 1, self.plateau.best_epoch + 1, self.plateau.best, self.patience)
            self.converged = self.model.stop_training = True

    def _halve_learning_rate(self, epoch: int) -> None:
        rate = current_learning_rate(self.model.optimizer) * LR_FACTOR
        self.model.optimizer.learning_rate = rate
        self.lr_plateau.wait = 0
        logger.info("reduce_lr: objective flat for %d epoch(s); learning rate lowered to %.3g after epoch %d",
                    self.lr_patience, rate, epoch + 1)

    def restore_best_weights(self) -> None:
        """Put the best epoch's weights back (early stopping only; nothing to do before any epoch counted)."""
        if self.early_stop and self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def best_epoch(self) -> int | None:
        """The 1-based epoch whose weights early stopping keeps, or None (no early stopping, or none counted)."""
        return self.plateau.best_epoch + 1 if self.early_stop and self.plateau.best_epoch >= 0 else None

    def state(self) -> dict:
        """What a checkpoint stores to continue exactly: both plateaus, the stop, the current learning rate."""
        return {"plateau": self.plateau.state(), "lr_plateau": self.lr_plateau.state(), "converged": self.converged,
                "learning_rate": current_learning_rate(self.model.optimizer)}

    def load(self, state: dict, best_weights: list | None) -> None:
        """Continue from a checkpoint's ``state`` and best weights (an empty state: nothing to continue)."""
        if not state:
            return
        self.plateau, self.lr_plateau = Plateau.from_state(state["plateau"]), Plateau.from_state(state["lr_plateau"])
        self.converged, self.learning_rate, self.best_weights = state["converged"], state["learning_rate"], best_weights


def build_convergence_monitor(model, *, early_stop: bool, reduce_lr: bool, patience: int, min_delta: float,
                              kappa: float = 1.0, kl_mode: str = "warmup") -> ConvergenceMonitor | None:
    """The monitor for ``early_stop``/``reduce_lr`` (None when both are off); a VAE's starts after its warm-up."""
    if not (early_stop or reduce_lr):
        return None
    return ConvergenceMonitor(early_stop=early_stop, reduce_lr=reduce_lr, patience=patience, min_delta=min_delta,
                              first_epoch=first_comparable_epoch(model, kappa, kl_mode))


def first_comparable_epoch(model, kappa: float, kl_mode: str) -> int:
    """The first 0-based epoch early stopping counts: after a VAE's KL warm-up, else 0."""
    return first_final_beta_epoch(kappa, kl_mode) if isinstance(model, TybaltVAE) else 0


def current_learning_rate(optimizer) -> float:
    """The optimizer's learning rate as a number (a variable under both Keras 3 and tf_keras)."""
    return float(optimizer.learning_rate.numpy())


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


def resolve_jit_compile(setting: str, model_type: str, *, epochs: int, n_train: int, batch_size: int,
                        on_gpu: bool = False) -> bool:
    """Whether to compile the train step with XLA: 'true', 'false', or 'auto' (the CPU or GPU rule above)."""
    if setting != "auto":
        return setting == "true"
    enough_steps = epochs * math.ceil(n_train / batch_size) >= XLA_MIN_TRAINING_STEPS
    if on_gpu:
        return model_type in XLA_GPU_MODELS and enough_steps
    return model_type in XLA_MODELS and batch_size <= XLA_MAX_BATCH_SIZE and enough_steps


def compile_autoencoder(autoencoder: Autoencoder, *, optimizer: str, learning_rate: float, loss: str,
                        jit_compile: bool = False, steps_per_execution: int = 1) -> None:
    """Attach the optimizer, and for plain autoencoders the reconstruction loss (the VAE computes its own)."""
    model = autoencoder.model
    reconstruction_loss = None if isinstance(model, TybaltVAE) else loss
    model.compile(optimizer=build_optimizer(optimizer, learning_rate), loss=reconstruction_loss,
                  jit_compile=jit_compile, steps_per_execution=steps_per_execution)


def train(autoencoder: Autoencoder, values: np.ndarray | tf.Tensor, train_rows: np.ndarray, val_rows: np.ndarray,
          *, epochs: int, batch_size: int, kappa: float = 1.0, kl_mode: str = "warmup", timeout: float = -1,
          verbose: bool = True, extra_callbacks: list | None = None, initial_epoch: int = 0,
          objective: str = DEFAULT_OBJECTIVE):
    """Fit the compiled autoencoder to reconstruct ``values[train_rows]``, validated on ``values[val_rows]``.

    Each epoch logs ``objective`` under ``OBJECTIVE_KEY`` before ``extra_callbacks`` see the logs. Starts at
    ``initial_epoch`` when resuming. NumPy ``values`` become one tensor that both row sets read
    (``shared_tensor``); pass that tensor to share it with other work.
    """
    callbacks = [keras.callbacks.TerminateOnNaN()]
    if isinstance(autoencoder.model, TybaltVAE):
        callbacks.append(KLWarmup(autoencoder.model, kappa, kl_mode))
    callbacks.append(ObjectiveLogger(objective))
    if timeout and timeout > 0:
        callbacks.append(StopBeforeTimeout(timeout))
    callbacks.extend(extra_callbacks or [])
    callbacks.append(FitTimeline())
    matrix = shared_tensor(values)
    with custom_gradients_released():  # else every trial's traced graph stays in memory
        return autoencoder.model.fit(
            autoencoder_batches(matrix, train_rows, batch_size, shuffle=True),
            validation_data=autoencoder_batches(matrix, val_rows, batch_size, shuffle=False), epochs=epochs,
            shuffle=False, callbacks=callbacks, verbose=_keras_verbosity(verbose), initial_epoch=initial_epoch)


class FitTimeline(keras.callbacks.Callback):
    """Log when fit starts, when its first call into TensorFlow has trained, and how long fit took."""

    def on_train_begin(self, logs=None):
        self.started, self.first_step_seen = time.monotonic(), False
        logger.debug("fit started")

    def on_train_batch_end(self, batch, logs=None):
        if not self.first_step_seen:
            self.first_step_seen = True
            logger.debug("first training step done after %.2f s of fit", time.monotonic() - self.started)

    def on_train_end(self, logs=None):
        logger.info("fit took %.1f s", time.monotonic() - self.started)


def _keras_verbosity(verbose: bool) -> int:
    """Keras progress bar on a terminal, one line per epoch in log files, nothing when quiet."""
    if not verbose:
        return 0
    return 1 if sys.stdout.isatty() else 2

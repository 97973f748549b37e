"""Checkpoints on disk, with CANDLE's ``ckpt_*`` parameters: where they live, write one atomically, restore one.

A checkpoint is a folder ``epoch-NNNNN`` in the checkpoint directory holding ``weights.npz`` (the model's weights and
the optimizer's variables, its step counter and moment estimates included, and with early stopping the best epoch's
weights) and ``state.json`` (the number of completed epochs, the per-epoch history so far, the early-stopping /
reduce_lr state and the parameters that define the training: a run with other such parameters is refused rather
than resumed from it). It is written under a temporary name and renamed into place, so
a run killed at any moment leaves the previous checkpoint or the new one, never half of one. The format is the same
under Keras 3 and tf_keras (NumPy arrays), but a checkpoint resumes only under the Keras that wrote it.

candle_lib's own callback (``CandleCkptKeras`` / ``CandleCheckpointCallback``) is not used: it saves the whole model
with ``model.save('model.h5')``, which a subclassed model such as ``TybaltVAE`` cannot be saved to, records no
history, prunes old checkpoints under a hard-coded ``save/`` folder whatever ``ckpt_directory`` says, and imports
only under legacy Keras 2. This module keeps its parameter names and meanings.

Nothing here imports TensorFlow, so the run can check its checkpoint folder before paying for that import.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
from dataclasses import dataclass, field

import numpy as np

from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.outputs import read_json_object

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = re.compile(r"^epoch-(\d+)$")
WEIGHTS_FILE = "weights.npz"
STATE_FILE = "state.json"


@dataclass
class CheckpointSettings:
    """Where and how often to checkpoint: every ``interval`` epochs (0 = not by epochs) and/or at the first epoch end
    ``minutes`` after the last checkpoint (0 = not by time), keeping the newest ``keep_limit``.

    ``training_parameters`` are recorded in each checkpoint and must match for a run to resume from one.
    """

    directory: str
    restart_mode: str = "auto"
    interval: int = 1
    keep_limit: int = 1
    training_parameters: dict = field(default_factory=dict)
    minutes: float = 0.0


@dataclass
class Resume:
    """What training starts from: the number of completed epochs and their history (0 and empty when fresh)."""

    epochs_done: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    monitor: dict = field(default_factory=dict)  # early-stopping / reduce_lr state ({} when not used)
    best_weights: list | None = None  # the weights early stopping keeps, when it has a best epoch


def checkpoint_directory(ckpt_directory: str | None, run_folder: str) -> str:
    """The checkpoint folder: ``ckpt_directory`` if given, else ``ckpt`` inside the run's output folder."""
    return os.path.abspath(os.path.expanduser(ckpt_directory)) if ckpt_directory else os.path.join(run_folder, "ckpt")


def latest_checkpoint(directory: str) -> str | None:
    """The complete checkpoint with the most epochs in ``directory``, or None if there is none."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def list_checkpoints(directory: str) -> list[str]:
    """Complete checkpoints in ``directory``, fewest epochs first (unfinished temporary folders are ignored)."""
    if not os.path.isdir(directory):
        return []
    found = [os.path.join(directory, name) for name in os.listdir(directory) if CHECKPOINT_NAME.match(name)]
    return sorted((path for path in found if os.path.isfile(os.path.join(path, STATE_FILE))), key=epochs_of)


def epochs_of(path: str) -> int:
    """The number of completed epochs a checkpoint folder holds, read from its name."""
    return int(CHECKPOINT_NAME.match(os.path.basename(path)).group(1))


def check_restart(settings: CheckpointSettings) -> None:
    """Refuse ``ckpt_restart_mode`` 'required' when there is nothing to restart from (before any work is done)."""
    if settings.restart_mode == "required" and latest_checkpoint(settings.directory) is None:
        raise TybaltInputError(
            f"ckpt_restart_mode is 'required' but {settings.directory} holds no checkpoint; rerun with the "
            f"--output_dir (or --ckpt_directory) of the interrupted run, or use --ckpt_restart_mode auto")


def check_same_training(settings: CheckpointSettings, overwrite: bool) -> str:
    """The restart mode to train with, refusing to resume a checkpoint written with other training parameters.

    With ``overwrite`` such a checkpoint is not resumed but replaced: training starts afresh ('off').
    """
    path = latest_checkpoint(settings.directory) if settings.restart_mode != "off" else None
    recorded = read_json_object(os.path.join(path, STATE_FILE)).get("training_parameters") if path else None
    if not isinstance(recorded, dict):  # no checkpoint, or one written before parameters were recorded
        return settings.restart_mode
    current = settings.training_parameters
    changed = [name for name in sorted(recorded) if name in current and recorded[name] != current[name]]
    if not changed:
        return settings.restart_mode
    described = ", ".join(f"{name} {recorded[name]!r} -> {current[name]!r}" for name in changed[:5])
    if overwrite and settings.restart_mode != "required":
        logger.warning("not resuming %s, written with other parameters (%s): starting afresh (--overwrite true)",
                       path, described)
        return "off"
    raise TybaltInputError(
        f"checkpoint {path} was written by a run with other training parameters ({described}); rerun with its "
        f"parameters to resume it, or start afresh with --overwrite true or another --output_dir")


def save_checkpoint(model, directory: str, epochs_done: int, history: dict[str, list[float]], keras_flavour: str,
                    keep_limit: int, drop_newer: bool = False, training_parameters: dict | None = None,
                    monitor: dict | None = None, best_weights: list | None = None) -> str | None:
    """Write model, optimizer and history as ``epoch-<epochs_done>``, then keep only the newest ``keep_limit``.

    Returns None (and writes nothing) when the last epoch's losses are not finite: a diverged run is not worth
    resuming. ``drop_newer`` removes checkpoints with more epochs, left by an earlier run this one replaces.
    ``monitor`` and ``best_weights`` are the early-stopping / reduce_lr state, saved so a resumed run continues it.
    """
    if not all(math.isfinite(values[-1]) for values in history.values() if values):
        logger.warning("not checkpointing epoch %d: its losses are not finite", epochs_done)
        return None
    os.makedirs(directory, exist_ok=True)
    name = f"epoch-{epochs_done:05d}"
    temporary = os.path.join(directory, f".tmp.{os.getpid()}.{name}")
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    weights = model.get_weights()
    optimizer_values = [np.asarray(variable.numpy()) for variable in _optimizer_variables(model.optimizer)]
    best_weights = best_weights or []
    np.savez(os.path.join(temporary, WEIGHTS_FILE), **{f"model_{i}": w for i, w in enumerate(weights)},
             **{f"optimizer_{i}": v for i, v in enumerate(optimizer_values)},
             **{f"best_{i}": w for i, w in enumerate(best_weights)})
    state = {"epochs_done": epochs_done, "history": history, "keras": keras_flavour,
             "model_arrays": len(weights), "optimizer_arrays": len(optimizer_values),
             "training_parameters": training_parameters, "monitor": monitor or {}, "best_arrays": len(best_weights)}
    with open(os.path.join(temporary, STATE_FILE), "w") as handle:
        json.dump(state, handle)
    final = os.path.join(directory, name)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(temporary, final)
    for leftover in (entry for entry in os.listdir(directory) if entry.startswith(".tmp.")):
        shutil.rmtree(os.path.join(directory, leftover), ignore_errors=True)  # from runs killed while saving
    older = [path for path in list_checkpoints(directory) if path != final]
    if drop_newer:
        for path in [path for path in older if epochs_of(path) > epochs_done]:
            shutil.rmtree(path)
        older = [path for path in older if epochs_of(path) < epochs_done]
    for path in older[: max(0, len(older) + 1 - keep_limit)]:
        shutil.rmtree(path)
    logger.info("checkpoint written: %s", final)
    return final


def remove_checkpoints(directory: str) -> None:
    """Remove every checkpoint in ``directory``, and the folder when that leaves it empty (a trial that has ended)."""
    for path in list_checkpoints(directory):
        shutil.rmtree(path)
    try:
        os.rmdir(directory)
    except OSError:  # other files there, or no such folder
        pass


def restore(model, settings: CheckpointSettings, keras_flavour: str) -> Resume:
    """Load the latest checkpoint into the compiled ``model`` and its optimizer, unless restarting is off."""
    check_restart(settings)
    path = latest_checkpoint(settings.directory) if settings.restart_mode != "off" else None
    if path is None:
        return Resume()
    with open(os.path.join(path, STATE_FILE)) as handle:
        state = json.load(handle)
    if state.get("keras") != keras_flavour:
        raise TybaltInputError(
            f"checkpoint {path} was written with {state.get('keras')} and this run uses {keras_flavour}; rerun with "
            f"the same TF_USE_LEGACY_KERAS setting, or pass --ckpt_restart_mode off to start afresh")
    with np.load(os.path.join(path, WEIGHTS_FILE)) as arrays:
        weights = [arrays[f"model_{i}"] for i in range(state["model_arrays"])]
        optimizer_values = [arrays[f"optimizer_{i}"] for i in range(state["optimizer_arrays"])]
        best_weights = [arrays[f"best_{i}"] for i in range(state.get("best_arrays", 0))] or None
    model.optimizer.build(model.trainable_variables)
    optimizer_variables = _optimizer_variables(model.optimizer)
    expected = [w.shape for w in model.get_weights()] + [tuple(v.shape) for v in optimizer_variables]
    if expected != [w.shape for w in weights] + [v.shape for v in optimizer_values]:
        raise TybaltInputError(
            f"checkpoint {path} belongs to a model of another shape (other data or parameters); rerun the "
            f"interrupted command unchanged, choose another --output_dir, or pass --ckpt_restart_mode off")
    model.set_weights(weights)
    for variable, value in zip(optimizer_variables, optimizer_values):
        variable.assign(value)
    logger.info("resuming from %s: %d epochs already done", path, state["epochs_done"])
    return Resume(state["epochs_done"], state["history"], state.get("monitor", {}), best_weights)


def _optimizer_variables(optimizer) -> list:
    """The optimizer's variables (a list in Keras 3, a callable list in tf_keras: both iterate alike)."""
    return list(optimizer.variables)

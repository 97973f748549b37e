"""A run's life cycle in its output folder: refuse to overwrite finished results, record status and provenance.

``params.json`` carries ``status``: 'running' while training, then 'finished' (every epoch ran), 'converged'
(early stopping ended training and the best epoch's weights were kept), 'stopped_early' (the time limit
ended training; rerunning the same command resumes from the checkpoint) or 'diverged' (the loss became NaN or
infinite; the trial is over and its last ``val_loss`` is NaN, which the CANDLE Supervisor maps to its failure value)
or 'pruned' (the campaign's stopping rule ended a hopeless trial; its history holds the epochs it ran).

A run holds the lock of its output folder (``.tybalt.lock``) from its first check to its last write, so a second run
started into the same folder is refused instead of mixing or losing results.
``stop_reason`` says the same in words, and ``convergence`` diagnoses the validation loss (``convergence.diagnose``).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import platform
import shutil
import subprocess
from contextlib import ExitStack, contextmanager
from importlib import metadata
from typing import Any, Iterator

from tybalt_core.common.atomic_files import remove_stale_temporaries
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.file_locks import LockHeld, exclusive_lock
from tybalt_core.common.outputs import (DECODER_FILE, ENCODER_FILE, ENCODINGS_FILE, GENES_FILE, HISTORY_FILE,
                                        LOSS_PLOT_FILE, PARAMS_FILE, read_json_object)
from tybalt_core.common.user_files import require_writable_folder
from tybalt_core.config import definitions
from tybalt_core.config.objective import OBJECTIVE_KEY

logger = logging.getLogger(__name__)

RUNNING, FINISHED, CONVERGED, STOPPED_EARLY, DIVERGED = "running", "finished", "converged", "stopped_early", "diverged"
PRUNED = "pruned"
FINAL_STATUSES = (FINISHED, CONVERGED, DIVERGED, PRUNED)
RESULT_FILES = (HISTORY_FILE, ENCODINGS_FILE, ENCODER_FILE, DECODER_FILE, LOSS_PLOT_FILE)
# params.json entries that describe the run rather than configure it, and settings that change no result:
# neither counts when deciding whether a rerun asks for the same run.
NOT_COMPARED = ("status", "resumed_after_epoch", "provenance", "overwrite", "verbose", "stop_reason", "convergence",
                "best_epoch", "best_val_loss", "best_objective", "objective_value", "objective_reconstruction",
                "fit_seconds", "placement", "input_range")
# Benchmark parameters that do not change what the model learns, so a checkpoint may be resumed when they differ:
# epochs (a maximum: a resumed run may train longer), time limit, logging, where inputs are kept and outputs go,
# checkpoint and search settings, analysis after training, and speed settings (XLA, steps per call).
# Every other benchmark parameter defines the training (a new parameter does, unless it is added here).
NOT_TRAINING_DEFINING = (
    "model_name", "epochs", "timeout", "verbose", "save_model", "output_dir", "experiment_id", "run_id", "data_dir",
    "clinical_data", "clinical_url", "clinical_sha256", "copy_number_url", "data_sha256", "preprocess_only",
    "tuner", "search_space", "max_trials", "executions_per_trial", "ckpt_restart_mode", "ckpt_directory",
    "ckpt_save_interval", "ckpt_keep_limit", "ckpt_save_minutes", "lean_outputs", "overwrite", "analyze", "tsne",
    "perplexity", "encode_data",
    "model_dir", "jit_compile", "steps_per_execution", "gpus", "label_columns")
LOCK_FILE = ".tybalt.lock"
PACKAGES = {"numpy": ("numpy",), "tensorflow": ("tensorflow", "tensorflow-cpu"), "keras": ("keras",),
            "tf-keras": ("tf-keras", "tf_keras"), "keras-tuner": ("keras-tuner",), "pandas": ("pandas",),
            "scikit-learn": ("scikit-learn",)}


def check_output_folder(folder: str, restart_mode: str, checkpoint: str | None, *, overwrite: bool,
                        params: dict[str, Any] | None = None) -> str:
    """Refuse a folder holding a finished run unless ``overwrite``; return the restart mode to train with.

    A run is finished when its status says so, or, with no checkpoint to resume from, when it left results.
    Overwriting a finished run starts afresh ('off'), whatever checkpoint it left. The outputs of this very run
    (same ``params``), killed before it finished and with no checkpoint, are no one else's: it trains again from the
    start, as a relaunched campaign's interrupted trial must.
    """
    require_writable_folder(folder, "output folder", "--output_dir")
    resumable = restart_mode != "off" and checkpoint is not None
    status = read_status(folder)
    finished = status in FINAL_STATUSES or (
        not resumable and any(os.path.exists(os.path.join(folder, name)) for name in RESULT_FILES))
    if not finished:
        return restart_mode
    if status in (RUNNING, STOPPED_EARLY) and params is not None and _same_parameters(read_record(folder), params):
        logger.warning("%s holds this same run's outputs, killed before it finished and with no checkpoint: "
                       "training it again from the start", folder)
        return restart_mode
    if not overwrite:
        held = ("a finished run" if status not in (RUNNING, STOPPED_EARLY) else
                f"the outputs of an unfinished run (status {status!r}: killed while writing them, and no checkpoint "
                f"to resume from)")
        raise TybaltInputError(f"output folder {folder} already holds {held}; pass --overwrite true "
                               f"or choose another --output_dir")
    logger.warning("overwriting the finished run in %s (--overwrite true)", folder)
    return "off"


def run_files() -> tuple[str, ...]:
    """The names of every file a run writes into its output folder: results, gene list and scaling, analysis."""
    from tybalt_core.analysis.report import ANALYSIS_FILES
    from tybalt_core.data.preprocessing import SCALING_FILE

    return (PARAMS_FILE, *RESULT_FILES, GENES_FILE, SCALING_FILE, *ANALYSIS_FILES)


def remove_earlier_run(folder: str, ckpt_directory: str) -> None:
    """Remove what an earlier run left in ``folder`` and its checkpoints in ``ckpt_directory``, and nothing else.

    The one overwrite path: a fresh run (over a finished run with --overwrite true, or after a killed one) must not
    leave the earlier run's scaling.tsv beside its model, nor its report.md describing another model.
    """
    from tybalt_core.train.checkpointing import list_checkpoints

    removed = [name for name in run_files() if os.path.isfile(os.path.join(folder, name))]
    for name in removed:
        os.remove(os.path.join(folder, name))
    checkpoints = list_checkpoints(ckpt_directory)
    for path in checkpoints:
        shutil.rmtree(path)
    if removed or checkpoints:
        logger.info("removed the earlier run's files from %s (%s) and %d checkpoint(s)", folder,
                    ", ".join(removed) or "none", len(checkpoints))


class SavedHistory:
    """The per-epoch history of a finished run, read back from history.csv and shaped like a Keras History."""

    def __init__(self, history: dict[str, list[float]]):
        self.history = history


def finished_with_same_parameters(folder: str, params: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a finished (or diverged) run that these very parameters produced.

    A restarted CANDLE campaign reruns its trials with the same parameters: those get the saved result back.
    """
    record = read_record(folder)
    if record.get("status") not in FINAL_STATUSES or not os.path.isfile(os.path.join(folder, HISTORY_FILE)):
        return False
    return _same_parameters(record, params)


def _same_parameters(record: dict[str, Any], params: dict[str, Any]) -> bool:
    """Whether a run record was written by a run with these very parameters (settings that change no result aside)."""
    return _compared(record) == _compared(json.loads(json.dumps(params, default=str)))


def saved_history(folder: str) -> SavedHistory:
    """The history.csv of a finished run as {quantity: per-epoch values}; empty cells (no value) become NaN."""
    with open(os.path.join(folder, HISTORY_FILE), newline="") as handle:
        rows = list(csv.DictReader(handle))
    quantities = [name for name in (rows[0] if rows else {}) if name != "epoch"]
    history = {name: [float(row[name]) if row[name] else math.nan for row in rows] for name in quantities}
    history.setdefault("val_loss", [math.nan])
    return SavedHistory(returned_history(history, read_record(folder).get("best_epoch")))


def returned_history(history: dict[str, list[float]], best_epoch: int | None) -> dict[str, list[float]]:
    """What a trial returns: the history up to the kept epoch (all of it when early stopping kept none), with
    ``val_loss`` the comparable objective, so ``val_loss[-1]`` (what CANDLE reads) is the kept model's objective.

    The validation loss as trained (beta-weighted during a VAE's warm-up) stays under ``val_loss_as_trained``.
    """
    kept = {name: values[:best_epoch] for name, values in history.items()} if best_epoch else dict(history)
    if OBJECTIVE_KEY in kept:
        kept["val_loss_as_trained"], kept["val_loss"] = kept.get("val_loss", []), kept[OBJECTIVE_KEY]
    return kept


def _compared(record: dict[str, Any]) -> dict[str, Any]:
    """The entries of a run record that decide whether two runs are the same run."""
    return {name: value for name, value in record.items() if name not in NOT_COMPARED}


@contextmanager
def output_folder_held(folder: str, worker: str = "", flag: str = "--output_dir",
                       what: str = "output folder") -> Iterator[None]:
    """Hold ``folder``'s lock for a run (making the folder if needed); refuse the run if another one holds it.

    Temporaries left there by killed runs are removed. At the end the lock file goes, and the folder too if this
    run made it and left it empty (a refused run leaves nothing behind). A ``worker`` of a distributed search
    shares the folder with the other workers: it locks only its own name and removes nothing. ``flag`` and
    ``what`` name the folder in messages (a checkpoint folder outside the output folder is held the same way).
    """
    require_writable_folder(folder, what, flag)
    made = _first_missing(folder)
    os.makedirs(folder, exist_ok=True)
    with ExitStack() as stack:
        if made:
            stack.callback(_remove_empty_folders, folder, made)
        try:
            lock_name = f".tybalt.{worker}.lock" if worker else LOCK_FILE
            stack.enter_context(exclusive_lock(os.path.join(folder, lock_name), wait=False))
        except LockHeld as held:
            raise TybaltInputError(f"{what} {folder} is in use by another run (process {held.holder}); wait for it "
                                   f"to finish, or choose another {flag}") from None
        if not worker:
            remove_stale_temporaries(folder)
        yield


def training_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The benchmark parameters that define what a run trains (all but ``NOT_TRAINING_DEFINING``), as JSON values."""
    names = [d["name"] for d in definitions.additional_definitions if d["name"] not in NOT_TRAINING_DEFINING]
    return json.loads(json.dumps({name: params.get(name) for name in names}, default=str))


def _first_missing(folder: str) -> str | None:
    """The outermost folder of ``folder``'s path that does not exist yet (None when ``folder`` exists)."""
    missing = None
    while not os.path.exists(folder):
        missing, folder = folder, os.path.dirname(folder)
    return missing


def _remove_empty_folders(folder: str, outermost: str) -> None:
    """Remove ``folder`` and its parents up to ``outermost`` while they are empty (what a refused run made)."""
    while True:
        try:
            os.rmdir(folder)
        except OSError:
            return
        if folder == outermost:
            return
        folder = os.path.dirname(folder)


def read_status(folder: str) -> str | None:
    """The status recorded in the folder's params.json, or None when there is none (or it is unreadable)."""
    return read_record(folder).get("status")


def read_record(folder: str) -> dict[str, Any]:
    """The folder's params.json, or {} when there is none (or it is unreadable)."""
    return read_json_object(os.path.join(folder, PARAMS_FILE))


def training_status(history: dict[str, list[float]], epochs: int, converged: bool = False,
                    pruned: bool = False) -> str:
    """'diverged' if any loss is NaN/infinite, 'converged' if early stopping ended training, 'pruned' if the
    campaign's rule did, 'stopped_early' if fewer epochs ran than asked (the time limit), else 'finished'."""
    values = [value for key, series in history.items() if key.endswith("loss") for value in series]
    if not all(math.isfinite(value) for value in values):
        return DIVERGED
    if converged:
        return CONVERGED
    if pruned:
        return PRUNED
    return FINISHED if len(history.get("loss", [])) >= epochs else STOPPED_EARLY


def stop_reason(status: str, epochs_run: int, epochs: int, patience: int, best_epoch: int | None) -> str:
    """Why training stopped, in words, for params.json."""
    kept = f"; the weights of epoch {best_epoch} (best val_loss) were kept" if best_epoch else ""
    reasons = {
        FINISHED: f"ran all {epochs} epochs{kept}",
        CONVERGED: f"early stopping after epoch {epochs_run}: val_loss had not improved for {patience} epochs{kept}",
        STOPPED_EARLY: f"the time limit stopped training after epoch {epochs_run} of {epochs}; rerun to resume",
        DIVERGED: "the loss became NaN or infinite",
        PRUNED: f"the campaign's stopping rule (pruning) ended it after epoch {epochs_run} of {epochs}: its val_loss "
                "was worse than its peers'",
    }
    return reasons[status]


def mark_failed_trial(history: dict[str, list[float]]) -> None:
    """Make the last ``val_loss`` and objective NaN (appending an entry if the last epoch has none), as the
    Supervisor expects, so a rerun of the diverged trial returns NaN too."""
    for key in ("val_loss", OBJECTIVE_KEY):
        series = history.setdefault(key, [])
        if len(series) < len(history.get("loss", [])) or not series:
            series.append(math.nan)
        series[-1] = math.nan


def run_record(params: dict[str, Any], status: str, **details: Any) -> dict[str, Any]:
    """What params.json holds: the parameters, the run's status and the software that produced it."""
    return {**params, "status": status, **details, "provenance": provenance()}


def provenance() -> dict[str, Any]:
    """Python and package versions, and the git commit of the benchmark (None outside a git checkout)."""
    versions: dict[str, Any] = {"python": platform.python_version()}
    for name, distributions in PACKAGES.items():
        versions[name] = next((_version(d) for d in distributions if _version(d)), None)
    return {"versions": versions, **_git_commit(os.path.dirname(os.path.abspath(__file__)))}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git_commit(directory: str) -> dict[str, Any]:
    """The commit checked out in ``directory`` and whether files differ from it; None values when not a checkout."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", directory, *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"git_commit": commit, "git_uncommitted_changes": bool(changes) if commit else None}

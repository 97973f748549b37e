"""Relaunching a killed campaign: reopen the trials the time limit stopped, and build mlrMBO's restart file.

A relaunched campaign (same ``EXPID``) reruns every trial: a finished one returns its recorded result without
training (``run_state.finished_with_same_parameters``), an interrupted one resumes from its last checkpoint. The
Supervisor's model_runner skips any instance folder holding ``stop.marker``, which it writes whenever fewer epochs
came back than asked: after early stopping (the trial is over) and after the time limit (the trial is not).
``reopen_time_limited_trials`` removes the marker of the latter, so they resume instead of being skipped.
"""

from __future__ import annotations

import logging
import os

from tybalt_core.common.outputs import PARAMS_FILE, read_json_object

logger = logging.getLogger(__name__)

STOP_MARKER = "stop.marker"
TIME_LIMITED = "stopped_early"  # run_state's status of a trial the time limit stopped


def trial_status(instance: str) -> str | None:
    """The status in the params.json of the trial run in ``instance`` (its output folder lies below it)."""
    for folder, subfolders, files in os.walk(instance):
        subfolders[:] = [name for name in subfolders if name != "ckpt"]
        if PARAMS_FILE in files:
            return read_json_object(os.path.join(folder, PARAMS_FILE)).get("status")
    return None


def reopen_time_limited_trials(experiment_dir: str) -> list[str]:
    """Remove ``stop.marker`` from the instance folders whose trial the time limit stopped; return those folders."""
    reopened = []
    for folder, _, files in os.walk(experiment_dir):
        if STOP_MARKER in files and trial_status(folder) == TIME_LIMITED:
            os.remove(os.path.join(folder, STOP_MARKER))
            reopened.append(folder)
            logger.info("%s: the time limit had stopped this trial; it resumes when the campaign is relaunched",
                        folder)
    return reopened

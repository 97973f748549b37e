"""Relaunching a killed campaign: reopen the trials the time limit stopped, and build mlrMBO's restart file.

A relaunched campaign (same ``EXPID``) reruns every trial: a finished one returns its recorded result without
training (``run_state.finished_with_same_parameters``), an interrupted one resumes from its last checkpoint. The
Supervisor's model_runner skips any instance folder holding ``stop.marker``, which it writes whenever fewer epochs
came back than asked: after early stopping (the trial is over) and after the time limit (the trial is not).
``reopen_time_limited_trials`` removes the marker of the latter, so they resume instead of being skipped.
``write_mlrmbo_restart_file`` gives a relaunched mlrMBO search the points a killed one evaluated (RESTART_FILE).
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

import pandas as pd

from tybalt_core.common.atomic_files import write_table
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.outputs import PARAMS_FILE, read_json_object
from tybalt_core.config.parameters import LOG10_TWINS
from tybalt_core.tune.search_space import Discrete, SearchSpace, searched_as_index

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


def mlrmbo_design_point(space: SearchSpace, received: dict[str, Any]) -> dict[str, Any]:
    """The point of mlrMBO's design space (before the .R file's trafos) whose trial received ``received``.

    The inverse of workflow_files' parameter set: fixed and discrete values as sent (booleans as the text it
    writes them as), indexed ranges back to their index from 1, log integers to log10, log floats by their
    ``log10_`` twin.
    """
    point = {name: _as_sent(received.get(name, value)) for name, value in space.fixed.items()}
    for name, p in space.parameters.items():
        if isinstance(p, Discrete):
            point[name] = _as_sent(received[name])
        elif searched_as_index(p):
            point[name] = round((float(received[name]) - p.low) / (p.step or 1)) + 1
        elif p.sampling == "log" and p.integer:
            point[name] = math.log10(float(received[name]))
        elif p.sampling == "log":
            twin = LOG10_TWINS[name]
            point[twin] = float(received[twin])
        else:
            point[name] = received[name]
    return point


def write_mlrmbo_restart_file(trials: list[tuple[dict[str, Any], float]], space: SearchSpace, path: str) -> int:
    """Write mlrMBO's RESTART_FILE (``y`` and the design-space values) from completed trials' (parameters, result).

    Returns the number of rows; the relaunched search starts from these points instead of evaluating them again.
    """
    table = [{"y": result, **mlrmbo_design_point(space, params)} for params, result in trials]
    if not table:
        raise TybaltInputError("no completed trial in the experiment folder; give the killed mlrMBO experiment's "
                               "folder (the one holding run/)")
    write_table(pd.DataFrame(table), path, index=False)
    logger.info("%d evaluated points written to %s", len(table), path)
    return len(table)


def _as_sent(value: Any) -> Any:
    """A discrete value as the .R file lists it: booleans as text, anything else unchanged."""
    return repr(value) if isinstance(value, bool) else value

"""HPO results in one shape for every backend: hpo_results.csv, best_params.json and hpo.png.

KerasTuner searches (``tuning.py``) and CANDLE Supervisor campaigns (UPF or mlrMBO instance folders with
``result.txt``, ``parameters.txt`` and ``history.txt``) both end here, so their results compare directly.
A campaign can be read while it runs: its record (``campaign_record``) says which trials are running, which a
stopping rule pruned and at which epoch, and holds every trial's learning curve (drawn in ``hpo.png``).

    python Tybalt/hpo_results.py <campaign folder> [--output_dir <folder>]
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from typing import Any

import pandas as pd

from tybalt_core.common.atomic_files import write_table, write_text
from tybalt_core.common.cli import OneLineErrorParser, run_command
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.outputs import save_figure
from tybalt_core.common.user_files import literal_or_text, read_text, require_folder, require_writable_folder
from tybalt_core.config.objective import RECONSTRUCTION_KEY, objective_label
from tybalt_core.train import campaign_record
from tybalt_core.tune.campaign_restart import reopen_time_limited_trials, write_mlrmbo_restart_file
from tybalt_core.tune.search_space import load_search_space

logger = logging.getLogger(__name__)

RESULTS_FILE = "hpo_results.csv"
BEST_PARAMS_FILE = "best_params.json"
PLOT_FILE = "hpo.png"
COMPLETED, FAILED, PRUNED, RUNNING = "COMPLETED", "FAILED", "PRUNED", "RUNNING"
UNREADABLE = "UNREADABLE"  # a Supervisor trial folder whose parameters.txt or result.txt cannot be read
CAMPAIGN_FOLDER_FIX = "give the campaign's experiment folder (the one holding run/)"
RESULT_COLUMNS = ("objective", RECONSTRUCTION_KEY, "val_reconstruction_mse", "status", "seconds", "epochs_trained")
RESERVED_COLUMNS = ("trial_id", *RESULT_COLUMNS)
PARAMETER_PREFIX = "param_"
SPLIT_EXPONENT = re.compile(r"([+-]?\d+(?:\.\d+)?) ([+-]\d+)")
SUPERVISOR_NAN = 999999999  # older Supervisor runners write NaN results as this number
# Keys the Supervisor adds to every trial's parameters; they differ per trial but are not hyperparameters.
BOOKKEEPING_KEYS = {"id", "run_id", "instance_directory", "save", "output_dir", "experiment_id", "framework"}


def results_table(rows: list[dict[str, Any]], hyperparameters: list[str]) -> pd.DataFrame:
    """One row per trial: trial_id, each hyperparameter, objective, reconstruction error, status, seconds.

    Each row holds the trial's results and, under "values", its hyperparameters: a hyperparameter named like a
    results column (a Supervisor campaign may search one called 'status') gets the column ``param_<name>``.
    """
    columns = ["trial_id", *map(parameter_column, hyperparameters), *RESULT_COLUMNS]
    return pd.DataFrame([[row.get("trial_id"), *(row["values"].get(name) for name in hyperparameters),
                          *(row.get(column) for column in RESULT_COLUMNS)] for row in rows], columns=columns)


def parameter_column(name: str) -> str:
    """The results-table column of hyperparameter ``name``: the name, or ``param_<name>`` where it is taken."""
    return PARAMETER_PREFIX + name if name in RESERVED_COLUMNS else name


def parameter_name(column: str) -> str:
    """The hyperparameter a results-table column holds (``parameter_column`` undone)."""
    name = column[len(PARAMETER_PREFIX):]
    return name if column.startswith(PARAMETER_PREFIX) and name in RESERVED_COLUMNS else column


def best_trial(table: pd.DataFrame) -> pd.Series | None:
    """The completed trial with the lowest objective, or None when no trial completed."""
    objective = pd.to_numeric(table["objective"], errors="coerce")
    completed = table[(table["status"] == COMPLETED) & objective.map(math.isfinite)]
    return None if completed.empty else completed.loc[objective[completed.index].idxmin()]


def write_results(folder: str, table: pd.DataFrame, objective: str, title: str,
                  fixed: dict[str, Any] | None = None, curves: dict[str, dict[int, float]] | None = None) -> None:
    """Write hpo_results.csv, best_params.json (fixed values + the best trial's) and hpo.png into ``folder``;
    ``curves`` (trial id -> epoch -> monitored value) adds the learning curves to hpo.png."""
    os.makedirs(folder, exist_ok=True)
    write_table(table, os.path.join(folder, RESULTS_FILE), index=False)
    best = best_trial(table)
    hyperparameters = [c for c in table.columns if c not in RESERVED_COLUMNS]
    summary = {"objective": objective, "trials": len(table),
               "completed": int((table["status"] == COMPLETED).sum())}
    summary.update({status.lower(): int((table["status"] == status).sum()) for status in (RUNNING, PRUNED, FAILED)
                    if (table["status"] == status).any()})
    if (table["status"] == UNREADABLE).any():
        summary["unreadable"] = int((table["status"] == UNREADABLE).sum())
    if best is not None:
        summary.update(best_trial_id=str(best["trial_id"]), best_objective=float(best["objective"]),
                       params={**(fixed or {}), **{parameter_name(c): _plain(best[c]) for c in hyperparameters}})
    text = json.dumps(_finite_or_null(summary), indent=2, default=str, allow_nan=False)
    write_text(os.path.join(folder, BEST_PARAMS_FILE), text + "\n")
    plot_results(folder, table, hyperparameters, objective, title, curves)
    best_so_far = "none" if best is None else f"{best['trial_id']}: {best['objective']:.6g}"
    logger.info("%d trials (%d completed, %d running, %d pruned, %d unreadable; best so far %s) written to %s",
                len(table), summary["completed"], summary.get("running", 0), summary.get("pruned", 0),
                summary.get("unreadable", 0), best_so_far, folder)


def plot_results(folder: str, table: pd.DataFrame, hyperparameters: list[str], objective: str, title: str,
                 curves: dict[str, dict[int, float]] | None = None) -> str:
    """Write hpo.png (see results_figure) into ``folder``."""
    figure = results_figure(table, hyperparameters, objective, title, curves)
    return save_figure(figure, os.path.join(folder, PLOT_FILE), dpi=90)


def results_figure(table: pd.DataFrame, hyperparameters: list[str], objective: str, title: str,
                   curves: dict[str, dict[int, float]] | None = None):
    """Objective per trial with the best so far and failed trials marked, the learning curves when ``curves`` are
    given (running trials drawn boldly), then the objective against each hyperparameter.

    Readable at hundreds of trials: whole-number trial axis, small markers, log axes for log-spread parameters.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 + bool(curves) + len(hyperparameters)
    columns = min(panels, 3)
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    flat_axes = [axis for row in axes for axis in row]
    plot_trials(flat_axes[0], table, objective, title)
    if curves:
        plot_learning_curves(flat_axes[1], table, curves, objective)
    completed = table[table["status"] == COMPLETED]
    for axis, name in zip(flat_axes[1 + bool(curves):], hyperparameters):
        plot_against_parameter(axis, completed[name], completed["objective"].astype(float), name, objective)
    for axis in flat_axes[panels:]:
        axis.axis("off")
    figure.tight_layout()
    return figure


def plot_trials(axis, table: pd.DataFrame, objective: str, title: str) -> None:
    """Each completed trial's objective by trial number, the best so far, and failed trials as red crosses."""
    from matplotlib.ticker import MaxNLocator

    number = pd.Series(range(1, len(table) + 1), index=table.index)
    values = table["objective"].astype(float).where(table["status"] == COMPLETED)
    completed = values.notna()
    axis.plot(number[completed], values[completed], "o", markersize=3, alpha=0.6, label="completed")
    axis.step(number, values.cummin(), where="post", color="black", linewidth=1.2, label="best so far")
    if (~completed).any():
        bottom = values.min() - 0.03 * (values.max() - values.min()) if completed.any() else 0.0
        axis.plot(number[~completed], [bottom] * int((~completed).sum()), "rx", label="failed")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(xlabel="trial", ylabel=objective, title=title)
    axis.legend(fontsize="small")


def plot_learning_curves(axis, table: pd.DataFrame, curves: dict[str, dict[int, float]], objective: str) -> None:
    """Every recorded trial's monitored value by epoch: running trials in colour and labelled, finished ones grey,
    pruned ones ending in a red cross."""
    from matplotlib.ticker import MaxNLocator

    status = dict(zip(table["trial_id"].astype(str), table["status"]))
    for trial_id, curve in curves.items():
        epochs, values = sorted(curve), [curve[epoch] for epoch in sorted(curve)]
        if status.get(trial_id) == RUNNING:
            axis.plot(epochs, values, "-", linewidth=1.5, label=f"{trial_id} (running)")
        else:
            axis.plot(epochs, values, "-", color="grey", linewidth=0.8, alpha=0.5)
        if status.get(trial_id) == PRUNED and epochs:
            axis.plot(epochs[-1], values[-1], "rx")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(xlabel="epoch", ylabel=objective, title="learning curves (x: pruned)")
    if (table["status"] == RUNNING).any():
        axis.legend(fontsize="x-small")


def plot_against_parameter(axis, values: pd.Series, objective_values: pd.Series, name: str, objective: str) -> None:
    """Objective against one hyperparameter: a log axis when its values are positive and spread over a factor 4+,
    whole-number ticks for integer values."""
    from matplotlib.ticker import MaxNLocator

    if values.dtype == object:
        values = values.astype(str)
    axis.scatter(values, objective_values, s=10, alpha=0.6)
    numbers = pd.to_numeric(values, errors="coerce")
    if log_spread(values):
        axis.set_xscale("log")
        axis.tick_params(axis="x", which="both", labelrotation=30, labelsize="small")
    elif numbers.notna().all() and (numbers == numbers.round()).all():
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set(xlabel=name, ylabel=objective)


def log_spread(values: pd.Series) -> bool:
    """True for non-integer numbers, all positive, whose largest is at least 4 times the smallest (a log range)."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    if numbers.empty or (numbers <= 0).any() or (numbers == numbers.round()).all():
        return False
    return numbers.max() >= 4 * numbers.min()


def read_campaign(campaign_dir: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read every instance folder of a Supervisor campaign; return the results table and the constant values.

    A folder whose files cannot be read (truncated, not UTF-8) is reported as UNREADABLE, with a warning, and the
    rest of the campaign is still summarised; only a campaign with no readable folder is an error.
    """
    record = campaign_record.read_record(campaign_dir)
    trials = [with_recorded_state(trial, record) for trial in read_trials(campaign_dir)]
    if all(trial["status"] == UNREADABLE for trial in trials):
        raise TybaltInputError(f"none of the {len(trials)} instance folders under {campaign_dir} can be read "
                               f"(first: {trials[0]['problem']}); give a finished campaign's experiment folder")
    readable = [trial for trial in trials if trial["status"] != UNREADABLE]
    keys = sorted({key for trial in readable for key in trial["params"]} - BOOKKEEPING_KEYS)
    varying = [k for k in keys if len({repr(t["params"].get(k)) for t in readable}) > 1]
    constant = {k: readable[0]["params"].get(k) for k in keys if k not in varying}
    rows = [{**t, "values": t["params"]} for t in trials]
    return results_table(rows, varying), constant


def read_trials(campaign_dir: str) -> list[dict[str, Any]]:
    """Every instance folder's trial (parameters, objective, status), UNREADABLE ones included."""
    require_folder(campaign_dir, "campaign folder", CAMPAIGN_FOLDER_FIX)
    instances = sorted(root for root, _, files in os.walk(campaign_dir) if "parameters.txt" in files)
    if not instances:
        raise TybaltInputError(f"no instance folders with parameters.txt under {campaign_dir}; {CAMPAIGN_FOLDER_FIX}")
    return [_read_instance_or_mark_unreadable(folder, campaign_dir) for folder in instances]


def with_recorded_state(trial: dict[str, Any], record: dict[str, campaign_record.RecordedTrial]) -> dict[str, Any]:
    """A trial read from its folder, with what the campaign record adds: running (no result yet) or pruned, and the
    epochs it reported."""
    recorded = record.get(trial["trial_id"])
    if recorded is None:
        return trial
    if recorded.state == campaign_record.PRUNED:
        status = PRUNED if trial["status"] == COMPLETED else trial["status"]
    elif recorded.state == campaign_record.RUNNING and trial["objective"] is None and trial["seconds"] is None:
        status = RUNNING
    else:
        status = trial["status"]
    return {**trial, "status": status, "epochs_trained": recorded.epochs}


def read_parameters_file(path: str) -> dict[str, Any]:
    """parameters.txt as the Supervisor writes it: JSON, or ``key=value`` lines (Python literals) under headers."""
    text = read_text(path, "parameters file", "give a finished campaign's folder")
    if text.lstrip().startswith("{"):
        try:
            values = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as error:
            raise TybaltInputError(f"parameters file {path} is not complete JSON ({error}); "
                                   "was the trial interrupted while writing it?") from None
        if not isinstance(values, dict):
            raise TybaltInputError(f"parameters file {path} holds no JSON object of parameters")
        return values
    values = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, raw = (part.strip() for part in line.split("=", 1))
            values[key] = literal_or_text(raw)
    if not values:
        raise TybaltInputError(f"parameters file {path} holds no key=value lines (empty or cut short); "
                               "was the trial interrupted while writing it?")
    return values


def _read_instance_or_mark_unreadable(folder: str, campaign_dir: str) -> dict[str, Any]:
    """One trial as ``_read_instance`` reads it, or an UNREADABLE row (with a warning) when its files cannot be read."""
    try:
        return _read_instance(folder, campaign_dir)
    except TybaltInputError as error:
        logger.warning("trial folder %s cannot be read, reported as %s: %s", folder, UNREADABLE, error)
        return {"trial_id": os.path.relpath(folder, campaign_dir), "params": {}, "objective": None,
                "status": UNREADABLE, "seconds": None, "problem": str(error)}


def _read_instance(folder: str, campaign_dir: str) -> dict[str, Any]:
    """One trial: its parameters, result (NaN, infinite or missing = failed), the result's reconstruction part (from
    history.txt) and seconds from parameters to result."""
    params = read_parameters_file(os.path.join(folder, "parameters.txt"))
    result_path = os.path.join(folder, "result.txt")
    objective, seconds = None, None
    if os.path.lexists(result_path):
        objective = parse_result(read_text(result_path, "result file", "give a finished campaign's folder").strip())
        seconds = os.path.getmtime(result_path) - os.path.getmtime(os.path.join(folder, "parameters.txt"))
    failed = objective is None or not math.isfinite(objective) or objective >= SUPERVISOR_NAN
    return {"trial_id": str(params.get("run_id") or os.path.relpath(folder, campaign_dir)),
            "params": params, "objective": None if failed else objective,
            RECONSTRUCTION_KEY: None if failed else last_history_value(folder, RECONSTRUCTION_KEY),
            "status": FAILED if failed else COMPLETED, "seconds": None if seconds is None else round(seconds, 2)}


def last_history_value(folder: str, key: str) -> float | None:
    """The last value of ``key`` in the trial's history.txt (the kept model's), or None when it has none."""
    path = os.path.join(folder, "history.txt")
    try:
        with open(path) as handle:
            values = json.load(handle).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    return float(values[-1]) if isinstance(values, list) and values else None


def parse_result(text: str) -> float | None:
    """The number in a result.txt, or None. In app mode the Supervisor's model.sh extracts it with a regular
    expression that splits scientific notation (3.18e-05 arrives as ``3.179433770128526 -05``): joined again here."""
    split = SPLIT_EXPONENT.fullmatch(text)
    return _float_or_none(f"{split[1]}e{split[2]}" if split else text)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _finite_or_null(value: Any) -> Any:
    """``value`` with every NaN or infinite float (at any depth) replaced by None: JSON has no such numbers."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _plain(value: Any) -> Any:
    """A pandas/NumPy scalar as a plain Python value for JSON."""
    return value.item() if hasattr(value, "item") else value


def main(argv: list[str] | None = None) -> None:
    """Command line: aggregate a CANDLE campaign, finished or running, into hpo_results.csv, best_params.json and
    hpo.png."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(lambda: _aggregate_from_command_line(argv))


def _aggregate_from_command_line(argv: list[str] | None) -> None:
    """Parse the command line, read the campaign, write the three results files and print the table's path."""
    parser = OneLineErrorParser(description="Aggregate a CANDLE Supervisor campaign, finished or still running.",
                                allow_abbrev=False)
    parser.add_argument("campaign_dir", help="experiment folder holding the instance folders (run/<id>/...)")
    parser.add_argument("--output_dir", default="", help="where to write the results (default: campaign_dir)")
    parser.add_argument("--objective", default="",
                        help="name of the quantity in result.txt (default: the campaign's objective parameter)")
    parser.add_argument("--reopen-time-limited", action="store_true",
                        help="before relaunching the campaign: remove stop.marker from the trials the time limit "
                             "stopped, so they resume (then exit)")
    parser.add_argument("--restart-file", default="", metavar="CSV",
                        help="write mlrMBO's RESTART_FILE from the (killed) experiment's completed trials (then exit)")
    parser.add_argument("--search_space", default="tybalt_bayesian",
                        help="with --restart-file: the search-space YAML the experiment's .R file was made from")
    args = parser.parse_args(argv)
    if args.reopen_time_limited:
        require_folder(args.campaign_dir, "campaign folder", CAMPAIGN_FOLDER_FIX)
        for folder in reopen_time_limited_trials(args.campaign_dir):
            print(f"reopened {folder}")
        return
    if args.restart_file:
        trials = [(t["params"], t["objective"]) for t in read_trials(args.campaign_dir) if t["status"] == COMPLETED]
        rows = write_mlrmbo_restart_file(trials, load_search_space(args.search_space), args.restart_file)
        print(f"{args.restart_file}: {rows} evaluated points")
        return
    table, constant = read_campaign(args.campaign_dir)
    folder = args.output_dir or args.campaign_dir
    require_writable_folder(folder, "output folder", "--output_dir")
    curves = {trial_id: trial.curve for trial_id, trial in campaign_record.read_record(args.campaign_dir).items()}
    objective = args.objective or objective_label(constant.get("objective"))
    write_results(folder, table, objective, os.path.basename(os.path.abspath(args.campaign_dir)), constant, curves)
    print(os.path.join(folder, RESULTS_FILE))

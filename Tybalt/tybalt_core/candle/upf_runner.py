"""Run UPF trials locally, the way the CANDLE Supervisor's ``model_runner.py`` runs them, without swift-t.

Each trial gets an instance folder ``<campaign_dir>/run/<id>``; inside it the benchmark is initialised with
no command-line flags (from ``$CANDLE_DEFAULT_MODEL_FILE`` when set), the trial's JSON values (numbers in a
space-separated string become lists, as model_runner formats them) plus the Supervisor's bookkeeping keys
(``model_name`` from ``$MODEL_NAME``) overwrite the parameters, ``run(params)`` trains, and ``parameters.txt``,
``result.txt`` (the last ``val_loss``), ``history.txt`` and, when fewer epochs ran than asked, ``stop.marker`` are
written, so ``hpo_results.py`` reads the folder like a real campaign. A trial whose folder holds ``stop.marker``
is skipped, as model_runner skips it, except that a rerun first removes the marker of trials the time limit stopped
(``campaign_restart``), as ``workflows/run_campaign.sh`` does when relaunching an experiment.

    python Tybalt/upf_runner.py workflows/latent_dim_sweep.upf --campaign_dir Output/latent_sweep \\
        [--first 3] [--set epochs=5 --set synthetic_samples=500]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from typing import Any

from tybalt_core.common.cli import OneLineErrorParser, run_command
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.user_files import literal_or_text, read_text, require_writable_folder
from tybalt_core.config import definitions
from tybalt_core.config.parameters import check_parameters
from tybalt_core.tune.campaign_restart import STOP_MARKER, reopen_time_limited_trials

logger = logging.getLogger(__name__)

OBJECTIVE = "val_loss"
DIFFERENCES = ("Differences from the Supervisor's model_runner.py: trials run one after another in this process; "
               "MODEL_NAME defaults to 'tybalt' (model_runner stops without it); the objective is always val_loss "
               "(not MODEL_RETURN); no rank.txt, no pre/post modules, no perf monitors; a trial that raises is "
               "logged and the campaign goes on (model_runner exits 1).")


def read_upf(path: str) -> list[dict[str, Any]]:
    """The trials of a UPF file: one JSON object per non-empty line, each with a unique ``id``."""
    trials, seen = [], set()
    text = read_text(path, "UPF file", "give the path of a .upf file (one JSON object per line)")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            trial = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as error:
            raise TybaltInputError(f"{path}:{number}: not a JSON object ({getattr(error, 'msg', error)}); "
                                   "write one object per line") from None
        if not isinstance(trial, dict) or "id" not in trial or repr(trial["id"]) in seen:
            raise TybaltInputError(f"{path}:{number}: each line needs a JSON object with a unique \"id\"")
        seen.add(repr(trial["id"]))
        trials.append(trial)
    if not trials:
        raise TybaltInputError(f"UPF file {path} holds no trials; write one JSON object per line")
    return trials


def check_trials(trials: list[dict[str, Any]], overrides: dict[str, Any], upf_path: str) -> None:
    """Check every trial's values (over the defaults, with the overrides) before any runs, so none fails half-way."""
    defaults = {name: definition["default"] for name, definition in definitions.DEFINITIONS.items()}
    for trial in trials:
        try:
            check_parameters({**defaults, **trial, **overrides, "run_id": str(trial["id"])})
        except TybaltInputError as error:
            raise TybaltInputError(f"{upf_path}: trial {trial['id']!r}: {error}") from None


def hyper_parameter_map(trial: dict[str, Any], campaign_dir: str, experiment_id: str,
                        timeout: int = -1) -> dict[str, Any]:
    """The map the Supervisor's in-memory Python mode hands to model_runner: the trial's values (formatted as
    model_runner formats them) plus its bookkeeping keys, in the same order."""
    instance = os.path.abspath(os.path.join(campaign_dir, "run", str(trial["id"])))
    return {**{key: supervisor_value(value) for key, value in trial.items()}, "framework": "keras",
            "save": os.path.join(instance, "output"), "instance_directory": instance,
            "model_name": os.environ.get("MODEL_NAME", "tybalt"), "experiment_id": experiment_id,
            "run_id": str(trial["id"]), "timeout": timeout}


def supervisor_value(value: Any) -> Any:
    """A trial value as model_runner's format_params leaves it: a space-separated string of numbers becomes a list
    (floats when the first has a '.', else ints); anything else is unchanged."""
    parts = str(value).split(" ")
    if len(parts) < 2 or not _is_number(parts[0]):
        return value
    return [float(p) for p in parts] if "." in parts[0] else [int(p) for p in parts]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def default_model_arguments() -> dict[str, str]:
    """initialize_parameters' arguments: the default-model file named by $CANDLE_DEFAULT_MODEL_FILE, if any."""
    path = os.environ.get("CANDLE_DEFAULT_MODEL_FILE")
    return {"default_model": path} if path else {}


def run_trial(benchmark, hp_map: dict[str, Any]) -> float:
    """One model_runner trial: initialise in the instance folder, apply the map, run, write the result files.

    Returns the objective (NaN when the run gave no finite val_loss). The working directory is
    restored afterwards, so many trials run one after another in one process, as under the Supervisor.
    """
    instance = hp_map["instance_directory"]
    os.makedirs(instance, exist_ok=True)
    saved_cwd = os.getcwd()
    try:
        os.chdir(instance)
        params = benchmark.initialize_parameters(argv=[], **default_model_arguments())
        params.update(hp_map)
        write_parameters_file(os.path.join(instance, "parameters.txt"), params)
        history = benchmark.run(params)
        values = history.history.get(OBJECTIVE, [])
        if len(values) < hp_map.get("epochs", 1):
            write_stop_marker(instance, len(values), hp_map.get("epochs", 1))
        result = float(values[-1]) if values else math.nan
        with open(os.path.join(instance, "result.txt"), "w") as handle:
            handle.write(f"{result}\n")
        with open(os.path.join(instance, "history.txt"), "w") as handle:
            json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, handle)
        return result
    finally:
        os.chdir(saved_cwd)


def write_stop_marker(instance: str, epochs_run: int, epochs_asked: int) -> None:
    """stop.marker, as model_runner writes it when a trial stopped early (a rerun of the campaign skips it)."""
    with open(os.path.join(instance, STOP_MARKER), "w") as handle:
        handle.write(f"early stopping: {epochs_run}/{epochs_asked}\n")


def write_parameters_file(path: str, params: dict[str, Any]) -> None:
    """parameters.txt in the Supervisor's layout: ``key=value`` under [Global Params], timeout last."""
    def literal(value: Any) -> str:
        return f"'{value}'" if isinstance(value, str) else str(value)

    lines = ["[Global Params]"] + [f"{k}={literal(v)}" for k, v in params.items() if k != "timeout"]
    lines += ["[Monitor Params]", f"timeout={literal(params.get('timeout', -1))}"]
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def run_campaign(upf_path: str, campaign_dir: str, *, overrides: dict[str, Any] | None = None,
                 first: int | None = None, experiment_id: str = "") -> dict[str, float]:
    """Run the UPF's trials (optionally only the first N, with ``overrides`` on every trial); id -> result.

    A trial that raises is logged and left without result.txt (the Supervisor ends such a trial with exit 1);
    the campaign goes on.
    """
    import tybalt_baseline_keras2 as benchmark

    overrides = overrides or {}
    trials = read_upf(upf_path)[:first]
    check_trials(trials, overrides, upf_path)
    require_writable_folder(campaign_dir, "campaign folder", "--campaign_dir")
    reopen_time_limited_trials(campaign_dir)
    experiment_id = experiment_id or os.path.basename(os.path.abspath(campaign_dir))
    results = {}
    for trial in trials:
        hp_map = hyper_parameter_map({**trial, **overrides}, campaign_dir, experiment_id)
        if os.path.exists(os.path.join(hp_map["instance_directory"], STOP_MARKER)):
            logger.info("trial %s: %s exists, skipped", trial["id"], STOP_MARKER)
            continue
        try:
            results[trial["id"]] = run_trial(benchmark, hp_map)
        except TybaltInputError as error:  # e.g. a latent_dim wider than the data: the message says it all
            logger.error("trial %s refused: %s", trial["id"], error)
            results[trial["id"]] = math.nan
        except Exception:  # noqa: BLE001 -- a failed trial must not end the campaign
            logger.exception("trial %s failed", trial["id"])
            results[trial["id"]] = math.nan
        logger.info("trial %s: %s = %s", trial["id"], OBJECTIVE, results[trial["id"]])
    return results


def _override(text: str) -> tuple[str, Any]:
    """``name=value`` from the command line; the value is a Python literal when it parses as one."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected name=value, got {text!r}")
    name, raw = text.split("=", 1)
    return name.strip(), literal_or_text(raw)


def _trial_count(text: str) -> int:
    """--first N: a count of trials, at least 1."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of trials, got {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} trials; give at least 1 (or leave --first out to run them all)")
    return count


def main(argv: list[str] | None = None) -> None:
    """Command line: run UPF trials into a campaign folder, then print each trial's result."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(lambda: _run_from_command_line(argv))


def _run_from_command_line(argv: list[str] | None) -> None:
    """Parse the command line, run the trials and print each one's result."""
    parser = OneLineErrorParser(description="Run UPF trials like the CANDLE Supervisor, without swift-t.",
                                allow_abbrev=False, epilog=DIFFERENCES)
    parser.add_argument("upf", help="UPF file (one JSON object per line)")
    parser.add_argument("--campaign_dir", required=True, help="experiment folder; trials go to run/<id>/")
    parser.add_argument("--first", type=_trial_count, default=None, help="run only the first N trials (N >= 1)")
    parser.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                        metavar="NAME=VALUE", help="override a parameter in every trial (repeatable)")
    args = parser.parse_args(argv)
    results = run_campaign(args.upf, args.campaign_dir, overrides=dict(args.overrides), first=args.first)
    for trial_id, result in results.items():
        print(f"{trial_id}\t{result}")

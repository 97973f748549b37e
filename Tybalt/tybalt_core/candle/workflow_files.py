"""Write the files the CANDLE supervisors consume from each search-space YAML in workflows/.

Grid spaces (every parameter a list) give the UPF file, a Biowulf grid ``.in`` and ``cfg-sys``; spaces with
ranges give the mlrMBO ParamHelpers ``.R`` file, ``cfg-prm``, ``cfg-sys`` and a Biowulf bayesian ``.in``.
The Supervisor sends mlrMBO's proposals as JSON with 4 decimals, so the ``.R`` file searches log-sampled floats as
the benchmark's ``log10_<name>`` parameters and writes finer discrete values as text; integer ranges are indexed
from 1 because ``mlrMBO-ils.R`` pins integer parameters with a bound at 0 or 1 instead of narrowing them.

    python Tybalt/workflow_files.py [--output_dir workflows]
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
from contextlib import ExitStack
from typing import Any, Iterable, Iterator

from tybalt_core.common.atomic_files import replaced_atomically
from tybalt_core.common.cli import OneLineErrorParser, run_command
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config import definitions
from tybalt_core.config.candle_compat import read_config_file
from tybalt_core.config.parameters import LOG10_TWINS
from tybalt_core.tune.search_space import (WORKFLOWS_DIR, Discrete, Range, SearchSpace, grid_points, load_search_space,
                                           searched_as_index)

logger = logging.getLogger(__name__)

MODEL_SCRIPT = "$(pwd)/Tybalt/tybalt_baseline_keras2.py"  # Biowulf .in files are submitted from the repo root
# candle submit-job's own keys: the GPU type and count, CPUs per worker (nthreads) and memory per CPU in GB
# (mem_per_cpu: 4 x 4 GB = the 16G per trial of cfg-sys), and python_bin_path, the bin folder put first on PATH,
# so trials run the project's environment rather than the CANDLE module's Python.
BIOWULF_CONTROL = {"nworkers": 4, "worker_type": "v100x", "walltime": "12:00:00", "run_workflow": 1, "nthreads": 4,
                   "mem_per_cpu": 4, "python_bin_path": "$(pwd)/.venv/bin"}
MLRMBO_ITERATIONS = 3
MLRMBO_DECIMALS = 4  # jsonlite::toJSON's default in the Supervisor's mlrMBO_utils.R
# A linear float range narrower than this would be searched in steps of more than 0.1 % of its width.
MLRMBO_NARROWEST_RANGE = 1000 * 10 ** -MLRMBO_DECIMALS
SYSTEM_SETTINGS = {"PROCS": 6, "PPN": 1, "NODES": 1, "GPUS_PER_NODE": 4, "CPUS_PER_TRIAL": 4, "MEM_PER_TRIAL": "16G",
                   "WALLTIME": "12:00:00", "QUEUE": "gpu", "BENCHMARK_TIMEOUT": 7200,
                   "SH_TIMEOUT": "$(( BENCHMARK_TIMEOUT + 900 ))", "IGNORE_ERRORS": 1}
# The cfg-prm file's own folder, however it is sourced: the .R file generated beside it is there.
CFG_FOLDER = '$(CDPATH= cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)'
# Comments written above these settings in the generated cfg files.
SETTING_NOTES = {
    "PROCS": "site local: Swift/T processes (PROCS - 1 trials at a time) and processes per node (PPN)",
    "NODES": "sites slurm and biowulf: one trial per GPU on NODES nodes of GPUS_PER_NODE GPUs, each trial with "
             "CPUS_PER_TRIAL CPUs and MEM_PER_TRIAL memory (PROCS and PPN follow; docs/many-gpu-nodes.md)",
    "PARAM_SET_FILE": "the .R file beside this one (an absolute path, from this file's folder)",
    "BENCHMARK_TIMEOUT": "seconds after which a trial's training stops cleanly and writes its outputs",
    "SH_TIMEOUT": "app mode (model.sh) kills a trial after this many seconds: 15 minutes beyond "
                  "BENCHMARK_TIMEOUT for start-up, data loading and outputs",
    "IGNORE_ERRORS": "1: a failed trial gets no result (NaN) and the campaign goes on; 0: it aborts the campaign",
}
MAX_GRID_TRIALS = 1_000_000  # a grid beyond this is a mistake: no campaign runs it, and its UPF file takes gigabytes


def upf_lines(space: SearchSpace) -> Iterator[str]:
    """One JSON object per distinct trial, each with a unique id naming the space and the trial's number."""
    width = len(str(space.trial_count))
    for number, point in enumerate(grid_points(space), start=1):
        yield json.dumps({"id": f"{space.name}_{number:0{width}d}", **point})


def mlrmbo_params(space: SearchSpace) -> list[str]:
    """ParamHelpers constructors, one per parameter; fixed values become one-value discrete parameters."""
    fixed = [_discrete_param(name, (value,)) for name, value in space.fixed.items()]
    return fixed + [_discrete_param(name, p.values) if isinstance(p, Discrete) else _range_param(space, name, p)
                    for name, p in space.parameters.items()]


def mlrmbo_param_set_file(space: SearchSpace) -> str:
    """The R file the mlrMBO workflow sources: ``param.set <- makeParamSet(...)``."""
    body = ",\n".join(f"  {line}" for line in mlrmbo_params(space))
    return (f"# {space.name}: {space.description}\n# Generated from {space.name}.yaml by "
            f"Tybalt/workflow_files.py; edit the YAML, not this file.\n{_unconditional_note(space)}"
            f"param.set <- makeParamSet(\n{body}\n)\n")


def design_size(space: SearchSpace) -> int:
    """Initial design points: at least the largest discrete value count (the R driver stops otherwise)
    and at least twice the number of searched parameters."""
    counts = [len(p.values) if isinstance(p, Discrete) else _index_count(p)
              for p in space.parameters.values() if isinstance(p, Discrete) or searched_as_index(p)]
    return max(counts + [2 * len(space.parameters)])


def cfg_prm_file(space: SearchSpace) -> str:
    """mlrMBO settings; every value can still be overridden from the environment."""
    size = design_size(space)
    settings = {"PARAM_SET_FILE": f"{CFG_FOLDER}/{space.name}.R", "DESIGN_SIZE": size,
                "PROPOSE_POINTS": size, "MAX_ITERATIONS": MLRMBO_ITERATIONS,
                "MAX_BUDGET": size * (MLRMBO_ITERATIONS + 1)}
    return _shell_settings(space, "mlrMBO parameters (cfg-prm)", settings)


def cfg_sys_file(space: SearchSpace) -> str:
    """Supervisor system settings: processes, walltime, queue, the per-trial timeouts, failed trials ignored."""
    return _shell_settings(space, "Supervisor system settings (cfg-sys)", SYSTEM_SETTINGS)


def default_model_lines(overrides: dict[str, Any]) -> list[str]:
    """``key = value`` lines of tybalt_default_model.txt (Python literals), with ``overrides`` applied."""
    defaults = read_config_file(os.path.join(definitions.BENCHMARK_DIR, definitions.DEFAULT_MODEL_FILE),
                                definitions.DEFINITIONS)
    return [f"{key} = {value!r}" for key, value in {**defaults, **overrides}.items()]


def biowulf_input_file(space: SearchSpace) -> Iterator[str]:
    """``candle submit-job`` input, streamed: &control, &default_model and &param_space sections, each closed by
    '/'. The mlrMBO parameters are built (and checked) before the first line is yielded."""
    control = {"model_script": MODEL_SCRIPT, "workflow": "grid" if space.is_grid else "bayesian",
               **BIOWULF_CONTROL}
    if not space.is_grid:
        size = design_size(space)
        control.update(design_size=size, propose_points=size, max_iterations=MLRMBO_ITERATIONS,
                       max_budget=size * (MLRMBO_ITERATIONS + 1))
    param_space = upf_lines(space) if space.is_grid else mlrmbo_params(space)[len(space.fixed):]
    sections = [("control", [f"{k} = {v}" for k, v in control.items()]),
                ("default_model", default_model_lines(space.fixed)),
                ("param_space", param_space)]
    return _section_lines(sections)


def workflow_files(space: SearchSpace) -> dict[str, Iterable[str]]:
    """File name -> the text chunks of everything generated from one search space (grid lines stay lazy)."""
    if space.is_grid and space.trial_count > MAX_GRID_TRIALS:
        raise TybaltInputError(f"{space.source}: the grid has {space.trial_count:,} trials, more than a campaign can "
                               f"run (at most {MAX_GRID_TRIALS:,}); list fewer values, or give ranges for a "
                               f"Bayesian (mlrMBO) search")
    files = {f"cfg-sys-{space.name}.sh": [cfg_sys_file(space)], f"{space.name}.in": biowulf_input_file(space)}
    if space.is_grid:
        files[f"{space.name}.upf"] = (f"{line}\n" for line in upf_lines(space))
    else:
        files[f"{space.name}.R"] = [mlrmbo_param_set_file(space)]
        files[f"cfg-prm-{space.name}.sh"] = [cfg_prm_file(space)]
    return files


def write_workflow_files(yaml_dir: str, output_dir: str) -> list[str]:
    """Generate the files of every YAML in ``yaml_dir`` into ``output_dir``; return the paths written.

    Every YAML is loaded and its small files built before anything is written, and every file is written under a
    temporary name first, renamed into place only once all are complete: a failure (a full disk, Ctrl-C half-way
    through a large grid) leaves none of them.
    """
    paths = sorted(glob.glob(os.path.join(yaml_dir, "*.yaml")))
    if not paths:
        raise TybaltInputError(f"no search-space YAML files in {yaml_dir}; add one (see docs/hpo-and-campaigns.md)")
    planned = [workflow_files(load_search_space(path)) for path in paths]
    os.makedirs(output_dir, exist_ok=True)
    written = []
    with ExitStack() as renamed_at_the_end:
        for files in planned:
            for name, chunks in files.items():
                path = os.path.join(output_dir, name)
                with open(renamed_at_the_end.enter_context(replaced_atomically(path)), "w") as handle:
                    handle.writelines(chunks)
                written.append(path)
    return written


def _section_lines(sections: list[tuple[str, Iterable[str]]]) -> Iterator[str]:
    """The ``&title`` ... ``/`` sections of a Biowulf input file, one line at a time."""
    for number, (title, lines) in enumerate(sections):
        if number:
            yield "\n"
        yield f"&{title}\n"
        for line in lines:
            yield f"  {line}\n"
        yield "/\n"


def _unconditional_note(space: SearchSpace) -> str:
    """R comments naming the conditional parameters mlrMBO searches everywhere (mlrMBO-ils.R's random forest
    cannot take the missing values of inactive parameters); the benchmark ignores them where inactive."""
    return "".join(f"# {name} is active only when {_conditions_text(p)}; mlrMBO proposes it in every trial and "
                   f"the benchmark ignores it elsewhere.\n" for name, p in space.parameters.items() if p.when)


def _conditions_text(p: Discrete | Range) -> str:
    """'depth is 1', 'depth is one of 1, 2' ... joined by 'and'."""
    return " and ".join(f"{parent} is {'one of ' if len(values) > 1 else ''}{', '.join(map(str, values))}"
                        for parent, values in p.when)


def _discrete_param(name: str, values: tuple) -> str:
    """A ParamHelpers discrete parameter; a float that 4 decimals would change is written as text, which JSON
    carries exactly and the benchmark converts back (0.00015 would otherwise arrive as 0.0001), and so is a boolean
    (ParamHelpers refuses logical values; the benchmark reads 'True' and 'False')."""
    literals = [json.dumps(repr(v)) if _rounded_by_json(v) or isinstance(v, bool) else _r_literal(v) for v in values]
    return f'makeDiscreteParam("{name}", values = c({", ".join(literals)}))'


def _rounded_by_json(value: Any) -> bool:
    return isinstance(value, float) and round(value, MLRMBO_DECIMALS) != value


def _range_param(space: SearchSpace, name: str, p: Range) -> str:
    """Integer, numeric, log10-searched float, log-scaled integer or indexed (from 1) ParamHelpers parameter."""
    if not p.integer and p.sampling == "linear":
        _check_json_precision(space, name, p)
    if searched_as_index(p):
        return _index_param(name, p)
    if p.sampling == "log" and p.integer:
        return (f'makeNumericParam("{name}", lower = {_r_literal(math.log10(p.low))}, '
                f"upper = {_r_literal(math.log10(p.high))}, trafo = function(x) round(10^x))")
    if p.sampling == "log":
        return _log10_param(space, name, p)
    if p.integer:
        return f'makeIntegerParam("{name}", lower = {int(p.low)}, upper = {int(p.high)})'
    return f'makeNumericParam("{name}", lower = {_r_literal(p.low)}, upper = {_r_literal(p.high)})'


def _check_json_precision(space: SearchSpace, name: str, p: Range) -> None:
    """Refuse a linear float range that proposals rounded to 4 decimals cannot cover finely (or hit exactly)."""
    stepped_off_grid = p.step is not None and (_rounded_by_json(float(p.low)) or _rounded_by_json(float(p.step)))
    if p.high - p.low < MLRMBO_NARROWEST_RANGE or stepped_off_grid:
        log_hint = "sampling: log, " if name in LOG10_TWINS else ""
        raise TybaltInputError(f"{space.source}: parameters.{name} ({p.low:g} to {p.high:g}) is too fine for mlrMBO, "
                               f"whose proposals reach the benchmark rounded to {MLRMBO_DECIMALS} decimals; use "
                               f"{log_hint}a list of values or a wider range")


def _log10_param(space: SearchSpace, name: str, p: Range) -> str:
    """A log-sampled float searched as its log10_<name> twin, which the benchmark turns back into ``name``.

    A ``10^x`` trafo would be sent to the benchmark after the Supervisor's toJSON rounds it to 4 decimals.
    """
    if name not in LOG10_TWINS:
        raise TybaltInputError(f"{space.source}: parameters.{name} is log-sampled, but mlrMBO passes proposals "
                               f"rounded to 4 decimals and {name} has no log10_ twin (only "
                               f"{', '.join(sorted(LOG10_TWINS))} do); use a list or a linear range for {name}")
    return (f'makeNumericParam("{LOG10_TWINS[name]}", lower = {_r_literal(math.log10(p.low))}, '
            f"upper = {_r_literal(math.log10(p.high))})")


def _index_count(p: Range) -> int:
    """Values of an indexed range: low, low + step, ... up to high."""
    return int(math.floor((p.high - p.low) / (p.step or 1) + 1e-9)) + 1


def _index_param(name: str, p: Range) -> str:
    """An integer index 1..n whose trafo gives low + step * (index - 1), so mlrMBO-ils.R narrows it."""
    step = p.step or 1
    start, step = (f"{int(p.low)}L", f"{int(step)}L") if p.integer else (_r_literal(p.low), _r_literal(step))
    return (f'makeIntegerParam("{name}", lower = 1, upper = {_index_count(p)}, '
            f"trafo = function(x) {start} + {step} * (x - 1L))")


def _r_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _shell_settings(space: SearchSpace, title: str, settings: dict[str, Any]) -> str:
    """A bash file of ``export KEY=${KEY:-default}`` lines (the environment wins), with a comment where useful."""
    lines = [f"# {title} for {space.name}: {space.description}",
             f"# Generated from {space.name}.yaml by Tybalt/workflow_files.py; edit the YAML, not this file."]
    for key, value in settings.items():
        lines += [f"# {SETTING_NOTES[key]}"] if key in SETTING_NOTES else []
        lines.append(f"export {key}=${{{key}:-{value}}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command line: regenerate the workflow files from the YAML search spaces."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(lambda: _generate_from_command_line(argv))


def _generate_from_command_line(argv: list[str] | None) -> None:
    """Parse the command line, write the files of every YAML and print their paths."""
    parser = OneLineErrorParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--yaml_dir", default=WORKFLOWS_DIR, help="folder of search-space YAML files")
    parser.add_argument("--output_dir", default=WORKFLOWS_DIR, help="folder to write the generated files to")
    args = parser.parse_args(argv)
    for path in write_workflow_files(args.yaml_dir, args.output_dir):
        print(path)

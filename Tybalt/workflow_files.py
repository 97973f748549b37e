"""Write the files the CANDLE supervisors consume from each search-space YAML in workflows/.

Grid spaces (every parameter a list) give the UPF file, a Biowulf grid ``.in`` and ``cfg-sys``; spaces with
ranges give the mlrMBO ParamHelpers ``.R`` file, ``cfg-prm``, ``cfg-sys`` and a Biowulf bayesian ``.in``.

    python Tybalt/workflow_files.py [--output_dir workflows]
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
from typing import Any

import tybalt
from atomic_files import write_text
from candle_compat import read_config_file
from cli import OneLineErrorParser, run_command
from errors import TybaltInputError
from search_space import WORKFLOWS_DIR, Discrete, Range, SearchSpace, grid_points, load_search_space

logger = logging.getLogger(__name__)

MODEL_SCRIPT = "$(pwd)/Tybalt/tybalt_baseline_keras2.py"  # Biowulf .in files are submitted from the repo root
BIOWULF_CONTROL = {"nworkers": 4, "worker_type": "v100x", "walltime": "12:00:00", "run_workflow": 1}
MLRMBO_ITERATIONS = 3
SYSTEM_SETTINGS = {"PROCS": 6, "PPN": 1, "WALLTIME": "12:00:00", "QUEUE": "gpu", "BENCHMARK_TIMEOUT": 7200}


def upf_lines(space: SearchSpace) -> list[str]:
    """One JSON object per grid point, each with a unique id naming the space and the point's number."""
    width = len(str(space.grid_size))
    return [json.dumps({"id": f"{space.name}_{i:0{width}d}", **point})
            for i, point in enumerate(grid_points(space), start=1)]


def mlrmbo_params(space: SearchSpace) -> list[str]:
    """ParamHelpers constructors, one per parameter; fixed values become one-value discrete parameters."""
    fixed = [_discrete_param(name, (value,)) for name, value in space.fixed.items()]
    return fixed + [_discrete_param(name, p.values) if isinstance(p, Discrete) else _range_param(name, p)
                    for name, p in space.parameters.items()]


def mlrmbo_param_set_file(space: SearchSpace) -> str:
    """The R file the mlrMBO workflow sources: ``param.set <- makeParamSet(...)``."""
    body = ",\n".join(f"  {line}" for line in mlrmbo_params(space))
    return (f"# {space.name}: {space.description}\n# Generated from {space.name}.yaml by "
            f"Tybalt/workflow_files.py; edit the YAML, not this file.\nparam.set <- makeParamSet(\n{body}\n)\n")


def design_size(space: SearchSpace) -> int:
    """Initial design points: at least the largest discrete value count (the R driver stops otherwise)
    and at least twice the number of searched parameters."""
    counts = [len(p.values) if isinstance(p, Discrete) else _step_index_bounds(p)[1] + 1
              for p in space.parameters.values() if isinstance(p, Discrete) or p.step]
    return max(counts + [2 * len(space.parameters)])


def cfg_prm_file(space: SearchSpace) -> str:
    """mlrMBO settings; every value can still be overridden from the environment."""
    size = design_size(space)
    settings = {"PARAM_SET_FILE": f"$EMEWS_PROJECT_ROOT/data/{space.name}.R", "DESIGN_SIZE": size,
                "PROPOSE_POINTS": size, "MAX_ITERATIONS": MLRMBO_ITERATIONS,
                "MAX_BUDGET": size * (MLRMBO_ITERATIONS + 1)}
    return _shell_settings(space, "mlrMBO parameters (cfg-prm)", settings)


def cfg_sys_file(space: SearchSpace) -> str:
    """Supervisor system settings: processes, walltime, queue, the per-trial timeout."""
    return _shell_settings(space, "Supervisor system settings (cfg-sys)", SYSTEM_SETTINGS)


def default_model_lines(overrides: dict[str, Any]) -> list[str]:
    """``key = value`` lines of tybalt_default_model.txt (Python literals), with ``overrides`` applied."""
    definitions = {d["name"]: d for d in tybalt.additional_definitions}
    defaults = read_config_file(os.path.join(tybalt.FILE_PATH, tybalt.DEFAULT_MODEL_FILE), definitions)
    return [f"{key} = {value!r}" for key, value in {**defaults, **overrides}.items()]


def biowulf_input_file(space: SearchSpace) -> str:
    """``candle submit-job`` input: &control, &default_model and &param_space sections, each closed by '/'."""
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
    return "\n".join(f"&{title}\n" + "".join(f"  {line}\n" for line in lines) + "/\n" for title, lines in sections)


def workflow_files(space: SearchSpace) -> dict[str, str]:
    """File name -> contents of everything generated from one search space."""
    files = {f"cfg-sys-{space.name}.sh": cfg_sys_file(space), f"{space.name}.in": biowulf_input_file(space)}
    if space.is_grid:
        files[f"{space.name}.upf"] = "\n".join(upf_lines(space)) + "\n"
    else:
        files[f"{space.name}.R"] = mlrmbo_param_set_file(space)
        files[f"cfg-prm-{space.name}.sh"] = cfg_prm_file(space)
    return files


def write_workflow_files(yaml_dir: str, output_dir: str) -> list[str]:
    """Generate the files of every YAML in ``yaml_dir`` into ``output_dir``; return the paths written."""
    paths = sorted(glob.glob(os.path.join(yaml_dir, "*.yaml")))
    if not paths:
        raise TybaltInputError(f"no search-space YAML files in {yaml_dir}; add one (see README_hpo.md)")
    os.makedirs(output_dir, exist_ok=True)
    written = []
    for path in paths:
        for name, text in workflow_files(load_search_space(path)).items():
            write_text(os.path.join(output_dir, name), text)
            written.append(os.path.join(output_dir, name))
    return written


def _discrete_param(name: str, values: tuple) -> str:
    return f'makeDiscreteParam("{name}", values = c({", ".join(_r_literal(v) for v in values)}))'


def _range_param(name: str, p: Range) -> str:
    """Integer, numeric, log-scaled (exponent + trafo) or stepped (index + trafo) ParamHelpers parameter."""
    if p.step:
        low, high = _step_index_bounds(p)
        start, step = (f"{int(p.low)}L", f"{int(p.step)}L") if p.integer else (_r_literal(p.low), _r_literal(p.step))
        return (f'makeIntegerParam("{name}", lower = {low}, upper = {high}, '
                f"trafo = function(x) {start} + {step} * x)")
    if p.sampling == "log":
        transform = "round(10^x)" if p.integer else "10^x"
        return (f'makeNumericParam("{name}", lower = {_r_literal(math.log10(p.low))}, '
                f"upper = {_r_literal(math.log10(p.high))}, trafo = function(x) {transform})")
    if p.integer:
        return f'makeIntegerParam("{name}", lower = {int(p.low)}, upper = {int(p.high)})'
    return f'makeNumericParam("{name}", lower = {_r_literal(p.low)}, upper = {_r_literal(p.high)})'


def _step_index_bounds(p: Range) -> tuple[int, int]:
    """Index range 0..n of a stepped range, so value = low + step * index stays within [low, high]."""
    return 0, int(math.floor((p.high - p.low) / p.step + 1e-9))


def _r_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _shell_settings(space: SearchSpace, title: str, settings: dict[str, Any]) -> str:
    lines = [f"# {title} for {space.name}: {space.description}",
             f"# Generated from {space.name}.yaml by Tybalt/workflow_files.py; edit the YAML, not this file."]
    lines += [f'export {key}=${{{key}:-{value}}}' for key, value in settings.items()]
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


if __name__ == "__main__":
    main()

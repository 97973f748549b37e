"""Search spaces: one YAML definition of the hyperparameters to explore, read by every HPO backend.

A file under ``workflows/`` (or any path) looks like::

    name: tybalt_grid            # optional, defaults to the file stem
    description: one line
    fixed: {model_type: vae}     # optional: held constant in every trial
    parameters:
      depth: [0, 1]                                              # a list: discrete values (grid)
      learning_rate: {min: 0.0005, max: 0.0025, sampling: log}   # a float range (sampling: linear|log)
      epochs: {min: 10, max: 100, step: 10}                      # an int range (ints, or type: int)

The backends are the grid (``grid_points``), KerasTuner (``define_hyperparameters``) and the workflow-file
generator (``workflow_files.py``: UPF, mlrMBO, Biowulf ``.in``).
"""

from __future__ import annotations

import difflib
import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

import tybalt
from errors import TybaltInputError
from parameters import check_parameters
from user_files import read_text, require_file

WORKFLOWS_DIR = os.path.join(os.path.dirname(tybalt.FILE_PATH), "workflows")
TOP_LEVEL_KEYS = ("name", "description", "fixed", "parameters")
RANGE_KEYS = ("min", "max", "step", "sampling", "type")
SAMPLINGS = ("linear", "log")
DEFINITIONS = {d["name"]: d for d in tybalt.additional_definitions}
# Parameters that change the data set: an in-process search loads the data once, so they cannot vary between trials.
DATA_PARAMETERS = {"data_source", "data_dir", "train_data", "clinical_data", "synthetic_samples", "synthetic_genes",
                   "val_split", "rng_seed", "toy_samples", "toy_variant", "num_genes", "gene_selection", "scaling"}


@dataclass(frozen=True)
class Discrete:
    """A parameter that takes one of a list of values."""

    values: tuple


@dataclass(frozen=True)
class Range:
    """A parameter drawn from [low, high]: integer or float, optionally stepped or log-sampled."""

    low: float
    high: float
    integer: bool
    step: float | None = None
    sampling: str = "linear"


Parameter = Union[Discrete, Range]


@dataclass
class SearchSpace:
    """A named search space: fixed values plus the parameters that vary."""

    name: str
    description: str
    fixed: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Parameter] = field(default_factory=dict)
    source: str = ""

    @property
    def is_grid(self) -> bool:
        """True when every parameter is a list of values, so the space can be enumerated."""
        return all(isinstance(p, Discrete) for p in self.parameters.values())

    @property
    def grid_size(self) -> int:
        """Number of points of a grid space."""
        return math.prod(len(p.values) for p in self.parameters.values())


def resolve_path(name_or_path: str) -> str:
    """The YAML file for a search-space name in workflows/ (``tybalt_grid``) or an existing path."""
    if os.path.lexists(name_or_path):
        require_file(name_or_path, "search-space file", "give the path of a search-space YAML file")
        return name_or_path
    candidate = os.path.join(WORKFLOWS_DIR, f"{name_or_path}.yaml")
    if os.path.isfile(candidate):
        return candidate
    known = sorted(stem[:-5] for stem in os.listdir(WORKFLOWS_DIR) if stem.endswith(".yaml"))
    raise TybaltInputError(f"search_space {name_or_path!r} is neither a file nor a name in {WORKFLOWS_DIR}; "
                           f"give a YAML path or one of: {', '.join(known)}")


def load_search_space(name_or_path: str) -> SearchSpace:
    """Read and validate a search-space YAML file; raise TybaltInputError naming the file, key and fix."""
    path = resolve_path(name_or_path)
    text = read_text(path, "search-space file", "give the path of a search-space YAML file")
    try:
        document = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:
        raise TybaltInputError(f"{path}: not valid YAML ({_yaml_problem(error)}); fix the syntax") from None
    if not isinstance(document, dict):
        raise TybaltInputError(f"{path}: expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}")
    _check_keys(path, "top level", document, TOP_LEVEL_KEYS)
    parameters = document.get("parameters")
    if not isinstance(parameters, dict) or not parameters:
        raise TybaltInputError(f"{path}: 'parameters' must be a non-empty mapping of parameter name to "
                               "a list of values or a {min, max} range")
    fixed = document.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise TybaltInputError(f"{path}: 'fixed' must be a mapping of parameter name to one value")
    for section, mapping in (("fixed", fixed), ("parameters", parameters)):
        _check_names_are_text(path, section, mapping)
    both = sorted(set(fixed) & set(parameters))
    if both:
        raise TybaltInputError(f"{path}: {', '.join(both)} both fixed and searched; keep it in one of the two")
    stem = os.path.splitext(os.path.basename(path))[0]
    fixed = {name: _checked_value(path, f"fixed.{name}", name, value) for name, value in fixed.items()}
    # Searched values are checked together with the fixed ones (e.g. the depths a model_type supports).
    context = {"model_type": DEFINITIONS["model_type"]["default"], **fixed}
    return SearchSpace(
        name=str(document.get("name") or stem), description=str(document.get("description") or ""),
        fixed=fixed, source=path,
        parameters={name: _parse_parameter(path, name, spec, context) for name, spec in parameters.items()})


def grid_points(space: SearchSpace) -> list[dict[str, Any]]:
    """Every combination of a grid space's values (fixed values included), in a stable order."""
    if not space.is_grid:
        ranged = [name for name, p in space.parameters.items() if isinstance(p, Range)]
        raise TybaltInputError(f"{space.source}: {', '.join(ranged)} are ranges; a grid needs lists of values")
    names = list(space.parameters)
    combinations = itertools.product(*(space.parameters[name].values for name in names))
    return [{**space.fixed, **dict(zip(names, values))} for values in combinations]


def define_hyperparameters(space: SearchSpace, hp) -> dict[str, Any]:
    """Declare the space on a KerasTuner ``HyperParameters`` and return this trial's values (fixed included)."""
    values = dict(space.fixed)
    for name, parameter in space.parameters.items():
        if isinstance(parameter, Discrete):
            values[name] = hp.Choice(name, list(parameter.values), ordered=_is_numeric(parameter.values))
        elif parameter.integer:
            values[name] = hp.Int(name, int(parameter.low), int(parameter.high), step=int(parameter.step or 1),
                                  sampling=parameter.sampling)
        else:
            values[name] = hp.Float(name, parameter.low, parameter.high, step=parameter.step,
                                    sampling=parameter.sampling)
    return values


def check_space_for_search(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """The parameters of an in-process search (the space's fixed values applied), checked before TensorFlow starts.

    A space that varies the data set is refused: one search loads the data once.
    """
    varied = sorted(set(space.parameters) & DATA_PARAMETERS)
    if varied:
        raise TybaltInputError(f"{space.source}: {', '.join(varied)} change the data set and cannot vary within "
                               "one KerasTuner search; move them to 'fixed' or run one search per value")
    return check_parameters({**params, **space.fixed})


def _parse_parameter(path: str, name: str, spec: Any, context: dict[str, Any]) -> Parameter:
    """One entry of ``parameters``: a list becomes Discrete, a mapping a Range."""
    if name not in DEFINITIONS:
        raise TybaltInputError(f"{path}: unknown parameter {name!r}{_suggestion(name, DEFINITIONS)}; "
                               "use a name from tybalt.additional_definitions")
    if isinstance(spec, list):
        if not spec:
            raise TybaltInputError(f"{path}: parameters.{name} is an empty list; give at least one value")
        values = tuple(_checked_value(path, f"parameters.{name}", name, value, context) for value in spec)
        if len(set(values)) != len(values):
            raise TybaltInputError(f"{path}: parameters.{name} repeats a value; list each value once")
        return Discrete(values)
    if isinstance(spec, dict):
        return _parse_range(path, name, spec, context)
    raise TybaltInputError(f"{path}: parameters.{name} = {spec!r}; write a list of values [a, b] "
                           "or a range {min: a, max: b}")


def _parse_range(path: str, name: str, spec: dict, context: dict[str, Any]) -> Range:
    """A {min, max[, step][, sampling][, type]} mapping, checked against the parameter's declared type."""
    where = f"parameters.{name}"
    _check_keys(path, where, spec, RANGE_KEYS)
    if "min" not in spec or "max" not in spec:
        raise TybaltInputError(f"{path}: {where} needs both min and max")
    declared = DEFINITIONS[name]["type"]
    if declared not in (int, float):
        raise TybaltInputError(f"{path}: {where} is not numeric; give a list of values instead of a range")
    kind = spec.get("type", "int" if all(_is_int(spec[k]) for k in ("min", "max")) else "float")
    if kind not in ("int", "float"):
        raise TybaltInputError(f"{path}: {where}.type = {kind!r}; use int or float")
    if kind == "float" and declared is int:
        raise TybaltInputError(f"{path}: {where} is an integer parameter; write min and max as integers")
    low, high = (_checked_value(path, f"{where}.{k}", name, spec[k], context) for k in ("min", "max"))
    if low >= high:
        raise TybaltInputError(f"{path}: {where} has min {low} >= max {high}; make min smaller than max")
    sampling = spec.get("sampling", "linear")
    if sampling not in SAMPLINGS:
        raise TybaltInputError(f"{path}: {where}.sampling = {sampling!r}{_suggestion(str(sampling), SAMPLINGS)}; "
                               "use linear or log")
    if sampling == "log" and low <= 0:
        raise TybaltInputError(f"{path}: {where} uses log sampling with min {low}; make min positive")
    step = spec.get("step")
    if step is not None:
        if sampling == "log":
            raise TybaltInputError(f"{path}: {where} has both step and log sampling; drop one of them")
        if not _is_numeric((step,)) or not 0 < step <= high - low:
            raise TybaltInputError(f"{path}: {where}.step = {step!r}; give a positive step no larger than max - min")
        if kind == "int" and not _is_int(step):
            raise TybaltInputError(f"{path}: {where}.step must be an integer for an int range")
    return Range(low=low, high=high, integer=kind == "int", step=step, sampling=sampling)


def _checked_value(path: str, where: str, name: str, value: Any, context: dict[str, Any] | None = None) -> Any:
    """Convert one value with the parameter's declared type and range check, beside ``context`` (as a trial would)."""
    if name not in DEFINITIONS:
        raise TybaltInputError(f"{path}: unknown parameter {name!r}{_suggestion(name, DEFINITIONS)}; "
                               "use a name from tybalt.additional_definitions")
    try:
        return check_parameters({**(context or {}), name: value})[name]
    except TybaltInputError as error:
        raise TybaltInputError(f"{path}: {where}: {error}") from None


def _yaml_problem(error: Exception) -> str:
    """PyYAML's problem and where it is, on one line ('expected ',' or ']' at line 2, column 1')."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem and mark:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return " ".join(str(error).split())


def _check_names_are_text(path: str, section: str, mapping: dict) -> None:
    """YAML reads an unquoted 1, true or null as a number, boolean or None: a parameter name must be text."""
    for name in mapping:
        if not isinstance(name, str):
            raise TybaltInputError(f"{path}: {section} has the key {name!r}, which is not a parameter name; "
                                   "use a name from tybalt.additional_definitions")


def _check_keys(path: str, where: str, mapping: dict, allowed: tuple) -> None:
    for key in mapping:
        if key not in allowed:
            raise TybaltInputError(f"{path}: unknown key {key!r} in {where}{_suggestion(str(key), allowed)}; "
                                   f"allowed keys: {', '.join(allowed)}")


def _suggestion(word: str, candidates) -> str:
    """' (did you mean X?)' for a likely typo, else ''."""
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_numeric(values: tuple) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)

"""Search spaces: one YAML definition of the hyperparameters to explore, read by every HPO backend.

A file under ``workflows/`` (or any path) looks like::

    name: tybalt_grid            # optional, defaults to the file stem
    description: one line
    fixed: {model_type: vae}     # optional: held constant in every trial
    parameters:
      depth: [0, 1]                                              # a list: discrete values (grid)
      learning_rate: {min: 0.0005, max: 0.0025, sampling: log}   # a float range (sampling: linear|log)
      epochs: {min: 10, max: 100, step: 10}                      # an int range (ints, or type: int)
      hidden_dim: {values: [100, 300], when: {depth: [1]}}        # conditional: searched only when depth is 1

``when`` (on a list written as ``{values: [...]}`` or on a range) names searched list parameters listed earlier and
the values for which this one is active; elsewhere it is left out of the trial (the benchmark's default, unused).

The backends are the grid (``grid_points``), random points (``random_point``, for a random-search UPF file),
KerasTuner (``define_hyperparameters``) and the workflow-file generator (``workflow_files.py``: UPF, mlrMBO,
Biowulf ``.in``).
"""

from __future__ import annotations

import difflib
import math
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any, Iterator, Union

import yaml

from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.user_files import read_text, require_file
from tybalt_core.config import definitions
from tybalt_core.config.parameters import check_parameters

WORKFLOWS_DIR = os.path.join(os.path.dirname(definitions.BENCHMARK_DIR), "workflows")
TOP_LEVEL_KEYS = ("name", "description", "fixed", "parameters")
RANGE_KEYS = ("min", "max", "step", "sampling", "type", "when")
VALUES_KEYS = ("values", "when")
SAMPLINGS = ("linear", "log")
DEFINITIONS = definitions.DEFINITIONS
# Parameters that change the data set: an in-process search loads the data once, so they cannot vary between trials.
DATA_PARAMETERS = {"data_source", "data_dir", "train_data", "clinical_data", "synthetic_samples", "synthetic_genes",
                   "val_split", "rng_seed", "toy_samples", "toy_variant", "num_genes", "gene_selection", "scaling"}


# (parent name, the parent's values for which a parameter is active), all of which must hold
Conditions = tuple[tuple[str, tuple], ...]


@dataclass(frozen=True)
class Discrete:
    """A parameter that takes one of a list of values, active only where its ``when`` conditions hold."""

    values: tuple
    when: Conditions = ()


@dataclass(frozen=True)
class Range:
    """A parameter drawn from [low, high]: integer or float, optionally stepped or log-sampled."""

    low: float
    high: float
    integer: bool
    step: float | None = None
    sampling: str = "linear"
    when: Conditions = ()


Parameter = Union[Discrete, Range]


def searched_as_index(p: Range) -> bool:
    """Whether mlrMBO searches this range as an index from 1 (workflow_files): stepped ranges, and integer ranges
    mlrMBO-ils.R would pin (lower 0 or upper 1 make it fix the parameter at the best value instead of narrowing)."""
    return bool(p.step) or (p.integer and p.sampling == "linear" and (p.low == 0 or p.high == 1))


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
    def configuration_count(self) -> int:
        """Combinations of all listed values of a grid space, inactive conditional values included."""
        return math.prod(len(p.values) for p in self.parameters.values())

    @property
    def trial_count(self) -> int:
        """Distinct trials of a grid space: ``grid_points`` counted without enumerating them."""
        return _count_points(self.parameters, list(self.parameters), {})


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
    parsed: dict[str, Parameter] = {}
    for name, spec in parameters.items():
        parsed[name] = _parse_parameter(path, name, spec, context, parsed)
    return SearchSpace(name=str(document.get("name") or stem), description=str(document.get("description") or ""),
                       fixed=fixed, source=path, parameters=parsed)


def grid_points(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Each distinct trial of a grid space (fixed values included), lazily and in a stable order.

    A conditional parameter is varied only where it is active and left out elsewhere, so no model repeats.
    """
    if not space.is_grid:
        ranged = [name for name, p in space.parameters.items() if isinstance(p, Range)]
        raise TybaltInputError(f"{space.source}: {', '.join(ranged)} are ranges; a grid needs lists of values")
    for point in _active_points(space.parameters, list(space.parameters), {}):
        yield {**space.fixed, **point}


def random_point(space: SearchSpace, rng) -> dict[str, Any]:
    """One point drawn at random (``rng``: a NumPy Generator), fixed values included, inactive parameters left out:
    a list value uniformly, a range uniformly on its scale (log or linear) and on its steps."""
    point: dict[str, Any] = {}
    for name, parameter in space.parameters.items():
        if not _is_active(parameter, point):
            continue
        if isinstance(parameter, Discrete):
            point[name] = parameter.values[int(rng.integers(len(parameter.values)))]
        else:
            point[name] = _random_in_range(parameter, rng)
    return {**space.fixed, **point}


def _random_in_range(parameter: Range, rng) -> int | float:
    """A value of a range: on its step grid when it has a step, else uniform (in log space for log sampling)."""
    if parameter.step:
        value = parameter.low + parameter.step * int(rng.integers(int((parameter.high - parameter.low)
                                                                      // parameter.step) + 1))
    elif parameter.sampling == "log":
        value = math.exp(rng.uniform(math.log(parameter.low), math.log(parameter.high)))
    else:
        value = rng.uniform(parameter.low, parameter.high)
    return int(round(value)) if parameter.integer else float(value)


def _is_active(parameter: Parameter, point: dict[str, Any]) -> bool:
    """Whether every ``when`` condition of ``parameter`` holds for the values chosen so far."""
    return all(parent in point and point[parent] in values for parent, values in parameter.when)


def _active_points(parameters: dict[str, Parameter], names: list[str],
                   point: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Depth-first product over ``names`` (parents before children), skipping inactive parameters."""
    if not names:
        yield dict(point)
        return
    name, rest = names[0], names[1:]
    if not _is_active(parameters[name], point):
        yield from _active_points(parameters, rest, point)
        return
    for value in parameters[name].values:
        point[name] = value
        yield from _active_points(parameters, rest, point)
    del point[name]


def _count_points(parameters: dict[str, Parameter], names: list[str], point: dict[str, Any]) -> int:
    """The number of points ``_active_points`` yields, branching only on the parameters conditions read."""
    if not names:
        return 1
    name, rest = names[0], names[1:]
    if not _is_active(parameters[name], point):
        return _count_points(parameters, rest, point)
    values = parameters[name].values
    if not any(parent == name for p in parameters.values() for parent, _ in p.when):
        return len(values) * _count_points(parameters, rest, point)
    return sum(_count_points(parameters, rest, {**point, name: value}) for value in values)


def define_hyperparameters(space: SearchSpace, hp) -> dict[str, Any]:
    """Declare the space on a KerasTuner ``HyperParameters`` and return this trial's values (fixed included).

    ``when`` conditions become nested ``hp.conditional_scope``s; an inactive parameter is left out of the values.
    """
    values = dict(space.fixed)
    for name, parameter in space.parameters.items():
        with ExitStack() as scopes:
            for parent, parent_values in parameter.when:
                scopes.enter_context(hp.conditional_scope(parent, list(parent_values)))
            value = _declare(hp, name, parameter)
        if value is not None:
            values[name] = value
    return values


def check_space_for_search(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    """The parameters of an in-process search (the space's fixed values applied), checked before TensorFlow starts.

    A space that varies the data set is refused: one search loads the data once. So is campaign pruning with
    Hyperband (which stops trials itself) or the sklearn tuner (no epochs).
    """
    varied = sorted(set(space.parameters) & DATA_PARAMETERS)
    if varied:
        raise TybaltInputError(f"{space.source}: {', '.join(varied)} change the data set and cannot vary within "
                               "one KerasTuner search; move them to 'fixed' or run one search per value")
    checked = check_parameters({**params, **space.fixed})
    if checked["pruning"] != "off" and checked["tuner"] in ("hyperband", "sklearn"):
        raise TybaltInputError(f"pruning {checked['pruning']!r} does not apply to the {checked['tuner']} tuner "
                               f"({'it stops trials itself' if checked['tuner'] == 'hyperband' else 'no epochs'}); "
                               "set pruning 'off' or use tuner random, bayesian or grid")
    return checked


def _declare(hp, name: str, parameter: Parameter) -> Any:
    """One KerasTuner hyperparameter; its value, or None where its conditional scope is inactive."""
    if isinstance(parameter, Discrete):
        return hp.Choice(name, list(parameter.values), ordered=_is_numeric(parameter.values))
    if parameter.integer:
        return hp.Int(name, int(parameter.low), int(parameter.high), step=int(parameter.step or 1),
                      sampling=parameter.sampling)
    return hp.Float(name, parameter.low, parameter.high, step=parameter.step, sampling=parameter.sampling)


def _parse_parameter(path: str, name: str, spec: Any, context: dict[str, Any],
                     earlier: dict[str, Parameter]) -> Parameter:
    """One entry of ``parameters``: a list (or ``{values: [...]}``) becomes Discrete, a {min, max} mapping a Range;
    ``when`` is checked against the parameters listed ``earlier``."""
    if name not in DEFINITIONS:
        raise TybaltInputError(f"{path}: unknown parameter {name!r}{_suggestion(name, DEFINITIONS)}; "
                               "use a name from tybalt.additional_definitions")
    if DEFINITIONS[name].get("nargs"):
        raise TybaltInputError(f"{path}: parameters.{name} takes a list of values in every trial, which a search "
                               f"cannot vary; set it under 'fixed' (e.g. {name}: [0]) or on the command line")
    if isinstance(spec, list):
        return Discrete(_parse_values(path, name, spec, context))
    if not isinstance(spec, dict):
        raise TybaltInputError(f"{path}: parameters.{name} = {spec!r}; write a list of values [a, b] "
                               "or a range {min: a, max: b}")
    when = _parse_conditions(path, name, spec.get("when"), earlier)
    context = {**context, **{parent: values[0] for parent, values in when}}  # checked where it is active
    if "values" in spec:
        _check_keys(path, f"parameters.{name}", spec, VALUES_KEYS)
        return Discrete(_parse_values(path, name, spec["values"], context), when=when)
    return _parse_range(path, name, spec, context, when)


def _parse_values(path: str, name: str, spec: Any, context: dict[str, Any]) -> tuple:
    """A non-empty list of distinct values, each converted and checked as a trial would."""
    if not isinstance(spec, list):
        raise TybaltInputError(f"{path}: parameters.{name}.values = {spec!r}; write a list of values [a, b]")
    if not spec:
        raise TybaltInputError(f"{path}: parameters.{name} is an empty list; give at least one value")
    values = tuple(_checked_value(path, f"parameters.{name}", name, value, context) for value in spec)
    if len(set(values)) != len(values):
        raise TybaltInputError(f"{path}: parameters.{name} repeats a value; list each value once")
    return values


def _parse_conditions(path: str, name: str, spec: Any, earlier: dict[str, Parameter]) -> Conditions:
    """``when: {parent: [values]}``: each parent a list parameter listed before ``name``, each value one of its."""
    if spec is None:
        return ()
    where = f"parameters.{name}.when"
    if not isinstance(spec, dict) or not spec:
        raise TybaltInputError(f"{path}: {where} = {spec!r}; write a mapping such as {{depth: [1]}}")
    conditions = []
    for parent, wanted in spec.items():
        parameter = earlier.get(parent)
        if not isinstance(parameter, Discrete):
            listed = [n for n, p in earlier.items() if isinstance(p, Discrete)]
            raise TybaltInputError(f"{path}: {where} names {parent!r}, which is not a list parameter listed before "
                                   f"{name}{_suggestion(str(parent), listed)}; condition on one of: "
                                   f"{', '.join(listed) or '(none)'}")
        wanted = wanted if isinstance(wanted, list) else [wanted]
        # Converted only: membership in the parent's (already checked) values is the check that matters.
        values = tuple(_checked_value(path, f"{where}.{parent}", parent, value) for value in wanted)
        outside = [value for value in values if value not in parameter.values]
        if not values or outside:
            raise TybaltInputError(f"{path}: {where}.{parent} = {wanted!r} is not a non-empty list of {parent}'s "
                                   f"values; choose from {list(parameter.values)}")
        conditions.append((parent, values))
    _check_nested_conditions(path, name, dict(conditions), earlier)
    order = list(earlier)  # parents before their children: KerasTuner opens a parent's scope before a child's
    return tuple(sorted(conditions, key=lambda condition: order.index(condition[0])))


def _check_nested_conditions(path: str, name: str, conditions: dict[str, tuple], earlier: dict[str, Parameter]) -> None:
    """A parent that is itself conditional is only defined where its own conditions hold, so ``name`` must carry
    them too (KerasTuner cannot open the scope of a parameter that is not defined)."""
    for parent in conditions:
        for grandparent, allowed in earlier[parent].when:
            if not set(conditions.get(grandparent, allowed + (None,))) <= set(allowed):
                raise TybaltInputError(
                    f"{path}: parameters.{name}.when names {parent!r}, which is itself conditional (when: "
                    f"{{{grandparent}: {list(allowed)}}}); add that condition to {name}'s when, so {name} is "
                    f"searched only where {parent} is")


def _parse_range(path: str, name: str, spec: dict, context: dict[str, Any], when: Conditions) -> Range:
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
    return Range(low=low, high=high, integer=kind == "int", step=step, sampling=sampling, when=when)


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

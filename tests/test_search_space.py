"""Search-space YAML: the shipped spaces, grid expansion, KerasTuner mapping and the errors users see."""

import itertools
import math

import pytest

from tybalt_core.common.errors import TybaltInputError
from tybalt_core.tune.search_space import Discrete, Range, define_hyperparameters, grid_points, load_search_space


def write_yaml(tmp_path, text, name="space.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def covered_configurations(space, points):
    """Every full configuration the points stand for: an inactive parameter stands for each of its values."""
    names = list(space.parameters)
    return {tuple(zip(names, combination)) for point in points for combination in itertools.product(
        *([point[name]] if name in point else space.parameters[name].values for name in names))}


def test_tybalt_grid_covers_the_1280_point_study_grid_in_960_distinct_trials():
    space = load_search_space("tybalt_grid")
    points = list(grid_points(space))
    assert len(points) == space.trial_count == 960 and space.configuration_count == 1280
    assert len({tuple(sorted(p.items())) for p in points}) == 960
    assert len(covered_configurations(space, points)) == 1280
    assert {p["learning_rate"] for p in points} == {0.0005, 0.001, 0.0015, 0.002, 0.0025}
    assert {p["kappa"] for p in points} == {0.01, 0.05, 0.1, 1.0}
    assert {p["batch_size"] for p in points} == {50, 100, 128, 200}
    assert {p["epochs"] for p in points} == {10, 25, 50, 100}
    assert {(p["depth"], p.get("hidden_dim")) for p in points} == {(0, None), (1, 100), (1, 300)}
    assert all(p["model_type"] == "vae" for p in points)


def test_adage_grid_is_the_108_point_sweep_with_mse_loss():
    points = list(grid_points(load_search_space("adage_grid")))
    assert len(points) == 4 * 3 * 3 * 3
    assert {p["sparsity"] for p in points} == {0.0, 1e-6, 1e-3}
    assert all(p["model_type"] == "adage" and p["loss"] == "mse" for p in points)


def test_latent_dim_sweep_spans_2_to_150():
    values = load_search_space("latent_dim_sweep").parameters["latent_dim"].values
    assert min(values) == 2 and max(values) == 150


def test_bayesian_space_has_ranges_over_the_same_parameters_as_the_grid():
    bayesian, grid = load_search_space("tybalt_bayesian"), load_search_space("tybalt_grid")
    assert not bayesian.is_grid
    assert set(bayesian.parameters) == set(grid.parameters)
    assert bayesian.parameters["learning_rate"] == Range(0.0005, 0.0025, integer=False, sampling="log")
    assert bayesian.parameters["epochs"].integer and bayesian.parameters["epochs"].step == 10
    assert bayesian.parameters["hidden_dim"].when == grid.parameters["hidden_dim"].when == (("depth", (1,)),)


NESTED = """parameters:
  model_type: [vae, ae]
  depth: {values: [1, 2, 3], when: {model_type: ae}}
  hidden_dim: {values: [4, 8], when: {depth: [2, 3], model_type: [ae]}}
  latent_dim: [2, 3]
"""


def test_conditional_parameters_vary_only_where_their_parents_allow(tmp_path):
    space = load_search_space(write_yaml(tmp_path, NESTED))
    points = list(grid_points(space))
    # vae: 2 latent sizes; ae depth 1: 2; ae depth 2 or 3: 2 widths x 2 latent sizes each
    assert len(points) == space.trial_count == 2 + 2 + 2 * 2 * 2
    assert space.configuration_count == 2 * 3 * 2 * 2
    assert all("depth" not in p and "hidden_dim" not in p for p in points if p["model_type"] == "vae")
    assert all(("hidden_dim" in p) == (p["depth"] > 1) for p in points if p["model_type"] == "ae")
    assert len(covered_configurations(space, points)) == space.configuration_count


@pytest.mark.parametrize("model_type, expected", [("vae", {"model_type": "vae", "latent_dim": 2}),
                                                   ("ae", {"model_type": "ae", "depth": 2, "hidden_dim": 4,
                                                           "latent_dim": 2})])
def test_keras_tuner_accepts_a_condition_on_a_conditional_parameter_that_carries_its_conditions(
        tmp_path, model_type, expected):
    from tybalt_core.models.backend import import_keras_tuner

    space = load_search_space(write_yaml(tmp_path, NESTED))
    hp = import_keras_tuner().HyperParameters()
    hp.values.update(model_type=model_type, depth=2)
    assert define_hyperparameters(space, hp) == expected


def test_a_huge_grid_is_counted_and_enumerated_without_materialising_it(tmp_path):
    values = ", ".join(str(v) for v in range(1, 101))
    text = "parameters:\n" + "".join(f"  {name}: [{values}]\n" for name in
                                      ("latent_dim", "hidden_dim", "batch_size", "epochs", "num_genes"))
    space = load_search_space(write_yaml(tmp_path, text))
    assert space.trial_count == 100 ** 5  # 10^10 points: a list of them would not fit in memory
    first = next(grid_points(space))
    assert first == {"latent_dim": 1, "hidden_dim": 1, "batch_size": 1, "epochs": 1, "num_genes": 1}


def test_a_space_loads_by_path_and_values_get_the_parameter_types(tmp_path):
    path = write_yaml(tmp_path, "parameters:\n  kappa: [1, '0.5']\n  epochs: {min: 1, max: 5}\n")
    space = load_search_space(path)
    assert space.name == "space"
    assert space.parameters["kappa"] == Discrete((1.0, 0.5))
    assert space.parameters["epochs"] == Range(1, 5, integer=True)


@pytest.mark.parametrize("text, expected", [
    ("parameter:\n  depth: [0, 1]\n", "did you mean 'parameters'"),
    ("parameters:\n  learning_rat: [0.1]\n", "did you mean 'learning_rate'"),
    ("parameters:\n  depth: []\n", "empty list"),
    ("parameters:\n  epochs: {min: 10, max: 10}\n", "min 10 >= max 10"),
    ("parameters:\n  epochs: {min: 1, mx: 10}\n", "did you mean 'max'"),
    ("parameters:\n  kappa: {min: 0.1, max: 1.0, sampling: logg}\n", "did you mean 'log'"),
    ("parameters:\n  epochs: {min: 1.5, max: 10.0}\n", "integer parameter"),
    ("parameters:\n  model_type: [vae, gan]\n", "not one of"),
    ("parameters:\n  depth: [0, 2]\n", "not supported by model_type 'vae'"),
    ("fixed:\n  depth: 1\nparameters:\n  depth: [0, 1]\n", "both fixed and searched"),
    ("parameters:\n  depth: [0, 1]\n  hidden_dim: {values: [8], when: {dept: [1]}}\n",
     "names 'dept', which is not a list parameter listed before hidden_dim (did you mean 'depth'?)"),
    ("parameters:\n  hidden_dim: {values: [8], when: {depth: [1]}}\n  depth: [0, 1]\n",
     "not a list parameter listed before hidden_dim"),
    ("parameters:\n  epochs: {min: 1, max: 5}\n  hidden_dim: {values: [8], when: {epochs: [2]}}\n",
     "names 'epochs', which is not a list parameter"),
    ("parameters:\n  latent_dim: [2, 3]\n  hidden_dim: {values: [8], when: {latent_dim: [2, 4]}}\n",
     "when.latent_dim = [2, 4] is not a non-empty list of latent_dim's values; choose from [2, 3]"),
    ("parameters:\n  depth: [0, 1]\n  hidden_dim: {values: [8], when: [depth]}\n", "write a mapping"),
    ("parameters:\n  depth: [0, 1]\n  hidden_dim: {values: [8], wen: {depth: 1}}\n", "did you mean 'when'"),
])
def test_mistakes_raise_one_error_naming_file_key_and_fix(tmp_path, text, expected):
    path = write_yaml(tmp_path, text)
    with pytest.raises(TybaltInputError) as error:
        load_search_space(path)
    assert path in str(error.value)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_an_unknown_space_name_lists_the_shipped_ones():
    with pytest.raises(TybaltInputError, match="tybalt_grid"):
        load_search_space("no_such_space")


def test_keras_tuner_hyperparameters_cover_the_space_with_its_bounds():
    from tybalt_core.models.backend import import_keras_tuner

    kt = import_keras_tuner()
    hp = kt.HyperParameters()
    values = define_hyperparameters(load_search_space("tybalt_bayesian"), hp)
    assert values["model_type"] == "vae"
    declared = {p.name: p for p in hp.space}
    assert set(declared) == {"depth", "hidden_dim", "kappa", "batch_size", "epochs", "learning_rate"}
    assert list(declared["depth"].values) == [0, 1]
    assert (declared["epochs"].min_value, declared["epochs"].max_value, declared["epochs"].step) == (10, 100, 10)
    assert declared["learning_rate"].sampling == "log"
    assert math.isclose(declared["learning_rate"].max_value, 0.0025)
    assert "hidden_dim" not in values  # the default depth 0 leaves hidden_dim inactive
    assert declared["hidden_dim"].conditions[0].name == "depth"
    assert list(declared["hidden_dim"].conditions[0].values) == [1]
    deep = kt.HyperParameters()
    deep.values["depth"] = 1
    assert define_hyperparameters(load_search_space("tybalt_bayesian"), deep)["hidden_dim"] == 100


def test_random_points_stay_in_the_space_on_its_scales_and_respect_conditions():
    import numpy as np

    from tybalt_core.config.parameters import check_parameters
    from tybalt_core.config.definitions import DEFINITIONS
    from tybalt_core.tune.search_space import random_point

    rng = np.random.default_rng(0)
    points = [random_point(load_search_space("tybalt_bayesian"), rng) for _ in range(300)]
    defaults = {name: definition["default"] for name, definition in DEFINITIONS.items()}
    for point in points:
        check_parameters({**defaults, **point})  # every value is one the benchmark accepts
        assert point["model_type"] == "vae" and ("hidden_dim" in point) == (point["depth"] == 1)
        assert 0.01 <= point["kappa"] <= 1 and 0.0005 <= point["learning_rate"] <= 0.0025
        assert isinstance(point["batch_size"], int) and 50 <= point["batch_size"] <= 200
    assert {p["epochs"] for p in points} == set(range(10, 101, 10))  # every step, both ends included
    assert {p["hidden_dim"] for p in points if "hidden_dim" in p} == {100, 150, 200, 250, 300}
    # log sampling: about half of kappa's draws fall below 0.1, the geometric middle of 0.01-1 (linear: 9 %)
    assert 0.4 < np.mean([p["kappa"] < 0.1 for p in points]) < 0.6


def test_the_study_grid_keeps_campaign_pruning_off():
    # it maps the whole grid: no trial may be stopped for looking worse than its peers
    from tybalt_core.config.definitions import DEFINITIONS

    space = load_search_space("tybalt_grid")
    assert "pruning" not in {**space.fixed, **space.parameters} and DEFINITIONS["pruning"]["default"] == "off"

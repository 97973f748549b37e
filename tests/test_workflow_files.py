"""Supervisor workflow files: committed copies match the generator, and their formats are what the tools read."""

import filecmp
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO
from search_space import Discrete, load_search_space
from workflow_files import WORKFLOWS_DIR, design_size, write_workflow_files

import tybalt

DEFINED = {d["name"] for d in tybalt.additional_definitions}


def test_committed_workflow_files_are_what_the_generator_writes(tmp_path):
    written = write_workflow_files(WORKFLOWS_DIR, str(tmp_path))
    names = sorted(os.path.basename(p) for p in written)
    hand_written = ("run_campaign.sh", "engine", "site")  # the campaign launcher, its engine build and site files
    committed = sorted(n for n in os.listdir(WORKFLOWS_DIR) if not n.endswith(".yaml") and n not in hand_written)
    assert names == committed, "run `make workflows` and commit workflows/"
    _, mismatch, errors = filecmp.cmpfiles(WORKFLOWS_DIR, str(tmp_path), names, shallow=False)
    assert mismatch == [] and errors == [], "run `make workflows` and commit workflows/"


def test_grid_upf_has_1280_unique_ids_and_configurations():
    with open(os.path.join(WORKFLOWS_DIR, "tybalt_grid.upf")) as handle:
        trials = [json.loads(line) for line in handle]
    assert len(trials) == 1280
    assert len({t["id"] for t in trials}) == 1280
    assert len({json.dumps({k: v for k, v in t.items() if k != "id"}, sort_keys=True) for t in trials}) == 1280


def test_every_upf_key_is_a_benchmark_parameter():
    for name in os.listdir(WORKFLOWS_DIR):
        if name.endswith(".upf"):
            with open(os.path.join(WORKFLOWS_DIR, name)) as handle:
                keys = {k for line in handle for k in json.loads(line)} - {"id"}
            assert keys <= DEFINED, name


def read_sections(path):
    """Section name -> body lines of a Biowulf .in file; asserts every section is closed by '/'."""
    sections, current = {}, None
    with open(path) as handle:
        for line in handle.read().splitlines():
            if line.startswith("&"):
                assert current is None, f"{path}: section {current} not closed by '/'"
                current = line[1:]
                sections[current] = []
            elif line.strip() == "/":
                current = None
            elif current is not None:
                sections[current].append(line.strip())
    assert current is None
    return sections


@pytest.mark.parametrize("name", ["tybalt_grid", "tybalt_bayesian", "adage_grid", "latent_dim_sweep"])
def test_biowulf_input_files_have_the_three_sections(name):
    sections = read_sections(os.path.join(WORKFLOWS_DIR, f"{name}.in"))
    assert list(sections) == ["control", "default_model", "param_space"]
    control = dict(line.split(" = ", 1) for line in sections["control"])
    space = load_search_space(name)
    assert control["workflow"] == ("grid" if space.is_grid else "bayesian")
    assert control["model_script"].endswith("Tybalt/tybalt_baseline_keras2.py")
    defaults = dict(line.split(" = ", 1) for line in sections["default_model"])
    assert set(defaults) == DEFINED, "every default_model key is a benchmark parameter and none is missing"
    for key, value in space.fixed.items():
        assert defaults[key] == repr(value)
    if space.is_grid:
        assert len(sections["param_space"]) == space.grid_size
        assert all(json.loads(line)["id"] for line in sections["param_space"])
    else:
        assert int(control["design_size"]) >= max(len(p.values) for p in space.parameters.values()
                                                   if isinstance(p, Discrete))
        assert all(re.match(r'make(Discrete|Integer|Numeric)Param\("\w+", ', line)
                   for line in sections["param_space"])


def test_model_script_is_used_directly_by_candle_submit_job():
    with open(os.path.join(REPO, "Tybalt", "tybalt_baseline_keras2.py")) as handle:
        lines = handle.read().splitlines()
    assert any(line.startswith("def run(") for line in lines)
    assert any(line.startswith("def initialize_parameters(") for line in lines)


def test_design_size_covers_the_largest_discrete_parameter(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text("parameters:\n  latent_dim: [2, 4, 8, 16, 32, 64, 128, 256, 300, 400, 500, 600, 700]\n"
                    "  kappa: {min: 0.1, max: 1.0}\n")
    assert design_size(load_search_space(str(path))) >= 13


@pytest.mark.skipif(shutil.which("Rscript") is None,
                    reason="Rscript not installed (apt-get install r-cran-paramhelpers)")
def test_mlrmbo_parameter_file_parses_with_paramhelpers():
    if subprocess.run(["Rscript", "-e", "library(ParamHelpers)"], capture_output=True).returncode != 0:
        pytest.skip("R package ParamHelpers not installed (apt-get install r-cran-paramhelpers)")
    script = (
        "suppressMessages(library(ParamHelpers)); "
        f"source('{os.path.join(WORKFLOWS_DIR, 'tybalt_bayesian.R')}'); "
        "stopifnot(inherits(param.set, 'ParamSet')); cat(getParamIds(param.set), sep=','); cat('\\n'); "
        "set.seed(1); d <- generateDesign(200, param.set, trafo = TRUE); "
        "cat(range(d$learning_rate), range(d$epochs), range(d$hidden_dim), sep=',')")
    result = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    ids, ranges = result.stdout.strip().splitlines()
    assert ids.split(",") == ["model_type", "depth", "hidden_dim", "kappa", "batch_size", "epochs",
                              "learning_rate"]
    lr_low, lr_high, ep_low, ep_high, hd_low, hd_high = map(float, ranges.split(","))
    assert 0.0005 <= lr_low < lr_high <= 0.0025
    assert 10 <= ep_low < ep_high <= 100 and ep_low % 10 == 0 and ep_high % 10 == 0
    assert 100 <= hd_low < hd_high <= 300

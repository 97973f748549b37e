"""Supervisor workflow files: committed copies match the generator, and their formats are what the tools read."""

import filecmp
import json
import math
import os
import re
import shutil
import subprocess

import pytest

import tybalt
from conftest import REPO
from tybalt_core.candle.workflow_files import WORKFLOWS_DIR, design_size, write_workflow_files
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config.parameters import check_parameters
from tybalt_core.tune.search_space import Discrete, load_search_space

DEFINED = {d["name"] for d in tybalt.additional_definitions}


def test_committed_workflow_files_are_what_the_generator_writes(tmp_path):
    written = write_workflow_files(WORKFLOWS_DIR, str(tmp_path))
    names = sorted(os.path.basename(p) for p in written)
    hand_written = ("run_campaign.sh", "engine", "site")  # the campaign launcher, its engine build and site files
    committed = sorted(n for n in os.listdir(WORKFLOWS_DIR) if not n.endswith(".yaml") and n not in hand_written)
    assert names == committed, "run `make workflows` and commit workflows/"
    _, mismatch, errors = filecmp.cmpfiles(WORKFLOWS_DIR, str(tmp_path), names, shallow=False)
    assert mismatch == [] and errors == [], "run `make workflows` and commit workflows/"


@pytest.mark.parametrize("name, n_trials, n_configurations", [("tybalt_grid", 960, 1280), ("toy_depth_width", 21, 24)])
def test_grid_upf_trains_each_distinct_model_once_and_covers_every_configuration(name, n_trials, n_configurations):
    with open(os.path.join(WORKFLOWS_DIR, f"{name}.upf")) as handle:
        trials = [json.loads(line) for line in handle]
    assert len(trials) == n_trials
    assert len({t["id"] for t in trials}) == n_trials
    assert len({json.dumps({k: v for k, v in t.items() if k != "id"}, sort_keys=True) for t in trials}) == n_trials
    # A trial without hidden_dim (depth 0, where it is unused) stands for every listed width.
    widths = load_search_space(name).parameters["hidden_dim"].values
    covered = {(t["depth"], width, *(t[k] for k in sorted(t) if k not in ("id", "depth", "hidden_dim")))
               for t in trials for width in ([t["hidden_dim"]] if "hidden_dim" in t else widths)}
    assert len(covered) == n_configurations
    assert all(("hidden_dim" in t) == (t["depth"] > 0) for t in trials)


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
        assert len(sections["param_space"]) == space.trial_count
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


def require_r_packages(*packages):
    """Skip unless Rscript can load ``packages`` (.ci/run installs them on CI)."""
    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed (apt-get install r-cran-paramhelpers r-cran-jsonlite)")
    loads = "; ".join(f"library({package})" for package in packages)
    if subprocess.run(["Rscript", "-e", loads], capture_output=True).returncode != 0:
        pytest.skip(f"R packages {', '.join(packages)} not all installed (apt-get install r-cran-paramhelpers "
                    "r-cran-jsonlite)")


def run_r(script, r_file=os.path.join(WORKFLOWS_DIR, "tybalt_bayesian.R")):
    """Source a generated .R file with ParamHelpers loaded, run ``script``, return its output lines."""
    prelude = f"suppressMessages(library(ParamHelpers)); source('{r_file}'); "
    result = subprocess.run(["Rscript", "-e", prelude + script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()


def test_mlrmbo_parameter_file_parses_with_paramhelpers():
    require_r_packages("ParamHelpers")
    ids, ranges = run_r(
        "stopifnot(inherits(param.set, 'ParamSet')); cat(getParamIds(param.set), sep=','); cat('\\n'); "
        "set.seed(1); d <- generateDesign(200, param.set, trafo = TRUE); "
        "cat(range(d$log10_learning_rate), range(d$epochs), range(d$hidden_dim), sep=',')")
    assert ids.split(",") == ["model_type", "data_source", "ckpt_save_interval", "ckpt_save_minutes", "lean_outputs",
                              "save_model", "depth", "hidden_dim", "log10_kappa", "batch_size", "epochs",
                              "log10_learning_rate"]
    lr_low, lr_high, ep_low, ep_high, hd_low, hd_high = map(float, ranges.split(","))
    assert math.log10(0.0005) <= lr_low < lr_high <= math.log10(0.0025)
    assert 10 <= ep_low < ep_high <= 100 and ep_low % 10 == 0 and ep_high % 10 == 0
    assert 100 <= hd_low < hd_high <= 300


def test_integer_parameters_are_indexed_so_mlrmbo_ils_narrows_them_instead_of_pinning_them():
    # mlrMBO-ils.R fixes an important integer parameter at its best value when its lower bound is 0 or its upper
    # bound 1, and narrows it (best +- 10 %) otherwise.
    require_r_packages("ParamHelpers")
    lines = run_r(
        "for (p in param.set$pars) if (p$type == 'integer') { values <- p$lower:p$upper; "
        "if (!is.null(p$trafo)) values <- sapply(values, p$trafo); cat(p$id, p$lower, p$upper, values, '\\n') }")
    integers = {line.split()[0]: [int(float(v)) for v in line.split()[1:]] for line in lines}
    assert set(integers) == {"hidden_dim", "batch_size", "epochs"}
    for name, (lower, upper, *values) in integers.items():
        assert lower >= 1 and upper != 1, name
    assert integers["hidden_dim"][2:] == [100, 150, 200, 250, 300]
    assert integers["epochs"][2:] == list(range(10, 101, 10))
    assert integers["batch_size"][2:] == list(range(50, 201))


# As mlrMBO and the Supervisor do it: design rows -> trafoValue -> toJSON(auto_unbox = TRUE), 4 decimals.
PROPOSALS = ("library(jsonlite); set.seed(1); xs <- dfRowsToList(generateDesign(40, param.set), param.set); "
             "xs <- lapply(xs, trafoValue, par = param.set); "
             "cat(paste0(sapply(xs, toJSON, auto_unbox = TRUE), collapse = ';'), '\\n'); ")


def test_mlrmbo_proposals_reach_the_benchmark_with_at_least_3_significant_digits():
    require_r_packages("ParamHelpers", "jsonlite")
    proposals, exact = run_r(
        PROPOSALS + "cat(sprintf('%.17g,%.17g', sapply(xs, `[[`, 'log10_learning_rate'), sapply(xs, `[[`, 'log10_kappa')), "
        "sep = ';')")
    received = [check_parameters(json.loads(text)) for text in proposals.split(";")]
    intended = [tuple(10 ** float(v) for v in pair.split(",")) for pair in exact.split(";")]
    assert len(received) == len(intended) == 40
    for trial, (learning_rate, kappa) in zip(received, intended):
        assert trial["learning_rate"] == pytest.approx(learning_rate, rel=2e-4)
        assert trial["kappa"] == pytest.approx(kappa, rel=2e-4)
        assert 0.0005 <= trial["learning_rate"] <= 0.0025 and 0.01 <= trial["kappa"] <= 1.0
    assert len({round(t["learning_rate"], 9) for t in received}) == 40
    # What the 10^x trafo sent before: 4 decimals of the learning rate itself, off by up to 10 % (0.000747 -> 0.0007).
    assert max(abs(round(learning_rate, 4) - learning_rate) / learning_rate for learning_rate, _ in intended) > 0.05


def test_fixed_and_discrete_floats_finer_than_4_decimals_reach_the_benchmark_exactly(tmp_path):
    require_r_packages("ParamHelpers", "jsonlite")
    (tmp_path / "fine.yaml").write_text("fixed:\n  learning_rate: 0.00015\nparameters:\n"
                                        "  sparsity: [0.00123, 0.5]\n  epochs: {min: 1, max: 3}\n")
    write_workflow_files(str(tmp_path), str(tmp_path))
    [proposals] = run_r(PROPOSALS, r_file=str(tmp_path / "fine.R"))
    received = [check_parameters(json.loads(text)) for text in proposals.split(";")]
    assert {t["learning_rate"] for t in received} == {0.00015}  # toJSON's 4 decimals would have sent 0.0001
    assert {t["sparsity"] for t in received} == {0.00123, 0.5}


@pytest.mark.parametrize("spec, hint", [
    ("learning_rate: {min: 0.0005, max: 0.0025}", "use sampling: log, a list of values or a wider range"),
    ("sparsity: {min: 0.0, max: 0.001}", "use a list of values or a wider range"),
    ("noise: {min: 0.0, max: 0.5, step: 0.00005}", "too fine for mlrMBO"),
])
def test_float_ranges_too_fine_for_mlrmbo_are_refused_with_the_fix(tmp_path, spec, hint):
    (tmp_path / "fine.yaml").write_text(f"parameters:\n  {spec}\n")
    with pytest.raises(TybaltInputError, match="fine.yaml") as error:
        write_workflow_files(str(tmp_path), str(tmp_path / "out"))
    assert "rounded to 4 decimals" in str(error.value) and hint in str(error.value)
    assert not (tmp_path / "out").exists()


def test_a_log10_value_rounded_to_4_decimals_gives_learning_rate_to_3_significant_digits():
    for learning_rate in (0.000747, 0.0005, 0.0025, 0.00123456, 0.0019999):
        sent = round(math.log10(learning_rate), 4)
        received = check_parameters({"log10_learning_rate": sent, "log10_kappa": round(math.log10(0.0123), 4)})
        assert received["learning_rate"] == pytest.approx(learning_rate, rel=2e-4)
        assert f"{received['learning_rate']:.3g}" == f"{learning_rate:.3g}"
        assert received["kappa"] == pytest.approx(0.0123, rel=2e-4)
        assert received["log10_learning_rate"] is None and received["log10_kappa"] is None


def test_log10_learning_rate_takes_precedence_over_learning_rate_and_is_applied_once():
    received = check_parameters({"learning_rate": 0.1, "log10_learning_rate": "-3"})  # JSON may carry text
    assert received["learning_rate"] == pytest.approx(0.001)
    assert check_parameters(received)["learning_rate"] == pytest.approx(0.001)
    assert check_parameters({"learning_rate": 0.1, "log10_learning_rate": None})["learning_rate"] == 0.1
    with pytest.raises(TybaltInputError, match="log10_learning_rate = 400.0 is out of range"):
        check_parameters({"log10_learning_rate": 400})


def sourced_settings(cfg_file, names, cwd, **environment):
    """Values of ``names`` after bash sources ``cfg_file`` (a path relative to ``cwd``) as the Supervisor does."""
    script = f"set -eu; source {cfg_file}; " + "; ".join(f'echo "${{{name}}}"' for name in names)
    result = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=30,
                            env={"PATH": os.environ["PATH"], **environment})
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_cfg_prm_points_param_set_file_at_the_r_file_beside_it_from_any_folder(tmp_path):
    relative = os.path.relpath(os.path.join(WORKFLOWS_DIR, "cfg-prm-tybalt_bayesian.sh"), tmp_path)
    [param_set_file] = sourced_settings(relative, ["PARAM_SET_FILE"], cwd=tmp_path)
    assert param_set_file == os.path.join(os.path.realpath(WORKFLOWS_DIR), "tybalt_bayesian.R")
    assert os.path.isfile(param_set_file)
    assert sourced_settings(relative, ["PARAM_SET_FILE"], cwd=tmp_path, PARAM_SET_FILE="/x/mine.R") == ["/x/mine.R"]


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(WORKFLOWS_DIR) if n.startswith("cfg-sys-")))
def test_cfg_sys_lets_a_campaign_survive_a_failed_trial_with_overridable_timeouts(name, tmp_path):
    cfg_file = os.path.join(WORKFLOWS_DIR, name)
    names = ["BENCHMARK_TIMEOUT", "SH_TIMEOUT", "IGNORE_ERRORS"]
    assert sourced_settings(cfg_file, names, cwd=tmp_path) == ["7200", "8100", "1"]
    assert sourced_settings(cfg_file, names, cwd=tmp_path, BENCHMARK_TIMEOUT="600") == ["600", "1500", "1"]
    assert sourced_settings(cfg_file, names, cwd=tmp_path, SH_TIMEOUT="50", IGNORE_ERRORS="0") == ["7200", "50", "0"]


def test_a_bad_yaml_stops_generation_before_any_file_is_replaced(tmp_path):
    yaml_dir, output_dir = tmp_path / "spaces", tmp_path / "out"
    yaml_dir.mkdir()
    output_dir.mkdir()
    (yaml_dir / "a_good.yaml").write_text("parameters:\n  latent_dim: [2, 3]\n")
    (output_dir / "a_good.upf").write_text("the previous file\n")
    for bad in ("parameters:\n  depth: [0, 1]\n  hidden_dim: {values: [8], when: {dept: [1]}}\n",
                "parameters:\n  sparsity: {min: 0.000001, max: 0.001, sampling: log}\n"):  # no log10_sparsity
        (yaml_dir / "b_bad.yaml").write_text(bad)
        with pytest.raises(TybaltInputError, match="b_bad.yaml"):
            write_workflow_files(str(yaml_dir), str(output_dir))
        assert os.listdir(output_dir) == ["a_good.upf"]
        assert (output_dir / "a_good.upf").read_text() == "the previous file\n"

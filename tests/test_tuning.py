"""In-process KerasTuner searches through run(params): every tuner, failed trials, legacy Keras, distributed mode."""

import json
import math
import os
import socket
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ENTRY_POINT
from tybalt_core.tune import hpo_results

SPACE = """description: tiny test space
parameters:
  latent_dim: [3, 6]
  depth: [0, 1]
  learning_rate: {min: 0.0005, max: 0.005, sampling: log}
"""
GRID_SPACE = """description: tiny grid with one diverging learning rate
fixed:
  optimizer: sgd
parameters:
  learning_rate: [0.001, 100000000.0]
"""
TINY = {"synthetic_samples": 300, "synthetic_genes": 200, "hidden_dim": 16, "latent_dim": 4, "epochs": 1,
        "verbose": False, "max_trials": 2}


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "tiny_space.yaml"
    path.write_text(SPACE)
    return str(path)


def search(tmp_path, data_dir, **overrides):
    """run(params) as the Supervisor or the command line would call it, with a tuner selected."""
    import tybalt_baseline_keras2 as benchmark

    params = benchmark.initialize_parameters(argv=[])
    params.update(TINY, data_dir=data_dir, output_dir=str(tmp_path / "out"), **overrides)
    history = benchmark.run(params)
    table = pd.read_csv(tmp_path / "out" / hpo_results.RESULTS_FILE)
    return history, table, json.loads((tmp_path / "out" / hpo_results.BEST_PARAMS_FILE).read_text())


def assert_all_completed(table, columns):
    assert set(table["status"]) == {hpo_results.COMPLETED}
    assert table["objective"].map(math.isfinite).all()
    assert table["val_reconstruction_mse"].between(0, 1).all()
    assert table["seconds"].gt(0).all()
    assert set(columns) <= set(table.columns)


@pytest.mark.parametrize("tuner, trials", [("random", 3), ("bayesian", 2)])
def test_keras_tuners_run_trials_and_write_the_three_outputs(tuner, trials, tmp_path, shared_data_dir, space_file):
    history, table, best = search(tmp_path, shared_data_dir, tuner=tuner, search_space=space_file,
                                  max_trials=trials)
    assert len(table) == trials
    assert_all_completed(table, ["latent_dim", "depth", "learning_rate"])
    assert best["best_objective"] == pytest.approx(table["objective"].min())
    assert history.history["val_loss"][-1] == pytest.approx(table["objective"].min())
    assert set(best["params"]) == {"latent_dim", "depth", "learning_rate"}
    assert (tmp_path / "out" / hpo_results.PLOT_FILE).stat().st_size > 0


def test_hyperband_runs_with_the_epoch_budget_from_epochs(tmp_path, shared_data_dir, space_file):
    _, table, _ = search(tmp_path, shared_data_dir, tuner="hyperband", search_space=space_file, epochs=2)
    assert len(table) >= 1
    assert_all_completed(table, ["latent_dim", "depth", "learning_rate"])
    assert not any(column.startswith("tuner/") for column in table.columns)


def test_a_diverging_trial_is_recorded_failed_and_the_grid_goes_on(tmp_path, shared_data_dir, capsys, caplog):
    space = tmp_path / "diverge.yaml"
    space.write_text(GRID_SPACE)
    _, table, best = search(tmp_path, shared_data_dir, tuner="grid", search_space=str(space), max_trials=5)
    shown = capsys.readouterr()
    assert "Traceback" not in shown.out + shown.err  # one log line per failed trial instead
    failures = [r.getMessage() for r in caplog.records if "failed:" in r.getMessage()]
    assert len(failures) == 1 and "training diverged" in failures[0]
    by_rate = dict(zip(table["learning_rate"], table["status"]))
    assert by_rate == {0.001: hpo_results.COMPLETED, 1e8: hpo_results.FAILED}
    assert table.loc[table["status"] == hpo_results.FAILED, "objective"].isna().all()
    assert best["params"] == {"optimizer": "sgd", "learning_rate": 0.001}
    assert best["completed"] == 1 and best["trials"] == 2


def test_sklearn_tunes_linear_baselines_on_the_reconstruction_scale(tmp_path, shared_data_dir):
    space = tmp_path / "latent.yaml"
    space.write_text("parameters:\n  latent_dim: [3, 6]\n")
    _, table, best = search(tmp_path, shared_data_dir, tuner="sklearn", search_space=str(space), max_trials=4)
    assert len(table) == 4
    assert_all_completed(table, ["linear_model", "latent_dim"])
    assert set(table["linear_model"]) <= {"pca", "ica", "nmf"}
    assert (table["objective"] == table["val_reconstruction_mse"]).all()
    assert best["objective"] == "cv_reconstruction_mse"
    # More PCA components never reconstruct worse.
    pca = table[table["linear_model"] == "pca"].groupby("latent_dim")["objective"].min()
    if len(pca) == 2:
        assert pca[6] <= pca[3]


def test_a_second_search_on_other_data_into_the_same_folder_trains_anew(tmp_path, shared_data_dir, space_file):
    _, first, _ = search(tmp_path, shared_data_dir, tuner="random", search_space=space_file)
    _, second, _ = search(tmp_path, shared_data_dir, tuner="random", search_space=space_file, synthetic_genes=150)
    projects = os.listdir(tmp_path / "out" / "keras_tuner")
    assert len(projects) == 2 and all(name.startswith("tiny_space_") for name in projects)
    assert len(second) == 2 and set(second["status"]) == {hpo_results.COMPLETED}
    assert set(second["objective"]).isdisjoint(first["objective"])  # its own trials, not the first search's
    _, again, _ = search(tmp_path, shared_data_dir, tuner="random", search_space=space_file, synthetic_genes=150)
    assert len(os.listdir(tmp_path / "out" / "keras_tuner")) == 2  # the same search again reloads its project
    assert list(again["objective"]) == list(second["objective"])


def test_a_search_where_no_trial_completes_is_an_error_not_a_result(tmp_path, shared_data_dir):
    from tybalt_core.common.errors import TybaltInputError

    space = tmp_path / "diverge.yaml"
    space.write_text(GRID_SPACE.replace("[0.001, 100000000.0]", "[100000000.0]"))
    with pytest.raises(TybaltInputError, match="no trial of the grid search completed"):
        search(tmp_path, shared_data_dir, tuner="grid", search_space=str(space), max_trials=5)
    assert len(pd.read_csv(tmp_path / "out" / hpo_results.RESULTS_FILE)) == 1  # the failed trial is still listed


def test_a_search_space_that_varies_the_data_is_refused(tmp_path, shared_data_dir):
    from tybalt_core.common.errors import TybaltInputError

    space = tmp_path / "data.yaml"
    space.write_text("parameters:\n  synthetic_samples: [300, 400]\n")
    with pytest.raises(TybaltInputError, match="synthetic_samples"):
        search(tmp_path, shared_data_dir, tuner="random", search_space=str(space))


def entry_point_flags(data_dir, out_dir, space_file, **extra):
    values = {**TINY, "data_dir": data_dir, "output_dir": out_dir, "search_space": space_file, **extra}
    return [str(part) for key, value in values.items() for part in (f"--{key}", value)]


def test_random_search_runs_under_legacy_keras(tmp_path, shared_data_dir, space_file):
    out = tmp_path / "legacy"
    result = subprocess.run([sys.executable, ENTRY_POINT,
                             *entry_point_flags(shared_data_dir, str(out), space_file, tuner="random")],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    table = pd.read_csv(out / hpo_results.RESULTS_FILE)
    assert len(table) == 2
    assert_all_completed(table, ["latent_dim"])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_distributed_search_runs_trials_on_both_workers_and_the_chief_records_all(tmp_path, shared_data_dir,
                                                                                   space_file):
    out = tmp_path / "distributed"
    flags = entry_point_flags(shared_data_dir, str(out), space_file, tuner="random", max_trials=4)
    oracle = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(free_port())}
    processes = {tuner_id: subprocess.Popen([sys.executable, ENTRY_POINT, *flags], stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True,
                                            env={**os.environ, **oracle, "KERASTUNER_TUNER_ID": tuner_id})
                 for tuner_id in ("chief", "tuner0", "tuner1")}
    logs = {tuner_id: process.communicate(timeout=300)[0] for tuner_id, process in processes.items()}
    for tuner_id, process in processes.items():
        assert process.returncode == 0, f"{tuner_id}:\n{logs[tuner_id][-3000:]}"
    chief = pd.read_csv(out / hpo_results.RESULTS_FILE)
    assert len(chief) == 4
    assert set(chief["status"]) == {hpo_results.COMPLETED}
    ran = {w: set(pd.read_csv(out / f"hpo_results.{w}.csv")["trial_id"].astype(str)) for w in ("tuner0", "tuner1")}
    assert ran["tuner0"] and ran["tuner1"], "each worker ran at least one trial"
    assert not ran["tuner0"] & ran["tuner1"]
    assert ran["tuner0"] | ran["tuner1"] == set(chief["trial_id"].astype(str))


def test_grid_search_over_a_conditional_space_trains_each_distinct_model_once(tmp_path, shared_data_dir):
    space = tmp_path / "conditional.yaml"
    space.write_text("parameters:\n  depth: [0, 1]\n  hidden_dim: {values: [8, 16], when: {depth: [1]}}\n")
    _, table, _ = search(tmp_path, shared_data_dir, tuner="grid", search_space=str(space), max_trials=10)
    assert_all_completed(table, ["depth", "hidden_dim"])
    trials = sorted((depth, None if math.isnan(width) else int(width))
                    for depth, width in zip(table["depth"], table["hidden_dim"]))
    assert trials == [(0, None), (1, 8), (1, 16)]  # 4 configurations, the two at depth 0 being one model

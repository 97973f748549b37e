"""Supervisor emulation: UPF lines run the way model_runner.py runs them, and the campaign aggregates."""

import json
import math
import os

import pandas as pd
import pytest

from conftest import REPO
from tybalt_core.candle import upf_runner
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.tune import hpo_results

WORKFLOWS = os.path.join(REPO, "workflows")
TINY = {"data_source": "synthetic", "synthetic_samples": 300, "synthetic_genes": 200, "latent_dim": 4,
        "hidden_dim": 16, "epochs": 1, "verbose": False, "save_model": False}  # the study grid's lines say 'tcga'



def upf_line(name, index):
    with open(os.path.join(WORKFLOWS, f"{name}.upf")) as handle:
        return [json.loads(line) for line in handle][index]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, shared_data_dir):
    """Three UPF lines from the shipped grids (VAE depth 1, ADAGE, a latent size) run into one campaign."""
    trials = [upf_line("tybalt_grid", 700), upf_line("adage_grid", 50)]
    upf = tmp_path_factory.mktemp("upf") / "mixed.upf"
    upf.write_text("".join(json.dumps(t) + "\n" for t in trials))
    folder = tmp_path_factory.mktemp("campaign") / "EXP_TINY"
    overrides = {**TINY, "data_dir": shared_data_dir, "epochs": 2}
    results = upf_runner.run_campaign(str(upf), str(folder), overrides=overrides)
    return folder, trials, results


def test_upf_trials_run_in_their_instance_folders_and_write_result_files(campaign):
    folder, trials, results = campaign
    assert list(results) == [t["id"] for t in trials]
    for trial in trials:
        instance = folder / "run" / trial["id"]
        result = float((instance / "result.txt").read_text())
        history = json.loads((instance / "history.txt").read_text())
        assert math.isfinite(result) and result == pytest.approx(history["val_loss"][-1])
        assert result == pytest.approx(results[trial["id"]])
        assert len(history["val_loss"]) == 2
        # run() derived the trial's own output folder from its run_id, inside the instance folder.
        params = json.loads((instance / "Output" / "EXP_TINY" / trial["id"] / "params.json").read_text())
        assert params["model_type"] == trial["model_type"]
        assert params["batch_size"] == trial["batch_size"]


def test_parameters_file_has_the_supervisor_layout(campaign):
    folder, trials, _ = campaign
    text = (folder / "run" / trials[1]["id"] / "parameters.txt").read_text().splitlines()
    assert text[0] == "[Global Params]" and "[Monitor Params]" in text and text[-1].startswith("timeout=")
    assert "model_type='adage'" in text and f"run_id='{trials[1]['id']}'" in text


def test_campaign_aggregates_into_the_same_results_files(campaign, tmp_path):
    folder, trials, results = campaign
    hpo_results.main([str(folder), "--output_dir", str(tmp_path)])
    table = pd.read_csv(tmp_path / hpo_results.RESULTS_FILE)
    assert sorted(table["trial_id"]) == sorted(t["id"] for t in trials)
    assert set(table["status"]) == {hpo_results.COMPLETED}
    # The columns are what differs between trials; bookkeeping keys are left out.
    assert {"model_type", "loss"} <= set(table.columns) and "epochs" not in table.columns
    assert "run_id" not in table.columns and "instance_directory" not in table.columns
    for _, row in table.iterrows():
        assert row["objective"] == pytest.approx(results[row["trial_id"]])
        assert row["seconds"] > 0
    best = json.loads((tmp_path / hpo_results.BEST_PARAMS_FILE).read_text())
    assert best["best_objective"] == pytest.approx(min(results.values()))
    assert best["objective"] == "validation loss, full KL (beta = 1)"  # the campaign's objective, named
    assert (tmp_path / hpo_results.PLOT_FILE).stat().st_size > 0
    # The VAE's result is reconstruction + full KL, its reconstruction part beside it; ADAGE has no KL part.
    vae, adage = (table.set_index("trial_id").loc[t["id"]] for t in trials)
    history = json.loads((folder / "run" / trials[0]["id"] / "history.txt").read_text())
    assert vae["val_reconstruction_loss"] == pytest.approx(history["val_reconstruction_loss"][-1])
    assert vae["objective"] == pytest.approx(vae["val_reconstruction_loss"] + history["val_kl_loss"][-1], rel=1e-6)
    assert math.isnan(adage["val_reconstruction_loss"])


def test_a_failed_trial_is_aggregated_as_failed(campaign, tmp_path):
    folder, trials, _ = campaign
    broken = tmp_path / "campaign"
    for trial in trials:
        (broken / "run" / trial["id"]).mkdir(parents=True)
        source = folder / "run" / trial["id"]
        for name in ("parameters.txt", "result.txt"):
            (broken / "run" / trial["id"] / name).write_text((source / name).read_text())
    (broken / "run" / trials[0]["id"] / "result.txt").write_text("999999999\n")
    table, _ = hpo_results.read_campaign(str(broken))
    status = dict(zip(table["trial_id"], table["status"]))
    assert status == {trials[0]["id"]: hpo_results.FAILED, trials[1]["id"]: hpo_results.COMPLETED}


def test_every_default_model_key_and_upf_key_is_accepted_by_initialize_and_run(shared_data_dir, tmp_path):
    trial = {**upf_line("latent_dim_sweep", 0), **TINY, "data_dir": shared_data_dir}
    import tybalt_baseline_keras2 as benchmark

    hp_map = upf_runner.hyper_parameter_map(trial, str(tmp_path), "EXP_KEYS")
    result = upf_runner.run_trial(benchmark, hp_map)
    assert math.isfinite(result)
    used = json.loads(next((tmp_path / "run").rglob("params.json")).read_text())
    import tybalt

    assert {d["name"] for d in tybalt.additional_definitions} <= set(used)
    assert used["latent_dim"] == 4 and used["model_type"] == "vae"


def test_a_upf_line_without_id_is_refused(tmp_path):
    path = tmp_path / "bad.upf"
    path.write_text('{"id": "a", "epochs": 1}\n{"epochs": 2}\n')
    with pytest.raises(TybaltInputError, match=r"bad.upf:2"):
        upf_runner.read_upf(str(path))


def trial_parameters(trial: dict, campaign_dir) -> dict:
    """The parameters a UPF trial receives, as model_runner makes them: initialize_parameters() in the instance
    folder (from $CANDLE_DEFAULT_MODEL_FILE when set), then the trial's hyperparameter map over them."""
    hp_map = upf_runner.hyper_parameter_map(trial, str(campaign_dir), "EXP_DATA")
    import tybalt_baseline_keras2

    params = tybalt_baseline_keras2.initialize_parameters(argv=[], **upf_runner.default_model_arguments())
    return {**params, **hp_map}


def test_study_grid_trials_train_on_tcga_in_the_candle_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("CANDLE_DEFAULT_MODEL_FILE", raising=False)
    monkeypatch.setenv("CANDLE_DATA_DIR", str(tmp_path / "candle_data"))
    for index in (0, 959):
        params = trial_parameters(upf_line("tybalt_grid", index), tmp_path)
        assert params["data_source"] == "tcga"
        assert params["data_dir"] == str(tmp_path / "candle_data" / "tybalt" / "Data")


def test_a_data_dir_in_the_default_model_file_wins_over_candle_data_dir(tmp_path, monkeypatch):
    model_file = tmp_path / "model.txt"
    with open(os.path.join(REPO, "Tybalt", "tybalt_default_model.txt")) as handle:
        model_file.write_text(handle.read().replace("data_dir = '~/.cache/tybalt'", f"data_dir = '{tmp_path}/mine'"))
    monkeypatch.setenv("CANDLE_DEFAULT_MODEL_FILE", str(model_file))
    monkeypatch.setenv("CANDLE_DATA_DIR", str(tmp_path / "candle_data"))
    assert trial_parameters(upf_line("tybalt_grid", 0), tmp_path)["data_dir"] == f"{tmp_path}/mine"

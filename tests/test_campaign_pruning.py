"""Campaign-wide early stopping in real (tiny) trainings: standalone runs sharing an experiment folder, and a
KerasTuner search whose space turns it on."""

import json
import math

import pandas as pd
import pytest

from conftest import TINY_FLAGS, run_entry_point
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.train import campaign_record
from tybalt_core.tune import hpo_results
from tybalt_core.train.campaign_record import StoppingRule, TrialReport

STOPPING = ["--pruning", "median", "--pruning_grace_epochs", "1", "--pruning_min_trials", "1"]
BAD_LEARNING_RATE = "1e-7"  # the weights barely move: val_loss stays far above a learning trial's


def run(params: dict):
    import tybalt_baseline_keras2

    return tybalt_baseline_keras2.run(params)


def test_a_hopeless_run_is_stopped_after_its_warm_up_and_grace_and_recorded_pruned(tmp_path, tiny_params):
    experiment = tmp_path / "EXP_STOP"
    good = tiny_params(*STOPPING, "--epochs", "6", "--learning_rate", "0.005", "--output_dir", str(experiment / "good"))
    run(good)
    # kappa 0.25: beta is 0, 0.25, 0.5, 0.75 in epochs 1-4 and 1 from epoch 5 on, so with one grace epoch the rule
    # may judge epoch 5 first, though this run is worse from its first epoch on.
    bad = tiny_params(*STOPPING, "--epochs", "6", "--kappa", "0.25", "--learning_rate", BAD_LEARNING_RATE,
                      "--output_dir", str(experiment / "bad"))
    history = run(bad)
    assert len(history.history["val_loss"]) == 5 and math.isfinite(history.history["val_loss"][-1])
    status = json.loads((experiment / "bad" / "params.json").read_text())
    assert status["status"] == "pruned" and "after epoch 5 of 6" in status["stop_reason"]
    record = campaign_record.read_record(str(experiment))
    assert record["good"].state == campaign_record.COMPLETED and record["good"].epochs == 6
    assert record["bad"].state == campaign_record.PRUNED and sorted(record["bad"].curve) == [5]
    assert record["bad"].value == pytest.approx(history.history["val_loss"][-1])
    trials = campaign_record.open_study(campaign_record.record_path(str(experiment))).get_trials()
    assert trials[-1].user_attrs == {"trial_id": "bad", "epochs": 6, "pruning": "median"}


def test_legacy_keras_2_run_is_stopped_the_same_way(tmp_path, shared_data_dir):
    experiment = tmp_path / "EXP_LEGACY"
    experiment.mkdir()
    peer = TrialReport(campaign_record.record_path(str(experiment)), "peer", StoppingRule("off", 1))
    for epoch in range(1, 5):
        peer.report(epoch, 1.0)  # a finished peer far better than any run can be
    peer.finish(1.0)
    result = run_entry_point(*TINY_FLAGS, "--data_dir", shared_data_dir, *STOPPING, "--epochs", "4", "--kappa", "1",
                             "--output_dir", str(experiment / "legacy"), env={"TF_USE_LEGACY_KERAS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((experiment / "legacy" / "params.json").read_text())["status"] == "pruned"
    recorded = campaign_record.read_record(str(experiment))["legacy"]
    assert recorded.state == campaign_record.PRUNED and recorded.epochs == 2  # warm-up epoch 1, grace epoch 2


def test_a_run_with_pruning_off_and_outside_a_campaign_writes_no_record(tmp_path, tiny_params):
    run(tiny_params("--output_dir", str(tmp_path / "EXP" / "alone")))
    assert campaign_record.read_record(str(tmp_path / "EXP")) == {}


GRID_WITH_STOPPING = f"""description: a good and a hopeless learning rate, with campaign-wide early stopping
fixed: {{pruning: median, pruning_grace_epochs: 1, pruning_min_trials: 1}}
parameters:
  learning_rate: [0.005, {BAD_LEARNING_RATE}]
"""


def test_keras_tuner_search_prunes_the_hopeless_trial_from_its_search_space(tmp_path, tiny_params):
    space = tmp_path / "space.yaml"
    space.write_text(GRID_WITH_STOPPING)
    params = tiny_params("--tuner", "grid", "--search_space", str(space), "--max_trials", "2", "--epochs", "5",
                         "--kappa", "1")
    best = run(params).history["val_loss"][0]
    table = pd.read_csv(tmp_path / "out" / hpo_results.RESULTS_FILE)
    assert list(table["status"]) == [hpo_results.COMPLETED, hpo_results.PRUNED]
    assert table["objective"].map(math.isfinite).all() and best == pytest.approx(table["objective"][0])
    record = campaign_record.read_record(str(tmp_path / "out"))
    assert [trial.state for trial in record.values()] == [campaign_record.COMPLETED, campaign_record.PRUNED]
    assert list(record.values())[1].epochs == 2  # warm-up epoch 1, then the grace epoch 2 judged


def test_pruning_with_hyperband_is_refused_before_training(tmp_path, tiny_params):
    params = tiny_params("--tuner", "hyperband", "--search_space", "toy_latent_dim", "--pruning", "median")
    with pytest.raises(TybaltInputError, match="pruning 'median' does not apply to the hyperband tuner"):
        run(params)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_record_only_warns_with_pruning_off_and_stops_the_run_with_it_on(tmp_path, tiny_params):
    # A Supervisor trial always reports to its experiment's record; here the record's path is a folder.
    (tmp_path / "EXP" / campaign_record.RECORD_FILE).mkdir(parents=True)
    watched = tiny_params("--output_dir", str(tmp_path / "watched"))
    history = run({**watched, "instance_directory": str(tmp_path / "EXP" / "run" / "watched")})
    assert math.isfinite(history.history["val_loss"][-1])
    stopping = tiny_params(*STOPPING, "--output_dir", str(tmp_path / "stopping"))
    with pytest.raises(TybaltInputError, match="cannot be written .* set pruning 'off'"):
        run({**stopping, "instance_directory": str(tmp_path / "EXP" / "run" / "stopping")})

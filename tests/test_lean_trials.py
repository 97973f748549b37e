"""Lean campaign trials: checkpoints by time (and at the time limit) instead of every epoch, and only the history
and params.json kept once a trial has ended."""

import logging
import os

import tybalt_baseline_keras2
from conftest import checkpoint_epochs

LEAN = ("--lean_outputs", "true", "--save_model", "false", "--ckpt_save_interval", "0")


def written_checkpoints(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("checkpoint written")]


def test_lean_finished_trial_keeps_only_its_history_and_params_and_wrote_no_checkpoint(tiny_params, tmp_path,
                                                                                       caplog):
    caplog.set_level(logging.INFO)
    tybalt_baseline_keras2.run(tiny_params(*LEAN, "--ckpt_save_minutes", "10", "--epochs", "3"))
    assert sorted(os.listdir(tmp_path / "out")) == ["history.csv", "params.json"]
    assert written_checkpoints(caplog) == []


def test_checkpoints_by_time_at_each_epoch_end_past_the_interval_then_removed_when_the_trial_ends(
        tiny_params, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    tybalt_baseline_keras2.run(tiny_params(*LEAN, "--ckpt_save_minutes", "0.000001", "--epochs", "3"))
    assert [message.rsplit("-", 1)[-1] for message in written_checkpoints(caplog)] == ["00001", "00002", "00003"]
    assert not os.path.exists(tmp_path / "out" / "ckpt")


def test_trial_stopped_by_the_time_limit_checkpoints_once_and_keeps_it_to_resume(tiny_params, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    params = tiny_params(*LEAN, "--ckpt_save_minutes", "10", "--epochs", "5000", "--timeout", "2")
    epochs_run = len(tybalt_baseline_keras2.run(params).history["loss"])
    assert epochs_run < 5000 and len(written_checkpoints(caplog)) == 1
    assert checkpoint_epochs(str(tmp_path / "out" / "ckpt")) == [epochs_run]

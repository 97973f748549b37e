"""The standalone command and the CANDLE Supervisor's way of calling the benchmark."""

import json
import math
import os

import pandas as pd

from conftest import TINY_FLAGS, run_entry_point

OUTPUT_FILES = {"params.json", "history.csv", "encoded_features.tsv", "encoder.keras", "decoder.keras", "loss.png"}


def test_command_line_run_writes_every_output_with_finite_val_loss(tmp_path, shared_data_dir):
    output = tmp_path / "X"
    result = run_entry_point("--data_source", "synthetic", *TINY_FLAGS, "--data_dir", shared_data_dir,
                             "--output_dir", str(output))
    assert result.returncode == 0, result.stderr
    assert OUTPUT_FILES <= set(os.listdir(output))
    history = pd.read_csv(output / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert {"loss", "val_loss", "reconstruction_loss", "kl_loss", "beta"} <= set(history.columns)
    assert all(math.isfinite(v) for v in history["val_loss"])
    encodings = pd.read_csv(output / "encoded_features.tsv", sep="\t", index_col=0)
    assert encodings.shape == (600, 8)
    assert list(encodings.columns) == [str(k) for k in range(1, 9)]
    assert json.loads((output / "params.json").read_text())["latent_dim"] == 8


def test_legacy_keras_2_runs_the_same_command(tmp_path, shared_data_dir):
    output = tmp_path / "legacy"
    result = run_entry_point(*TINY_FLAGS, "--data_dir", shared_data_dir, "--output_dir", str(output),
                             env={"TF_USE_LEGACY_KERAS": "1"})
    assert result.returncode == 0, result.stderr
    assert OUTPUT_FILES <= set(os.listdir(output))
    assert math.isfinite(pd.read_csv(output / "history.csv")["val_loss"].iloc[-1])


def test_help_lists_every_parameter_with_its_default():
    import tybalt

    result = run_entry_point("--help")
    assert result.returncode == 0
    for definition in tybalt.additional_definitions:
        assert f"--{definition['name']}" in result.stdout


def test_supervisor_style_calls_work_from_another_folder_and_twice_in_one_process(monkeypatch, tmp_path,
                                                                                  shared_data_dir):
    import tybalt_baseline_keras2

    instance = tmp_path / "instance"
    instance.mkdir()
    monkeypatch.chdir(instance)
    histories = []
    for run_number in (1, 2):
        params = tybalt_baseline_keras2.initialize_parameters(argv=[])
        trial = {"epochs": 2, "synthetic_samples": 300, "synthetic_genes": 200, "latent_dim": "4",
                 "learning_rate": "0.001", "data_dir": shared_data_dir, "verbose": False,
                 "framework": "keras", "instance_directory": str(instance), "save": str(instance / "output"),
                 "experiment_id": "EXP7", "run_id": f"RUN{run_number}", "timeout": 3600}
        params.update(trial)
        histories.append(tybalt_baseline_keras2.run(params))
    for run_number, history in enumerate(histories, start=1):
        assert len(history.history["val_loss"]) == 2
        assert math.isfinite(history.history["val_loss"][-1])
        run_folder = instance / "Output" / "EXP7" / f"RUN{run_number}"
        assert (run_folder / "history.csv").is_file()
        assert pd.read_csv(run_folder / "encoded_features.tsv", sep="\t", index_col=0).shape == (300, 4)


def test_absolute_default_model_path_is_accepted(tmp_path):
    import tybalt
    import tybalt_baseline_keras2

    custom = tmp_path / "custom_model.txt"
    text = open(os.path.join(tybalt.FILE_PATH, tybalt.DEFAULT_MODEL_FILE)).read()
    custom.write_text(text.replace("latent_dim = 100", "latent_dim = 42"))
    assert tybalt_baseline_keras2.initialize_parameters(default_model=str(custom), argv=[])["latent_dim"] == 42

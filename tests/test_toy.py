"""The 3-gene teaching example: toy data, the plain 'ae' model, PCA vs shallow and deep autoencoders, searches."""

import importlib.util
import json
import os
import re
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, run_entry_point
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config.parameters import check_parameters
from tybalt_core.data.expression import load_dataset, split_train_validation
from tybalt_core.models.autoencoders import build_autoencoder
from tybalt_core.models.backend import keras
from tybalt_core.train.training import compile_autoencoder, set_seed, train
from tybalt_core.tune.search_space import grid_points, load_search_space

EXAMPLE = os.path.join(REPO, "examples", "basic_autoencoders.py")
# Settings under which the linear autoencoder reliably reaches the PCA solution in a few seconds.
TOY_SAMPLES, EPOCHS, BATCH_SIZE, LEARNING_RATE, SEED = 2000, 10, 16, 0.01, 123


def reconstruction_mse(values: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """Mean squared error per gene."""
    return ((values - reconstructed) ** 2).mean(axis=0)


@pytest.fixture(scope="module")
def toy_errors(tmp_path_factory):
    """Per-gene MSE of PCA (2 components), the shallow linear AE and the deep tanh AE on the same toy data."""
    dataset = load_dataset("toy", str(tmp_path_factory.mktemp("toy")), toy_samples=TOY_SAMPLES, rng_seed=SEED)
    values = dataset.values
    train_rows, val_rows = split_train_validation(len(values), 0.1, SEED)

    centre = values[train_rows].mean(axis=0)
    _, _, components = np.linalg.svd(values[train_rows] - centre, full_matrices=False)
    projection = components[:2].T @ components[:2]
    errors = {"pca": reconstruction_mse(values, centre + (values - centre) @ projection)}
    reconstructions = {}
    for name, depth, activation in (("shallow_linear", 0, "linear"), ("deep_tanh", 3, "tanh")):
        set_seed(SEED)
        autoencoder = build_autoencoder("ae", 3, 2, depth=depth, hidden_dim=12, activation=activation)
        compile_autoencoder(autoencoder, optimizer="adam", learning_rate=LEARNING_RATE, loss="mse")
        train(autoencoder, values, train_rows, val_rows, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=False)
        reconstructions[name] = np.asarray(autoencoder.model(values, training=False))
        errors[name] = reconstruction_mse(values, reconstructions[name])
    errors["pca_reconstruction"] = centre + (values - centre) @ projection
    errors["linear_reconstruction"] = reconstructions["shallow_linear"]
    return errors


def test_toy_data_have_gene3_equal_to_gene1_and_gene2_with_four_balanced_patterns(tmp_path):
    dataset = load_dataset("toy", str(tmp_path), toy_samples=4000, rng_seed=5)
    values = dataset.values
    assert values.shape == (4000, 3) and dataset.genes == ["gene1", "gene2", "gene3"]
    assert len(set(dataset.sample_ids)) == 4000 and dataset.clinical is None
    assert set(np.unique(values)) == {0.0, 1.0}
    np.testing.assert_array_equal(values[:, 2], np.logical_and(values[:, 0], values[:, 1]))
    patterns, counts = np.unique(values, axis=0, return_counts=True)
    assert len(patterns) == 4
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)


def test_continuous_toy_data_have_uniform_genes_1_2_and_gene3_their_product(tmp_path):
    dataset = load_dataset("toy", str(tmp_path), toy_samples=4000, toy_variant="continuous", rng_seed=5)
    values = dataset.values
    assert values.shape == (4000, 3) and dataset.genes == ["gene1", "gene2", "gene3"]
    assert len(np.unique(values[:, 0])) > 3900  # continuous, not 0/1
    assert values.min() >= 0 and values.max() <= 1
    np.testing.assert_allclose(values[:, :2].mean(axis=0), 0.5, atol=0.02)
    np.testing.assert_allclose(values[:, 2], values[:, 0] * values[:, 1], rtol=1e-6)


def test_toy_data_are_repeatable_by_seed(tmp_path):
    first = load_dataset("toy", str(tmp_path), toy_samples=50, rng_seed=1).values
    again = load_dataset("toy", str(tmp_path), toy_samples=50, rng_seed=1).values
    other = load_dataset("toy", str(tmp_path), toy_samples=50, rng_seed=2).values
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_shallow_linear_autoencoder_matches_pca_and_cannot_reconstruct_gene3(toy_errors):
    pca, linear = toy_errors["pca"], toy_errors["shallow_linear"]
    assert linear.mean() == pytest.approx(pca.mean(), rel=0.05)
    # 4 balanced corners of the cube do not lie in a plane: about 0.02 MSE stays on gene 3.
    assert 0.015 < pca[2] < 0.03 and 0.015 < linear[2] < 0.03
    np.testing.assert_allclose(toy_errors["linear_reconstruction"], toy_errors["pca_reconstruction"], atol=0.03)


def test_deep_nonlinear_autoencoder_reconstructs_at_least_ten_times_better_than_pca(toy_errors):
    assert toy_errors["deep_tanh"].mean() < toy_errors["pca"].mean() / 10
    assert toy_errors["deep_tanh"][2] < toy_errors["pca"][2] / 10


def test_ae_layers_follow_depth_width_and_activation():
    deep = build_autoencoder("ae", 3, 2, depth=3, hidden_dim=12, activation="relu")
    dense = [layer for layer in deep.encoder.layers + deep.decoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [12, 12, 12, 2, 12, 12, 12, 3]
    activations = [layer.get_config()["activation"] for layer in dense]
    assert activations == ["relu"] * 3 + ["linear"] + ["relu"] * 3 + ["sigmoid"]
    shallow = build_autoencoder("ae", 3, 2, depth=0, activation="linear")
    assert [layer.get_config()["activation"] for layer in shallow.decoder.layers[1:]] == ["linear"]


def test_entry_point_trains_ae_on_toy_data_and_writes_the_usual_outputs(tmp_path):
    out = tmp_path / "run"
    result = run_entry_point("--data_source", "toy", "--model_type", "ae", "--loss", "mse", "--depth", "2",
                             "--hidden_dim", "8", "--latent_dim", "2", "--toy_samples", "200", "--epochs", "2",
                             "--batch_size", "16", "--verbose", "false", "--output_dir", str(out),
                             "--data_dir", str(tmp_path / "data"))
    assert result.returncode == 0, result.stderr
    for name in ("params.json", "history.csv", "encoded_features.tsv", "encoder.keras", "decoder.keras", "loss.png"):
        assert (out / name).is_file(), name
    encodings = pd.read_csv(out / "encoded_features.tsv", sep="\t", index_col=0)
    assert encodings.shape == (200, 2) and encodings.index[0] == "toy_00000"
    assert len(pd.read_csv(out / "history.csv")) == 2
    params = json.loads((out / "params.json").read_text())
    assert (params["model_type"], params["activation"], params["toy_samples"]) == ("ae", "tanh", 200)


@pytest.mark.parametrize("bad, message", [
    ({"activation": "softmax"}, "activation"),
    ({"depth": 7}, "depth = 7 is not supported by model_type 'ae'"),
    ({"depth": -1}, "depth"),
    ({"model_type": "vae", "depth": 2}, "model_type 'vae'"),
    ({"activation": "linear", "loss": "binary_crossentropy"}, "--loss mse"),
    ({"toy_samples": 5}, "toy_samples"),
    ({"toy_variant": "soft"}, "toy_variant"),
])
def test_bad_ae_or_toy_parameters_are_clear_input_errors(bad, message):
    good = {"data_source": "toy", "model_type": "ae", "depth": 6, "activation": "tanh", "loss": "mse",
            "toy_samples": 100}
    check_parameters(good)
    with pytest.raises(TybaltInputError, match=message):
        check_parameters({**good, **bad})


def test_entry_point_refuses_an_unsupported_depth_in_one_line(tmp_path):
    result = run_entry_point("--data_source", "toy", "--model_type", "ae", "--depth", "9", "--output_dir",
                             str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("tybalt: error: parameter depth = 9")
    assert not (tmp_path / "run").exists()


def latent_dim_space() -> dict:
    """The latent-size search space as the tuners read it."""
    with open(os.path.join(REPO, "workflows", "toy_latent_dim.yaml")) as handle:
        return yaml.safe_load(handle)


def final_val_loss(tiny_params, folder, **settings) -> float:
    """Train once through the entry point's run() with the latent-dim space's fixed settings changed by ``settings``."""
    import tybalt_baseline_keras2

    params = {**tiny_params("--output_dir", str(folder)), **latent_dim_space()["fixed"], "rng_seed": SEED, **settings}
    return tybalt_baseline_keras2.run(params).history["val_loss"][-1]


def test_latent_dim_search_space_drops_sharply_from_latent_1_to_2_on_the_continuous_toy_data(tiny_params, tmp_path):
    space = latent_dim_space()
    assert space["fixed"]["toy_variant"] == "continuous"
    val_loss = {latent_dim: final_val_loss(tiny_params, tmp_path / str(latent_dim), latent_dim=latent_dim)
                for latent_dim in space["parameters"]["latent_dim"]}
    # A 1-d code cannot hold the 2-d surface (measured: ~2e-2); 2 or 3 dimensions reach ~3e-4.
    assert val_loss[2] * 10 < val_loss[1]
    assert val_loss[3] < 3 * val_loss[2]


def test_binary_toy_data_already_fit_a_1_d_code_which_is_why_the_latent_search_uses_the_continuous_variant(
        tiny_params, tmp_path, toy_errors):
    # The 4 binary patterns are 4 points: a deep decoder lays them along one code axis (measured: ~5e-5), far below
    # what PCA leaves with 2 components, so a latent-size search on them cannot prefer 2 over 1.
    assert final_val_loss(tiny_params, tmp_path, latent_dim=1, toy_variant="binary") < toy_errors["pca"].mean() / 10


@pytest.mark.parametrize("space, n_configurations, n_trials", [("toy_depth_width", 24, 21), ("toy_latent_dim", 3, 3)])
def test_toy_search_spaces_hold_only_valid_configurations(space, n_configurations, n_trials):
    definition = load_search_space(space)
    grid = list(grid_points(definition))
    assert definition.configuration_count == n_configurations
    assert len(grid) == definition.trial_count == n_trials
    for point in grid:
        checked = check_parameters(point)
        assert checked["data_source"] == "toy" and checked["model_type"] == "ae"


def test_example_prints_the_error_table_and_saves_the_code_figure(tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("basic_autoencoders", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, example)  # dataclasses look their module up there
    spec.loader.exec_module(example)
    example.main(["--samples", "200", "--epochs", "1", "--output_dir", str(tmp_path)])
    row = re.compile(r"^(PCA|shallow linear AE|deep nonlinear AE) .*(\s+\d\.\d\de-\d\d){4}\s+\d+%$")
    assert len([line for line in capsys.readouterr().out.splitlines() if row.match(line)]) == 3
    assert (tmp_path / "toy_codes.png").stat().st_size > 10_000

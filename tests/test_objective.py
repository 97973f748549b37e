"""One objective scale: a trial returns the kept model's validation loss with the full KL, whatever its kappa, so
trials with a slow KL warm-up or few epochs are not favoured for leaving part of the KL out."""

import numpy as np
import pandas as pd
import pytest

import tybalt_baseline_keras2
from tybalt_core.config.objective import OBJECTIVE_KEY
from tybalt_core.config.parameters import check_parameters
from tybalt_core.config.settings import DataSettings, ModelSettings, TrainingSettings
from tybalt_core.run.trial import build_model, load_data

# Large enough a learning rate that the KL grows to tens of nats within 3 epochs while kappa 0.01 barely weighs it.
FLAGS = ("--latent_dim", "16", "--epochs", "3", "--learning_rate", "0.02", "--val_split", "0.3")
MONTE_CARLO_DRAWS = 40


def full_kl_loss_of_saved_model(params: dict, run_folder) -> tuple[float, float]:
    """(reconstruction + KL, KL) on the validation rows, computed here in NumPy from the last checkpoint's weights:
    the KL exactly, the reconstruction as the mean over Monte Carlo draws of the latent code."""
    params = check_parameters(params)
    dataset, train_rows, val_rows = load_data(DataSettings.from_params(params))
    vae = build_model(ModelSettings.from_params(params), TrainingSettings.from_params(params), dataset.n_genes,
                      len(train_rows)).model
    vae(np.zeros((1, dataset.n_genes), dtype="float32"))
    with np.load(run_folder / "ckpt" / f"epoch-{params['epochs']:05d}" / "weights.npz") as saved:
        vae.set_weights([saved[f"model_{i}"] for i in range(len(vae.get_weights()))])
    x = dataset.values[val_rows]
    mean, log_var = (np.asarray(part, dtype=np.float64) for part in vae.encoder(x, training=False))
    kl = np.mean(-0.5 * np.sum(1 + log_var - mean ** 2 - np.exp(log_var), axis=1))
    rng = np.random.default_rng(0)
    reconstruction = []
    for _ in range(MONTE_CARLO_DRAWS):
        z = (mean + np.exp(0.5 * log_var) * rng.standard_normal(mean.shape)).astype("float32")
        p = np.clip(np.asarray(vae.decoder(z, training=False), dtype=np.float64), 1e-7, 1 - 1e-7)
        reconstruction.append(np.mean(-np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)))
    return float(np.mean(reconstruction) + kl), float(kl)


@pytest.mark.parametrize("kappa", ["0.01", "1.0"])
def test_trials_differing_only_in_kappa_return_the_loss_with_the_full_kl(tiny_params, tmp_path, kappa):
    params = tiny_params(*FLAGS, "--kappa", kappa)
    returned = tybalt_baseline_keras2.run(dict(params)).history
    expected, kl = full_kl_loss_of_saved_model(params, tmp_path / "out")
    assert kl > 5, "the test needs a KL term large enough to tell the scales apart"
    assert returned["val_loss"][-1] == pytest.approx(expected, abs=0.05 * kl)
    table = pd.read_csv(tmp_path / "out" / "history.csv")
    assert list(table[OBJECTIVE_KEY]) == pytest.approx(returned["val_loss"])
    if kappa == "0.01":  # beta was 0.02 in the last epoch: the loss as trained leaves most of the KL out
        assert returned["val_loss_as_trained"][-1] < expected - 0.5 * kl


def test_reconstruction_objective_returns_the_reconstruction_part(tiny_params, tmp_path):
    returned = tybalt_baseline_keras2.run(tiny_params("--objective", "reconstruction")).history
    assert returned["val_loss"] == returned["val_reconstruction_loss"]
    assert returned["val_loss"][-1] < returned["val_loss_as_trained"][-1]  # beta was 1 in the last epoch


def test_adage_objective_is_its_validation_loss(tiny_params):
    returned = tybalt_baseline_keras2.run(tiny_params("--model_type", "adage", "--loss", "mse")).history
    assert returned["val_loss"] == returned["val_loss_as_trained"]

"""The scorecard: per-label 5-NN accuracy, silhouette and ARI, reconstruction error, trustworthiness and seed
stability, each with its spread; over several runs (compare_runs) and latent sizes (latent_sweep)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, TYBALT_DIR
from tybalt_core.analysis.scorecard import (MethodEncoding, label_scores, neighbour_overlap, run_scores,
                                            stability_scores, summarize)

RNG = np.random.default_rng(0)


def clustered(n_per_group=20, n_groups=3, dims=6, spread=0.3):
    """Well-separated Gaussian groups and their labels."""
    centres = RNG.normal(0, 5, size=(n_groups, dims))
    labels = np.repeat([f"g{k}" for k in range(n_groups)], n_per_group)
    values = np.repeat(centres, n_per_group, axis=0) + RNG.normal(0, spread, size=(n_groups * n_per_group, dims))
    return values, labels


def test_separated_groups_score_perfectly_and_shuffled_labels_score_near_chance():
    values, labels = clustered()
    scores = dict(label_scores(values, labels, seed=0)[5:])
    folds = [value for metric, value in label_scores(values, labels, seed=0) if metric == "knn_accuracy"]
    assert folds == [1.0] * 5  # one value per cross-validation fold
    assert scores["ari"] == pytest.approx(1.0) and scores["silhouette"] > 0.8
    shuffled = dict(label_scores(values, RNG.permutation(labels), seed=0)[5:])
    assert abs(shuffled["ari"]) < 0.15 and shuffled["silhouette"] < 0.1


def test_groups_under_five_samples_and_missing_labels_are_left_out_and_one_group_scores_nothing():
    values, labels = clustered()
    labels = labels.astype(object)
    labels[:3] = "rare"  # 3 samples: too few for 5 folds
    labels[3:6] = None
    folds = [value for metric, value in label_scores(values, labels, seed=0) if metric == "knn_accuracy"]
    assert folds == [1.0] * 5  # 'rare' and the missing labels did not count as classes
    assert label_scores(values, np.array(["only"] * len(values), dtype=object), seed=0) == []


def test_neighbour_overlap_ignores_rotation_and_scale_but_not_a_new_arrangement():
    values, _ = clustered(n_per_group=30)
    rotation, _ = np.linalg.qr(RNG.normal(size=(6, 6)))
    assert neighbour_overlap(values, 3 * values @ rotation) == pytest.approx(1.0)
    assert neighbour_overlap(values, RNG.normal(size=values.shape)) < 0.2


def test_stability_pairs_runs_of_one_method_size_and_data_set_only():
    values, labels = clustered()
    runs = [MethodEncoding("vae", seed, values + RNG.normal(0, 0.01, values.shape), dataset="a") for seed in (1, 2, 3)]
    runs += [MethodEncoding("vae", 4, values, dataset="other data"), MethodEncoding("pca", 1, values, dataset="a"),
             MethodEncoding("vae", 5, values[:, :3], dataset="a")]
    stability = stability_scores(runs)
    assert sorted(stability["seed"]) == ["1/2", "1/3", "2/3"]  # 3 pairs of the 3 comparable runs
    assert (stability["value"] > 0.5).all() and set(stability["metric"]) == {"stability"}


def test_summary_gives_mean_and_sd_over_folds_and_seeds():
    values, labels = clustered()
    noisy = values + RNG.normal(0, 4, values.shape)
    encoded = [MethodEncoding("input", 1, values), MethodEncoding("pca", 1, noisy, 0.1, 0.9),
               MethodEncoding("pca", 2, noisy[:, ::-1], 0.3, 0.7)]
    summary = summarize(run_scores(encoded, {"group": labels})).set_index(["method", "label", "metric"])
    assert summary.loc[("pca", "group", "knn_accuracy"), "n"] == 10  # 5 folds x 2 runs
    assert summary.loc[("pca", "", "val_reconstruction_mse"), "mean"] == pytest.approx(0.2)
    assert summary.loc[("pca", "", "trustworthiness"), "sd"] == pytest.approx(np.std([0.9, 0.7], ddof=1))
    assert ("input", "", "val_reconstruction_mse") not in summary.index  # the input reconstructs nothing


def write_user_files(folder):
    """60 samples x 40 genes in two groups (10 genes up in one) and a clinical table."""
    group = np.array(["case", "control"] * 30)
    values = RNG.uniform(0, 1, size=(60, 40))
    values[group == "case", :10] += 2.0
    samples = [f"S{i:02d}" for i in range(60)]
    pd.DataFrame(values, index=pd.Index(samples, name="sample_id"), columns=[f"G{j}" for j in range(40)]).to_csv(
        os.path.join(folder, "expression.tsv"), sep="\t")
    pd.DataFrame({"sample_id": samples, "group": group}).to_csv(os.path.join(folder, "clinical.tsv"), sep="\t",
                                                                index=False)
    return os.path.join(folder, "expression.tsv"), os.path.join(folder, "clinical.tsv")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A latent sweep (sizes 2 and 3, seeds 1 and 2) of tiny VAEs on a user TSV, through the command line."""
    folder = tmp_path_factory.mktemp("sweep")
    expression, clinical = write_user_files(str(folder))
    done = subprocess.run([sys.executable, os.path.join(TYBALT_DIR, "latent_sweep.py"), "--latent_dims", "2,3",
                           "--seeds", "1,2", "--output_dir", str(folder / "sweep"), "--",
                           "--data_source", expression, "--clinical_data", clinical, "--scaling", "minmax",
                           "--epochs", "3", "--verbose", "false", "--data_dir", str(folder / "data")],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder / "sweep"


def test_sweep_scores_every_method_and_size_with_stability_and_draws_the_latent_size_figure(sweep):
    summary = pd.read_csv(sweep / "scorecard" / "scorecard.tsv", sep="\t", keep_default_na=False)
    knn = summary[(summary["label"] == "group") & (summary["metric"] == "knn_accuracy")]
    assert set(zip(knn["method"], knn["latent_dim"])) >= {(m, d) for m in ("vae", "pca", "ica") for d in (2, 3)}
    assert (knn.loc[knn["method"] != "input", "n"] == 10).all()  # 5 folds x 2 seeds
    assert knn.loc[knn["method"] == "input", "mean"].iloc[0] > 0.9  # the planted groups are plain in the input
    stability = summary[summary["metric"] == "stability"]
    assert len(stability) == 2 * 4 and (stability["n"] == 1).all()  # one pair of seeds per method and size
    assert stability["mean"].between(0, 1).all()
    with open(sweep / "scorecard" / "report.md") as handle:
        report = handle.read()
    assert "![scorecard against the latent size](latent_sweep.png)" in report and "| group | vae | 2 |" in report
    for name in ("scorecard.png", "latent_sweep.png"):
        assert open(sweep / "scorecard" / name, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_compare_refuses_a_folder_that_is_no_finished_run_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(TYBALT_DIR, "compare_runs.py"), str(tmp_path),
                           "--output_dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"tybalt: error: {tmp_path} holds no params.json; give the output "
                                                f"folder of a training run"]
    assert not (tmp_path / "out").exists()

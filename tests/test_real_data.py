"""A real public data set: Bioconductor's ALL leukaemia data (128 patients x 12,625 probes, Debian r-bioc-all).

The raw log2 matrix goes through the normal command line (your own TSV, gene selection, minmax scaling, early
stopping); one VAE encoding must separate B- from T-lineage leukaemia, and the report's 5-NN comparison on that
label must have the VAE and PCA rows. Skipped where R's ALL package is missing; in CI (CI=true) that is a failure.
"""

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest

from conftest import REPO, run_entry_point, skip_or_fail_in_ci

EXPORT_SCRIPT = os.path.join(REPO, "tests", "data", "export_all.R")
# Measured on 2 cores: early stopping ends at about epoch 100 of 300; the run takes 13 s (quiet) to 77 s (busy).
ALL_FLAGS = ("--num_genes", "2000", "--scaling", "minmax", "--latent_dim", "20", "--batch_size", "16",
             "--learning_rate", "0.001", "--val_split", "0.2", "--epochs", "300", "--early_stop", "true",
             "--patience", "20", "--analyze", "true", "--verbose", "false")


@pytest.fixture(scope="module")
def all_files(tmp_path_factory):
    """The ALL expression matrix and phenotype table exported to TSV by tests/data/export_all.R."""
    if shutil.which("Rscript") is None:
        skip_or_fail_in_ci("Rscript not found: install the Debian package r-bioc-all")
    folder = tmp_path_factory.mktemp("all_data")
    done = subprocess.run(["Rscript", EXPORT_SCRIPT, str(folder)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        skip_or_fail_in_ci("R's ALL data set could not be exported (install r-bioc-all): "
                           f"{done.stderr.strip()[-300:]}")
    return str(folder / "all_expression.tsv"), str(folder / "all_phenotype.tsv")


@pytest.fixture(scope="module")
def all_run(all_files, tmp_path_factory):
    """The run folder of the VAE trained on the raw ALL matrix through the command line."""
    expression, phenotype = all_files
    folder = tmp_path_factory.mktemp("all_run")
    done = run_entry_point("--data_source", expression, "--clinical_data", phenotype, *ALL_FLAGS,
                           "--data_dir", str(folder / "data"), "--output_dir", str(folder / "run"))
    assert done.returncode == 0, done.stderr[-3000:]
    return str(folder / "run")


def test_export_gives_128_patients_with_lineage_and_the_raw_log2_matrix(all_files):
    expression, phenotype = (pd.read_csv(path, sep="\t", index_col=0) for path in all_files)
    assert expression.shape == (128, 12625) and expression.to_numpy().max() > 1  # raw log2, not scaled
    assert phenotype["lineage"].value_counts().to_dict() == {"B": 95, "T": 33}
    assert list(phenotype.index) == list(expression.index)


def test_one_vae_encoding_separates_b_from_t_lineage(all_run):
    signals = pd.read_csv(os.path.join(all_run, "signals.tsv"), sep="\t")
    lineage = signals[signals["attribute"] == "lineage"]
    assert set(zip(lineage["group"], lineage["reference"])) == {("B", "T")}
    assert lineage["auc"].max() >= 0.95


def test_report_compares_vae_and_pca_by_5nn_on_lineage(all_run):
    with open(os.path.join(all_run, "report.md")) as handle:
        lines = handle.read().splitlines()
    header = next(line for line in lines if "knn_accuracy_lineage" in line)
    column = [cell.strip() for cell in header.split("|")].index("knn_accuracy_lineage")
    rows = {cells[1]: cells for cells in ([c.strip() for c in line.split("|")] for line in lines
                                          if line.startswith("| vae |") or line.startswith("| pca |"))}
    assert set(rows) == {"vae", "pca"}
    assert all(0.5 < float(rows[method][column]) <= 1 for method in rows)


def test_the_run_stopped_early_and_kept_its_best_epoch(all_run):
    with open(os.path.join(all_run, "params.json")) as handle:
        record = json.load(handle)
    assert record["status"] in ("converged", "finished") and record["best_epoch"] >= 1
    assert "genes.txt" in os.listdir(all_run) and "scaling.tsv" in os.listdir(all_run)

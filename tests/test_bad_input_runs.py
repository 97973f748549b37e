"""Run folders and what a run leaves there (issue 25 causes 1, 3, 5 and 7): a fresh run over an earlier one keeps
nothing of it; an analysis, an encoding or a model folder that cannot work is refused before any work, with one
line (exit 2, no file touched, ``assert_refused_touching_no_file`` of test_bad_input.py).
"""

import json

import numpy as np
import pandas as pd
import pytest
from test_bad_input import GENES, VALID_TSV, Case, assert_refused_touching_no_file, model  # noqa: F401

from conftest import run_entry_point

ROWS = VALID_TSV.splitlines()
MODEL_GENES = "".join(f"G{j}\n" for j in range(GENES))
ENCODE_WITH = ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{inputs}/run")


def _with_constant_genes(count: int) -> str:
    """The valid table with its last ``count`` genes set to 0.5 in every sample."""
    lines = [ROWS[0]]
    for row in ROWS[1:]:
        cells = row.split("\t")
        lines.append("\t".join(cells[:len(cells) - count] + ["0.5"] * count))
    return "\n".join(lines) + "\n"


def _far_scale_table(genes: int) -> str:
    """Samples of genes G0.. with values 2-14 (log2 counts), for a model trained on values in [0, 1]."""
    return "sample\t" + "\t".join(f"G{j}" for j in range(genes)) + "\n" + "".join(
        f"S{i}\t" + "\t".join(f"{2 + (i + j) % 13}" for j in range(genes)) + "\n" for i in range(5))


def _model_folder(**files) -> dict:
    """A model folder run/ with genes G0..G9 and an encoder file that is never loaded, plus ``files``."""
    return {"run/genes.txt": MODEL_GENES, "run/encoder.keras": b"never loaded", **files}


CASES = {
    # cause 3: an analysis the data cannot support, refused before training
    "--analyze with 10 samples": Case({"data.tsv": "\n".join(ROWS[:11]) + "\n"}, ("--analyze", "true"),
                                      ("--analyze needs at least 11 samples", "has 10", "drop --analyze")),
    "--analyze with a latent size PCA cannot give (constant genes)": Case(
        {"data.tsv": _with_constant_genes(5)}, ("--analyze", "true", "--latent_dim", "6"),
        ("PCA and FastICA of latent_dim = 6", "span at most 5 directions (5 genes vary", "at most 5")),
    "tSNE perplexity above the sample count": Case({}, ("--tsne", "true", "--perplexity", "50"),
                                                   ("perplexity = 50 must be below the number of samples (30)",
                                                    "lower --perplexity")),
    # cause 1: --encode_data of values on another scale than the training data
    "encode values far outside the training range": Case(
        {"big.tsv": _far_scale_table(100)}, ("--encode_data", "{inputs}/big.tsv", "--model_dir", "{model}"),
        ("holds values from 2 to 14, far outside the range [0, 0.9]", "training data's scale")),
    # cause 5: damaged or unfinished run folders as --model_dir
    "model folder with a garbage scaling.tsv": Case(_model_folder(**{"run/scaling.tsv": "gene\tmin\tmax\nx\ty\n"}),
                                                    ENCODE_WITH, ("scaling.tsv is damaged", "does not list the 10 "
                                                                  "genes", "unmodified training run")),
    "model folder with text in scaling.tsv": Case(
        _model_folder(**{"run/scaling.tsv": "gene\tmin\tmax\n" + "".join(f"G{j}\t0\tbig\n" for j in range(GENES))}),
        ENCODE_WITH, ("scaling.tsv is damaged", "min, max columns hold cells that are not finite numbers")),
    "model folder with a binary scaling.tsv": Case(_model_folder(**{"run/scaling.tsv": b"\xff\xfe\x00\x89PNG"}),
                                                   ENCODE_WITH, ("scaling.tsv is damaged",)),
    "model folder of a diverged run": Case({"run/params.json": '{"status": "diverged"}',
                                            "run/history.csv": "epoch,loss\n1,nan\n"}, ENCODE_WITH,
                                           ("holds a diverged run", "lower learning_rate"),),
    "model folder of a killed run": Case({"run/params.json": '{"status": "running"}'}, ENCODE_WITH,
                                         ("holds an unfinished run (status 'running'", "rerun its training command")),
    # cause 7: a run killed while writing its outputs, without checkpoints, is not called finished
    "output folder of a run killed while writing its outputs": Case(
        {}, ("--ckpt_save_interval", "0"), ("holds the outputs of an unfinished run (status 'running'",
                                            "--overwrite true"),
        output_files={"params.json": '{"status": "running"}\n', "history.csv": "epoch,loss\n1,0.5\n"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_run_folder_or_analysis_exits_2_with_one_line_and_touches_no_file(name, tmp_path, request):
    assert_refused_touching_no_file(CASES[name], tmp_path, request)


def _user_matrix(path) -> str:
    """A user matrix on a log2-like scale (values 2-8, far outside [0, 1]): minmax scaling changes it a lot."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.uniform(2, 8, size=(120, 40)), columns=[f"G{j}" for j in range(40)],
                         index=pd.Index([f"S{i}" for i in range(120)], name="sample_id"))
    frame.to_csv(path, sep="\t", float_format="%.4f")
    return str(path)


def _train(data: str, out, data_dir, *flags: str) -> None:
    done = run_entry_point("--data_source", data, "--data_dir", str(data_dir), "--output_dir", str(out),
                           "--latent_dim", "3", "--epochs", "1", "--verbose", "false", *flags)
    assert done.returncode == 0, done.stderr[-3000:]


def test_overwriting_a_run_leaves_nothing_of_it_so_encodings_equal_the_new_runs_own(tmp_path):
    data, out, data_dir = _user_matrix(tmp_path / "mine.tsv"), tmp_path / "out", tmp_path / "data"
    _train(data, out, data_dir, "--scaling", "minmax")  # writes scaling.tsv
    (out / "report.md").write_text("# report of the first run\n")  # as --analyze would have written
    (out / "notes.txt").write_text("the user's own file\n")
    _train(data, out, data_dir, "--scaling", "none", "--loss", "mse", "--overwrite", "true")  # no scaling.tsv
    assert not (out / "scaling.tsv").exists() and not (out / "report.md").exists()
    assert (out / "notes.txt").read_text() == "the user's own file\n"
    assert json.loads((out / "params.json").read_text())["scaling"] == "none"

    done = run_entry_point("--encode_data", data, "--model_dir", str(out), "--output_dir", str(tmp_path / "enc"),
                           "--data_dir", str(data_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    encoded = pd.read_csv(tmp_path / "enc" / "encoded_features.tsv", sep="\t", index_col=0)
    own = pd.read_csv(out / "encoded_features.tsv", sep="\t", index_col=0)
    np.testing.assert_allclose(encoded.to_numpy(), own.to_numpy(), rtol=1e-4, atol=1e-5)


def test_an_analysis_that_fails_after_training_leaves_params_json_saying_how_training_ended(tiny_params, tmp_path):
    from tybalt_baseline_keras2 import run

    (tmp_path / "out" / "report.md").mkdir(parents=True)  # a folder where the analysis writes its report: it fails
    with pytest.raises(OSError):
        run(tiny_params("--epochs", "1", "--analyze", "true", "--synthetic_samples", "100", "--synthetic_genes", "80",
                        "--latent_dim", "4"))
    record = json.loads((tmp_path / "out" / "params.json").read_text())
    assert record["status"] == "finished" and (tmp_path / "out" / "encoder.keras").is_file()

"""Bad data and faults around the data, the output folder and checkpoints (issue 14 causes 9-15 and 17, issue 13
item 5): refused with one line and no file touched, or survived without losing or mixing a result.

Refusals go through the real entry point with ``assert_refused_touching_no_file`` of test_bad_input.py (exit 2, one
``tybalt: error:`` line, no traceback, every existing file byte-identical, no file added to the output folder).
Concurrency uses real processes: a run's output-folder lock held by another process, a process killed while it holds
a temporary file or the lock, and eight processes loading one data set at once from an empty data folder.
"""

import gzip
import hashlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from test_bad_input import (GENES, VALID_TSV, Case, _renamed, assert_refused_touching_no_file,  # noqa: F401
                            lambda_model, model)

from conftest import REPO, run_entry_point
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.file_locks import LockHeld, exclusive_lock
from tybalt_core.data import expression as data
from tybalt_core.run import run_state

ROWS = VALID_TSV.splitlines()
HEADER = ROWS[0]
GZ_FLAGS = ("--data_source", "{inputs}/data.tsv.gz")
CLINICAL_FLAGS = ("--clinical_data", "{inputs}/clinical.tsv")
MODEL_GENES = "".join(f"G{j}\n" for j in range(GENES))


def _with_header(header: str) -> str:
    return "\n".join([header, *ROWS[1:]]) + "\n"


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


CASES = {
    # cause 9: clinical tables
    "empty clinical file": Case({"clinical.tsv": ""}, CLINICAL_FLAGS,
                                ("clinical file", "is not a readable TSV", "sample ids in the first column")),
    "clinical file with a header only": Case({"clinical.tsv": "sample_id\tsex\n"}, CLINICAL_FLAGS,
                                             ("clinical.tsv has no rows", "one row per sample")),
    "clinical ids matching none of the data's": Case(
        {"clinical.tsv": "sample_id\tsex\nX1\tF\nX2\tM\nX3\tF\nX4\tM\n"}, CLINICAL_FLAGS,
        ("none of the 4 sample ids of clinical file", "(first ids: X1, X2, X3 vs S0, S1, S2)",
         "must hold the data file's sample ids")),
    "binary clinical file": Case({"clinical.tsv": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00\x01\x02"}, CLINICAL_FLAGS,
                                 ("clinical file", "clinical.tsv")),
    "UTF-16 clinical file": Case({"clinical.tsv": "sample_id\tsex\nS0\tF\nS1\tM\n".encode("utf-16")},
                                 CLINICAL_FLAGS, ("clinical file", "is not a readable TSV")),
    "clinical path is a folder": Case({"clinical.tsv/kept.txt": "x\n"}, CLINICAL_FLAGS,
                                      ("clinical file", "is a folder", "clinical_data")),
    # cause 10: gene names and sample ids
    "empty gene name in the header": Case({"data.tsv": _with_header(HEADER.replace("\tG3\t", "\t\t"))}, (),
                                          ("empty gene name in header column(s) 5", "give every gene column a name")),
    "blank (spaces) gene name": Case({"data.tsv": _with_header(HEADER.replace("\tG3\t", "\t  \t"))}, (),
                                     ("empty gene name in header column(s) 5",)),
    "row without a sample id": Case({"data.tsv": VALID_TSV.replace("\nS2\t", "\n\t")}, (),
                                    ("rows without a sample id (line(s) 4)", "start every row with its sample id")),
    "duplicated gene names in a .tsv.gz": Case({"data.tsv.gz": _gz(_renamed("G1", "G0", header=True))}, GZ_FLAGS,
                                               ("duplicated gene names (G0)", "one column per gene")),
    "empty gene name in a .tsv.gz": Case({"data.tsv.gz": _gz(_with_header(HEADER.replace("\tG3\t", "\t\t")))},
                                         GZ_FLAGS, ("empty gene name in header column(s) 5",)),
    "damaged .tsv.gz": Case({"data.tsv.gz": _gz(VALID_TSV)[:40]}, GZ_FLAGS,
                            ("data.tsv.gz is not a readable TSV", "give a tab-separated")),
    "not gzip at all, named .tsv.gz": Case({"data.tsv.gz": VALID_TSV}, GZ_FLAGS, ("is not a readable TSV",)),
    "blank line in genes.txt": Case({"run/genes.txt": "G0\nG1\n\nG2\n", "run/encoder.keras": b"unused"},
                                    ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{inputs}/run"),
                                    ("genes.txt has an empty line (line 3)", "each training gene once")),
    "duplicated gene in genes.txt": Case({"run/genes.txt": "G0\nG1\nG0\n", "run/encoder.keras": b"unused"},
                                         ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{inputs}/run"),
                                         ("genes.txt has duplicated genes (G0)",)),
    # cause 11: encoding into a folder that holds a finished run
    "encode into a finished run's folder": Case(
        {}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{model}"),
        ("already holds a finished run", "--overwrite true"),
        output_files={"params.json": '{"status": "finished"}\n', "encoded_features.tsv": "sample_id\t1\nS0\t0.5\n"}),
    "encode into a folder holding encodings": Case(
        {}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{model}"), ("already holds a finished run",),
        output_files={"encoded_features.tsv": "sample_id\t1\nS0\t0.5\n"}),
    # cause 13: a checkpoint folder that cannot be one
    "ckpt_directory is a file": Case({}, ("--ckpt_directory", "{inputs}/data.tsv"),
                                     ("checkpoint folder", "data.tsv is not a folder", "--ckpt_directory")),
    "ckpt_directory inside a file": Case({}, ("--ckpt_directory", "{inputs}/data.tsv/ckpt"),
                                         ("cannot be written", "is not a folder", "choose another --ckpt_directory")),
    "ckpt_directory is a file, with restarts off": Case(
        {"notes": "x\n"}, ("--ckpt_directory", "{inputs}/notes", "--ckpt_restart_mode", "off"), ("is not a folder",)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_data_exits_2_with_one_line_and_touches_no_file(name, tmp_path, request):
    assert_refused_touching_no_file(CASES[name], tmp_path, request)


# cause 11: a model folder that does not hold together, and links to the model folder
def test_encoder_and_genes_txt_that_disagree_are_one_line_not_a_keras_shape_error(tmp_path, request, model):
    run = tmp_path / "inputs" / "run"
    run.mkdir(parents=True)
    shutil.copy(os.path.join(model, "encoder.keras"), run)
    (run / "genes.txt").write_text(MODEL_GENES)  # 10 genes; the encoder takes 100 inputs
    case = Case({}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{inputs}/run"),
                ("genes.txt lists 10 genes but encoder.keras takes 100 inputs", "unmodified training run"),
                loads_tensorflow=True)
    assert_refused_touching_no_file(case, tmp_path, request)


@pytest.mark.parametrize("linked", ["output_dir", "model_dir"])
def test_a_link_to_the_model_folder_cannot_replace_its_encodings(tmp_path, request, model, linked):
    run = tmp_path / "inputs" / "run"
    shutil.copytree(model, run, ignore=shutil.ignore_patterns("ckpt"))
    os.symlink(run, tmp_path / "inputs" / "link")
    output, model_dir = ("{inputs}/link", "{inputs}/run") if linked == "output_dir" else ("{inputs}/run",
                                                                                         "{inputs}/link")
    case = Case({}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", model_dir, "--output_dir", output),
                ("is the model's run folder", "give another --output_dir"))
    assert_refused_touching_no_file(case, tmp_path, request)


# cause 14: two runs into one output folder
HOLD_LOCK = textwrap.dedent("""
    import sys
    from tybalt_core.run import run_state
    with run_state.output_folder_held({folder!r}):
        print("held", flush=True)
        sys.stdin.read()
""")


def _hold_output_folder(folder) -> subprocess.Popen:
    """A real process holding ``folder``'s run lock (as a training run does) until its stdin closes."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK.format(folder=str(folder))],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("shared", ["output folder", "checkpoint folder"])
def test_second_run_into_a_folder_in_use_is_refused_and_touches_nothing(tmp_path, request, shared):
    folder = tmp_path / ("out" if shared == "output folder" else "ckpt")
    folder.mkdir()
    holder = _hold_output_folder(folder)
    flag = "--output_dir" if shared == "output folder" else "--ckpt_directory"
    try:
        case = Case({}, ("--ckpt_directory", str(tmp_path / "ckpt")),
                    (f"{shared} {folder} is in use by another run (process {holder.pid})", f"choose another {flag}"))
        assert_refused_touching_no_file(case, tmp_path, request)
    finally:
        holder.communicate("")
    assert holder.returncode == 0 and not os.path.exists(folder / run_state.LOCK_FILE)


def test_a_killed_run_leaves_its_folder_free(tmp_path):
    out = tmp_path / "out"
    holder = _hold_output_folder(out)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert os.path.exists(out / run_state.LOCK_FILE)  # left behind, but the kernel released the lock with the process
    done = run_entry_point("--data_source", "toy", "--output_dir", str(out), "--ckpt_restart_mode", "required")
    assert done.returncode == 2 and "holds no checkpoint" in done.stderr  # got past the lock to the next check


def test_lock_is_exclusive_between_processes_and_released_by_its_owner(tmp_path):
    path = str(tmp_path / "x.lock")
    holder = _hold_output_folder(tmp_path / "out")
    try:
        with pytest.raises(LockHeld) as held:
            with exclusive_lock(str(tmp_path / "out" / run_state.LOCK_FILE), wait=False):
                pass
        assert held.value.holder == str(holder.pid)
    finally:
        holder.communicate("")
    with exclusive_lock(path, wait=False):
        assert open(path).read().strip() == str(os.getpid())
    assert not os.path.exists(path)


# cause 15: resuming with other training parameters
def test_checkpoint_of_other_training_parameters_is_refused_not_resumed(tmp_path, request, model):
    out = tmp_path / "out"
    shutil.copytree(os.path.join(model, "ckpt"), out / "ckpt")
    case = Case({}, ("--learning_rate", "0.01"),
                ("was written by a run with other training parameters", "learning_rate 0.0005 -> 0.01",
                 "start afresh with --overwrite true or another --output_dir"),
                output_files={"params.json": '{"status": "running"}\n'})
    assert_refused_touching_no_file(case, tmp_path, request)


def test_every_parameter_named_as_not_defining_the_training_exists():
    import tybalt

    names = {definition["name"] for definition in tybalt.additional_definitions}
    assert set(run_state.NOT_TRAINING_DEFINING) <= names
    defining = set(run_state.training_parameters({}))
    assert {"learning_rate", "kappa", "kl_mode", "model_type", "depth", "latent_dim", "batch_size", "loss",
            "optimizer", "rng_seed", "data_source", "val_split"} <= defining
    assert not defining & {"epochs", "timeout", "verbose", "output_dir", "ckpt_directory", "overwrite"}


def test_resume_continues_with_the_same_training_and_refuses_or_restarts_with_other(tiny_params, tmp_path):
    """A run stopped by its time limit after 1 epoch: resumable with more epochs, never with another kappa."""
    from tybalt_baseline_keras2 import run

    out = tmp_path / "out"
    run(tiny_params("--epochs", "1", "--kappa", "0.5"))
    record = json.loads((out / "params.json").read_text())
    (out / "params.json").write_text(json.dumps({**record, "status": "stopped_early", "epochs": 2}))
    stopped = {name: (out / name).read_bytes() for name in os.listdir(out) if os.path.isfile(out / name)}

    with pytest.raises(TybaltInputError, match=r"kappa 0.5 -> 0.25.*--overwrite true"):
        run(tiny_params("--epochs", "2", "--kappa", "0.25"))
    assert {name: (out / name).read_bytes() for name in stopped} == stopped

    history = run(tiny_params("--epochs", "2", "--kappa", "0.5", "--verbose", "true", "--timeout", "3600"))
    resumed = json.loads((out / "params.json").read_text())
    assert resumed["resumed_after_epoch"] == 1 and resumed["status"] == "finished" and len(history.history["loss"]) == 2

    (out / "params.json").write_text(json.dumps({**resumed, "status": "stopped_early"}))  # stopped again
    afresh = run(tiny_params("--epochs", "2", "--kappa", "0.25", "--overwrite", "true"))
    record = json.loads((out / "params.json").read_text())
    assert record["kappa"] == 0.25 and record["resumed_after_epoch"] == 0 and len(afresh.history["loss"]) == 2
    assert afresh.history["beta"] == [0.0, 0.25]  # the warm-up of the new kappa from epoch 1, nothing of the old run


# cause 12: the binary cache
TABLE = "sample_id\tG1\tG2\tG3\nS1\t0.1\t0.2\t0.3\nS2\t0.4\t0.5\t0.6\n"
OTHER_TABLE = "sample_id\tG1\tG2\tG3\nS1\t0.9\t0.8\t0.7\nS2\t0.6\t0.5\t0.4\n"


def _cached(tmp_path):
    """The source file, loaded once so its cache exists, and the cache's two files."""
    source = tmp_path / "mine.tsv"
    source.write_text(TABLE)
    data.load_dataset(str(source), str(tmp_path / "data"))
    (meta,) = (tmp_path / "data").rglob("*.json")
    (matrix,) = (tmp_path / "data").rglob("*.npy")
    return str(source), meta, matrix


@pytest.mark.parametrize("damage", ["other shape", "float64", "not an array", "no sample_ids", "names not text",
                                    "metadata a list", "NaN planted"])
def test_damaged_cache_is_rebuilt_from_the_source(tmp_path, caplog, damage):
    source, meta, matrix = _cached(tmp_path)
    recorded = json.loads(meta.read_text())
    if damage == "other shape":
        np.save(matrix, np.zeros((3, 2), dtype=np.float32))
    elif damage == "float64":
        np.save(matrix, np.load(matrix).astype(np.float64))
    elif damage == "not an array":
        matrix.write_bytes(b"\x93NUMPY garbage")
    elif damage == "no sample_ids":
        meta.write_text(json.dumps({k: v for k, v in recorded.items() if k != "sample_ids"}))
    elif damage == "NaN planted":  # the source has none, so the cache, not the source, is damaged
        planted = np.load(matrix)
        planted[1, 2] = np.nan
        np.save(matrix, planted)
    elif damage == "names not text":
        meta.write_text(json.dumps({**recorded, "genes": [1, 2, 3]}))
    else:
        meta.write_text(json.dumps([recorded]))
    with caplog.at_level(logging.DEBUG, logger="tybalt_core.data.expression"):
        loaded = data.load_dataset(source, str(tmp_path / "data"))
    assert "from its binary cache" not in caplog.text and "binary cache written" in caplog.text
    np.testing.assert_allclose(loaded.values, [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], rtol=1e-6)
    assert loaded.sample_ids == ["S1", "S2"] and loaded.genes == ["G1", "G2", "G3"]
    assert data.load_dataset(source, str(tmp_path / "data")).values.shape == (2, 3)  # the rebuilt cache serves


def test_source_edited_while_parsed_is_read_again_and_never_cached_with_old_values(tmp_path):
    source = tmp_path / "mine.tsv"
    source.write_text(TABLE)
    edits = []

    def parse_then_edit(path):
        parsed = data._parse_expression_tsv(path)
        if not edits:  # the user saves a new version while the first read is under way
            source.write_text(OTHER_TABLE)
            edits.append(path)
        return parsed

    parsed, signature = data.parse_unchanged(str(source), parse_then_edit)
    assert parsed.values[0, 0] == pytest.approx(0.9) and signature == data._source_signature(str(source))
    loaded = data.load_dataset(str(source), str(tmp_path / "data"))
    assert loaded.values[0, 0] == pytest.approx(0.9)


def test_source_that_keeps_changing_while_parsed_is_refused(tmp_path):
    source = tmp_path / "mine.tsv"
    source.write_text(TABLE)

    def parse_then_edit(path):
        parsed = data._parse_expression_tsv(path)
        with open(path, "a") as handle:
            handle.write(f"S{len(parsed.sample_ids) + 1}\t0.1\t0.1\t0.1\n")
        return parsed

    with pytest.raises(TybaltInputError, match="kept changing while it was read"):
        data.parse_unchanged(str(source), parse_then_edit)


# issue 25 cause 7: a sample named NA is a sample; values whose z-score overflows float32 are scaled
def test_a_sample_named_na_is_loaded_as_a_sample_not_refused_as_a_row_without_id(tmp_path):
    source = tmp_path / "mine.tsv"
    source.write_text(TABLE.replace("\nS2\t", "\nNA\t"))
    loaded = data.load_dataset(str(source), str(tmp_path / "data"))
    assert loaded.sample_ids == ["S1", "NA"]
    np.testing.assert_allclose(loaded.values[1], [0.4, 0.5, 0.6], rtol=1e-6)


def test_z_scores_of_values_near_the_float32_limit_are_finite_and_right():
    from tybalt_core.data.preprocessing import fit_user_preprocessing

    values = np.array([[1e30, 1.0], [3e30, 2.0], [2e30, 3.0]], dtype=np.float32)
    dataset = data.ExpressionData(values=values, sample_ids=["a", "b", "c"], genes=["G1", "G2"])
    scaled = fit_user_preprocessing(dataset, np.arange(3), 2, "mean_absolute_deviation", "zscore")
    expected = (values.astype(np.float64) - values.mean(axis=0, dtype=np.float64)) / values.std(axis=0,
                                                                                              dtype=np.float64)
    order = [scaled.genes.index(gene) for gene in ["G1", "G2"]]
    np.testing.assert_allclose(scaled.values[:, order], expected, rtol=1e-5)


# cause 9: partial overlap is used, with counts
def test_clinical_table_covering_some_samples_is_used_with_a_warning_giving_counts(tmp_path, caplog):
    source = tmp_path / "mine.tsv"
    source.write_text(TABLE + "S3\t0\t1\t0\n")
    clinical = tmp_path / "clinical.tsv"
    clinical.write_text("sample_id\tsex\nS3\tF\nS9\tM\n")
    with caplog.at_level(logging.WARNING, logger="tybalt_core.data.expression"):
        loaded = data.load_dataset(str(source), str(tmp_path / "data"), clinical_data=str(clinical))
    assert "covers 1 of the 3 data samples (1 of its 2 rows match no data sample)" in caplog.text
    assert loaded.clinical["sex"].tolist()[2] == "F"


# cause 17: temporaries of killed writers
KILLED_WRITER = textwrap.dedent("""
    import os, signal
    from tybalt_core.common.atomic_files import replaced_atomically
    with replaced_atomically({path!r}) as temporary:
        open(temporary, "w").write("half of a file")
        os.kill(os.getpid(), signal.SIGKILL)
""")


def _killed_while_writing(path) -> str:
    """Run a real process that is killed while writing ``path``; return the temporary it left."""
    writer = subprocess.run([sys.executable, "-c", KILLED_WRITER.format(path=str(path))])
    assert writer.returncode == -signal.SIGKILL
    (left,) = [name for name in os.listdir(os.path.dirname(path)) if name.startswith(".tmp.")]
    return left


def test_temporaries_of_killed_runs_are_removed_from_the_output_folder_and_live_ones_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    left = _killed_while_writing(out / "encoded_features.tsv")
    (out / "history.csv").write_text("epoch,loss\n1,0.5\n")
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    live = f".tmp.{sleeper.pid}.loss.png"
    (out / live).write_text("being written")
    try:
        with run_state.output_folder_held(str(out)):
            assert sorted(os.listdir(out)) == sorted([live, "history.csv", run_state.LOCK_FILE])
    finally:
        sleeper.communicate(b"")
    assert left.startswith(".tmp.") and sorted(os.listdir(out)) == sorted([live, "history.csv"])


def test_temporary_of_a_killed_cache_writer_is_removed_when_the_cache_is_written(tmp_path):
    source = tmp_path / "mine.tsv"
    source.write_text(TABLE)
    cache = tmp_path / "data" / "cache"
    cache.mkdir(parents=True)
    stem = data._cache_stem(str(source), str(cache))
    left = _killed_while_writing(f"{stem}.npy")
    data.load_dataset(str(source), str(tmp_path / "data"))
    assert left not in os.listdir(cache)
    assert sorted(os.listdir(cache)) == sorted([os.path.basename(stem) + ".json", os.path.basename(stem) + ".npy"])


# issue 13 item 5: eight trials started together on one empty data folder
LOAD_AS_A_TRIAL_DOES = textwrap.dedent("""
    import hashlib, logging, os, time
    logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
    import tybalt_baseline_keras2
    from tybalt_core.run import trial
    from tybalt_core.config.parameters import check_parameters
    from tybalt_core.config.settings import DataSettings
    params = check_parameters(tybalt_baseline_keras2.initialize_parameters(argv=[
        "--data_source", "synthetic", "--data_dir", {data_dir!r}, "--synthetic_samples", "300",
        "--synthetic_genes", "80", "--latent_dim", "4"]))
    while not os.path.exists({go!r}):
        time.sleep(0.005)
    dataset, train_rows, val_rows = trial.load_data(DataSettings.from_params(params))
    digest = hashlib.sha256()
    for part in (dataset.values[train_rows], dataset.values[val_rows]):
        digest.update(part.tobytes())
    print("digest", digest.hexdigest(), flush=True)
""")


def test_eight_trials_started_together_make_one_data_set_and_one_cache_and_train_on_the_same_values(tmp_path):
    data_dir, go = tmp_path / "data", tmp_path / "go"
    script = LOAD_AS_A_TRIAL_DOES.format(data_dir=str(data_dir), go=str(go))
    trials = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=REPO) for _ in range(8)]
    go.write_text("")  # all eight were started before any may load
    outputs = [trial.communicate(timeout=300) for trial in trials]
    assert all(trial.returncode == 0 for trial in trials), [err[-2000:] for _, err in outputs]
    logs = "".join(err for _, err in outputs)
    assert logs.count("generating synthetic data") == 1
    assert logs.count("binary cache written") == 1
    digests = {out.split()[-1] for out, _ in outputs}
    assert len(digests) == 1
    made = sorted(os.path.relpath(os.path.join(folder, name), data_dir)
                  for folder, _, names in os.walk(data_dir) for name in names)
    assert [os.path.splitext(name)[1] for name in made] == [".json", ".npy", ".tsv", ".tsv"], made
    ninth = data.load_dataset("synthetic", str(data_dir), synthetic_samples=300, synthetic_genes=80)
    train_rows, val_rows = data.split_train_validation(300, 0.1, 123)
    digest = hashlib.sha256(ninth.values[train_rows].tobytes() + ninth.values[val_rows].tobytes()).hexdigest()
    assert digests == {digest}  # and a later trial, served by the cache they left, trains on the same values

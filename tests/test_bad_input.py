"""Bad input through the real entry point: exit code 2, one line naming the problem and the fix, no file touched.

Each case runs the command line in a fresh process, with a valid data file, a data folder and an output folder
that already hold files; afterwards every one of those files must be byte-identical, and the output folder must
not have gained any. Download cases fetch from a real HTTP server on 127.0.0.1 ({server}); saved-model cases use a
real tiny training run ({model}) and a saved model carrying a Lambda layer ({lambda_model}), each made once.
"""

import gzip
import hashlib
import io
import os
import re
import tarfile
from dataclasses import dataclass, field

import pytest

from conftest import run_entry_point, snapshot_files
from local_http_server import LocalFileServer

GENES = 10
VALID_TSV = "sample\t" + "\t".join(f"G{j}" for j in range(GENES)) + "\n" + "".join(
    f"S{i}\t" + "\t".join(f"{((i * 7 + j * 3) % 10) / 10:.1f}" for j in range(GENES)) + "\n" for i in range(30))


def _tsv_with(row: int, column: int, cell: str) -> str:
    """The valid table with one cell (0-based data row and gene column) replaced."""
    lines = VALID_TSV.splitlines()
    cells = lines[row + 1].split("\t")
    cells[column + 1] = cell
    lines[row + 1] = "\t".join(cells)
    return "\n".join(lines) + "\n"


def _renamed(old: str, new: str, header: bool) -> str:
    """The valid table with the first occurrence of a sample id (or gene name in the header) renamed."""
    lines = VALID_TSV.splitlines()
    if header:
        lines[0] = lines[0].replace(f"\t{old}\t", f"\t{new}\t", 1)
    else:
        lines = [new + line[len(old):] if line.startswith(old + "\t") else line for line in lines]
    return "\n".join(lines) + "\n"


def _tar_gz(members: dict) -> bytes:
    """A gzip-compressed tar archive holding ``members`` (name -> bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue(), mtime=0)


HISEQ = ("sample\tTCGA-01\tTCGA-02\tTCGA-03\n"
         + "".join(f"GENE{g}\t{g}\t{g + 1}\t{g + 2}\n" for g in range(5))).encode()
SERVED = {"archive.tar.gz": _tar_gz({"gbm_classifier_data/HiSeqV2": HISEQ}),
          "unsafe.tar.gz": _tar_gz({"../escaped.txt": b"written outside the data folder\n"}),
          "samples.tsv": b"rail_id\tgdc_cases.samples.submitter_id\n1\tTCGA-01\n"}
SHA256 = {name: hashlib.sha256(content).hexdigest() for name, content in SERVED.items()}
TCGA_FLAGS = ("--data_source", "tcga", "--preprocess_only", "true", "--clinical_url", "{server}/samples.tsv",
              "--clinical_sha256", SHA256["samples.tsv"])
TRAINING_GENES = 100


@dataclass
class Case:
    """Files for the inputs folder, extra flags ({inputs} {out} {server} {model} {lambda_model} filled in), texts."""

    files: dict = field(default_factory=dict)
    flags: tuple = ()
    expected: tuple = ()
    output_files: dict = field(default_factory=dict)
    loads_tensorflow: bool = False  # the check needs Keras itself, so TensorFlow's C++ start-up lines precede the error


FINISHED_RUN = {"params.json": '{"status": "finished", "epochs": 1}\n', "history.csv": "epoch,loss,val_loss\n1,2,3\n"}

CASES = {
    "empty data file": Case({"data.tsv": ""}, (), ("is not a readable TSV", "give a tab-separated")),
    "header only": Case({"data.tsv": VALID_TSV.splitlines()[0] + "\n"}, (), ("no data rows", "header row")),
    "duplicated sample ids": Case({"data.tsv": _renamed("S1", "S0", header=False)}, (),
                                  ("duplicated sample ids (S0)", "one row per sample")),
    "duplicated gene names": Case({"data.tsv": _renamed("G1", "G0", header=True)}, (),
                                  ("duplicated gene names (G0)", "one column per gene")),
    "text cell": Case({"data.tsv": _tsv_with(3, 4, "high")}, (), ("non-numeric cells in column(s) G4",
                                                                  "must be a number")),
    "missing value": Case({"data.tsv": _tsv_with(3, 4, "NaN")}, (), ("missing or infinite values",
                                                                     "impute or drop")),
    "negative value with binary cross-entropy": Case({"data.tsv": _tsv_with(0, 0, "-2.5")}, (),
                                                     ("outside [0, 1]", "--loss mse")),
    "binary file as data": Case({"data.tsv": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00"}, (),
                                ("is not a readable TSV", "give a tab-separated")),
    "missing data file": Case({}, ("--data_source", "{inputs}/absent.tsv"), ("absent.tsv not found",
                                                                             "--data_source synthetic")),
    "data path is a folder": Case({}, ("--data_source", "{inputs}"), ("is a folder", "give the path of")),
    "too few samples to split": Case({"data.tsv": "\n".join(VALID_TSV.splitlines()[:3]) + "\n"}, (),
                                     ("too few samples (2)", "give more samples")),
    "latent_dim larger than the genes": Case({}, ("--latent_dim", str(GENES + 1)),
                                             (f"latent_dim = {GENES + 1} is larger than the {GENES} genes",
                                              f"choose a latent_dim of at most {GENES}")),
    "unknown model_type": Case({}, ("--model_type", "transformer"), ("invalid choice: 'transformer'", "--help")),
    "negative epochs": Case({}, ("--epochs", "-3"), ("epochs = -3 is out of range", "at least 1")),
    "batch_size 0": Case({}, ("--batch_size", "0"), ("batch_size = 0 is out of range", "at least 1")),
    "val_split 1.5": Case({}, ("--val_split", "1.5"), ("val_split = 1.5 is out of range", "below 1")),
    "ckpt_keep_limit 0": Case({}, ("--ckpt_keep_limit", "0"), ("ckpt_keep_limit = 0 is out of range",
                                                               "at least 1")),
    "wrong type for a flag": Case({}, ("--epochs", "ten"), ("invalid int value: 'ten'", "--help")),
    "unknown flag (typo)": Case({}, ("--epoch", "3"), ("unrecognized arguments: --epoch 3", "--help")),
    "config file syntax error": Case({"bad.txt": "[Global_Params]\nthis line has no equals sign\n"},
                                     ("--config_file", "{inputs}/bad.txt"),
                                     ("is not a valid INI file (line 2: this line has no equals sign)",
                                      "'name = value' lines")),
    "config file with Python code": Case(
        {"evil.txt": "[Global_Params]\nepochs = __import__('os').system('touch {inputs}/pwned')\n"},
        ("--config_file", "{inputs}/evil.txt"), ("value of 'epochs' is not a Python literal", "write numbers")),
    "config file value of the wrong type": Case({"typed.txt": "[Global_Params]\nepochs = 'ten'\n"},
                                                ("--config_file", "{inputs}/typed.txt"),
                                                ("epochs = 'ten' is not a valid int", "give a value of type int")),
    "config file with an unknown optimizer": Case({"opt.txt": "[Global_Params]\noptimizer = 'adamw'\n"},
                                                  ("--config_file", "{inputs}/opt.txt"),
                                                  ("optimizer = 'adamw' is not one of", "pick one")),
    "missing config file": Case({}, ("--config_file", "{inputs}/absent.txt"),
                                ("absent.txt not found", "--config_file")),
    "ckpt_restart_mode required without a checkpoint": Case({}, ("--ckpt_restart_mode", "required"),
                                                            ("holds no checkpoint", "--ckpt_restart_mode auto")),
    "finished run without --overwrite": Case({}, (), ("already holds a finished run", "--overwrite true"),
                                             output_files=FINISHED_RUN),
    "data folder is a file (operating-system error)": Case({}, ("--data_source", "synthetic", "--data_dir",
                                                                "{inputs}/data.tsv"),
                                                           ("cannot use", "data.tsv/synthetic", "Not a directory",
                                                            "check that the path exists")),
    "unknown tuner": Case({}, ("--tuner", "nope"), ("invalid choice: 'nope'", "--help")),
    "search space with a typo'd top-level key": Case({"space.yaml": "parameter:\n  latent_dim: [2, 3]\n"},
                                                     ("--tuner", "random", "--search_space", "{inputs}/space.yaml"),
                                                     ("unknown key 'parameter'", "did you mean 'parameters'?")),
    "search space with a typo'd range key": Case(
        {"space.yaml": "parameters:\n  learning_rate: {min: 0.001, mx: 0.01}\n"},
        ("--tuner", "random", "--search_space", "{inputs}/space.yaml"),
        ("unknown key 'mx' in parameters.learning_rate", "did you mean 'max'?")),
    "download checksum mismatch": Case({}, (*TCGA_FLAGS, "--data_url", "{server}/archive.tar.gz", "--data_sha256",
                                            "0" * 64),
                                       ("checksum mismatch for archive.tar.gz", f"got {SHA256['archive.tar.gz']}",
                                        "not used", "check the URL or data_sha256")),
    "archive with a '../' member": Case({}, (*TCGA_FLAGS, "--data_url", "{server}/unsafe.tar.gz", "--data_sha256",
                                             SHA256["unsafe.tar.gz"]),
                                        ("unsafe member '../escaped.txt'", "refusing to extract it", "check data_url")),
    "wrong gene set for a saved encoder": Case({}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{model}"),
                                               (f"lacks {TRAINING_GENES - GENES} of the {TRAINING_GENES} training "
                                                "genes (G10, G11,", "give a value for every gene in genes.txt")),
    "encoder.keras that is not a Keras model": Case(
        {"run/genes.txt": "".join(f"G{j}\n" for j in range(GENES)), "run/encoder.keras": os.urandom(256)},
        ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{inputs}/run"),
        ("run/encoder.keras is not a Keras model file", "give the encoder.keras")),
    "model_dir that does not exist": Case({}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{inputs}/absent"),
                                          ("model folder", "absent not found", "the folder of a training run")),
    "saved model carrying Python code (Lambda layer)": Case(
        {}, ("--encode_data", "{inputs}/data.tsv", "--model_dir", "{lambda_model}"),
        ("loaded safely", "Lambda", "give the encoder.keras"), loads_tensorflow=True),
    "output folder inside a file": Case({}, ("--output_dir", "{inputs}/data.tsv/run"),
                                        ("cannot be written", "is not a folder", "choose another --output_dir")),
}


# TensorFlow 2.21 prints these at import whatever TF_CPP_MIN_LOG_LEVEL says (absl logs before it is initialised).
TF_STARTUP_LINE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called"
                             r"|I\d{4} [\d:.]+ +\d+ \S+:\d+\] ")


def _error_lines(stderr: str, loads_tensorflow: bool) -> list:
    """The lines of stderr; for a case that must start TensorFlow, without its C++ start-up lines."""
    lines = stderr.strip().splitlines()
    return [line for line in lines if not TF_STARTUP_LINE.match(line)] if loads_tensorflow else lines


def _write(path, content) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(content, bytes) else "w") as handle:
        handle.write(content)


@pytest.fixture(scope="module")
def server():
    """The real HTTP server the download cases fetch from."""
    with LocalFileServer() as local:
        local.files.update(SERVED)
        yield local


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> str:
    """The run folder of a real tiny training run on genes G0..G99 (200 samples, latent 4, one epoch)."""
    folder = tmp_path_factory.mktemp("trained")
    table = "sample\t" + "\t".join(f"G{j}" for j in range(TRAINING_GENES)) + "\n" + "".join(
        f"S{i}\t" + "\t".join(f"{((i * 7 + j * 3) % 10) / 10:.1f}" for j in range(TRAINING_GENES)) + "\n"
        for i in range(200))
    _write(folder / "train.tsv", table)
    done = run_entry_point("--data_source", str(folder / "train.tsv"), "--data_dir", str(folder / "data"),
                           "--output_dir", str(folder / "run"), "--latent_dim", "4", "--epochs", "1",
                           "--verbose", "false")
    assert done.returncode == 0, done.stderr[-3000:]
    assert os.path.isfile(folder / "run" / "encoder.keras")
    return str(folder / "run")


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory) -> str:
    """A run folder whose encoder.keras holds a Lambda layer (Python code that safe mode must not run)."""
    from tybalt_core.models.backend import keras

    folder = tmp_path_factory.mktemp("lambda_run")
    _write(folder / "genes.txt", "".join(f"G{j}\n" for j in range(GENES)))
    inputs = keras.Input(shape=(GENES,))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)).save(str(folder / "encoder.keras"))
    return str(folder)


def _fill(text: str, request, inputs, out) -> str:
    """Replace the placeholders of a case's flag; the server and saved models are made only when a case needs them."""
    text = text.replace("{inputs}", str(inputs)).replace("{out}", str(out))
    for name in ("server", "model", "lambda_model"):
        if "{" + name + "}" in text:
            value = request.getfixturevalue(name)
            text = text.replace("{" + name + "}", value.url("").rstrip("/") if name == "server" else value)
    return text


# pandas renames a repeated header name ('G0' -> 'G0.1'); the data branch reads the header as written.
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line_naming_problem_and_fix_and_touches_no_file(name, tmp_path, request):
    assert_refused_touching_no_file(CASES[name], tmp_path, request)


def assert_refused_touching_no_file(case: Case, tmp_path, request) -> None:
    """Run ``case`` through the entry point and check the promise (files already in tmp_path/inputs are kept)."""
    inputs, data_dir, out = tmp_path / "inputs", tmp_path / "data", tmp_path / "out"
    for folder in (inputs, data_dir, out):
        folder.mkdir(exist_ok=True)
    files = {"data.tsv": VALID_TSV, **case.files}
    for file_name, content in files.items():
        _write(inputs / file_name, content.replace("{inputs}", str(inputs)) if isinstance(content, str) else content)
    _write(data_dir / "notes.txt", "a file the user keeps in the data folder\n")
    for file_name, content in {"results_kept.txt": "earlier results\n", **case.output_files}.items():
        _write(out / file_name, content)
    before = snapshot_files(tmp_path)

    flags = ["--data_source", str(inputs / "data.tsv"), "--data_dir", str(data_dir), "--output_dir", str(out),
             "--latent_dim", "3", "--epochs", "1", "--verbose", "false"]
    flags += [_fill(flag, request, inputs, out) for flag in case.flags]
    done = run_entry_point(*flags)

    lines = _error_lines(done.stderr, case.loads_tensorflow)
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("tybalt: error: "), done.stderr[-3000:]
    for text in case.expected:
        assert text in lines[0]
    after = snapshot_files(tmp_path)
    assert {path: after.get(path) for path in before} == before
    assert sorted(path for path in after if path.startswith(str(out))) == sorted(
        path for path in before if path.startswith(str(out)))
    assert not os.path.exists(inputs / "pwned")
    assert not any(path.endswith("escaped.txt") for path in snapshot_files(tmp_path))

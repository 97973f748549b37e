"""Bad input through the real entry point: exit code 2, one line naming the problem and the fix, no file touched.

Each case runs the command line in a fresh process, with a valid data file, a data folder and an output folder
that already hold files; afterwards every one of those files must be byte-identical, and the output folder must
not have gained any.
"""

import os
from dataclasses import dataclass, field

import pytest

from conftest import run_entry_point

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


@dataclass
class Case:
    """Files to place in the inputs folder, extra flags ({inputs} and {out} are filled in), expected text."""

    files: dict = field(default_factory=dict)
    flags: tuple = ()
    expected: tuple = ()
    output_files: dict = field(default_factory=dict)


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
    "output folder inside a file": Case({}, ("--output_dir", "{inputs}/data.tsv/run"),
                                        ("cannot be written", "is not a folder", "choose another --output_dir")),
}


def _snapshot(root) -> dict:
    return {os.path.join(folder, name): open(os.path.join(folder, name), "rb").read()
            for folder, _, names in os.walk(root) for name in names}


def _write(path, content) -> None:
    with open(path, "wb" if isinstance(content, bytes) else "w") as handle:
        handle.write(content)


# pandas renames a repeated header name ('G0' -> 'G0.1'); the data branch reads the header as written.
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_exits_2_with_one_line_naming_problem_and_fix_and_touches_no_file(name, tmp_path):
    case = CASES[name]
    inputs, data_dir, out = tmp_path / "inputs", tmp_path / "data", tmp_path / "out"
    for folder in (inputs, data_dir, out):
        folder.mkdir()
    files = {"data.tsv": VALID_TSV, **case.files}
    for file_name, content in files.items():
        _write(inputs / file_name, content.replace("{inputs}", str(inputs)) if isinstance(content, str) else content)
    _write(data_dir / "notes.txt", "a file the user keeps in the data folder\n")
    for file_name, content in {"results_kept.txt": "earlier results\n", **case.output_files}.items():
        _write(out / file_name, content)
    before = _snapshot(tmp_path)

    flags = ["--data_source", str(inputs / "data.tsv"), "--data_dir", str(data_dir), "--output_dir", str(out),
             "--latent_dim", "3", "--epochs", "1", "--verbose", "false"]
    flags += [flag.replace("{inputs}", str(inputs)).replace("{out}", str(out)) for flag in case.flags]
    done = run_entry_point(*flags)

    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("tybalt: error: "), done.stderr[-3000:]
    for text in case.expected:
        assert text in lines[0]
    after = _snapshot(tmp_path)
    assert {path: after.get(path) for path in before} == before
    assert sorted(path for path in after if path.startswith(str(out))) == sorted(
        path for path in before if path.startswith(str(out)))
    assert not os.path.exists(inputs / "pwned")

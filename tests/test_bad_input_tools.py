"""Bad input to every command-line tool, through the one shared error path: exit 2, one line, no file touched.

The table covers the tools (tybalt_baseline_keras2.py, upf_runner.py, hpo_results.py, workflow_files.py,
compare_runs.py, latent_sweep.py):
numbers outside their domain (NaN and infinity included), text files that are not UTF-8, paths of the wrong kind
(folder, FIFO, a file where a folder belongs), search-space mistakes and misleading-message cases. Every case fails
before TensorFlow is needed, so the table runs in this process by calling each tool's ``main`` (fast); a few cases
also run as real processes, in parallel, to check what a user sees on the terminal and that TensorFlow never starts.
"""

import errno
import json
import os
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd
import pytest

import tybalt
import tybalt_baseline_keras2
from conftest import TYBALT_DIR, snapshot_files
from tybalt_core.candle import latent_sweep, upf_runner, workflow_files
from tybalt_core.common.atomic_files import write_text
from tybalt_core.common.cli import describe_os_error, run_command
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config.parameters import DOMAINS, LOG10_PARAMETERS, check_parameters
from tybalt_core.run import run_comparison
from tybalt_core.tune import hpo_results

GENES = 6
VALID_TSV = "sample\t" + "\t".join(f"G{j}" for j in range(GENES)) + "\n" + "".join(
    f"S{i}\t" + "\t".join(f"{((i * 7 + j * 3) % 10) / 10:.1f}" for j in range(GENES)) + "\n" for i in range(30))
UTF16_CONFIG = "[Global_Params]\nepochs = 3\n".encode("utf-16")
LATIN1_CONFIG = "[Global_Params]\n# r\xe9glages\nepochs = 3\n".encode("latin-1")
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00\x01"
FIFO = object()  # a files entry made as a named pipe
LOOP = object()  # a files entry made as a symbolic link to itself
VALID_YAML = "parameters:\n  latent_dim: [2, 3]\n"
TRIAL = {"id": "t1", "epochs": 1, "latent_dim": 2}
PARAMETERS_TXT = "[Global Params]\nlatent_dim=2\nrun_id='t1'\n[Monitor Params]\ntimeout=-1\n"


@dataclass
class Case:
    """One bad input: the tool, its arguments ({d} = the case's folder), the files in that folder, the message."""

    tool: str
    args: tuple
    expected: tuple
    files: dict = field(default_factory=dict)
    unexpected: tuple = ()  # texts the message must not contain (a misleading hint)


def space(content, *expected: str) -> Case:
    """A search space (text or bytes) given to an in-process KerasTuner search."""
    return Case("tybalt", ("--tuner", "random", "--search_space", "{d}/space.yaml"), expected, {"space.yaml": content})


def campaign(**files) -> dict:
    """The files of a one-trial Supervisor campaign folder (run/t1/...) plus ``files``."""
    return {"camp/run/t1/parameters.txt": PARAMETERS_TXT, "camp/run/t1/result.txt": "0.25\n", **files}


NUMBER_CASES = {
    # cause 1: every numeric parameter has a domain, NaN and infinity included
    "val_split nan": Case("tybalt", ("--val_split", "nan"), ("val_split = nan is not a finite number",
                                                             "greater than 0 and below 1")),
    "val_split inf": Case("tybalt", ("--val_split", "inf"), ("val_split = inf is not a finite number",)),
    "rng_seed -1": Case("tybalt", ("--rng_seed", "-1"), ("rng_seed = -1 is out of range", "at most 4294967295")),
    "rng_seed 2**40": Case("tybalt", ("--rng_seed", "1099511627776"), ("rng_seed = 1099511627776 is out of range",)),
    "synthetic_genes 12": Case("tybalt", ("--synthetic_genes", "12"), ("synthetic_genes = 12 is out of range",
                                                                       "at least 70")),
    "synthetic_samples 5": Case("tybalt", ("--synthetic_samples", "5"), ("synthetic_samples = 5 is out of range",)),
    "hidden_dim past 32 bits": Case("tybalt", ("--hidden_dim", "2147483648"), ("hidden_dim = 2147483648 is out",)),
    "depth 9": Case("tybalt", ("--model_type", "ae", "--depth", "9"), ("depth = 9 is not supported by model_type 'ae'", "from 0 to 6")),
    "noise 1 (drops every input)": Case("tybalt", ("--noise", "1"), ("noise = 1.0 is out of range", "below 1")),
    "sparsity nan": Case("tybalt", ("--sparsity", "nan"), ("sparsity = nan is not a finite number",)),
    "perplexity -inf": Case("tybalt", ("--perplexity=-inf",), ("perplexity = -inf is not a finite number",)),
    "synthetic data larger than memory": Case("tybalt", ("--synthetic_samples", "2000000000"),
                                              ("generating 2000000000 samples x 1000 genes needs about",
                                               "use fewer samples or genes")),
    "toy data larger than memory": Case("tybalt", ("--data_source", "toy", "--toy_samples", "2000000000"),
                                        ("generating 2000000000 samples x 3 genes",)),
    "learning_rate 1e400 (infinite once read)": Case("tybalt", ("--learning_rate", "1e400"),
                                                     ("learning_rate = inf is not a finite",)),
    "steps_per_execution 0": Case("tybalt", ("--steps_per_execution", "0"), ("steps_per_execution = 0 is out",)),
    # cause 2: learning_rate and kappa
    "learning_rate nan": Case("tybalt", ("--learning_rate", "nan"), ("learning_rate = nan is not a finite",
                                                                     "greater than 0")),
    "learning_rate inf": Case("tybalt", ("--learning_rate", "inf"), ("learning_rate = inf is not a finite",)),
    "learning_rate 0": Case("tybalt", ("--learning_rate", "0"), ("learning_rate = 0.0 is out of range",)),
    "kappa nan": Case("tybalt", ("--kappa", "nan"), ("kappa = nan is not a finite number",)),
    "kappa -inf": Case("tybalt", ("--kappa=-inf",), ("kappa = -inf is not a finite number",)),
    # numbers from a config file: literal infinity, a 400-digit integer, an int written as a float
    "config learning_rate 1e999": Case("tybalt", ("--config_file", "{d}/c.txt"), ("learning_rate = inf is not a",),
                                       {"c.txt": "[Global_Params]\nlearning_rate = 1e999\n"}),
    "config kappa 400 digits": Case("tybalt", ("--config_file", "{d}/c.txt"), ("kappa = 1000", "not a valid float"),
                                    {"c.txt": "[Global_Params]\nkappa = 1" + "0" * 400 + "\n"}),
    "config epochs 1e999": Case("tybalt", ("--config_file", "{d}/c.txt"), ("epochs = inf is not a valid int",),
                                {"c.txt": "[Global_Params]\nepochs = 1e999\n"}),
    "config rng_seed 2**64": Case("tybalt", ("--config_file", "{d}/c.txt"), ("rng_seed = 18446744073709551616",),
                                  {"c.txt": "[Global_Params]\nrng_seed = 18446744073709551616\n"}),
    "config value with an unhashable key": Case("tybalt", ("--config_file", "{d}/c.txt"),
                                                ("value of 'epochs' is not a Python literal",),
                                                {"c.txt": "[Global_Params]\nepochs = {[1]: 2}\n"}),
}

TEXT_CASES = {
    # cause 4: every tool reading a text file refuses binary, UTF-16 and Latin-1 with one line
    "config file UTF-16": Case("tybalt", ("--config_file", "{d}/c.txt"), ("config file", "c.txt is not UTF-8 text",
                                                                          "UTF-16 or binary"), {"c.txt": UTF16_CONFIG}),
    "config file Latin-1": Case("tybalt", ("--config_file", "{d}/c.txt"), ("byte 0xe9 at offset 19 is not UTF-8",
                                                                           "save it as UTF-8"),
                                {"c.txt": LATIN1_CONFIG}),
    "config file binary": Case("tybalt", ("--config_file", "{d}/c.txt"), ("c.txt is not UTF-8 text",),
                               {"c.txt": BINARY}),
    "search space UTF-16": space(VALID_YAML.encode("utf-16"), "search-space file", "space.yaml is not UTF-8 text"),
    "search space binary": space(BINARY, "space.yaml is not UTF-8 text"),
    "UPF file UTF-16": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"), ("UPF file",
                                                                                     "t.upf is not UTF-8 text"),
                            {"t.upf": (json.dumps(TRIAL) + "\n").encode("utf-16")}),
    "UPF file binary": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"), ("t.upf is not UTF-8 text",),
                            {"t.upf": BINARY}),
    "genes.txt UTF-16 (--encode_data)": Case("tybalt", ("--encode_data", "{d}/data.tsv", "--model_dir", "{d}/run"),
                                             ("genes file", "genes.txt is not UTF-8 text"),
                                             {"data.tsv": VALID_TSV, "run/genes.txt": "G0\nG1\n".encode("utf-16")}),
    "workflow YAML Latin-1": Case("workflow_files", ("--yaml_dir", "{d}/yaml", "--output_dir", "{d}/gen"),
                                  ("bad.yaml is not UTF-8 text",),
                                  {"yaml/bad.yaml": "description: r\xe9glages\n".encode("latin-1") + b"parameters:\n"
                                   b"  latent_dim: [2, 3]\n"}),
    "campaign whose only parameters.txt is binary": Case("hpo_results", ("{d}/camp",),
                                                          ("none of the 1 instance folders", "is not UTF-8 text"),
                                                          campaign(**{"camp/run/t1/parameters.txt": BINARY})),
    "campaign whose only result.txt is UTF-16": Case("hpo_results", ("{d}/camp",),
                                                      ("none of the 1 instance folders", "result.txt is not UTF-8"),
                                                      campaign(**{"camp/run/t1/result.txt": "0.5\n".encode("utf-16")})),
    "campaign whose only parameters.txt is truncated JSON": Case(
        "hpo_results", ("{d}/camp",), ("is not complete JSON", "interrupted while writing"),
        campaign(**{"camp/run/t1/parameters.txt": '{"latent_dim": 2, "run_id": "t'})),
}

SPACE_CASES = {
    # cause 5: search spaces with keys that are not names, NaN/inf bounds and steps, data parameters varied
    "space key that is a number": space("parameters:\n  1: [2, 3]\n", "has the key 1, which is not"),
    "space key that is null": space("parameters:\n  ~: [2, 3]\n", "has the key None"),
    "fixed key that is a boolean": space("fixed:\n  true: 1\n" + VALID_YAML, "fixed has the key True"),
    "range min .nan": space("parameters:\n  learning_rate: {min: .nan, max: 0.01}\n",
                                    "learning_rate.min: parameter learning_rate = nan is not a finite number"),
    "range max .inf": space("parameters:\n  kappa: {min: 0.1, max: .inf}\n",
                                    "kappa = inf is not a finite number"),
    "range step .nan": space("parameters:\n  learning_rate: {min: 0.001, max: 0.01, step: .nan}\n",
                                     "learning_rate.step = nan", "positive step"),
    "range step .inf": space("parameters:\n  epochs: {min: 1, max: 9, step: .inf}\n",
                                     "epochs.step = inf"),
    "list value .nan": space("parameters:\n  learning_rate: [.nan, 0.001]\n",
                                     "learning_rate = nan is not a finite number"),
    "data parameter varied": space("parameters:\n  synthetic_samples: [100, 200]\n",
                                           "synthetic_samples change the data set", "move them to 'fixed'"),
    "toy data parameter varied": space("fixed: {data_source: toy}\nparameters:\n"
                                                     "  toy_variant: [binary, continuous]\n",
                                               "toy_variant change the data set"),
    "YAML syntax error (PyYAML's message spans lines)": space("parameters: {latent_dim: [2, 3\n",
                                                             "not valid YAML (expected ',' or ']'", "at line 2"),
    "YAML python tag": space("parameters: !!python/object:os.system {}\n", "could not determine a constructor"),
    # issue 25 cause 4: conditions on a conditional parameter, list-valued parameters searched
    "when on a parameter that is itself conditional": space(
        "parameters:\n  depth: [0, 1]\n  hidden_dim: {values: [8, 16], when: {depth: [1]}}\n"
        "  latent_dim: {values: [2, 3], when: {hidden_dim: [8]}}\n",
        "parameters.latent_dim.when names 'hidden_dim', which is itself conditional (when: {depth: [1]})",
        "add that condition to latent_dim's when"),
    "gpus searched as lists": space("parameters:\n  gpus: [[0], [1]]\n",
                                    "parameters.gpus takes a list of values in every trial",
                                    "set it under 'fixed'"),
    "gpus fixed to a list of lists": space("fixed:\n  gpus: [[0], [1]]\n" + VALID_YAML,
                                           "fixed.gpus: parameter gpus = [0] is not a valid GPU index"),
    "search space that is a folder": Case("tybalt", ("--tuner", "random", "--search_space", "{d}"),
                                          ("search-space file", "is a folder, not a file")),
}

TOOL_CASES = {
    # cause 7: hpo_results
    "campaign folder is a file": Case("hpo_results", ("{d}/c.txt",), ("campaign folder", "is a file, not a folder"),
                                      {"c.txt": "x\n"}),
    "campaign folder missing": Case("hpo_results", ("{d}/absent",), ("campaign folder", "absent not found")),
    "hpo output folder is a file": Case("hpo_results", ("{d}/camp", "--output_dir", "{d}/c.txt"),
                                        ("output folder", "c.txt is not a folder", "--output_dir"),
                                        campaign(**{"c.txt": "x\n"})),
    "campaign whose only parameters.txt is empty": Case("hpo_results", ("{d}/camp",),
                                                        ("holds no key=value lines (empty or cut short)",),
                                                        campaign(**{"camp/run/t1/parameters.txt": ""})),
    "campaign whose only parameters.txt is a FIFO": Case("hpo_results", ("{d}/camp",), ("named pipe (FIFO)",),
                                                          campaign(**{"camp/run/t1/parameters.txt": FIFO})),
    "hpo unknown flag": Case("hpo_results", ("{d}/camp", "--outputdir", "x"), ("unrecognized arguments",),
                             campaign()),
    # cause 8: upf_runner
    "UPF file missing": Case("upf_runner", ("{d}/absent.upf", "--campaign_dir", "{d}/camp"),
                             ("UPF file", "absent.upf not found")),
    "UPF path is a folder": Case("upf_runner", ("{d}", "--campaign_dir", "{d}/camp"), ("is a folder, not a file",)),
    "UPF path is a FIFO": Case("upf_runner", ("{d}/p.upf", "--campaign_dir", "{d}/camp"), ("named pipe (FIFO)",),
                               {"p.upf": FIFO}),
    "--first -1": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp", "--first", "-1"),
                       ("argument --first", "give at least 1"), {"t.upf": json.dumps(TRIAL) + "\n"}),
    "--first 0": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp", "--first", "0"),
                      ("give at least 1",), {"t.upf": json.dumps(TRIAL) + "\n"}),
    "--first two": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp", "--first", "two"),
                        ("expected a whole number",), {"t.upf": json.dumps(TRIAL) + "\n"}),
    "campaign folder given to upf_runner is a file": Case(
        "upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/c.txt"), ("campaign folder", "c.txt is not a folder"),
        {"t.upf": json.dumps(TRIAL) + "\n", "c.txt": "x\n"}),
    "UPF trial with NaN": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"),
                               ("trial 't1'", "learning_rate = nan is not a finite"),
                               {"t.upf": '{"id": "t1", "learning_rate": NaN}\n'}),
    "UPF trial id that is a path": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"),
                                        ("run_id = '../t1' cannot name a folder",),
                                        {"t.upf": '{"id": "../t1", "epochs": 1}\n'}),
    "UPF ids that are lists": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"),
                                   ("t.upf:2: each line needs a JSON object with a unique",),
                                   {"t.upf": '{"id": [1]}\n{"id": [1]}\n'}),
    "--set epochs=nan": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp", "--set", "epochs=nan"),
                             ("epochs = 'nan' is not a valid int",), {"t.upf": json.dumps(TRIAL) + "\n"}),
    "--set learning_rate=1e999": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp", "--set",
                                                     "learning_rate=1e999"), ("learning_rate = inf is not a finite",),
                                      {"t.upf": json.dumps(TRIAL) + "\n"}),
    "empty UPF file": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"), ("t.upf holds no trials",),
                           {"t.upf": "\n"}),
    "UPF depth the default model_type lacks": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp"),
                                                   ("trial 'a'", "depth = 5 is not supported by model_type 'vae'"),
                                                   {"t.upf": '{"id": "a", "depth": 5}\n'}),
    "--set without =": Case("upf_runner", ("{d}/t.upf", "--campaign_dir", "{d}/camp", "--set", "epochs"),
                            ("expected name=value",), {"t.upf": json.dumps(TRIAL) + "\n"}),
    # the shared error path in workflow_files.py
    "workflow output folder is a file": Case("workflow_files", ("--yaml_dir", "{d}/yaml", "--output_dir", "{d}/c.txt"),
                                             ("c.txt",), {"yaml/ok.yaml": VALID_YAML, "c.txt": "x\n"}),
    "workflow YAML with an infinite bound": Case("workflow_files", ("--yaml_dir", "{d}/yaml", "--output_dir", "{d}/gen"),
                                                 ("kappa = inf is not a finite number",),
                                                 {"yaml/inf.yaml": "parameters:\n  kappa: {min: 0.1, max: .inf}\n"}),
    "workflow YAML folder empty": Case("workflow_files", ("--yaml_dir", "{d}", "--output_dir", "{d}/gen"),
                                       ("no search-space YAML files",)),
}

MESSAGE_CASES = {
    # cause 16: messages that said the wrong thing
    "comma-separated data file": Case("tybalt", ("--data_source", "{d}/data.csv"), ("data.csv is comma-separated",
                                                                                    "save it tab-separated"),
                                      {"data.csv": VALID_TSV.replace("\t", ",")}),
    "tab header, comma rows": Case("tybalt", ("--data_source", "{d}/data.csv"), ("is comma-separated",),
                                   {"data.csv": VALID_TSV.split("\n", 1)[0] + "\n"
                                    + VALID_TSV.split("\n", 1)[1].replace("\t", ",")}),
    "data file that is a FIFO": Case("tybalt", ("--data_source", "{d}/pipe.tsv"), ("named pipe (FIFO)",),
                                     {"pipe.tsv": FIFO}, unexpected=("not found",)),
    "config file that is a folder": Case("tybalt", ("--config_file", "{d}"), ("is a folder, not a file",
                                                                             "--config_file"),
                                         unexpected=("not found",)),
    "config file that is a FIFO": Case("tybalt", ("--config_file", "{d}/c.txt"), ("named pipe (FIFO)",),
                                       {"c.txt": FIFO}),
    "relative config file missing (named in the working folder)": Case(
        "tybalt", ("--config_file", "absent.txt"), ("config file {d}/absent.txt not found",)),
    "clinical file that is a folder": Case("tybalt", ("--data_source", "{d}/data.tsv", "--clinical_data", "{d}"),
                                           ("clinical file", "is a folder"), {"data.tsv": VALID_TSV}),
    "timeout 0": Case("tybalt", ("--timeout", "0"), ("timeout = 0 is out of range", "or -1 (no limit)")),
    "timeout -5": Case("tybalt", ("--timeout", "-5"), ("timeout = -5 is out of range",)),
    "empty run_id": Case("tybalt", ("--output_dir", "", "--run_id", ""), ("run_id = '' cannot name a folder",)),
    "run_id ..": Case("tybalt", ("--output_dir", "", "--run_id", ".."), ("run_id = '..' cannot name a folder",)),
    "experiment_id with a slash": Case("tybalt", ("--experiment_id", "a/b"), ("experiment_id = 'a/b' cannot",)),
    "--model_dir that is a file": Case("tybalt", ("--encode_data", "{d}/data.tsv", "--model_dir", "{d}/data.tsv"),
                                       ("model folder", "data.tsv is a file, not a folder"), {"data.tsv": VALID_TSV},
                                       unexpected=("not found",)),
    "--encode_data of a missing file": Case("tybalt", ("--encode_data", "{d}/absent.tsv", "--model_dir", "{d}"),
                                            ("absent.tsv not found", "give --encode_data an existing"),
                                            unexpected=("synthetic",)),
}

WIDE_TSV = "sample\t" + "\t".join(f"G{j}" for j in range(30)) + "\n" + "".join(
    f"S{i}\t" + "\t".join(f"{((i * 7 + j * 3) % 10) / 10:.1f}" for j in range(30)) + "\n" for i in range(30))
HUGE_GRID = "parameters:\n" + "".join(f"  {name}: [{', '.join(str(v) for v in range(1, 11))}]\n" for name in (
    "latent_dim", "hidden_dim", "batch_size", "epochs", "patience", "steps_per_execution", "executions_per_trial"))

ROUND3_CASES = {
    # issue 25 cause 7: messages that pointed the wrong way
    "data file that is a symbolic link loop": Case("tybalt", ("--data_source", "{d}/loop.tsv"),
                                                   ("data file", "loop.tsv is a symbolic link that loops"),
                                                   {"loop.tsv": LOOP}, unexpected=("is a file",)),
    "--model_dir that is a symbolic link loop": Case("tybalt", ("--encode_data", "{d}/data.tsv", "--model_dir",
                                                                "{d}/loop"),
                                                     ("model folder", "loop is a symbolic link that loops"),
                                                     {"data.tsv": VALID_TSV, "loop": LOOP},
                                                     unexpected=("is a file",)),
    "--output_dir that is a symbolic link loop": Case("tybalt", ("--output_dir", "{d}/loop"),
                                                      ("output folder", "loop is a symbolic link that loops"),
                                                      {"loop": LOOP}),
    "value beyond float32": Case("tybalt", ("--data_source", "{d}/big.tsv"),
                                 ("beyond the 32-bit float range", "column(s) G4", "log2(x + 1)"),
                                 {"big.tsv": VALID_TSV.replace("\nS3\t0.1\t0.4\t0.7\t0.0\t0.3\t",
                                                               "\nS3\t0.1\t0.4\t0.7\t0.0\t1e39\t")},
                                 unexpected=("missing or infinite",)),
    "two samples named NA": Case("tybalt", ("--data_source", "{d}/na.tsv"), ("duplicated sample ids (NA)",),
                                 {"na.tsv": VALID_TSV.replace("\nS1\t", "\nNA\t").replace("\nS2\t", "\nNA\t")},
                                 unexpected=("without a sample id",)),
    "latent_dim above the genes num_genes kept": Case("tybalt", ("--data_source", "{d}/wide.tsv", "--num_genes", "10",
                                                                 "--latent_dim", "20"),
                                                      ("latent_dim = 20 is larger than the 10 genes of",
                                                       "wide.tsv kept by --num_genes 10", "raise --num_genes"),
                                                      {"wide.tsv": WIDE_TSV}),
    "grid too large for any campaign": Case("workflow_files", ("--yaml_dir", "{d}/yaml", "--output_dir", "{d}/gen"),
                                            ("huge.yaml: the grid has 10,000,000 trials", "at most 1,000,000"),
                                            {"yaml/a_small.yaml": VALID_YAML, "yaml/huge.yaml": HUGE_GRID}),
    # issue 25 cause 8: tuners refuse what a plain run refuses, before any trial
    "KerasTuner latent_dim above the gene count": Case(
        "tybalt", ("--tuner", "random", "--search_space", "{d}/space.yaml", "--data_source", "{d}/data.tsv"),
        (f"latent_dim = 50 is larger than the {GENES} genes", f"at most {GENES}"),
        {"space.yaml": "parameters:\n  latent_dim: [2, 50]\n", "data.tsv": VALID_TSV}),
    "sklearn latent_dim above a cross-validation fold": Case(
        "tybalt", ("--tuner", "sklearn", "--search_space", "{d}/space.yaml", "--data_source", "{d}/wide.tsv"),
        ("latent_dim = 25 asks for more components than the 20 samples", "at most 20"),
        {"space.yaml": "parameters:\n  latent_dim: [2, 25]\n", "wide.tsv": WIDE_TSV}),
}

SCORECARD_CASES = {
    "compare a folder that is no run": Case("compare_runs", ("{d}/kept", "--output_dir", "{d}/card"),
                                            ("kept holds no params.json", "give the output folder of a training run")),
    "compare without --output_dir": Case("compare_runs", ("{d}/kept",), ("--output_dir",)),
    "sweep latent sizes that are no numbers": Case("latent_sweep", ("--latent_dims", "5,x", "--output_dir", "{d}/s"),
                                                   ("'5,x' is not a comma-separated list of positive whole numbers",)),
    "sweep seed 0": Case("latent_sweep", ("--latent_dims", "5", "--seeds", "0", "--output_dir", "{d}/s"),
                         ("'0' is not a comma-separated list",)),
    "sweep given --latent_dim among the training flags": Case(
        "latent_sweep", ("--latent_dims", "5", "--output_dir", "{d}/s", "--", "--latent_dim", "3"),
        ("the sweep sets --latent_dim itself", "--latent_dims")),
    "sweep given a bad training flag": Case(
        "latent_sweep", ("--latent_dims", "5", "--output_dir", "{d}/s", "--", "--epochs", "0"),
        ("epochs = 0 is out of range",)),
}

CASES = {**NUMBER_CASES, **TEXT_CASES, **SPACE_CASES, **TOOL_CASES, **MESSAGE_CASES, **ROUND3_CASES,
         **SCORECARD_CASES}
TOOLS = {"tybalt": tybalt_baseline_keras2, "upf_runner": upf_runner, "hpo_results": hpo_results,
         "workflow_files": workflow_files, "compare_runs": run_comparison, "latent_sweep": latent_sweep}


def _make_files(folder, files: dict) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is FIFO:
            os.mkfifo(path)
        elif content is LOOP:
            os.symlink(path, path)
        else:
            path.write_bytes(content if isinstance(content, bytes) else content.encode())


def _arguments(case: Case, folder) -> list:
    filled = [arg.replace("{d}", str(folder)) for arg in case.args]
    if case.tool != "tybalt":
        return filled
    return ["--data_dir", str(folder / "data"), "--output_dir", str(folder / "out"), "--verbose", "false", *filled]


@pytest.fixture
def case_folder(tmp_path, monkeypatch):
    """The case's folder, also the working folder (relative paths and the default Output/ land inside it)."""
    monkeypatch.chdir(tmp_path)
    return pathlib.Path(os.getcwd())  # as the tools see it (a /tmp reached through a link is resolved)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_to_any_tool_exits_2_with_one_error_line_and_touches_no_file(name, case_folder, capsys, caplog):
    case = CASES[name]
    _make_files(case_folder, {"kept/notes.txt": "a file the user keeps\n", **case.files})
    before = snapshot_files(case_folder)
    arguments = _arguments(case, case_folder)

    with pytest.raises(SystemExit) as stop:
        TOOLS[case.tool].main(arguments)

    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert stop.value.code == 2, captured.err
    assert len(lines) == 1 and lines[0].startswith("tybalt: error: "), captured.err
    assert "Traceback" not in captured.out + captured.err
    assert not [record for record in caplog.records if record.exc_info], "a traceback was logged"
    for text in case.expected:
        assert text.replace("{d}", str(case_folder)) in lines[0]
    for text in case.unexpected:
        assert text not in lines[0]
    after = snapshot_files(case_folder)
    assert {path: after.get(path) for path in before} == before
    cache = str(case_folder / "data" / "cache")  # the binary cache of a valid data file is not a user's file
    assert [path for path in after if path not in before and not path.startswith(cache)] == []


def test_every_numeric_parameter_has_a_finite_domain_holding_its_default():
    numeric = {d["name"]: d for d in tybalt.additional_definitions if d["type"] in (int, float)}
    assert set(numeric) == set(DOMAINS)
    for name, definition in numeric.items():
        optional = name in LOG10_PARAMETERS and definition["default"] is None  # None: not given
        assert optional or DOMAINS[name].contains(definition["default"]), name
        for not_finite in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(TybaltInputError, match=f"{name} = .* is not"):
                check_parameters({name: not_finite})


@pytest.mark.parametrize("data_source", ["tcga", "/data/my_samples.tsv"])
def test_val_split_is_checked_against_synthetic_samples_only_for_generated_data(data_source):
    assert check_parameters({"data_source": data_source, "val_split": 0.0004})["val_split"] == 0.0004
    with pytest.raises(TybaltInputError, match="val_split leaves no validation samples"):
        check_parameters({"data_source": "synthetic", "val_split": 0.0004})
    with pytest.raises(TybaltInputError, match="raise val_split or toy_samples"):
        check_parameters({"data_source": "toy", "toy_samples": 10, "val_split": 0.05})


def test_relative_config_file_is_read_from_the_working_folder_first(tmp_path, monkeypatch):
    (tmp_path / tybalt.DEFAULT_MODEL_FILE).write_text("[Global_Params]\nepochs = 7\nlatent_dim = 5\n")
    monkeypatch.chdir(tmp_path)
    params = tybalt_baseline_keras2.initialize_parameters(argv=["--config_file", tybalt.DEFAULT_MODEL_FILE])
    assert params["config_file"] == str(tmp_path / tybalt.DEFAULT_MODEL_FILE)
    assert (params["epochs"], params["latent_dim"]) == (7, 5)


def test_timeout_minus_one_still_means_no_limit():
    assert check_parameters({"timeout": -1})["timeout"] == -1


def _write_onto_a_full_disk(target) -> None:
    """A real ENOSPC: the atomic writer's temporary file is made a link to /dev/full, which refuses every write."""
    os.symlink("/dev/full", target.parent / f".tmp.{os.getpid()}.{target.name}")
    write_text(str(target), "x" * 100_000)


def test_a_full_disk_is_reported_with_the_file_and_how_to_make_room(tmp_path, capsys):
    target = tmp_path / "params.json"
    with pytest.raises(OSError) as full:
        _write_onto_a_full_disk(target)
    assert full.value.errno == errno.ENOSPC and full.value.filename == str(target)
    assert os.listdir(tmp_path) == []  # neither the temporary link nor a partial file is left

    with pytest.raises(SystemExit) as stop:
        run_command(lambda: _write_onto_a_full_disk(target))
    line = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and line == f"tybalt: error: {describe_os_error(full.value)}"
    assert str(target) in line and "No space left on device" in line and "free space on that disk" in line


def _campaign_folder(root, results: dict, parameters: dict | None = None):
    """A Supervisor campaign: one run/<id>/ folder per trial with parameters.txt and result.txt."""
    for index, (trial_id, result) in enumerate(results.items()):
        instance = root / "run" / trial_id
        instance.mkdir(parents=True)
        text = (parameters or {}).get(trial_id, f"[Global Params]\nlatent_dim={index + 2}\nrun_id='{trial_id}'\n")
        (instance / "parameters.txt").write_bytes(text if isinstance(text, bytes) else text.encode())
        (instance / "result.txt").write_text(f"{result}\n")
    return root


def test_hpo_results_never_picks_a_non_finite_objective_nor_writes_one_into_json(tmp_path, capsys):
    folder = _campaign_folder(tmp_path / "camp", {"a": "-inf", "b": "nan", "c": "0.5", "d": "inf", "e": "0.7"})
    hpo_results.main([str(folder)])

    summary_text = (folder / hpo_results.BEST_PARAMS_FILE).read_text()
    summary = json.loads(summary_text)
    table = pd.read_csv(folder / hpo_results.RESULTS_FILE).set_index("trial_id")
    assert summary["best_trial_id"] == "c" and summary["best_objective"] == 0.5
    assert "Infinity" not in summary_text and "NaN" not in summary_text
    assert table["status"].to_dict() == {"a": "FAILED", "b": "FAILED", "c": "COMPLETED", "d": "FAILED",
                                         "e": "COMPLETED"}


def test_hpo_results_keeps_searched_parameters_named_like_its_columns_apart_from_the_results(tmp_path, capsys):
    searched = {"a": ("low", 9, "first"), "b": ("high", 1, "second"), "c": ("mid", 5, "third")}
    parameters = {trial: f"[Global Params]\nstatus='{status}'\nobjective={objective}\ntrial_id='{name}'\n"
                         f"run_id='{trial}'\n" for trial, (status, objective, name) in searched.items()}
    folder = _campaign_folder(tmp_path / "camp", {"a": "0.5", "b": "0.2", "c": "nan"}, parameters)
    hpo_results.main([str(folder)])

    summary = json.loads((folder / hpo_results.BEST_PARAMS_FILE).read_text())
    table = pd.read_csv(folder / hpo_results.RESULTS_FILE).set_index("trial_id")
    assert summary["best_trial_id"] == "b" and summary["best_objective"] == 0.2
    assert summary["params"] == {"status": "high", "objective": 1, "trial_id": "second"}
    assert table["status"].to_dict() == {"a": "COMPLETED", "b": "COMPLETED", "c": "FAILED"}
    assert table["param_status"].to_dict() == {"a": "low", "b": "high", "c": "mid"}
    assert table["param_objective"].to_dict() == {"a": 9, "b": 1, "c": 5}


def test_hpo_results_reports_a_truncated_trial_as_unreadable_and_summarises_the_rest(tmp_path, capsys, caplog):
    truncated = {"b": '{"latent_dim": 3, "run_id": "b', "c": "[Global Params]\nlatent_dim=4\n".encode("utf-16")}
    folder = _campaign_folder(tmp_path / "camp", {"a": "0.4", "b": "0.1", "c": "0.05"}, truncated)
    hpo_results.main([str(folder)])

    table = pd.read_csv(folder / hpo_results.RESULTS_FILE)
    summary = json.loads((folder / hpo_results.BEST_PARAMS_FILE).read_text())
    statuses = dict(zip(table["trial_id"], table["status"]))
    assert statuses == {"a": "COMPLETED", os.path.join("run", "b"): "UNREADABLE", os.path.join("run", "c"): "UNREADABLE"}
    assert summary["best_trial_id"] == "a" and summary["unreadable"] == 2
    warnings = [r.getMessage() for r in caplog.records if "reported as UNREADABLE" in r.getMessage()]
    assert len(warnings) == 2 and any("is not complete JSON" in w for w in warnings)


# A few cases as real processes: what the user sees on the terminal (logging set up by the tool itself), and that
# TensorFlow is never imported before the error.
PROCESS_CASES = ["data parameter varied", "config file UTF-16", "UPF path is a folder", "campaign folder is a file",
                 "workflow YAML Latin-1", "comma-separated data file"]
RUN_TOOL = ("import sys, {tool}\n"
            "try:\n    {tool}.main({args!r})\n"
            "finally:\n    print('tensorflow imported:', 'tensorflow' in sys.modules)\n")
SCRIPTS = {"tybalt": "tybalt_baseline_keras2.py", "upf_runner": "upf_runner.py", "hpo_results": "hpo_results.py",
           "workflow_files": "workflow_files.py"}


def _run_case_in_a_process(name: str, folder) -> tuple:
    case = CASES[name]
    folder.mkdir()
    _make_files(folder, case.files)
    code = RUN_TOOL.format(tool=SCRIPTS[case.tool][:-len(".py")], args=_arguments(case, folder))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=folder, timeout=300)
    return case, done


def test_tools_print_one_line_and_never_start_tensorflow_in_a_real_process(tmp_path):
    folders = [tmp_path / f"case{number}" for number in range(len(PROCESS_CASES))]
    with ThreadPoolExecutor(max_workers=len(PROCESS_CASES)) as pool:
        runs = list(pool.map(_run_case_in_a_process, PROCESS_CASES, folders))
    for name, folder, (case, done) in zip(PROCESS_CASES, folders, runs):
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (name, done.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("tybalt: error: "), (name, done.stderr[-2000:])
        assert all(text.replace("{d}", str(folder)) in lines[0] for text in case.expected), name
        assert done.stdout.strip().splitlines()[-1] == "tensorflow imported: False", name


def _limit_address_space() -> None:
    """Run in the child: 12 GB of address space, so an absurd allocation fails at once on any machine."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, 12 * 2**30))


def test_a_model_too_large_for_memory_is_one_line_not_a_tensorflow_traceback(tmp_path):
    command = [sys.executable, os.path.join(TYBALT_DIR, SCRIPTS["tybalt"]), "--synthetic_samples", "100",
               "--synthetic_genes", "100", "--latent_dim", "2", "--depth", "1", "--hidden_dim", "2000000000",
               "--epochs", "1", "--verbose", "false", "--data_dir", str(tmp_path / "data"),
               "--output_dir", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=_limit_address_space)
    errors = [line for line in done.stderr.splitlines() if "tybalt: error:" in line]
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert errors == [done.stderr.strip().splitlines()[-1]]
    assert errors[0].startswith("tybalt: error: out of memory; use smaller sizes")
    assert not (tmp_path / "out").exists()

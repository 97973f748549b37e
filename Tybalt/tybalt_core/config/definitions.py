"""The parameter table: each parameter's name, type, default, choices, numeric domain and help, in one place.

``additional_definitions`` (what ``Tybalt/tybalt.py`` hands to CANDLE, and what ``--help`` shows) and ``DOMAINS``
(what ``parameters.check_parameters`` enforces) are both derived from ``PARAMETER_TABLE``. Every parameter has a
line (with a comment and the same default) in ``tybalt_default_model.txt``; tests/test_parameter_table.py checks it.
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass

from tybalt_core.config.candle_layer import candle
from tybalt_core.config.objective import DEFAULT_OBJECTIVE, OBJECTIVES
from tybalt_core.data.synthetic_data import MIN_SYNTHETIC_GENES
from tybalt_core.data.toy_data import TOY_VARIANTS

BENCHMARK_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))  # Tybalt/
DEFAULT_MODEL_FILE = "tybalt_default_model.txt"

MODEL_TYPES = ("vae", "adage", "ae")
LOSSES = ("binary_crossentropy", "mse")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
KL_MODES = ("warmup", "faithful")
GENE_SELECTIONS = ("mean_absolute_deviation", "median_absolute_deviation")
SCALINGS = ("auto", "minmax", "zscore", "none")
ACTIVATIONS = ("linear", "tanh", "sigmoid", "relu")
TUNERS = ("none", "random", "bayesian", "hyperband", "grid", "sklearn")
RESTART_MODES = ("auto", "required", "off")
JIT_COMPILE_CHOICES = ("auto", "true", "false")
MIXED_PRECISION_CHOICES = JIT_COMPILE_CHOICES
PRUNING_RULES = ("off", "median", "successive_halving")


def gpu_index(text: str | int) -> int:
    """One entry of ``gpus``: a GPU index 0, 1, ... (a type of its own, so it is not taken for a numeric setting)."""
    try:
        index = int(str(text).strip())
    except ValueError:
        index = -1
    if index < 0:
        raise argparse.ArgumentTypeError(f"expected a GPU index (0, 1, ...), got {text!r}")
    return index


INT32_MAX = 2**31 - 1  # TensorFlow sizes and counters are 32-bit
SEED_MAX = 2**32 - 1  # NumPy's seeds


@dataclass(frozen=True)
class Domain:
    """The values a numeric parameter may take: [low, high] (either end open), plus special values with a meaning.

    Every domain is finite: NaN and infinity are refused for every parameter.
    """

    low: float
    high: float = INT32_MAX
    low_open: bool = False
    high_open: bool = False
    special: tuple[tuple[float, str], ...] = ()

    def contains(self, value: float) -> bool:
        """True when ``value`` is allowed (NaN never is)."""
        if any(value == special for special, _ in self.special):
            return True
        above_low = value > self.low if self.low_open else value >= self.low
        below_high = value < self.high if self.high_open else value <= self.high
        return above_low and below_high

    def describe(self) -> str:
        """The domain in words, e.g. 'greater than 0 and below 1'."""
        low = f"greater than {_number(self.low)}" if self.low_open else f"at least {_number(self.low)}"
        high = "" if math.isinf(self.high) else (
            f" and below {_number(self.high)}" if self.high_open else f" and at most {_number(self.high)}")
        specials = "".join(f", or {_number(value)} ({meaning})" for value, meaning in self.special)
        return low + high + specials


def _number(value: float) -> str:
    """A bound as written by a person: 1, 0.5, 2147483647 (not 2.14748e+09)."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


PARAMETER_TABLE = [
    # What to train
    {"name": "model_name", "type": str, "default": "tybalt", "help": "benchmark name used by CANDLE"},
    {"name": "model_type", "type": str, "default": "vae", "choices": MODEL_TYPES,
     "help": "vae: Tybalt variational autoencoder; adage: denoising autoencoder; ae: plain autoencoder"},
    {"name": "depth", "type": int, "default": 0,
     "help": "extra hidden layers between input and latent space, mirrored in the decoder (vae: 0-1, ae: 0-6)",
     "domain": Domain(0)},  # the depths of each model_type are checked by _check_depth
    {"name": "hidden_dim", "type": int, "default": 300, "help": "units of each extra hidden layer (depth >= 1)",
     "domain": Domain(1)},
    {"name": "latent_dim", "type": int, "default": 100, "help": "size of the latent space (the encodings)",
     "domain": Domain(1)},
    {"name": "kappa", "type": float, "default": 1.0, "help": "KL warm-up: beta grows by kappa per epoch up to 1",
     "domain": Domain(0, math.inf, low_open=True)},
    {"name": "kl_mode", "type": str, "default": "warmup", "choices": KL_MODES,
     "help": "warmup: beta warms up to 1 as intended; faithful: beta stays 0 as in the published code"},
    {"name": "learning_rate", "type": float, "default": 0.0005, "help": "optimizer learning rate",
     "domain": Domain(0, math.inf, low_open=True)},
    {"name": "log10_learning_rate", "type": float, "default": None,
     "help": "when set, learning_rate = 10 ** this (takes precedence over learning_rate; what mlrMBO searches)",
     "domain": Domain(-30, 30)},  # given, learning_rate = 10 ** value
    {"name": "log10_kappa", "type": float, "default": None,
     "help": "when set, kappa = 10 ** this (takes precedence over kappa; what mlrMBO searches)",
     "domain": Domain(-30, 30)},  # given, kappa = 10 ** value
    {"name": "batch_size", "type": int, "default": 50, "help": "samples per training step",
     "domain": Domain(1)},
    {"name": "epochs", "type": int, "default": 100,
     "help": "passes over the training samples (the maximum when early_stop is on)",
     "domain": Domain(1)},
    {"name": "optimizer", "type": str, "default": "adam", "choices": OPTIMIZERS, "help": "Keras optimizer"},
    {"name": "loss", "type": str, "default": "binary_crossentropy", "choices": LOSSES,
     "help": "reconstruction loss; binary_crossentropy needs values in [0, 1]"},
    {"name": "noise", "type": float, "default": 0.05, "help": "ADAGE: fraction of inputs dropped (denoising)",
     "domain": Domain(0, 1, high_open=True)},  # a dropout rate of 1 would drop every input
    {"name": "sparsity", "type": float, "default": 0.0, "help": "ADAGE: L1 activity penalty on the encodings",
     "domain": Domain(0, math.inf)},
    {"name": "tied_weights", "type": candle.str2bool, "default": False,
     "help": "ADAGE: decoder reuses the transposed encoder weights"},
    {"name": "val_split", "type": float, "default": 0.1, "help": "fraction of samples held out for validation",
     "domain": Domain(0, 1, low_open=True, high_open=True)},
    {"name": "rng_seed", "type": int, "default": 123, "help": "random seed for data, split and weights",
     "domain": Domain(0, SEED_MAX)},
    # Training to convergence (CANDLE names)
    {"name": "objective", "type": str, "default": DEFAULT_OBJECTIVE, "choices": OBJECTIVES,
     "help": "what a trial is judged by (its result, early stopping): full_loss: validation loss with the VAE's KL at "
             "full weight (beta = 1), comparable across kappa and epochs; reconstruction: the reconstruction part"},
    {"name": "early_stop", "type": candle.str2bool, "default": False,
     "help": "stop when the objective has not improved for patience epochs (never during KL warm-up) and keep the "
             "best epoch's weights"},
    {"name": "patience", "type": int, "default": 10,
     "help": "early_stop: epochs without improvement before stopping; reduce_lr waits half as long",
     "domain": Domain(1)},
    {"name": "min_delta", "type": float, "default": 0.0,
     "help": "smallest fall of the objective that counts as an improvement (early_stop, reduce_lr)",
     "domain": Domain(0, math.inf)},
    {"name": "reduce_lr", "type": candle.str2bool, "default": False,
     "help": "halve the learning rate when the objective has not improved for max(1, patience // 2) epochs"},
    # Data
    {"name": "data_source", "type": str, "default": "synthetic",
     "help": "synthetic (embedded generator), toy (3 binary genes), tcga, or a path to a samples x genes TSV"},
    {"name": "data_dir", "type": str, "default": "~/.cache/tybalt",
     "help": "folder for generated and downloaded data and the binary cache of parsed TSV files"},
    {"name": "train_data", "type": str, "default": "",
     "help": "processed TCGA expression file name inside data_dir/tcga; '' = named after scaling "
             "(pancan_scaled_zeroone_rnaseq.tsv or pancan_scaled_rnaseq.tsv)"},
    {"name": "clinical_data", "type": str, "default": "",
     "help": "clinical table (TSV, sample ids in the first column) to go with a user data file"},
    {"name": "data_url", "type": str, "default": "https://zenodo.org/record/56735/files/gbm_classifier_data.tar.gz",
     "help": "URL of the raw TCGA expression archive"},
    {"name": "synthetic_samples", "type": int, "default": 2000, "help": "samples of the synthetic data set",
     "domain": Domain(20)},
    {"name": "synthetic_genes", "type": int, "default": 1000, "help": "genes of the synthetic data set",
     "domain": Domain(MIN_SYNTHETIC_GENES)},  # the planted gene programs plus a few unnamed genes
    # Outputs and run control
    {"name": "output_dir", "type": str, "default": "",
     "help": "folder for this run's outputs; empty means Output/<experiment_id>/<run_id>"},
    {"name": "experiment_id", "type": str, "default": "EXP000", "help": "experiment name (CANDLE)"},
    {"name": "run_id", "type": str, "default": "RUN000", "help": "run name within the experiment (CANDLE)"},
    {"name": "timeout", "type": int, "default": -1,
     "help": "seconds after which training stops cleanly and saves; -1 means no limit (0 is refused)",
     "domain": Domain(1, special=((-1, "no limit"),))},  # 0 s would stop before the first epoch
    {"name": "verbose", "type": candle.str2bool, "default": True, "help": "print a progress line per epoch"},
    {"name": "save_model", "type": candle.str2bool, "default": True,
     "help": "save the trained encoder and decoder as .keras files"},
    # Data: the real TCGA pipeline (download, verify, preprocess; data_url above is the expression archive)
    {"name": "clinical_url", "type": str, "default": "http://snaptron.cs.jhu.edu/data/tcga/samples.tsv",
     "help": "URL of the clinical samples.tsv (Snaptron TCGA)"},
    {"name": "copy_number_url", "type": str, "default": "",
     "help": "URL of the GISTIC2 copy-number table to download alongside (not preprocessed); '' = skip"},
    {"name": "data_sha256", "type": str, "default": "",
     "help": "expected sha256 of the data_url archive; '' = not checked (the computed digest is logged)"},
    {"name": "clinical_sha256", "type": str, "default": "",
     "help": "expected sha256 of the clinical samples.tsv; '' = not checked (the computed digest is logged)"},
    {"name": "num_genes", "type": int, "default": 5000,
     "help": "TCGA and your own TSV: keep this many most variable genes (a TSV with fewer keeps all)",
     "domain": Domain(1)},
    {"name": "gene_selection", "type": str, "default": "mean_absolute_deviation", "choices": GENE_SELECTIONS,
     "help": "TCGA and your own TSV: rank genes by mean (original code) or median (paper) absolute deviation"},
    {"name": "scaling", "type": str, "default": "auto", "choices": SCALINGS,
     "help": "each gene to [0, 1] (minmax) or to mean 0, sd 1 (zscore, needs --loss mse), fitted on the training "
             "samples of your own TSV; none: values as given; auto: minmax for TCGA, none for your TSV"},
    {"name": "preprocess_only", "type": candle.str2bool, "default": False,
     "help": "TCGA: download and preprocess, print where the files are, and exit without training"},
    # Toy example and plain autoencoder (issue 6)
    {"name": "activation", "type": str, "default": "tanh", "choices": ACTIVATIONS,
     "help": "ae: activation of the hidden layers; 'linear' also makes the output linear (PCA-like with mse)"},
    {"name": "toy_samples", "type": int, "default": 1000,
     "help": "samples of the 3-gene toy data set (data_source toy)",
     "domain": Domain(10)},
    {"name": "toy_variant", "type": str, "default": "binary", "choices": TOY_VARIANTS,
     "help": "toy data: binary (gene3 = gene1 AND gene2, coin flips) or continuous (genes 1, 2 ~ U(0, 1), "
             "gene3 = gene1 x gene2; intrinsic dimension 2, used by the latent-size search)"},
    # Hyperparameter optimisation (KerasTuner in-process; see docs/hpo-and-campaigns.md)
    {"name": "tuner", "type": str, "default": "none", "choices": TUNERS,
     "help": "none: train once; random/bayesian/hyperband/grid: KerasTuner search; sklearn: linear baselines"},
    {"name": "search_space", "type": str, "default": "tybalt_bayesian",
     "help": "search-space YAML: a name in workflows/ or a path"},
    {"name": "max_trials", "type": int, "default": 10, "help": "trials a KerasTuner search runs at most",
     "domain": Domain(1)},
    {"name": "executions_per_trial", "type": int, "default": 1,
     "help": "trainings per trial, averaged (reduces the noise of the objective)",
     "domain": Domain(1)},
    # Campaign-wide early stopping (docs/hpo-and-campaigns.md, "Stopping hopeless trials")
    {"name": "pruning", "type": str, "default": "off", "choices": PRUNING_RULES,
     "help": "stop a campaign's hopeless trials: off, median (worse than the median of finished trials at the same "
             "epoch) or successive_halving (not in the best quarter of the trials that reached the epoch)"},
    {"name": "pruning_grace_epochs", "type": int, "default": 5,
     "help": "pruning: epochs every trial trains after its KL warm-up before a rule may stop it",
     "domain": Domain(1)},
    {"name": "pruning_min_trials", "type": int, "default": 5,
     "help": "pruning median: finished trials needed before it stops any", "domain": Domain(1)},
    # Reliability: checkpoint/resume (CANDLE ckpt_* names) and overwrite protection
    {"name": "ckpt_restart_mode", "type": str, "default": "auto", "choices": RESTART_MODES,
     "help": "auto: resume from the latest checkpoint if there is one; required: fail without one; off: start afresh"},
    {"name": "ckpt_directory", "type": str, "default": "",
     "help": "folder for checkpoints; empty means 'ckpt' inside the run's output folder"},
    {"name": "ckpt_save_interval", "type": int, "default": 1,
     "help": "write a checkpoint every this many epochs (and when the time limit stops training); 0 = never",
     "domain": Domain(0)},
    {"name": "ckpt_keep_limit", "type": int, "default": 1, "help": "newest checkpoints to keep",
     "domain": Domain(1)},
    {"name": "ckpt_save_minutes", "type": float, "default": 0.0,
     "help": "also write a checkpoint at the end of the first epoch this many minutes after the last one, and when "
             "the time limit stops training; 0 = by ckpt_save_interval only (campaigns: by time, interval 0)",
     "domain": Domain(0, math.inf)},
    {"name": "lean_outputs", "type": candle.str2bool, "default": False,
     "help": "keep only history.csv and params.json (and the models with save_model): no encodings, gene list or "
             "loss plot, and the checkpoints go once training has ended for good (campaign trials)"},
    {"name": "overwrite", "type": candle.str2bool, "default": False,
     "help": "allow replacing the results of a finished run in output_dir"},
    # Analysis (issue 5): signal report, baselines, tSNE, encoding new samples
    {"name": "analyze", "type": candle.str2bool, "default": False,
     "help": "after training, write the signal report, gene weights, baseline comparison and report.md"},
    {"name": "tsne", "type": candle.str2bool, "default": False,
     "help": "after training, write tSNE maps of the input and of the encodings (tsne.png)"},
    {"name": "perplexity", "type": float, "default": 20.0, "help": "tSNE perplexity",
     "domain": Domain(0, math.inf, low_open=True)},
    {"name": "encode_data", "type": str, "default": "",
     "help": "samples x genes TSV to encode with the saved encoder of model_dir (no training)"},
    {"name": "model_dir", "type": str, "default": "",
     "help": "run folder holding encoder.keras and genes.txt, used with encode_data"},
    {"name": "label_columns", "type": str, "default": "",
     "help": "clinical columns the analysis compares, comma-separated; '' = every column"},
    # Performance (issue 7)
    {"name": "jit_compile", "type": str, "default": "auto", "choices": JIT_COMPILE_CHOICES,
     "help": "compile the train step with XLA: true, false, or auto (vae, batch <= 200, 1000+ steps: as measured)"},
    {"name": "steps_per_execution", "type": int, "default": 20,
     "help": "training steps run per call into TensorFlow (fewer Python round trips; same results)",
     "domain": Domain(1)},
    # Devices (issue 17)
    {"name": "gpus", "type": gpu_index, "nargs": "*", "default": [],
     "help": "indices of the GPUs to use among the visible ones (CUDA_VISIBLE_DEVICES decides which are visible); "
             "empty = every visible GPU, or the CPU when there is none (CANDLE's name)"},
    {"name": "mixed_precision", "type": str, "default": "auto", "choices": MIXED_PRECISION_CHOICES,
     "help": "float16 compute with float32 weights, loss and output: true, false, or auto (on for GPUs of "
             "compute capability 7.0+, off on the CPU)"},
]

# CANDLE's definitions: the table without the domains (name, type, default, help, choices, nargs)
additional_definitions = [{key: value for key, value in row.items() if key != "domain"} for row in PARAMETER_TABLE]
# name -> the numbers it may take; every int and float parameter has one (a test checks it)
DOMAINS: dict[str, Domain] = {row["name"]: row["domain"] for row in PARAMETER_TABLE if "domain" in row}

required = {"model_type", "latent_dim", "epochs", "batch_size", "learning_rate", "data_source"}

DEFINITIONS = {definition["name"]: definition for definition in additional_definitions}  # name -> definition

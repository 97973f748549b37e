"""The Tybalt benchmark definition: its parameters, the required set and the CANDLE ``Benchmark`` subclass.

Every parameter here has a line (with a comment) in ``tybalt_default_model.txt`` and a ``--name`` flag.
"""

from __future__ import annotations

import os

from candle_layer import candle

FILE_PATH = os.path.dirname(os.path.realpath(__file__))
DEFAULT_MODEL_FILE = "tybalt_default_model.txt"

MODEL_TYPES = ("vae", "adage")
LOSSES = ("binary_crossentropy", "mse")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad", "adadelta", "adamax", "nadam")
KL_MODES = ("warmup", "faithful")
JIT_COMPILE_CHOICES = ("auto", "true", "false")

additional_definitions = [
    # What to train
    {"name": "model_name", "type": str, "default": "tybalt", "help": "benchmark name used by CANDLE"},
    {"name": "model_type", "type": str, "default": "vae", "choices": MODEL_TYPES,
     "help": "vae: Tybalt variational autoencoder; adage: denoising autoencoder"},
    {"name": "depth", "type": int, "default": 0, "choices": (0, 1),
     "help": "extra hidden layers between input and latent space (mirrored in the decoder)"},
    {"name": "hidden_dim", "type": int, "default": 300, "help": "units of the extra hidden layer when depth is 1"},
    {"name": "latent_dim", "type": int, "default": 100, "help": "size of the latent space (the encodings)"},
    {"name": "kappa", "type": float, "default": 1.0, "help": "KL warm-up: beta grows by kappa per epoch up to 1"},
    {"name": "kl_mode", "type": str, "default": "warmup", "choices": KL_MODES,
     "help": "warmup: beta warms up to 1 as intended; faithful: beta stays 0 as in the published code"},
    {"name": "learning_rate", "type": float, "default": 0.0005, "help": "optimizer learning rate"},
    {"name": "batch_size", "type": int, "default": 50, "help": "samples per training step"},
    {"name": "epochs", "type": int, "default": 100, "help": "passes over the training samples"},
    {"name": "optimizer", "type": str, "default": "adam", "choices": OPTIMIZERS, "help": "Keras optimizer"},
    {"name": "loss", "type": str, "default": "binary_crossentropy", "choices": LOSSES,
     "help": "reconstruction loss; binary_crossentropy needs values in [0, 1]"},
    {"name": "noise", "type": float, "default": 0.05, "help": "ADAGE: fraction of inputs dropped (denoising)"},
    {"name": "sparsity", "type": float, "default": 0.0, "help": "ADAGE: L1 activity penalty on the encodings"},
    {"name": "tied_weights", "type": candle.str2bool, "default": False,
     "help": "ADAGE: decoder reuses the transposed encoder weights"},
    {"name": "val_split", "type": float, "default": 0.1, "help": "fraction of samples held out for validation"},
    {"name": "rng_seed", "type": int, "default": 123, "help": "random seed for data, split and weights"},
    # Data
    {"name": "data_source", "type": str, "default": "synthetic",
     "help": "synthetic (embedded generator), tcga, or a path to a samples x genes TSV"},
    {"name": "data_dir", "type": str, "default": "~/.cache/tybalt",
     "help": "folder for generated and downloaded data and the binary cache of parsed TSV files"},
    {"name": "train_data", "type": str, "default": "pancan_scaled_zeroone_rnaseq.tsv",
     "help": "processed expression file name (tcga) inside data_dir"},
    {"name": "clinical_data", "type": str, "default": "",
     "help": "clinical table (TSV, sample ids in the first column) to go with a user data file"},
    {"name": "data_url", "type": str, "default": "https://zenodo.org/record/56735/files/gbm_classifier_data.tar.gz",
     "help": "URL of the raw TCGA expression archive"},
    {"name": "synthetic_samples", "type": int, "default": 2000, "help": "samples of the synthetic data set"},
    {"name": "synthetic_genes", "type": int, "default": 1000, "help": "genes of the synthetic data set"},
    # Outputs and run control
    {"name": "output_dir", "type": str, "default": "",
     "help": "folder for this run's outputs; empty means Output/<experiment_id>/<run_id>"},
    {"name": "experiment_id", "type": str, "default": "EXP000", "help": "experiment name (CANDLE)"},
    {"name": "run_id", "type": str, "default": "RUN000", "help": "run name within the experiment (CANDLE)"},
    {"name": "timeout", "type": int, "default": -1,
     "help": "seconds after which training stops cleanly and saves; -1 means no limit"},
    {"name": "verbose", "type": candle.str2bool, "default": True, "help": "print a progress line per epoch"},
    {"name": "save_model", "type": candle.str2bool, "default": True,
     "help": "save the trained encoder and decoder as .keras files"},
    # Performance (issue 7)
    {"name": "jit_compile", "type": str, "default": "auto", "choices": JIT_COMPILE_CHOICES,
     "help": "compile the train step with XLA: true, false, or auto (vae, batch <= 100, 2000+ steps: as measured)"},
    {"name": "steps_per_execution", "type": int, "default": 20,
     "help": "training steps run per call into TensorFlow (fewer Python round trips; same results)"},
]

required = {"model_type", "latent_dim", "epochs", "batch_size", "learning_rate", "data_source"}


class TybaltBenchmark(candle.Benchmark):
    """CANDLE benchmark for the Tybalt VAE and ADAGE models (works with candle_lib v0.5, v0.6 and candle_compat)."""

    def set_locals(self) -> None:
        self.required = set(required)
        self.additional_definitions = list(additional_definitions)

"""Typed settings: what each stage needs, built once from the checked parameters, so no stage takes the whole dict.

Each field is named after the parameter it comes from (see ``definitions.PARAMETER_TABLE``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from tybalt_core.data.tcga import TcgaOptions


class StageSettings:
    """Base of the settings classes: built from a checked parameter dictionary, one field per parameter."""

    @classmethod
    def from_params(cls, params: dict[str, Any], **derived: Any):
        """The settings of this stage, taken from ``params`` (already checked by ``check_parameters``); ``derived``
        gives the fields that are no parameter."""
        return cls(**{field.name: params[field.name] for field in fields(cls) if field.name not in derived}, **derived)


@dataclass(frozen=True)
class DataSettings(StageSettings):
    """The data set to load, how to split it, and how a user's own file is reduced and scaled."""

    data_source: str
    data_dir: str
    train_data: str
    clinical_data: str
    synthetic_samples: int
    synthetic_genes: int
    toy_samples: int
    toy_variant: str
    rng_seed: int
    val_split: float
    label_columns: str
    num_genes: int
    gene_selection: str
    scaling: str
    loss: str  # binary_crossentropy needs values in [0, 1]
    tcga: TcgaOptions | None  # download and preprocessing, for data_source tcga

    @classmethod
    def from_params(cls, params: dict[str, Any], **derived: Any) -> DataSettings:
        """The data settings, with the TCGA options when the source is TCGA."""
        tcga = TcgaOptions.from_params(params) if params["data_source"] == "tcga" else None
        return super().from_params(params, tcga=tcga, **derived)


@dataclass(frozen=True)
class ModelSettings(StageSettings):
    """The autoencoder to build and how it is compiled (optimizer, XLA, steps per call, precision, devices)."""

    model_type: str
    latent_dim: int
    depth: int
    hidden_dim: int
    loss: str
    noise: float
    sparsity: float
    tied_weights: bool
    activation: str
    optimizer: str
    learning_rate: float
    jit_compile: str
    steps_per_execution: int
    mixed_precision: str
    gpus: list[int]


@dataclass(frozen=True)
class TrainingSettings(StageSettings):
    """How long and how the model is fitted: epochs, batches, KL warm-up, convergence rules, time limit."""

    epochs: int
    batch_size: int
    kappa: float
    kl_mode: str
    objective: str
    early_stop: bool
    reduce_lr: bool
    patience: int
    min_delta: float
    timeout: int
    verbose: bool
    rng_seed: int


@dataclass(frozen=True)
class AnalysisSettings(StageSettings):
    """What to write after training: the signal report and baselines (analyze), tSNE maps, which labels."""

    model_type: str
    analyze: bool
    tsne: bool
    perplexity: float
    rng_seed: int
    label_columns: str

"""Check a parameter dictionary at the boundary, whichever way it arrived (INI, flags, Supervisor JSON).

Values coming from the CANDLE Supervisor may be strings ("0.001") or have types the INI file did not use;
``check_parameters`` converts them with the benchmark definitions and refuses bad values with one clear line.
"""

from __future__ import annotations

import argparse
from typing import Any

import tybalt
from errors import TybaltInputError

DEFINITIONS = {d["name"]: d for d in tybalt.additional_definitions}

# name -> (lowest allowed, highest allowed, whether the lowest is excluded)
NUMERIC_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "epochs": (1, None, False),
    "batch_size": (1, None, False),
    "latent_dim": (1, None, False),
    "hidden_dim": (1, None, False),
    "learning_rate": (0, None, True),
    "kappa": (0, None, True),
    "val_split": (0, 1, True),
    "noise": (0, 1, False),
    "sparsity": (0, None, False),
    "synthetic_samples": (20, None, False),
    "num_genes": (1, None, False),
    "toy_samples": (10, None, False),
    # Hyperparameter optimisation
    "max_trials": (1, None, False),
    "executions_per_trial": (1, None, False),
    "ckpt_save_interval": (0, None, False),
    "ckpt_keep_limit": (1, None, False),
    "perplexity": (0, None, True),
    "steps_per_execution": (1, None, False),
    "patience": (1, None, False),
    "min_delta": (0, None, False),
}

# model_type -> the depths its builder supports (vae and adage: the published architectures)
DEPTHS = {"vae": range(0, 2), "adage": range(0, 2), "ae": range(0, 7)}


def check_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``params`` with declared parameters converted to their types; raise on bad values."""
    checked = dict(params)
    for name, definition in DEFINITIONS.items():
        if name in checked and checked[name] is not None:
            checked[name] = _convert(name, checked[name], definition)
            _check_choice(name, checked[name], definition)
    for name, (low, high, low_excluded) in NUMERIC_RANGES.items():
        if name in checked:
            _check_range(name, checked[name], low, high, low_excluded)
    _check_depth(checked)
    _check_linear_output_loss(checked)
    sample_count = "toy_samples" if checked.get("data_source") == "toy" else "synthetic_samples"
    if checked.get("val_split", 0.1) * checked.get(sample_count, 2000) < 1:
        raise TybaltInputError(f"val_split leaves no validation samples; raise val_split or {sample_count}")
    return checked


def _check_depth(params: dict[str, Any]) -> None:
    """Each model type supports its own range of depths."""
    model_type, depth = params.get("model_type"), params.get("depth")
    allowed = DEPTHS.get(model_type)
    if allowed is not None and depth is not None and depth not in allowed:
        raise TybaltInputError(f"parameter depth = {depth!r} is not supported by model_type {model_type!r}; "
                               f"use a depth from {allowed.start} to {allowed.stop - 1}")


def _check_linear_output_loss(params: dict[str, Any]) -> None:
    """A linear ae output can leave [0, 1], where binary cross-entropy is undefined."""
    if (params.get("model_type") == "ae" and params.get("activation") == "linear"
            and params.get("loss") == "binary_crossentropy"):
        raise TybaltInputError("activation 'linear' gives the ae a linear output, which binary_crossentropy "
                               "cannot score; use --loss mse (linear + mse is the PCA-like autoencoder)")


def _convert(name: str, value: Any, definition: dict) -> Any:
    """Convert a value (possibly text from a JSON map or the command line) to the declared type."""
    convert = definition["type"]
    if isinstance(value, bool):
        if convert in (int, float):
            raise TybaltInputError(f"parameter {name} = {value!r} must be a number, not true/false")
        return value
    try:
        if convert is int:
            number = float(value)  # accepts 10, 10.0 and "10" alike
            if not number.is_integer():
                raise ValueError
            return int(number)
        return convert(value)
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        type_name = {"str2bool": "boolean (true/false)"}.get(convert.__name__, convert.__name__)
        raise TybaltInputError(f"parameter {name} = {value!r} is not a valid {type_name}; "
                               f"give a {type_name}") from None


def _check_choice(name: str, value: Any, definition: dict) -> None:
    choices = definition.get("choices")
    if choices is not None and value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise TybaltInputError(f"parameter {name} = {value!r} is not one of {options}; pick one of those")


def _check_range(name: str, value: float, low: float, high: float | None, low_excluded: bool) -> None:
    too_low = value <= low if low_excluded else value < low
    too_high = high is not None and value >= high if low_excluded else high is not None and value > high
    if too_low or too_high:
        bound = f"greater than {low}" if low_excluded else f"at least {low}"
        if high is not None:
            bound += f" and below {high}" if low_excluded else f" and at most {high}"
        raise TybaltInputError(f"parameter {name} = {value!r} is out of range; it must be {bound}")


def check_model_fits_data(latent_dim: int, n_genes: int, n_train: int, n_validation: int, source: str) -> None:
    """Refuse a latent space wider than the data and a split with an empty side.

    A code as wide as the data is allowed: the toy latent-size search compares latent 3 with 1 and 2 on 3 genes.
    """
    if latent_dim > n_genes:
        raise TybaltInputError(f"latent_dim = {latent_dim} is larger than the {n_genes} genes of {source}; "
                               f"choose a latent_dim of at most {n_genes}")
    if n_train == 0 or n_validation == 0:
        raise TybaltInputError(f"{source} has too few samples ({n_train + n_validation}) to hold out both training "
                               f"and validation samples with this val_split; give more samples or change val_split")

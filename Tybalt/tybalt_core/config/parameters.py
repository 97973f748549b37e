"""Check a parameter dictionary at the boundary, whichever way it arrived (INI, flags, Supervisor JSON).

Values coming from the CANDLE Supervisor may be strings ("0.001") or have types the INI file did not use;
``check_parameters`` converts them with the benchmark definitions and refuses bad values with one clear line.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from tybalt_core.common.errors import TybaltInputError, shown
from tybalt_core.config import definitions
from tybalt_core.config.definitions import DOMAINS, Domain
from tybalt_core.data.toy_data import TOY_GENES

DEFINITIONS = definitions.DEFINITIONS
GENERATOR_BYTES_PER_VALUE = 41  # peak memory of make_synthetic_data per value (measured at 20,000 x 1,000)

# log10_<name> -> name: set, it gives name = 10 ** value and takes precedence over name. mlrMBO searches these,
# because the Supervisor's toJSON keeps 4 decimals (a learning rate of 0.000747 would arrive as 0.0007).
LOG10_PREFIX = "log10_"
LOG10_PARAMETERS = {name: name[len(LOG10_PREFIX):] for name in DEFINITIONS if name.startswith(LOG10_PREFIX)}
LOG10_TWINS = {name: log_name for log_name, name in LOG10_PARAMETERS.items()}  # e.g. kappa -> log10_kappa

# model_type -> the depths its builder supports (vae and adage: the published architectures)
DEPTHS = {"vae": range(0, 2), "adage": range(0, 2), "ae": range(0, 7)}

RUN_NAMES = ("experiment_id", "run_id")
GENERATED_SOURCES = ("synthetic", "toy")

def check_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``params`` with declared parameters converted to their types; raise on bad values."""
    checked = dict(params)
    for name, definition in DEFINITIONS.items():
        if name in checked and checked[name] is not None:
            checked[name] = _convert(name, checked[name], definition)
            _check_choice(name, checked[name], definition)
    for name, domain in DOMAINS.items():
        if name in checked and not (name in LOG10_PARAMETERS and checked[name] is None):  # None: not given
            _check_domain(name, checked[name], domain)
    _apply_log10_parameters(checked)
    for name in RUN_NAMES:
        if name in checked:
            _check_run_name(name, checked[name])
    _check_depth(checked)
    _check_linear_output_loss(checked)
    _check_generated_split(checked)
    _check_generated_size(checked)
    return checked


def _apply_log10_parameters(params: dict[str, Any]) -> None:
    """Replace each parameter given as log10_<name> by 10 ** value; log10_<name> is then consumed (None)."""
    for log_name, name in LOG10_PARAMETERS.items():
        if params.get(log_name) is not None:
            params[name] = 10.0 ** params[log_name]
            params[log_name] = None


def _check_generated_split(params: dict[str, Any]) -> None:
    """Generated data sets have a known size, so an empty validation side is refused now.

    A TSV or TCGA data set is checked once its sample count is known (``check_model_fits_data``).
    """
    sample_count = {"synthetic": "synthetic_samples", "toy": "toy_samples"}.get(params.get("data_source", "synthetic"))
    if sample_count and params.get("val_split", 0.1) * params.get(sample_count, 2000) < 1:
        raise TybaltInputError(f"val_split leaves no validation samples; raise val_split or {sample_count}")


def _check_generated_size(params: dict[str, Any]) -> None:
    """Refuse generated data larger than this machine's memory: the generator would be killed half-way."""
    shape = {"synthetic": (params.get("synthetic_samples", 0), params.get("synthetic_genes", 0)),
             "toy": (params.get("toy_samples", 0), len(TOY_GENES))}.get(params.get("data_source", "synthetic"))
    if shape is None:
        return
    needed, available = shape[0] * shape[1] * GENERATOR_BYTES_PER_VALUE, _physical_memory_bytes()
    if needed > available:
        raise TybaltInputError(f"generating {shape[0]} samples x {shape[1]} genes needs about {needed / 2**30:.0f} GiB "
                               f"of memory, more than this machine's {available / 2**30:.0f} GiB; "
                               "use fewer samples or genes")


def _physical_memory_bytes() -> int:
    """The machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


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
    if definition.get("nargs"):  # a list parameter (gpus): a single value or "0 1" text becomes a list
        items = value.split() if isinstance(value, str) else value if isinstance(value, (list, tuple)) else [value]
        return [_convert(name, item, {**definition, "nargs": None}) for item in items]
    convert = definition["type"]
    if isinstance(value, bool):
        if convert in (int, float):
            raise TybaltInputError(f"parameter {name} = {value!r} must be a number, not true/false")
        return value
    try:
        if convert is int and isinstance(value, int):
            return value
        if convert is int:
            number = float(value)  # accepts 10, 10.0 and "10" alike
            if not number.is_integer():
                raise ValueError
            return int(number)
        return convert(value)
    except (ValueError, TypeError, OverflowError, argparse.ArgumentTypeError):
        type_name = {"str2bool": "boolean (true/false)", "gpu_index": "GPU index (0, 1, ...)"}.get(
            convert.__name__, convert.__name__)
        raise TybaltInputError(f"parameter {name} = {shown(value)} is not a valid {type_name}; "
                               f"give a value of type {type_name}") from None


def _check_choice(name: str, value: Any, definition: dict) -> None:
    choices = definition.get("choices")
    if choices is not None and value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise TybaltInputError(f"parameter {name} = {value!r} is not one of {options}; pick one of those")


def _check_domain(name: str, value: Any, domain: Domain) -> None:
    """Refuse a missing, non-finite or out-of-range number, saying which values are allowed."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TybaltInputError(f"parameter {name} = {shown(value)} is not a number; give a number "
                               f"{domain.describe()}")
    if not math.isfinite(value):
        raise TybaltInputError(f"parameter {name} = {shown(value)} is not a finite number; give a number "
                               f"{domain.describe()}")
    if not domain.contains(value):
        raise TybaltInputError(f"parameter {name} = {shown(value)} is out of range; it must be {domain.describe()}")


def _check_run_name(name: str, value: Any) -> None:
    """experiment_id and run_id name folders: an empty name, '.', '..' or a path would write outside the run's own."""
    text = str(value)
    if not text.strip() or text in (".", "..") or os.sep in text or "\0" in text:
        raise TybaltInputError(f"parameter {name} = {shown(value)} cannot name a folder (empty, '.', '..' or a path); "
                               f"give a plain name such as {DEFINITIONS[name]['default']!r}")


def genes_selected(params: dict[str, Any]) -> int | None:
    """``num_genes`` where it selects the most variable genes (TCGA and your own TSV), None for generated data."""
    return None if params["data_source"] in GENERATED_SOURCES else params["num_genes"]


def check_model_fits_data(latent_dim: int, n_genes: int, n_train: int, n_validation: int, source: str,
                          num_genes: int | None = None) -> None:
    """Refuse a latent space wider than the data and a split with an empty side.

    A code as wide as the data is allowed: the toy latent-size search compares latent 3 with 1 and 2 on 3 genes.
    ``num_genes`` (see ``genes_selected``) names the gene selection when it made the data as narrow as it is.
    """
    if latent_dim > n_genes:
        kept = num_genes == n_genes
        raise TybaltInputError(f"latent_dim = {latent_dim} is larger than the {n_genes} genes of {source}"
                               f"{f' kept by --num_genes {num_genes}' if kept else ''}; choose a latent_dim of at "
                               f"most {n_genes}{' or raise --num_genes' if kept else ''}")
    if n_train == 0 or n_validation == 0:
        raise TybaltInputError(f"{source} has too few samples ({n_train + n_validation}) to hold out both training "
                               f"and validation samples with this val_split; give more samples or change val_split")

"""Write a run's outputs: parameters, per-epoch history, encodings, saved models and the loss plot."""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from tybalt_core.common.atomic_files import replaced_atomically, write_table, write_text
from tybalt_core.common.errors import TybaltInputError

HISTORY_FILE = "history.csv"
PARAMS_FILE = "params.json"
ENCODINGS_FILE = "encoded_features.tsv"
ENCODER_FILE = "encoder.keras"
DECODER_FILE = "decoder.keras"
LOSS_PLOT_FILE = "loss.png"
GENES_FILE = "genes.txt"


def run_output_dir(output_dir: str, experiment_id: str, run_id: str) -> str:
    """The run's folder: ``output_dir`` if set, else Output/<experiment_id>/<run_id> under the working directory.

    Derived at run time from the final ids, so trials launched by the CANDLE Supervisor never share a folder.
    """
    return os.path.abspath(output_dir or os.path.join("Output", str(experiment_id), str(run_id)))


def write_params(folder: str, params: dict[str, Any]) -> str:
    """Write the effective parameters as JSON (values that are not JSON types are written as text)."""
    path = os.path.join(folder, PARAMS_FILE)
    write_text(path, json.dumps(params, indent=2, sort_keys=True, default=str))
    return path


def read_json_object(path: str) -> dict[str, Any]:
    """A JSON file holding an object (params.json, a checkpoint's state.json), or {} when missing or unreadable."""
    try:
        with open(path) as handle:
            value = json.load(handle)
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_history(folder: str, history: dict[str, list[float]]) -> str:
    """Write one row per epoch (1-based) with every logged quantity (loss, val_loss, beta, ...)."""
    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", np.arange(1, len(frame) + 1))
    path = os.path.join(folder, HISTORY_FILE)
    write_table(frame, path, index=False)
    return path


def write_encodings(folder: str, encodings: np.ndarray, sample_ids: list[str]) -> str:
    """Write samples x latent encodings; columns are numbered 1..latent_dim as in the Tybalt paper.

    Formatted with one format string per row: 0.15-0.2 s for 10,459 x 100 values, where pandas' to_csv took
    0.8-1.9 s of every trial; the text is the same.
    """
    n_encodings = encodings.shape[1]
    header = "\t".join(["sample_id"] + [str(k) for k in range(1, n_encodings + 1)]) + "\n"
    row_format = "%s" + "\t%.6g" * n_encodings + "\n"
    path = os.path.join(folder, ENCODINGS_FILE)
    with replaced_atomically(path) as temporary, open(temporary, "w") as handle:
        handle.write(header)
        handle.writelines(row_format % (sample, *values) for sample, values in zip(sample_ids, encodings.tolist()))
    return path


def write_genes(folder: str, genes: list[str]) -> str:
    """Write the training genes in input order, one per line, so new samples can be encoded in the same order."""
    path = os.path.join(folder, GENES_FILE)
    write_text(path, "".join(f"{gene}\n" for gene in genes))
    return path


def save_models(folder: str, encoder, decoder) -> tuple[str, str]:
    """Save encoder and decoder in the Keras format, each under a temporary name then renamed."""
    paths = []
    for model, name in ((encoder, ENCODER_FILE), (decoder, DECODER_FILE)):
        path = os.path.join(folder, name)
        with replaced_atomically(path) as temporary:
            model.save(temporary)
        paths.append(path)
    return paths[0], paths[1]


def plot_loss(folder: str, history: dict[str, list[float]], title: str) -> str:
    """Plot training and validation loss per epoch (log scale when the loss spans a wide range)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    figure, axis = plt.subplots(figsize=(6, 4))
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        if key in history:
            axis.plot(epochs, history[key], marker="o" if len(epochs) < 30 else None, label=label)
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    return save_figure(figure, os.path.join(folder, LOSS_PLOT_FILE))


def save_figure(figure, path: str, dpi: int = 100) -> str:
    """Save a matplotlib figure atomically and release its memory."""
    import matplotlib.pyplot as plt

    with replaced_atomically(path) as temporary:
        figure.savefig(temporary, dpi=dpi)
    plt.close(figure)
    return path


def check_model_file(path: str) -> None:
    """Refuse a missing model file or one that is no zip archive, before TensorFlow starts (Keras would say
    "File not found")."""
    if not os.path.isfile(path):
        raise TybaltInputError(f"model file {path} not found; give the {ENCODER_FILE} or {DECODER_FILE} "
                               f"written by a training run")
    if not zipfile.is_zipfile(path):
        raise unloadable_model_error(path, "not a zip archive, as every .keras file is")


def unloadable_model_error(path: str, reason: str) -> TybaltInputError:
    """The error for a model file that cannot be loaded (safely), naming the file, the reason and the fix."""
    return TybaltInputError(f"{path} is not a Keras model file that can be loaded safely ({reason}); "
                            f"give the {ENCODER_FILE} or {DECODER_FILE} written by a training run")

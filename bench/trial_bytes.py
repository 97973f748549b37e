"""Bytes a study-grid trial writes and keeps at the full TCGA size (10,459 x 5,000), before and after lean trials.

``python bench/trial_bytes.py`` builds the grid's three VAE sizes (depth 0; depth 1 with 100 and 300 hidden units),
writes one real checkpoint (weights + Adam state, ``save_checkpoint``) and a trial's real output files (models,
encodings, loss plot, history, params, genes) of each into a temporary folder, measures them, and prints the
table (also written to bench/trial_bytes.md). Sizes only: nothing is trained, so it needs no quiet machine.

Before: a checkpoint after every epoch (``ckpt_save_interval 1``, the newest kept) and every output file. After
(the study campaigns' settings): checkpoints every 10 minutes of training and at the time limit, removed when the
trial ends; only history.csv and params.json kept. A trial that trains under 10 minutes and is not stopped by the
time limit writes no checkpoint; each further 10 minutes adds one.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(BENCH_DIR), "Tybalt"))

from tybalt_core.common import outputs  # noqa: E402
from tybalt_core.run.run_state import run_record  # noqa: E402

SAMPLES, GENES, LATENT = 10_459, 5_000, 100
MODEL_SIZES = {"depth 0": (0, 300), "depth 1, hidden 100": (1, 100), "depth 1, hidden 300": (1, 300)}
GRID_EPOCHS = (10, 25, 50, 100)  # each equally often in tybalt_grid
GRID_TRIALS = {"depth 0": 320, "depth 1, hidden 100": 320, "depth 1, hidden 300": 320}
MB = 1e6


def folder_bytes(folder: str) -> int:
    """Bytes of every file under ``folder``."""
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(folder) for name in names)


def measure(depth: int, hidden_dim: int, scratch: str) -> dict[str, int]:
    """Bytes of one checkpoint, of the models, of the other outputs, and of history.csv + params.json."""
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.train.checkpointing import save_checkpoint
    from tybalt_core.train.resumable_training import KERAS_FLAVOUR
    from tybalt_core.train.training import compile_autoencoder

    autoencoder = build_autoencoder("vae", GENES, LATENT, depth=depth, hidden_dim=hidden_dim)
    compile_autoencoder(autoencoder, optimizer="adam", learning_rate=0.0005, loss="binary_crossentropy")
    autoencoder.model(np.zeros((1, GENES), dtype="float32"))
    autoencoder.model.optimizer.build(autoencoder.model.trainable_variables)
    epochs = max(GRID_EPOCHS)
    keys = ("loss", "reconstruction_loss", "kl_loss", "val_loss", "val_reconstruction_loss", "val_kl_loss", "beta",
            "val_objective")
    history = {key: list(np.linspace(3000, 2500, epochs)) for key in keys}
    checkpoint = save_checkpoint(autoencoder.model, os.path.join(scratch, "ckpt"), epochs, history, KERAS_FLAVOUR, 1)
    kept, models, others = (os.path.join(scratch, name) for name in ("kept", "models", "others"))
    for folder in (kept, models, others):
        os.makedirs(folder)
    outputs.write_history(kept, history)
    outputs.write_params(kept, run_record({"epochs": epochs, "depth": depth, "hidden_dim": hidden_dim}, "finished"))
    lean = folder_bytes(kept)
    outputs.save_models(models, autoencoder.encoder, autoencoder.decoder)
    rng = np.random.default_rng(0)
    outputs.write_encodings(others, rng.random((SAMPLES, LATENT), dtype=np.float32),
                            [f"TCGA-{i // 10000:02d}-{i % 10000:04d}-01" for i in range(SAMPLES)])
    outputs.write_genes(others, [f"GENE{i}" for i in range(GENES)])
    outputs.plot_loss(others, history, "Tybalt vae")
    return {"checkpoint": folder_bytes(checkpoint), "models": folder_bytes(models), "others": folder_bytes(others),
            "lean": lean}


def per_trial(sizes: dict[str, int], epochs: int) -> dict[str, float]:
    """Bytes written and kept by one trial of ``epochs`` epochs, before and after (no checkpoint after: < 10 min)."""
    everything = sizes["models"] + sizes["others"] + sizes["lean"]
    return {"written_before": epochs * sizes["checkpoint"] + everything, "kept_before": sizes["checkpoint"] + everything,
            "written_after": sizes["lean"], "kept_after": sizes["lean"]}


def report(measured: dict[str, dict[str, int]]) -> str:
    """The markdown table: per-trial figures at 100 epochs, then the 960-trial grid's totals."""
    lines = ["| model | checkpoint (weights + Adam) | per trial (100 epochs) written before -> after | kept before -> "
             "after | grid trials: written before -> after | kept before -> after |", "|---|---|---|---|---|---|"]
    totals = dict.fromkeys(("written_before", "kept_before", "written_after", "kept_after"), 0.0)
    for name, sizes in measured.items():
        trial = per_trial(sizes, max(GRID_EPOCHS))
        grid = {key: sum(per_trial(sizes, e)[key] for e in GRID_EPOCHS) * GRID_TRIALS[name] / len(GRID_EPOCHS)
                for key in totals}
        for key in totals:
            totals[key] += grid[key]
        lines.append(f"| {name} | {sizes['checkpoint'] / MB:.1f} MB | {trial['written_before'] / MB:.0f} MB -> "
                     f"{trial['written_after'] / 1e3:.0f} kB | {trial['kept_before'] / MB:.1f} MB -> "
                     f"{trial['kept_after'] / 1e3:.0f} kB | {grid['written_before'] / 1e9:.0f} GB -> "
                     f"{grid['written_after'] / MB:.0f} MB | {grid['kept_before'] / 1e9:.1f} GB -> "
                     f"{grid['kept_after'] / MB:.0f} MB |")
    lines.append(f"| all 960 grid trials | | | | {totals['written_before'] / 1e9:.0f} GB -> "
                 f"{totals['written_after'] / MB:.0f} MB | {totals['kept_before'] / 1e9:.1f} GB -> "
                 f"{totals['kept_after'] / MB:.0f} MB |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure the three model sizes and print (and write) the table."""
    from tybalt_core.models.tensorflow_setup import set_up_tensorflow

    set_up_tensorflow()
    measured = {}
    for name, (depth, hidden_dim) in MODEL_SIZES.items():
        with tempfile.TemporaryDirectory() as scratch:
            measured[name] = measure(depth, hidden_dim, scratch)
    table = report(measured)
    print(table)
    with open(os.path.join(BENCH_DIR, "trial_bytes.md"), "w") as handle:
        handle.write(f"# Bytes per study-grid trial at {SAMPLES:,} x {GENES:,}\n\nWritten by bench/trial_bytes.py "
                     "(sizes of real files, nothing trained; see its docstring for the assumptions).\n\n" + table)


if __name__ == "__main__":
    main()

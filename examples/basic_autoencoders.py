"""Teaching example: on 3 binary genes (gene3 = gene1 AND gene2), compare PCA, a shallow linear and a deep
nonlinear autoencoder with a 2-d code, then tune depth x width and the latent size. The
latent-size search uses the continuous variant (gene3 = gene1 x gene2 of uniform genes 1 and 2): the 4 binary
patterns fit on a 1-d code, so only data with a 2-d continuous structure show latent 1 losing to latent 2.

Run ``make toy`` or ``python examples/basic_autoencoders.py [--output_dir Output/toy]``. It prints a table of
reconstruction errors and saves ``toy_codes.png``, the 2-d codes of each method coloured by the 4 patterns.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Tybalt"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tybalt_core.data import expression  # noqa: E402  (Tybalt/ must be on sys.path first, as CANDLE runs it)
from tybalt_core.data.toy_data import TOY_GENES, toy_pattern  # noqa: E402
from tybalt_core.models.tensorflow_setup import set_up_tensorflow  # noqa: E402

LATENT_DIM = 2
SEARCH_SPACES = ("toy_depth_width.yaml", "toy_latent_dim.yaml")


@dataclass
class Reconstruction:
    """One method's 2-d codes and reconstruction of every sample."""

    method: str
    codes: np.ndarray
    reconstructed: np.ndarray


@dataclass
class AutoencoderSettings:
    """Architecture and training settings of one autoencoder of the comparison."""

    label: str
    depth: int
    hidden_dim: int
    activation: str


COMPARED = (AutoencoderSettings("shallow linear AE (depth 0, linear)", 0, 2, "linear"),
            AutoencoderSettings("deep nonlinear AE (depth 3 x 12, tanh)", 3, 12, "tanh"))


def reconstruct_with_pca(values: np.ndarray, train_rows: np.ndarray) -> Reconstruction:
    """PCA with LATENT_DIM components fitted on the training rows: the best linear 2-d code."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=LATENT_DIM).fit(values[train_rows])
    codes = pca.transform(values)
    return Reconstruction(f"PCA ({LATENT_DIM} components)", codes, pca.inverse_transform(codes))


def reconstruct_with_autoencoder(values: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray,
                                 settings: AutoencoderSettings, args: argparse.Namespace) -> Reconstruction:
    """Train a plain autoencoder with the benchmark's own builder, compiler and training loop (MSE loss)."""
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.train.training import compile_autoencoder, set_seed, train

    set_seed(args.seed)
    autoencoder = build_autoencoder("ae", values.shape[1], LATENT_DIM, depth=settings.depth,
                                    hidden_dim=settings.hidden_dim, activation=settings.activation)
    compile_autoencoder(autoencoder, optimizer="adam", learning_rate=args.learning_rate, loss="mse")
    train(autoencoder, values, train_rows, val_rows, epochs=args.epochs, batch_size=args.batch_size, verbose=False)
    codes = np.asarray(autoencoder.encoder(values, training=False))
    return Reconstruction(settings.label, codes, np.asarray(autoencoder.decoder(codes, training=False)))


def error_table(values: np.ndarray, results: list[Reconstruction]) -> str:
    """Per-gene and overall reconstruction MSE, and the share of samples exactly right after rounding."""
    header = f"{'method':<40}" + "".join(f"{'MSE ' + g:>12}" for g in TOY_GENES) + f"{'MSE all':>12}{'exact':>8}"
    rows = [header, "-" * len(header)]
    for result in results:
        squared_error = (values - result.reconstructed) ** 2
        exact = (np.round(result.reconstructed) == values).all(axis=1).mean()
        rows.append(f"{result.method:<40}" + "".join(f"{e:>12.2e}" for e in squared_error.mean(axis=0))
                    + f"{squared_error.mean():>12.2e}{exact:>8.0%}")
    return "\n".join(rows)


def plot_codes(values: np.ndarray, results: list[Reconstruction], path: str) -> None:
    """One panel per method: the 2-d code of every sample, coloured by its (gene1, gene2, gene3) pattern."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    patterns = toy_pattern(values)
    figure, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 4.2))
    for axis, result in zip(axes, results):
        for pattern in range(4):
            genes = (pattern // 2, pattern % 2, pattern // 3)
            chosen = patterns == pattern
            axis.scatter(result.codes[chosen, 0], result.codes[chosen, 1], s=60, alpha=0.6,
                         label="genes (%d, %d, %d)" % genes)
        axis.set(title=result.method, xlabel="code 1", ylabel="code 2")
        axis.title.set_fontsize(9)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run_searches(output_dir: str) -> None:
    """Tune depth x hidden_dim (24 configurations in 21 distinct models, binary data), then latent_dim (continuous
    data), by RandomSearch.

    Each search goes through the entry point's ``run()`` with ``tuner='random'``, as the command line would run it.
    """
    import tybalt_baseline_keras2 as benchmark
    from tybalt_core.tune.hpo_results import BEST_PARAMS_FILE
    from tybalt_core.tune.search_space import load_search_space

    for space in SEARCH_SPACES:
        name = os.path.splitext(space)[0]
        definition = load_search_space(name)
        variant = definition.fixed.get("toy_variant", "binary")
        folder = os.path.join(output_dir, name)
        print(f"\nsearching {space} ({definition.configuration_count} configurations, {definition.trial_count} "
              f"distinct models) on the {variant} toy data")
        history = benchmark.run(benchmark.initialize_parameters(argv=[
            "--tuner", "random", "--search_space", name, "--max_trials", str(definition.trial_count),
            "--output_dir", folder]))
        with open(os.path.join(folder, BEST_PARAMS_FILE)) as handle:
            best = json.load(handle)
        searched = {key: best["params"][key] for key in definition.parameters if key in best["params"]}
        print(f"best of {space}: val_loss {history.history['val_loss'][-1]:.2e} at {searched}")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line settings (``argv``, else sys.argv); the defaults make the linear autoencoder converge to the PCA
    solution."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="toy samples (4 balanced patterns)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs of each autoencoder")
    parser.add_argument("--batch_size", type=int, default=16, help="samples per training step")
    parser.add_argument("--learning_rate", type=float, default=0.01, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=123, help="seed of the data, the split and the weights")
    parser.add_argument("--output_dir", default=os.path.join("Output", "toy"), help="folder for toy_codes.png")
    parser.add_argument("--tune", action="store_true", help="also run the depth x width and latent-dim searches")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Train the three methods on the same toy data, print the error table, save the code figure."""
    logging.basicConfig(level=logging.WARNING)
    args = parse_arguments(argv)
    set_up_tensorflow()
    dataset = expression.load_dataset("toy", args.output_dir, toy_samples=args.samples, rng_seed=args.seed)
    train_rows, val_rows = expression.split_train_validation(len(dataset.sample_ids), 0.1, args.seed)
    results = [reconstruct_with_pca(dataset.values, train_rows)]
    results += [reconstruct_with_autoencoder(dataset.values, train_rows, val_rows, settings, args)
                for settings in COMPARED]
    print(f"Reconstruction of {len(dataset.sample_ids)} toy samples (gene3 = gene1 AND gene2), "
          f"{LATENT_DIM}-d code:\n")
    print(error_table(dataset.values, results))
    os.makedirs(args.output_dir, exist_ok=True)
    figure_path = os.path.join(args.output_dir, "toy_codes.png")
    plot_codes(dataset.values, results, figure_path)
    print(f"\n2-d codes of each method: {figure_path}")
    if args.tune:
        run_searches(args.output_dir)


if __name__ == "__main__":
    main()

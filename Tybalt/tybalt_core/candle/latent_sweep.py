"""The latent-size sweep (as in BioBombe): train every latent size x seed, then the scorecard against the latent size.

    python Tybalt/latent_sweep.py --latent_dims 5,10,20,40 --seeds 1,2,3 --output_dir Output/sweep -- [training flags]

Each training is an ordinary run in ``<output_dir>/latent_<size>/seed_<seed>`` (the flags after ``--`` are the
benchmark's own, e.g. ``--data_source my.tsv --epochs 300``); a run that finished before with the same parameters is
reused, so an interrupted sweep continues where it stopped. ``compare_runs`` then scores every run and its PCA,
FastICA and NMF baselines and draws ``latent_sweep.png`` in ``<output_dir>/scorecard``.
"""

from __future__ import annotations

import logging
import os

from tybalt_core.run.run_comparison import compare_runs
from tybalt_core.common.cli import OneLineErrorParser, run_command
from tybalt_core.common.errors import TybaltInputError

logger = logging.getLogger(__name__)

SCORECARD_FOLDER = "scorecard"
FLAGS_THE_SWEEP_SETS = ("--latent_dim", "--rng_seed", "--output_dir", "--save_model")


def run_sweep(latent_dims: list[int], seeds: list[int], output_folder: str, training_flags: list[str]) -> str:
    """Train the missing runs of the grid, then write the scorecard of all of them; return its folder."""
    taken = [flag for flag in training_flags if flag.split("=")[0] in FLAGS_THE_SWEEP_SETS]
    if taken:
        raise TybaltInputError(f"the sweep sets {', '.join(taken)} itself; give the sizes with --latent_dims and "
                               f"the seeds with --seeds, and drop {', '.join(taken)} from the training flags")
    from tybalt_baseline_keras2 import initialize_parameters, run

    folders = []
    grid = [(size, seed) for size in latent_dims for seed in seeds]
    for number, (size, seed) in enumerate(grid, 1):
        folder = os.path.join(output_folder, f"latent_{size}", f"seed_{seed}")
        logger.info("sweep run %d of %d: latent %d, seed %d -> %s", number, len(grid), size, seed, folder)
        run(initialize_parameters(argv=[*training_flags, "--latent_dim", str(size), "--rng_seed", str(seed),
                                        "--output_dir", folder, "--save_model", "true"]))
        folders.append(folder)
    scorecard_folder = os.path.join(output_folder, SCORECARD_FOLDER)
    compare_runs(folders, scorecard_folder)
    logger.info("sweep scorecard written to %s", scorecard_folder)
    return scorecard_folder


def positive_integers(text: str) -> list[int]:
    """'5,10,20' as [5, 10, 20]; anything else is a one-line error."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise TybaltInputError(f"{text!r} is not a comma-separated list of positive whole numbers (e.g. 5,10,20)")
    return values


def main(argv: list[str] | None = None) -> None:
    """Command line: sizes, seeds, output folder, then ``--`` and the training flags (mistakes: one line, exit 2)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(lambda: _sweep_from_command_line(argv))


def _sweep_from_command_line(argv: list[str] | None) -> str:
    """Parse the command line and run the sweep it describes."""
    parser = OneLineErrorParser(prog="latent_sweep", allow_abbrev=False,
                                description="Train every latent size x seed and plot the scorecard against the "
                                            "latent size; training flags follow --")
    parser.add_argument("--latent_dims", required=True, help="comma-separated latent sizes, e.g. 5,10,20,40")
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    parser.add_argument("--output_dir", required=True, help="folder for the runs and the scorecard")
    parser.add_argument("training_flags", nargs="*", help="after --: flags of tybalt_baseline_keras2.py")
    arguments = parser.parse_args(argv)
    return run_sweep(positive_integers(arguments.latent_dims), positive_integers(arguments.seeds),
                     arguments.output_dir, arguments.training_flags)

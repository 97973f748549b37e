"""The scorecard over several finished runs: each run's model against PCA, FastICA, NMF and the input, with the
spread over the runs' seeds and the stability of the encodings from seed to seed.

    python Tybalt/compare_runs.py RUN_FOLDER [RUN_FOLDER ...] --output_dir FOLDER

Each run folder is read as training left it (params.json, encoder.keras, decoder.keras): its data set and
train/validation split are rebuilt from its parameters, the baselines are fitted on its training samples with its
seed, and every method is scored on its samples. Runs of several latent sizes also give the latent-size figure.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from tybalt_core.analysis import scorecard
from tybalt_core.analysis.baselines import TrainedAutoencoder, fit_baselines
from tybalt_core.common import outputs
from tybalt_core.common.atomic_files import write_text
from tybalt_core.common.cli import OneLineErrorParser, run_command
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.user_files import require_writable_folder
from tybalt_core.data.labels import plan_labels
from tybalt_core.run import run_state

logger = logging.getLogger(__name__)

REPORT_FILE = "report.md"
SWEEP_FIGURE_FILE = "latent_sweep.png"
SCORED_STATUSES = (run_state.FINISHED, run_state.CONVERGED, run_state.STOPPED_EARLY)


def compare_runs(run_folders: list[str], output_folder: str) -> pd.DataFrame:
    """Score every run and its baselines, write the scorecard (and the latent-size figure) and report.md."""
    records = [finished_run_record(folder) for folder in run_folders]
    require_writable_folder(output_folder, "output folder", "--output_dir")
    encoded, scores = [], []
    for number, (folder, record) in enumerate(zip(run_folders, records), 1):
        logger.info("scoring run %d of %d: %s", number, len(run_folders), folder)
        run_encoded, labels = encode_run(folder, record)
        encoded += run_encoded
        scores.append(scorecard.run_scores(run_encoded, labels))
        for item in run_encoded:  # only the stability needs the encodings later: keep them small
            item.encodings = item.encodings.astype(np.float32) if item.method != "input" else item.encodings[:0]
    scores.append(scorecard.stability_scores([item for item in encoded if item.method != "input"]))
    os.makedirs(output_folder, exist_ok=True)
    all_scores = pd.concat([frame for frame in scores if not frame.empty], ignore_index=True)
    summary = scorecard.write_scorecard(output_folder, all_scores, f"scorecard of {len(run_folders)} runs")
    sweep = summary["latent_dim"][summary["method"] != "input"].nunique() > 1
    if sweep:
        outputs.save_figure(scorecard.plot_latent_sweep(summary, "scorecard against the latent size"),
                            os.path.join(output_folder, SWEEP_FIGURE_FILE))
    write_comparison_report(output_folder, run_folders, summary, sweep)
    return summary


def finished_run_record(folder: str) -> dict:
    """The params.json of a finished training run with saved models, or a one-line error saying what is missing."""
    record = run_state.read_record(folder)
    if not record:
        raise TybaltInputError(f"{folder} holds no params.json; give the output folder of a training run")
    if record.get("status") not in SCORED_STATUSES:
        raise TybaltInputError(f"run {folder} has status {record.get('status')!r}, not a finished training; "
                               f"finish it (rerun its command) or leave it out")
    for name in (outputs.ENCODER_FILE, outputs.DECODER_FILE):
        if not os.path.isfile(os.path.join(folder, name)):
            raise TybaltInputError(f"run {folder} has no {name}; train it with --save_model true")
    return record


def encode_run(folder: str, record: dict) -> tuple[list[scorecard.MethodEncoding], dict[str, np.ndarray]]:
    """The run's model and its baselines applied to the run's data set, and the labels to score them by."""
    from tybalt_core.config.settings import DataSettings
    from tybalt_core.run.trial import load_data

    dataset, train_rows, val_rows = load_data(DataSettings.from_params(record))
    encoder, decoder = load_run_models(folder)
    seed = int(record["rng_seed"])
    methods = {record["model_type"]: TrainedAutoencoder(encoder, decoder),
               **fit_baselines(dataset.values[train_rows], int(record["latent_dim"]), seed)}
    plan = plan_labels(dataset.clinical, record.get("label_columns", "")) if dataset.clinical is not None else None
    labels = {label: dataset.clinical[label].to_numpy(dtype=object) for label in (plan.knn if plan else [])}
    return scorecard.encode_with_methods(methods, dataset.values, val_rows, seed, data_set_name(record)), labels


def data_set_name(record: dict) -> str:
    """Which data set a run trained on: its source, and for generated data (synthetic, toy) also the seed that
    generated it, so stability is only measured between runs that encoded the same samples."""
    source = str(record["data_source"])
    return f"{source} seed {record['rng_seed']}" if source in ("synthetic", "toy") else source


def load_run_models(folder: str):
    """The encoder and decoder a run saved (TensorFlow is set up on first use)."""
    from tybalt_core.models.tensorflow_setup import set_up_tensorflow

    set_up_tensorflow()
    from tybalt_core.models.saved_models import load_saved_model

    return (load_saved_model(os.path.join(folder, outputs.ENCODER_FILE)),
            load_saved_model(os.path.join(folder, outputs.DECODER_FILE)))


def write_comparison_report(folder: str, run_folders: list[str], summary: pd.DataFrame, sweep: bool) -> str:
    """report.md of the comparison: the scorecard figure and tables, the latent-size figure, the runs compared."""
    lines = [f"# Scorecard of {len(run_folders)} runs", "", *scorecard.scorecard_markdown(summary)]
    if sweep:
        lines += ["## Against the latent size", "", f"![scorecard against the latent size]({SWEEP_FIGURE_FILE})", ""]
    lines += ["## Runs", "", *[f"- {os.path.abspath(run)}" for run in run_folders], ""]
    path = os.path.join(folder, REPORT_FILE)
    write_text(path, "\n".join(lines))
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: the run folders to compare and the folder for the scorecard (mistakes: one line, exit 2)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(lambda: _compare_from_command_line(argv))


def _compare_from_command_line(argv: list[str] | None) -> pd.DataFrame:
    """Parse the command line and compare the runs it names."""
    parser = OneLineErrorParser(prog="compare_runs", allow_abbrev=False,
                                description="Scorecard of finished Tybalt runs (several seeds, latent sizes or "
                                            "models) against PCA, FastICA, NMF and the input")
    parser.add_argument("run_folders", nargs="+", help="output folders of finished training runs")
    parser.add_argument("--output_dir", required=True, help="folder for scorecard.tsv/.png and report.md")
    arguments = parser.parse_args(argv)
    return compare_runs(arguments.run_folders, arguments.output_dir)

"""Encode new samples with a saved encoder: align their genes to the training genes, predict, write the encodings.

A run on the user's own TSV saved its gene scaling (``scaling.tsv``), which is applied here unchanged. TCGA
samples must already be on the training scale (the TCGA module's saved per-gene scaling applied to them).
"""

from __future__ import annotations

import logging
import os
from collections import Counter

import numpy as np

from tybalt_core.common import outputs
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.user_files import read_text, require_folder
from tybalt_core.data.expression import ExpressionData, check_values, load_expression_tsv
from tybalt_core.data.preprocessing import apply_gene_table, saved_gene_table
from tybalt_core.run import run_state
from tybalt_core.train.checkpointing import checkpoint_directory

logger = logging.getLogger(__name__)

MISSING_GENES_SHOWN = 5
MODEL_DIR_FIX = (f"--model_dir must be the folder of a training run (it holds {outputs.GENES_FILE} and "
                 f"{outputs.ENCODER_FILE})")


def encode_file(data_path: str, model_dir: str, output_folder: str, data_dir: str, gpus: list[int] = (), *,
                overwrite: bool = False) -> str:
    """Encode the samples x genes TSV ``data_path`` with the encoder saved in ``model_dir``, on the ``gpus`` (see
    keras_backend.configure_devices); return the TSV path.

    The output folder may not be the model's folder (links resolved), nor hold a finished run's results unless
    ``overwrite``; it is locked while encoding.
    """
    model_dir = os.path.realpath(os.path.expanduser(model_dir))
    output_folder = os.path.realpath(output_folder)
    if output_folder == model_dir:
        raise TybaltInputError(f"output folder {output_folder} is the model's run folder, whose "
                               f"{outputs.ENCODINGS_FILE} would be replaced; give another --output_dir")
    with run_state.output_folder_held(output_folder):
        run_state.check_output_folder(output_folder, "off", None, overwrite=overwrite)
        return _encode_into(data_path, model_dir, output_folder, data_dir, gpus)


def _encode_into(data_path: str, model_dir: str, output_folder: str, data_dir: str, gpus: list[int]) -> str:
    """Check the model folder and the data against each other, encode, and write the encodings."""
    record = check_run_finished(model_dir)
    genes = read_training_genes(model_dir)
    gene_table = saved_gene_table(model_dir, genes)
    data = load_expression_tsv(data_path, os.path.join(os.path.expanduser(data_dir), "cache"))
    check_values(data.values, data_path, require_unit_range=False)
    values = align_to_training_genes(data, genes, data_path)
    if gene_table is not None:  # a run on the user's own data: its gene scaling, fitted on its training samples
        values = apply_gene_table(values, genes, gene_table)
    check_training_scale(values, record.get("input_range"), data_path, model_dir)
    encoder = load_encoder(model_dir, gpus)  # checks the file before TensorFlow is imported
    check_encoder_inputs(encoder, genes, model_dir)
    from tybalt_core.models.autoencoders import apply_in_batches

    encodings = apply_in_batches(encoder, values)
    run_state.remove_earlier_run(output_folder, checkpoint_directory("", output_folder))  # --overwrite true
    path = outputs.write_encodings(output_folder, encodings, data.sample_ids)
    logger.info("encoded %d samples with %s; encodings in %s", len(data.sample_ids), model_dir, path)
    return path


def check_run_finished(model_dir: str) -> dict:
    """The model folder's params.json; a diverged run, or an unfinished one that saved no model, is refused."""
    require_folder(model_dir, "model folder", MODEL_DIR_FIX)
    record = run_state.read_record(model_dir)
    status = record.get("status")
    if status == run_state.DIVERGED:
        raise TybaltInputError(f"model folder {model_dir} holds a diverged run (its loss became NaN or infinite), "
                               f"which saved no encoder; train again with a lower learning_rate and give that "
                               f"run's folder")
    saved = all(os.path.isfile(os.path.join(model_dir, name)) for name in (outputs.GENES_FILE, outputs.ENCODER_FILE))
    if status in (run_state.RUNNING, run_state.STOPPED_EARLY) and not saved:
        raise TybaltInputError(f"model folder {model_dir} holds an unfinished run (status {status!r}: still "
                               f"training, or killed before it saved its model); rerun its training command to "
                               f"finish it, then encode")
    return record


def check_training_scale(values: np.ndarray, trained_on: object, source: str, model_dir: str) -> None:
    """Refuse values far outside the range the model was trained on (beyond it by more than its width): they are
    on another scale (raw counts for a model of scaled values), and the encodings would mean nothing."""
    if not (isinstance(trained_on, list) and len(trained_on) == 2
            and all(isinstance(end, (int, float)) and np.isfinite(end) for end in trained_on)):
        return  # a run from before the range was recorded
    low, high = trained_on
    width = max(high - low, np.finfo(np.float32).eps)
    far = np.count_nonzero((values < low - width) | (values > high + width))
    if far:
        raise TybaltInputError(
            f"data file {source} holds values from {np.min(values):g} to {np.max(values):g}, far outside the range "
            f"[{low:g}, {high:g}] the model in {model_dir} was trained on ({far} values); put the samples on the "
            f"training data's scale (the same normalisation and scaling), or train a model on data of this scale")


def read_training_genes(model_dir: str) -> list[str]:
    """The genes the model was trained on, in input order (``genes.txt`` of the run folder)."""
    require_folder(model_dir, "model folder", MODEL_DIR_FIX)
    path = os.path.join(model_dir, outputs.GENES_FILE)
    lines = read_text(path, "genes file", MODEL_DIR_FIX).splitlines()
    blank = [str(number) for number, gene in enumerate(lines, 1) if not gene.strip()]
    duplicated = sorted(gene for gene, count in Counter(lines).items() if count > 1 and gene.strip())
    if blank or duplicated or not lines:
        problem = (f"an empty line (line {', '.join(blank[:5])})" if blank else
                   f"duplicated genes ({', '.join(duplicated[:5])})" if duplicated else "no genes")
        raise TybaltInputError(f"{path} has {problem}; it must list each training gene once, one per line, as "
                               f"the training run wrote it (give the folder of an unmodified training run)")
    return lines


def check_encoder_inputs(encoder, genes: list[str], model_dir: str) -> None:
    """Refuse a model folder whose genes.txt does not list as many genes as its encoder takes inputs."""
    width = encoder.inputs[0].shape[-1]
    if width != len(genes):
        raise TybaltInputError(
            f"model folder {model_dir} does not hold together: {outputs.GENES_FILE} lists {len(genes)} genes but "
            f"{outputs.ENCODER_FILE} takes {width} inputs; give the folder of an unmodified training run")


def load_encoder(model_dir: str, gpus: list[int] = ()):
    """Load the run's saved encoder onto the chosen devices (Keras safe mode: no arbitrary code runs while loading)."""
    path = os.path.join(model_dir, outputs.ENCODER_FILE)
    if not os.path.isfile(path):
        raise TybaltInputError(f"{path} not found; train with --save_model true so the encoder is saved")
    outputs.check_model_file(path)  # before TensorFlow starts
    from tybalt_core.models.tensorflow_setup import set_up_tensorflow

    set_up_tensorflow()
    from tybalt_core.models.backend import configure_devices
    from tybalt_core.models.saved_models import load_saved_model

    configure_devices(gpus, quiet=True)  # a bad model file must stay a one-line error
    return load_saved_model(path)


def align_to_training_genes(data: ExpressionData, genes: list[str], source: str) -> np.ndarray:
    """The data's columns in training-gene order; missing genes are an error, extra genes are dropped."""
    column = {gene: i for i, gene in enumerate(data.genes)}
    missing = [gene for gene in genes if gene not in column]
    if missing:
        shown = ", ".join(missing[:MISSING_GENES_SHOWN]) + (", ..." if len(missing) > MISSING_GENES_SHOWN else "")
        raise TybaltInputError(f"data file {source} lacks {len(missing)} of the {len(genes)} training genes "
                               f"({shown}); give a value for every gene in genes.txt of the model folder")
    extra = len(data.genes) - len(genes)
    if extra:
        logger.info("ignoring %d genes of %s that the model was not trained on", extra, source)
    return np.asarray(data.values)[:, [column[gene] for gene in genes]]

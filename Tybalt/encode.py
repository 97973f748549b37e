"""Encode new samples with a saved encoder: align their genes to the training genes, predict, write the encodings.

A run on the user's own TSV saved its gene scaling (``scaling.tsv``), which is applied here unchanged. TCGA
samples must already be on the training scale (the TCGA module's saved per-gene scaling applied to them).
"""

from __future__ import annotations

import logging
import os

import numpy as np

import outputs
from data import ExpressionData, check_values, load_expression_tsv
from errors import TybaltInputError
from preprocessing import apply_gene_table, saved_gene_table

logger = logging.getLogger(__name__)

MISSING_GENES_SHOWN = 5


def encode_file(data_path: str, model_dir: str, output_folder: str, data_dir: str) -> str:
    """Encode the samples x genes TSV ``data_path`` with the encoder saved in ``model_dir``; return the TSV path."""
    model_dir = os.path.abspath(os.path.expanduser(model_dir))
    output_folder = os.path.abspath(output_folder)
    if output_folder == model_dir:
        raise TybaltInputError(f"output folder {output_folder} is the model's run folder, whose "
                               f"{outputs.ENCODINGS_FILE} would be replaced; give another --output_dir")
    genes = read_training_genes(model_dir)
    data = load_expression_tsv(data_path, os.path.join(os.path.expanduser(data_dir), "cache"))
    check_values(data.values, data_path, require_unit_range=False)
    values = align_to_training_genes(data, genes, data_path)
    gene_table = saved_gene_table(model_dir)
    if gene_table is not None:  # a run on the user's own data: its gene scaling, fitted on its training samples
        values = apply_gene_table(values, genes, gene_table)
    encoder = load_encoder(model_dir)  # checks the file before TensorFlow is imported
    from models import apply_in_batches

    encodings = apply_in_batches(encoder, values)
    os.makedirs(output_folder, exist_ok=True)
    path = outputs.write_encodings(output_folder, encodings, data.sample_ids)
    logger.info("encoded %d samples with %s; encodings in %s", len(data.sample_ids), model_dir, path)
    return path


def read_training_genes(model_dir: str) -> list[str]:
    """The genes the model was trained on, in input order (``genes.txt`` of the run folder)."""
    if not os.path.isdir(model_dir):
        raise TybaltInputError(f"model folder {model_dir} not found; --model_dir must be the folder of a training run "
                               f"(it holds {outputs.GENES_FILE} and {outputs.ENCODER_FILE})")
    path = os.path.join(model_dir, outputs.GENES_FILE)
    if not os.path.isfile(path):
        raise TybaltInputError(f"{path} not found; --model_dir must be the folder of a training run "
                               f"(it holds {outputs.GENES_FILE} and {outputs.ENCODER_FILE})")
    with open(path) as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def load_encoder(model_dir: str):
    """Load the run's saved encoder (Keras safe mode: no arbitrary code is run while loading)."""
    path = os.path.join(model_dir, outputs.ENCODER_FILE)
    if not os.path.isfile(path):
        raise TybaltInputError(f"{path} not found; train with --save_model true so the encoder is saved")
    return outputs.load_saved_model(path)


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

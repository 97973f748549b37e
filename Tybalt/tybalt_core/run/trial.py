"""One trial: train one model with one set of parameters and write its outputs (what ``run`` does).

``run_trial`` reads as the steps of a trial. Every check of the user's input (parameters, output folder,
checkpoint, data) happens before TensorFlow is imported, so bad input fails within a second and touches no file.
The trial holds its output folder's lock throughout, so a second run into the same folder is refused.
The KerasTuner search reuses ``load_data`` and ``build_model`` so its trials train the same models.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np

from tybalt_core.common import outputs
from tybalt_core.common.user_files import require_writable_folder
from tybalt_core.config.objective import OBJECTIVE_KEY, RECONSTRUCTION_KEY, objective_label
from tybalt_core.config.parameters import check_model_fits_data, genes_selected
from tybalt_core.config.settings import AnalysisSettings, DataSettings, ModelSettings, TrainingSettings
from tybalt_core.data.expression import ExpressionData
from tybalt_core.run import run_state
from tybalt_core.run.placement import trial_placement
from tybalt_core.train import checkpointing

if TYPE_CHECKING:
    from tybalt_core.train.resumable_training import TrainingResult

logger = logging.getLogger(__name__)


def run_trial(params: dict[str, Any]):
    """Train the model ``params`` describe, resuming from a checkpoint if there is one; return the History."""
    started = time.time()
    folder = outputs.run_output_dir(params["output_dir"], params["experiment_id"], params["run_id"])
    ckpt = checkpoint_settings(params, folder)
    with ExitStack() as held:
        held.enter_context(run_state.output_folder_held(folder))
        if os.path.commonpath([ckpt.directory, folder]) != folder:  # a checkpoint folder of its own: hold it too
            held.enter_context(run_state.output_folder_held(ckpt.directory, flag="--ckpt_directory",
                                                            what="checkpoint folder"))
        return _train_in_folder(folder, params, ckpt, started)


def _train_in_folder(folder: str, params: dict[str, Any], ckpt: checkpointing.CheckpointSettings, started: float):
    """The trial's steps, in its output folder ``folder`` (whose lock the caller holds), started at ``started``."""
    if not params["overwrite"] and run_state.finished_with_same_parameters(folder, params):
        logger.info("%s holds this run, finished before with the same parameters: returning its saved history "
                    "without training (--overwrite true trains it again)", folder)
        return run_state.saved_history(folder)
    require_writable_folder(ckpt.directory, "checkpoint folder", "--ckpt_directory")
    ckpt.restart_mode = run_state.check_output_folder(
        folder, ckpt.restart_mode, checkpointing.latest_checkpoint(ckpt.directory), overwrite=params["overwrite"],
        params=params)
    ckpt.restart_mode = checkpointing.check_same_training(ckpt, overwrite=params["overwrite"])
    checkpointing.check_restart(ckpt)
    model, training = ModelSettings.from_params(params), TrainingSettings.from_params(params)
    dataset, train_rows, val_rows = load_data(DataSettings.from_params(params))
    check_model_fits_data(model.latent_dim, dataset.n_genes, len(train_rows), len(val_rows), params["data_source"],
                          genes_selected(params))
    analysis = AnalysisSettings.from_params(params)
    if analysis.analyze or analysis.tsne:
        from tybalt_core.analysis.preconditions import check_analysis_can_run

        check_analysis_can_run(dataset.values, train_rows, model.latent_dim, params["data_source"],
                               analyze=analysis.analyze, tsne=analysis.tsne, perplexity=analysis.perplexity)

    from tybalt_core.models.tensorflow_setup import set_up_tensorflow

    set_up_tensorflow()  # TensorFlow is imported from here on
    from tybalt_core.models.backend import configure_devices, keras
    from tybalt_core.train import resumable_training
    from tybalt_core.train.campaign_pruning import campaign_pruning
    from tybalt_core.train.input_pipeline import shared_tensor
    from tybalt_core.train.training import set_seed

    configure_devices(model.gpus)  # before TensorFlow runs anything
    keras.backend.clear_session()
    set_seed(training.rng_seed)
    matrix = shared_tensor(dataset.values)  # one tensor for training, validation and the encodings
    autoencoder = build_model(model, training, dataset.n_genes, len(train_rows))
    resume = resumable_training.restore(autoencoder.model, ckpt)
    if not resume.epochs_done:  # a fresh start: what an earlier run left here must not mix with this run's outputs
        run_state.remove_earlier_run(folder, ckpt.directory)
    details = {"resumed_after_epoch": resume.epochs_done, "input_range": input_range(dataset.values)}
    outputs.write_params(folder, run_state.run_record(params, run_state.RUNNING, placement=trial_placement(started),
                                                      **details))
    logger.info("training %s on %d samples x %d genes; outputs in %s", model.model_type, len(train_rows),
                dataset.n_genes, folder)
    pruning = campaign_pruning(params, autoencoder.model)
    fit_started = time.monotonic()
    result = resumable_training.fit_resumable(
        autoencoder, matrix, train_rows, val_rows, ckpt, resume, epochs=training.epochs,
        early_stop=training.early_stop, reduce_lr=training.reduce_lr, patience=training.patience,
        min_delta=training.min_delta, batch_size=training.batch_size, kappa=training.kappa,
        kl_mode=training.kl_mode, timeout=training.timeout, verbose=training.verbose, objective=training.objective,
        extra_callbacks=[pruning] if pruning else None)
    history = result.history
    fit_seconds = round(time.monotonic() - fit_started, 3)

    status = run_state.training_status(history.history, training.epochs, result.converged,
                                       pruned=bool(pruning and pruning.pruned_epoch))
    if status == run_state.DIVERGED:
        return record_divergence(folder, params, history, started)
    from tybalt_core.models.autoencoders import apply_in_batches, exportable_decoder

    decoder = exportable_decoder(autoencoder.decoder)
    wants_encodings = not params["lean_outputs"] or analysis.analyze or analysis.tsne
    encodings = apply_in_batches(autoencoder.encoder, matrix) if wants_encodings else None
    write_trained_model(folder, params, dataset, encodings, autoencoder.encoder, decoder, history.history)
    outcome = training_outcome(params, status, result)
    try:
        if analysis.analyze or analysis.tsne:
            analyze(folder, analysis, dataset, autoencoder.encoder, decoder, encodings, train_rows, val_rows,
                    outcome["convergence"])
    finally:  # the model is written: params.json says how training ended even if the analysis fails
        placement = trial_placement(started, time.time())
        outputs.write_params(folder, run_state.run_record(params, status, placement=placement, fit_seconds=fit_seconds,
                                                          **details, **outcome))
    if params["lean_outputs"] and status in (run_state.FINISHED, run_state.CONVERGED, run_state.PRUNED):
        checkpointing.remove_checkpoints(ckpt.directory)  # nothing left to resume
    history.history = run_state.returned_history(history.history, result.best_epoch)
    logger.info("objective (%s) of the kept model %.4f; outputs written to %s", objective_label(params["objective"]),
                history.history["val_loss"][-1], folder)
    return history


def input_range(values: np.ndarray) -> list[float]:
    """The smallest and largest value the model was trained on, so --encode_data can spot data on another scale."""
    return [float(np.min(values)), float(np.max(values))]


def training_outcome(params: dict[str, Any], status: str, result: TrainingResult) -> dict[str, Any]:
    """Why training stopped, the kept epoch, its objective (and reconstruction part) and the convergence diagnosis
    (logged, and recorded in params.json)."""
    from tybalt_core.train.convergence import diagnose

    history = result.history.history
    objective = history[OBJECTIVE_KEY]
    diagnosis = diagnose(objective, result.first_counted_epoch)
    logger.log(logging.WARNING if diagnosis.warning else logging.INFO, "convergence: %s", diagnosis.message)
    kept = (result.best_epoch or len(objective)) - 1
    outcome = {"stop_reason": run_state.stop_reason(status, len(objective), params["epochs"], params["patience"],
                                                    result.best_epoch),
               "convergence": diagnosis.message, "objective_value": objective[kept]}
    if RECONSTRUCTION_KEY in history:
        outcome["objective_reconstruction"] = history[RECONSTRUCTION_KEY][kept]
    if result.best_epoch:
        outcome.update(best_epoch=result.best_epoch, best_objective=objective[kept])
    return outcome


def load_data(settings: DataSettings) -> tuple[ExpressionData, Any, Any]:
    """The data set ``settings`` name and its train/validation row indices."""
    from tybalt_core.data import expression
    from tybalt_core.data.labels import check_label_columns
    from tybalt_core.data.preprocessing import fit_user_preprocessing, is_user_file

    source, needs_unit_range = settings.data_source, settings.loss == "binary_crossentropy"
    user_file = is_user_file(source)
    dataset = expression.load_dataset(
        source, settings.data_dir, train_data=settings.train_data,
        clinical_data=settings.clinical_data, synthetic_samples=settings.synthetic_samples,
        synthetic_genes=settings.synthetic_genes, toy_samples=settings.toy_samples,
        toy_variant=settings.toy_variant, rng_seed=settings.rng_seed,
        tcga_options=settings.tcga,
        require_unit_range=needs_unit_range and not user_file)
    check_label_columns(dataset.clinical, settings.label_columns, source)
    train_rows, val_rows = expression.split_train_validation(len(dataset.sample_ids), settings.val_split,
                                                             settings.rng_seed)
    if user_file:
        dataset = fit_user_preprocessing(dataset, train_rows, settings.num_genes, settings.gene_selection,
                                         settings.scaling)
        expression.check_values(dataset.values, source, needs_unit_range)
    return dataset, train_rows, val_rows


def build_model(model: ModelSettings, training: TrainingSettings, n_genes: int, n_train: int):
    """The compiled autoencoder ``model`` describes, for ``n_genes`` inputs and ``n_train`` training samples,
    in mixed precision where ``mixed_precision`` resolves on for the devices in use."""
    from tybalt_core.models.autoencoders import build_autoencoder
    from tybalt_core.models.backend import configure_devices, dtype_policy, resolve_mixed_precision
    from tybalt_core.train.training import compile_autoencoder, resolve_jit_compile

    devices = configure_devices(model.gpus)
    mixed_precision = resolve_mixed_precision(model.mixed_precision, devices)
    if mixed_precision:
        logger.info("mixed precision on: float16 compute, float32 weights, loss and outputs")
    jit_compile = resolve_jit_compile(model.jit_compile, model.model_type, epochs=training.epochs,
                                      n_train=n_train, batch_size=training.batch_size, on_gpu=devices.uses_gpu)
    with dtype_policy(mixed_precision):
        autoencoder = build_autoencoder(
            model.model_type, n_genes, model.latent_dim, depth=model.depth, hidden_dim=model.hidden_dim,
            loss=model.loss, noise=model.noise, sparsity=model.sparsity, tied_weights=model.tied_weights,
            activation=model.activation)
        compile_autoencoder(autoencoder, optimizer=model.optimizer, learning_rate=model.learning_rate,
                            loss=model.loss, jit_compile=jit_compile, steps_per_execution=model.steps_per_execution)
    return autoencoder


def checkpoint_settings(params: dict[str, Any], folder: str) -> checkpointing.CheckpointSettings:
    """The CANDLE ckpt_* parameters, with the checkpoint folder resolved against the run's output folder."""
    return checkpointing.CheckpointSettings(
        checkpointing.checkpoint_directory(params["ckpt_directory"], folder), params["ckpt_restart_mode"],
        params["ckpt_save_interval"], params["ckpt_keep_limit"], run_state.training_parameters(params),
        params["ckpt_save_minutes"])


def write_trained_model(folder: str, params: dict[str, Any], dataset: ExpressionData, encodings: np.ndarray | None,
                        encoder, decoder, history: dict[str, list[float]]) -> None:
    """Write the history, and unless ``lean_outputs`` every sample's encodings and the loss plot; the models with
    ``save_model``, and the gene list (and a user file's gene table) whenever encodings or models are written."""
    outputs.write_history(folder, history)
    lean = params["lean_outputs"]
    if not lean:
        outputs.write_encodings(folder, encodings, dataset.sample_ids)
    if not lean or params["save_model"]:
        outputs.write_genes(folder, dataset.genes)
        if dataset.gene_table is not None:
            from tybalt_core.data.preprocessing import save_gene_table

            save_gene_table(folder, dataset.gene_table)
    if params["save_model"]:
        outputs.save_models(folder, encoder, decoder)
    if not lean:
        outputs.plot_loss(folder, history, f"Tybalt {params['model_type']} (latent {params['latent_dim']})")


def analyze(folder: str, settings: AnalysisSettings, dataset: ExpressionData, encoder, decoder, encodings,
            train_rows, val_rows, convergence: str = "") -> None:
    """The signal report, baselines and tSNE ``settings`` ask for (see analysis/report.py)."""
    from tybalt_core.analysis.report import analyze_run

    analyze_run(folder, dataset, encoder, decoder, encodings, train_rows, val_rows, model_name=settings.model_type,
                analyze=settings.analyze, tsne=settings.tsne, perplexity=settings.perplexity,
                seed=settings.rng_seed, label_columns=settings.label_columns, convergence=convergence)


def record_divergence(folder: str, params: dict[str, Any], history, started: float):
    """End a diverged trial: history and status written, last val_loss NaN (the Supervisor's failure value)."""
    run_state.mark_failed_trial(history.history)
    outputs.write_history(folder, history.history)
    outputs.write_params(folder, run_state.run_record(params, run_state.DIVERGED,
                                                      placement=trial_placement(started, time.time())))
    logger.error("training diverged (loss became NaN or infinite) after %d epochs; lower learning_rate or try "
                 "another optimizer. Recorded in %s", len(history.history["loss"]), folder)
    return history

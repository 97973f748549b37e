"""CANDLE entry point of the Tybalt benchmark: ``initialize_parameters``, ``run`` and ``main``.

Standalone: ``python Tybalt/tybalt_baseline_keras2.py [--name value ...]``. Under the CANDLE Supervisor,
``model_runner.py`` imports this module, calls ``initialize_parameters()`` then ``run(params)``, and reads
``history.history['val_loss'][-1]``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import tybalt
from candle_layer import USING_REAL_CANDLE, candle
from errors import TybaltInputError
from parameters import check_model_fits_data, check_parameters

logger = logging.getLogger("tybalt")


def initialize_parameters(default_model: str = tybalt.DEFAULT_MODEL_FILE) -> dict[str, Any]:
    """Read the default-model file (next to this module, or an absolute path) and the command line."""
    benchmark = tybalt.TybaltBenchmark(tybalt.FILE_PATH, default_model, "keras", prog="tybalt_baseline_keras2",
                                       desc="Tybalt: variational and denoising autoencoders of tumour transcriptomes")
    params = candle.finalize_parameters(benchmark)
    if USING_REAL_CANDLE:
        params["output_dir"] = _output_dir_given_to_candle_lib(params)
    return params


def run(params: dict[str, Any]):
    """Train one model with ``params`` and write its outputs; return the Keras History.

    With ``tuner`` other than 'none' it runs a hyperparameter search instead and returns the best objective
    as ``history.history['val_loss']``, so the Supervisor can drive searches too. Every check of the user's input
    (parameters, output folder, checkpoint, data) runs before TensorFlow is imported, so bad input fails within a
    second and leaves no file touched.
    """
    params = check_parameters(params)
    if params["preprocess_only"]:
        return _preprocess_only(params)
    if params["tuner"] != "none":
        import tuning

        return tuning.search(params, load_data)
    import checkpointing
    import outputs
    import run_state

    folder = outputs.run_output_dir(params["output_dir"], params["experiment_id"], params["run_id"])
    ckpt = _checkpoint_settings(params, folder)
    ckpt.restart_mode = run_state.check_output_folder(
        folder, ckpt.restart_mode, checkpointing.latest_checkpoint(ckpt.directory), overwrite=params["overwrite"])
    checkpointing.check_restart(ckpt)
    dataset, train_rows, val_rows = load_data(params)
    check_model_fits_data(params["latent_dim"], dataset.n_genes, len(train_rows), len(val_rows),
                          params["data_source"])

    import resumable_training
    from models import build_autoencoder, exportable_decoder
    from training import compile_autoencoder, set_seed

    from keras_backend import keras

    keras.backend.clear_session()
    set_seed(params["rng_seed"])
    autoencoder = build_autoencoder(
        params["model_type"], dataset.n_genes, params["latent_dim"], depth=params["depth"],
        hidden_dim=params["hidden_dim"], loss=params["loss"], noise=params["noise"],
        sparsity=params["sparsity"], tied_weights=params["tied_weights"], activation=params["activation"])
    compile_autoencoder(autoencoder, optimizer=params["optimizer"], learning_rate=params["learning_rate"],
                        loss=params["loss"])
    resume = resumable_training.restore(autoencoder.model, ckpt)

    os.makedirs(folder, exist_ok=True)
    outputs.write_params(folder, run_state.run_record(params, run_state.RUNNING,
                                                      resumed_after_epoch=resume.epochs_done))
    logger.info("training %s on %d samples x %d genes; outputs in %s", params["model_type"], len(train_rows),
                dataset.n_genes, folder)
    history = resumable_training.fit_resumable(
        autoencoder, dataset.values[train_rows], dataset.values[val_rows], ckpt, resume, epochs=params["epochs"],
        batch_size=params["batch_size"], kappa=params["kappa"], kl_mode=params["kl_mode"],
        timeout=params["timeout"], verbose=params["verbose"])
    status = run_state.training_status(history.history, params["epochs"])
    if status == run_state.DIVERGED:
        return _record_divergence(folder, params, history)

    outputs.write_history(folder, history.history)
    encodings = autoencoder.encoder.predict(dataset.values, batch_size=1024, verbose=0)
    outputs.write_encodings(folder, encodings, dataset.sample_ids)
    if params["save_model"]:
        outputs.save_models(folder, autoencoder.encoder, exportable_decoder(autoencoder.decoder))
    outputs.plot_loss(folder, history.history, f"Tybalt {params['model_type']} (latent {params['latent_dim']})")
    outputs.write_params(folder, run_state.run_record(params, status, resumed_after_epoch=resume.epochs_done))
    logger.info("final val_loss %.4f; outputs written to %s", history.history["val_loss"][-1], folder)
    return history


def _preprocess_only(params: dict[str, Any]) -> None:
    """Download and preprocess the TCGA data, print where the files are, train nothing."""
    if params["data_source"] != "tcga":
        raise TybaltInputError(f"preprocess_only applies to --data_source tcga, not {params['data_source']!r}; "
                               f"add --data_source tcga or drop --preprocess_only")
    from tcga import TcgaOptions, prepare_tcga

    print(prepare_tcga(params["data_dir"], TcgaOptions.from_params(params), params["train_data"]).describe())


def load_data(params: dict[str, Any]):
    """The data set named by ``params`` and its train/validation row indices."""
    import data
    from tcga import TcgaOptions

    dataset = data.load_dataset(
        params["data_source"], params["data_dir"], train_data=params["train_data"],
        clinical_data=params["clinical_data"], synthetic_samples=params["synthetic_samples"],
        synthetic_genes=params["synthetic_genes"], toy_samples=params["toy_samples"],
        toy_variant=params["toy_variant"], rng_seed=params["rng_seed"], tcga_options=TcgaOptions.from_params(params),
        require_unit_range=params["loss"] == "binary_crossentropy")
    train_rows, val_rows = data.split_train_validation(len(dataset.sample_ids), params["val_split"],
                                                        params["rng_seed"])
    return dataset, train_rows, val_rows


def _checkpoint_settings(params: dict[str, Any], folder: str):
    """The CANDLE ckpt_* parameters, with the checkpoint folder resolved against the run's output folder."""
    from checkpointing import CheckpointSettings, checkpoint_directory

    return CheckpointSettings(
        checkpoint_directory(params["ckpt_directory"], folder), params["ckpt_restart_mode"],
        params["ckpt_save_interval"], params["ckpt_keep_limit"])


def _record_divergence(folder: str, params: dict[str, Any], history):
    """End a diverged trial: history and status written, last val_loss NaN (the Supervisor's failure value)."""
    import outputs
    import run_state

    run_state.mark_failed_trial(history.history)
    outputs.write_history(folder, history.history)
    outputs.write_params(folder, run_state.run_record(params, run_state.DIVERGED))
    logger.error("training diverged (loss became NaN or infinite) after %d epochs; lower learning_rate or try "
                 "another optimizer. Recorded in %s", len(history.history["loss"]), folder)
    return history


def _output_dir_given_to_candle_lib(params: dict[str, Any]) -> str:
    """Undo candle_lib's rewrite of output_dir (it appends experiment_id/run_id); '' means the default folder."""
    suffix = os.path.join(str(params["experiment_id"]), str(params["run_id"]))
    root = params["output_dir"][: -len(suffix)].rstrip(os.sep) if params["output_dir"].endswith(suffix) else ""
    return "" if root in ("", os.getcwd(), os.path.abspath("Output")) else root


def main() -> None:
    """Command-line entry: train, or print one line and exit 2 on bad input."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        run(initialize_parameters())
    except TybaltInputError as error:
        _exit_with_error(str(error))
    except OSError as error:  # e.g. an output folder without write permission, a data path that is a folder
        path = f" {error.filename}" if error.filename else ""
        _exit_with_error(f"cannot use{path}: {error.strerror or error}; check that the path exists, is the right "
                         f"kind (file or folder) and that you may read and write it")
    except KeyboardInterrupt:
        _exit_with_error("interrupted; rerun the same command to resume from the last checkpoint", code=130)


def _exit_with_error(message: str, code: int = 2) -> None:
    """Print one line on stderr (no traceback) and exit; 2 is the exit code for bad input."""
    print(f"tybalt: error: {message}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()

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
from parameters import check_parameters

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
    """Train one model with ``params`` and write its outputs; return the Keras History."""
    params = check_parameters(params)
    import data
    import outputs
    from models import build_autoencoder, exportable_decoder
    from training import compile_autoencoder, resolve_jit_compile, set_seed, train

    from keras_backend import keras

    keras.backend.clear_session()
    set_seed(params["rng_seed"])
    folder = outputs.run_output_dir(params["output_dir"], params["experiment_id"], params["run_id"])
    dataset = data.load_dataset(
        params["data_source"], params["data_dir"], train_data=params["train_data"],
        clinical_data=params["clinical_data"], synthetic_samples=params["synthetic_samples"],
        synthetic_genes=params["synthetic_genes"], rng_seed=params["rng_seed"],
        require_unit_range=params["loss"] == "binary_crossentropy")
    train_rows, val_rows = data.split_train_validation(len(dataset.sample_ids), params["val_split"],
                                                        params["rng_seed"])
    autoencoder = build_autoencoder(
        params["model_type"], dataset.n_genes, params["latent_dim"], depth=params["depth"],
        hidden_dim=params["hidden_dim"], loss=params["loss"], noise=params["noise"],
        sparsity=params["sparsity"], tied_weights=params["tied_weights"])
    compile_autoencoder(autoencoder, optimizer=params["optimizer"], learning_rate=params["learning_rate"],
                        loss=params["loss"],
                        jit_compile=resolve_jit_compile(params["jit_compile"], params["model_type"],
                                                        epochs=params["epochs"], n_train=len(train_rows),
                                                        batch_size=params["batch_size"]),
                        steps_per_execution=params["steps_per_execution"])

    os.makedirs(folder, exist_ok=True)
    outputs.write_params(folder, params)
    logger.info("training %s on %d samples x %d genes; outputs in %s", params["model_type"], len(train_rows),
                dataset.n_genes, folder)
    history = train(autoencoder, dataset.values[train_rows], dataset.values[val_rows], epochs=params["epochs"],
                    batch_size=params["batch_size"], kappa=params["kappa"], kl_mode=params["kl_mode"],
                    timeout=params["timeout"], verbose=params["verbose"])

    outputs.write_history(folder, history.history)
    encodings = autoencoder.encoder.predict(dataset.values, batch_size=1024, verbose=0)
    outputs.write_encodings(folder, encodings, dataset.sample_ids)
    if params["save_model"]:
        outputs.save_models(folder, autoencoder.encoder, exportable_decoder(autoencoder.decoder))
    outputs.plot_loss(folder, history.history, f"Tybalt {params['model_type']} (latent {params['latent_dim']})")
    logger.info("final val_loss %.4f; outputs written to %s", history.history["val_loss"][-1], folder)
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
        print(f"tybalt: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

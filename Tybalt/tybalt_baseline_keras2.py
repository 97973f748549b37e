"""CANDLE entry point of the Tybalt benchmark: ``initialize_parameters``, ``run`` and ``main``.

Standalone: ``python Tybalt/tybalt_baseline_keras2.py [--name value ...]``. Under the CANDLE Supervisor,
``model_runner.py`` imports this module, calls ``initialize_parameters()`` then ``run(params)``, and reads
``history.history['val_loss'][-1]``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import tybalt
from candle_layer import USING_REAL_CANDLE, candle
from cli import run_command
from errors import TybaltInputError
from parameters import check_parameters
from user_files import require_file

logger = logging.getLogger("tybalt")


def initialize_parameters(default_model: str = tybalt.DEFAULT_MODEL_FILE) -> dict[str, Any]:
    """Read the default-model file (next to this module, or an absolute path) and the command line."""
    benchmark = tybalt.TybaltBenchmark(tybalt.FILE_PATH, default_model, "keras", prog="tybalt_baseline_keras2",
                                       desc="Tybalt: variational and denoising autoencoders of tumour transcriptomes")
    params = candle.finalize_parameters(benchmark)
    if USING_REAL_CANDLE:
        remove_empty_candle_lib_run_folder(params["output_dir"], params["experiment_id"], params["run_id"])
        params["output_dir"] = _output_dir_given_to_candle_lib(params)
    return params


def run(params: dict[str, Any]):
    """Train one model with ``params`` and write its outputs; return the Keras History.

    With ``tuner`` other than 'none' it runs a hyperparameter search instead and returns the best objective
    as ``history.history['val_loss']``, so the Supervisor can drive searches too.
    """
    params = check_parameters(params)
    if params["preprocess_only"]:
        return preprocess_only(params)
    if params["tuner"] != "none":
        from search_space import check_space_for_search, load_search_space

        space = load_search_space(params["search_space"])
        check_space_for_search(params, space)  # a mistake in the YAML is reported before TensorFlow starts
        import tuning

        return tuning.search(params, space)
    import trial

    return trial.run_trial(params)


def preprocess_only(params: dict[str, Any]) -> None:
    """Download and preprocess the TCGA data, print where the files are, train nothing."""
    if params["data_source"] != "tcga":
        raise TybaltInputError(f"preprocess_only applies to --data_source tcga, not {params['data_source']!r}; "
                               f"add --data_source tcga or drop --preprocess_only")
    from tcga import TcgaOptions, prepare_tcga

    print(prepare_tcga(params["data_dir"], TcgaOptions.from_params(params), params["train_data"]).describe())


def encode(params: dict[str, Any]) -> str:
    """Encode the samples of ``encode_data`` with the encoder saved in ``model_dir`` (no training)."""
    params = check_parameters(params)
    if not params["model_dir"]:
        raise TybaltInputError("--encode_data needs --model_dir, the folder of the training run to use")
    require_file(params["encode_data"], "data file", "give --encode_data an existing samples x genes TSV to encode")
    import outputs
    from encode import encode_file

    folder = outputs.run_output_dir(params["output_dir"], params["experiment_id"], params["run_id"])
    return encode_file(params["encode_data"], params["model_dir"], folder, params["data_dir"], params["gpus"],
                       overwrite=params["overwrite"])


def remove_empty_candle_lib_run_folder(output_dir: str, experiment_id: str, run_id: str) -> None:
    """Remove the ``<experiment_id>/<run_id>`` folders candle_lib's finalize_parameters made, while empty.

    candle_lib creates them from the default ids before the Supervisor's trial values apply (``./EXP000/RUN000`` in
    every trial's working folder with ``output_dir=''``); the benchmark writes to the folder of the final ids instead.
    """
    run_folder = os.path.abspath(output_dir)
    if run_folder.endswith(os.path.join("", str(experiment_id), str(run_id))):
        for folder in (run_folder, os.path.dirname(run_folder)):
            try:
                os.rmdir(folder)
            except OSError:  # not empty (a real run's folder) or already gone
                return


def _output_dir_given_to_candle_lib(params: dict[str, Any]) -> str:
    """Undo candle_lib's rewrite of output_dir (it appends experiment_id/run_id); '' means the default folder."""
    suffix = os.path.join(str(params["experiment_id"]), str(params["run_id"]))
    root = params["output_dir"][: -len(suffix)].rstrip(os.sep) if params["output_dir"].endswith(suffix) else ""
    return "" if root in ("", os.getcwd(), os.path.abspath("Output")) else root


def main() -> None:
    """Command-line entry: train (or encode with --encode_data), or print one line and exit 2 on bad input."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(_train_or_encode, interrupted="interrupted; rerun the same command to resume from the last checkpoint")


def _train_or_encode() -> None:
    """Read the parameters, then encode with --encode_data or train."""
    params = initialize_parameters()
    if params.get("encode_data"):
        encode(params)
    else:
        run(params)


if __name__ == "__main__":
    main()

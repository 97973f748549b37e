"""CANDLE entry point of the Tybalt benchmark: ``initialize_parameters``, ``run`` and ``main``.

Standalone: ``python Tybalt/tybalt_baseline_keras2.py [--name value ...]``. Under the CANDLE Supervisor,
``model_runner.py`` imports this module, calls ``initialize_parameters()`` then ``run(params)``, and reads
``history.history['val_loss'][-1]``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, Iterator

import tybalt
from tybalt_core.common.cli import run_command
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.common.user_files import require_file
from tybalt_core.config.candle_compat import follow_candle_data_dir
from tybalt_core.config.candle_layer import USING_REAL_CANDLE, candle
from tybalt_core.config.definitions import DEFINITIONS
from tybalt_core.config.parameters import check_parameters
from tybalt_core.models.tensorflow_setup import set_up_tensorflow

logger = logging.getLogger("tybalt")


def initialize_parameters(default_model: str = tybalt.DEFAULT_MODEL_FILE,
                          argv: list[str] | None = None) -> dict[str, Any]:
    """Read the default-model file (next to this module, or an absolute path) and the command line.

    ``argv`` (the flags, without the program name) replaces the command line; None reads ``sys.argv``.
    """
    benchmark = tybalt.TybaltBenchmark(tybalt.FILE_PATH, default_model, "keras", prog="tybalt_baseline_keras2",
                                       desc="Tybalt: variational and denoising autoencoders of tumour transcriptomes")
    if not USING_REAL_CANDLE:
        return follow_candle_data_dir(candle.finalize_parameters(benchmark, argv), DEFINITIONS["data_dir"]["default"])
    with _command_line(argv):  # candle_lib reads sys.argv only
        params = candle.finalize_parameters(benchmark)
    remove_empty_candle_lib_run_folder(params["output_dir"], params["experiment_id"], params["run_id"])
    params["output_dir"] = _output_dir_given_to_candle_lib(params)
    return follow_candle_data_dir(params, DEFINITIONS["data_dir"]["default"])


@contextlib.contextmanager
def _command_line(argv: list[str] | None) -> Iterator[None]:
    """Within the block, sys.argv holds ``argv`` after the program name (unchanged when ``argv`` is None)."""
    saved = sys.argv
    if argv is not None:
        sys.argv = [saved[0] if saved else "tybalt_baseline_keras2", *argv]
    try:
        yield
    finally:
        sys.argv = saved


def run(params: dict[str, Any]):
    """Train one model with ``params`` and write its outputs; return the Keras History.

    With ``tuner`` other than 'none' it runs a hyperparameter search instead and returns the best objective
    as ``history.history['val_loss']``, so the Supervisor can drive searches too.
    """
    params = check_parameters(params)
    if params["preprocess_only"]:
        return preprocess_only(params)
    if params["tuner"] != "none":
        from tybalt_core.tune.search_space import check_space_for_search, load_search_space

        space = load_search_space(params["search_space"])
        check_space_for_search(params, space)  # a mistake in the YAML is reported before TensorFlow starts
        set_up_tensorflow()
        from tybalt_core.tune import tuning

        return tuning.search(params, space)
    from tybalt_core.run import trial

    return trial.run_trial(params)


def preprocess_only(params: dict[str, Any]) -> None:
    """Download and preprocess the TCGA data, print where the files are, train nothing."""
    if params["data_source"] != "tcga":
        raise TybaltInputError(f"preprocess_only applies to --data_source tcga, not {params['data_source']!r}; "
                               f"add --data_source tcga or drop --preprocess_only")
    from tybalt_core.data.tcga import TcgaOptions, prepare_tcga

    print(prepare_tcga(params["data_dir"], TcgaOptions.from_params(params), params["train_data"]).describe())


def encode(params: dict[str, Any]) -> str:
    """Encode the samples of ``encode_data`` with the encoder saved in ``model_dir`` (no training)."""
    params = check_parameters(params)
    if not params["model_dir"]:
        raise TybaltInputError("--encode_data needs --model_dir, the folder of the training run to use")
    require_file(params["encode_data"], "data file", "give --encode_data an existing samples x genes TSV to encode")
    from tybalt_core.common import outputs
    from tybalt_core.run.encode import encode_file

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


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: train (or encode with --encode_data), or print one line and exit 2 on bad input.

    ``argv`` (the flags, without the program name) replaces the command line; None reads ``sys.argv``.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_command(lambda: _train_or_encode(argv),
                interrupted="interrupted; rerun the same command to resume from the last checkpoint")


def _train_or_encode(argv: list[str] | None) -> None:
    """Read the parameters, then encode with --encode_data or train."""
    params = initialize_parameters(argv=argv)
    if params.get("encode_data"):
        encode(params)
    else:
        run(params)


if __name__ == "__main__":
    main()

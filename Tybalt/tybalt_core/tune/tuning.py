"""In-process hyperparameter search with KerasTuner over a search-space YAML.

Tuners: random, bayesian, hyperband, grid (Tybalt autoencoders, objective the kept model's value of the
``objective`` parameter, logged per epoch under ``OBJECTIVE_KEY``: by default the validation loss with the full KL,
comparable across kappa and epochs) and sklearn (linear baselines PCA / FastICA / NMF, objective the
cross-validated reconstruction MSE). Every trial also reports ``val_reconstruction_mse`` (mean squared error
per value of held-out samples), the common scale for comparing deep and linear models. A conditional parameter
of the space (``when``) is declared in KerasTuner's ``hp.conditional_scope``: a trial where it is inactive leaves it
out (the grid tuner trains each distinct model once).

A trial that raises or ends with a NaN objective is recorded as FAILED and the search goes on. With
KERASTUNER_TUNER_ID / KERASTUNER_ORACLE_IP / KERASTUNER_ORACLE_PORT set, KerasTuner runs distributed: the
chief serves the oracle and writes the results of all trials; each worker writes ``hpo_results.<id>.csv``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tybalt_core.analysis.baselines import LINEAR_METHODS, iteration_limit_accepted, linear_method, reconstruction_mse
from tybalt_core.common import outputs
from tybalt_core.common.atomic_files import write_table
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config.objective import OBJECTIVE_KEY, objective_label
from tybalt_core.config.parameters import check_model_fits_data, check_parameters, genes_selected
from tybalt_core.config.settings import DataSettings, ModelSettings, TrainingSettings
from tybalt_core.models.autoencoders import apply_in_batches
from tybalt_core.models.backend import configure_devices, import_keras_tuner, tf
from tybalt_core.run import run_state
from tybalt_core.run.trial import build_model, load_data
from tybalt_core.train.campaign_pruning import campaign_pruning
from tybalt_core.train.input_pipeline import shared_tensor
from tybalt_core.train.training import build_convergence_monitor, set_seed, train
from tybalt_core.tune import hpo_results
from tybalt_core.tune.search_space import Discrete, SearchSpace, check_space_for_search, define_hyperparameters

kt = import_keras_tuner()
logger = logging.getLogger(__name__)

SUPERVISOR_OBJECTIVE = "val_loss"  # the history key the CANDLE Supervisor reads a search's result from
PRUNED_EPOCH = "pruned_epoch"  # the metric a trial stopped by the campaign's rule reports: the epoch it reached
LINEAR_OBJECTIVE = "score"  # SklearnTuner's name for what its scoring function returns
CV_FOLDS = 3


@dataclass
class SearchHistory:
    """What ``run`` returns for a search: the best objective as a one-entry ``val_loss`` history."""

    history: dict[str, list[float]] = field(default_factory=dict)


def search(params: dict[str, Any], space: SearchSpace) -> SearchHistory:
    """Run the search named by ``params['tuner']`` over ``space`` (loaded from ``params['search_space']``)."""
    params = check_space_for_search(params, space)
    configure_devices(params["gpus"])  # before TensorFlow runs anything
    set_seed(params["rng_seed"])
    folder = outputs.run_output_dir(params["output_dir"], params["experiment_id"], params["run_id"])
    with run_state.output_folder_held(folder, worker=os.environ.get("KERASTUNER_TUNER_ID", "")):
        return _search_in_folder(folder, params, space)


def _search_in_folder(folder: str, params: dict[str, Any], space: SearchSpace) -> SearchHistory:
    """The search's steps, writing into ``folder`` (whose lock the caller holds)."""
    dataset, train_rows, val_rows = load_data(DataSettings.from_params(params))
    check_space_fits_data(space, params, dataset.n_genes, len(train_rows), len(val_rows))
    tuner = build_tuner(params, space, dataset.n_genes, len(train_rows), os.path.join(folder, "keras_tuner"),
                        project_name(space, params, dataset.values, dataset.genes))
    logger.info("%s search over %s: %d samples x %d genes; outputs in %s", params["tuner"], space.name,
                len(dataset.sample_ids), dataset.n_genes, folder)
    if params["tuner"] == "sklearn":
        with iteration_limit_accepted():
            tuner.search(dataset.values, dataset.values)
    else:
        matrix = shared_tensor(dataset.values)  # one tensor for every trial of the search
        tuner.search(values=matrix, train_rows=train_rows, val_rows=val_rows)
    result = _write_search_results(tuner, params, space, folder)
    if os.environ.get("KERASTUNER_TUNER_ID", "chief") == "chief" and math.isnan(result.history[SUPERVISOR_OBJECTIVE][-1]):
        raise TybaltInputError(f"no trial of the {params['tuner']} search completed (each failure is logged above "
                               f"and listed in {os.path.join(folder, hpo_results.RESULTS_FILE)}); fix what they "
                               f"report, or change the search space, and search again")
    return result


def check_space_fits_data(space: SearchSpace, params: dict[str, Any], n_genes: int, n_train: int,
                          n_validation: int) -> None:
    """Refuse, before any trial, a latent_dim of the space that the data cannot give, as a plain run refuses it
    (and, for the linear baselines, more components than a cross-validation fold has samples)."""
    searched = space.parameters.get("latent_dim")
    largest = params["latent_dim"] if searched is None else int(
        max(searched.values) if isinstance(searched, Discrete) else searched.high)
    check_model_fits_data(largest, n_genes, n_train, n_validation, params["data_source"], genes_selected(params))
    fold_samples = (n_train + n_validation) * (CV_FOLDS - 1) // CV_FOLDS
    if params["tuner"] == "sklearn" and largest > fold_samples:
        raise TybaltInputError(f"latent_dim = {largest} asks for more components than the {fold_samples} samples "
                               f"each of the {CV_FOLDS} cross-validation folds fits PCA, FastICA and NMF on; "
                               f"choose a latent_dim of at most {fold_samples}")


def project_name(space: SearchSpace, params: dict[str, Any], values: np.ndarray, genes: list[str]) -> str:
    """The KerasTuner project of a search: the space's name and a digest of what defines the search (the data's
    values and genes, the space, the parameters), so rerunning the same search resumes it while a search on other
    data or with other settings trains anew instead of reporting another search's trials."""
    settings = {**run_state.training_parameters(params),
                **{name: params[name] for name in ("tuner", "epochs", "max_trials", "executions_per_trial")}}
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes())
    for part in (genes, settings, space.fixed, repr(space.parameters)):
        digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return f"{space.name}_{digest.hexdigest()[:16]}"


def build_tuner(params: dict[str, Any], space: SearchSpace, n_genes: int, n_train: int, directory: str,
                project: str):
    """The KerasTuner tuner for ``params['tuner']`` keeping its state in ``directory``/``project``, timing its
    trials; failed trials never stop the search."""
    name, seed, max_trials = params["tuner"], params["rng_seed"], params["max_trials"]
    kt.src.config.DEBUG = False  # KerasTuner would print each failed trial's traceback; TimedTuner logs one line
    failures = {"max_retries_per_trial": 0, "max_consecutive_failed_trials": max_trials + 1}
    common = {"directory": directory, "project_name": project, "overwrite": False}
    if name == "sklearn":
        oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective(LINEAR_OBJECTIVE, "min"),
                                               max_trials=max_trials, seed=seed, **failures)
        from sklearn.model_selection import KFold

        return _timed(kt.SklearnTuner)(oracle=oracle, hypermodel=LinearHyperModel(space, params),
                                       scoring=reconstruction_mse_score,
                                       cv=KFold(CV_FOLDS, shuffle=True, random_state=seed), **common)
    hypermodel = TybaltHyperModel(space, params, n_genes, n_train, record_folder=os.path.dirname(directory))
    keras_options = {"objective": kt.Objective(OBJECTIVE_KEY, "min"), "seed": seed,
                     "executions_per_trial": params["executions_per_trial"], **failures, **common}
    if name == "hyperband":
        return _timed(kt.Hyperband)(hypermodel, max_epochs=params["epochs"], **keras_options)
    tuner_class = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization, "grid": kt.GridSearch}[name]
    return _timed(tuner_class)(hypermodel, max_trials=max_trials, **keras_options)


class TybaltHyperModel(kt.HyperModel):
    """Builds the Tybalt VAE or ADAGE with the trial's values overriding ``params``; trains like ``run``."""

    def __init__(self, space: SearchSpace, params: dict[str, Any], n_genes: int, n_train: int,
                 record_folder: str = ""):
        super().__init__(name=space.name)
        self.space, self.params, self.n_genes, self.n_train = space, params, n_genes, n_train
        self.record_folder = record_folder  # where the campaign record goes when pruning is on
        self.autoencoder, self.trial_id = None, ""  # the tuner sets trial_id as each trial begins

    def trial_params(self, hp) -> dict[str, Any]:
        """``params`` with this trial's values, converted and checked like any other parameters."""
        return check_parameters({**self.params, **define_hyperparameters(self.space, hp)})

    def build(self, hp):
        p = self.trial_params(hp)
        self.autoencoder = build_model(ModelSettings.from_params(p), TrainingSettings.from_params(p), self.n_genes,
                                       self.n_train)
        # KerasTuner saves the best epoch's weights; the subclassed VAE has weights only once it has been called.
        self.autoencoder.model(np.zeros((1, self.n_genes), dtype="float32"))
        return self.autoencoder.model

    def fit(self, hp, model, values, train_rows, val_rows, callbacks=None, epochs=None, initial_epoch=0, **kwargs):
        """Train the model just built; a raise or NaN objective marks the trial FAILED (no retry)."""
        p = self.trial_params(hp)
        monitor = build_convergence_monitor(model, early_stop=p["early_stop"], reduce_lr=p["reduce_lr"],
                                            patience=p["patience"], min_delta=p["min_delta"], kappa=p["kappa"],
                                            kl_mode=p["kl_mode"])
        pruning = campaign_pruning(p, model, self.trial_id, self.record_folder)
        try:
            history = train(self.autoencoder, values, train_rows, val_rows,
                            epochs=(epochs or p["epochs"]) - initial_epoch, batch_size=p["batch_size"],
                            kappa=p["kappa"], kl_mode=p["kl_mode"], timeout=p["timeout"], verbose=False,
                            objective=p["objective"],
                            extra_callbacks=[*(callbacks or []), *(c for c in (monitor, pruning) if c)])
        except Exception as error:  # noqa: BLE001 -- any training error fails this trial only
            raise kt.errors.FailedTrialError(f"training failed: {error!r}") from error
        per_epoch = history.history.get(OBJECTIVE_KEY, [math.nan])
        best_epoch = monitor.best_epoch() if monitor else None
        if best_epoch:
            monitor.restore_best_weights()  # the trial's score is the kept model's objective
        objective = per_epoch[best_epoch - 1] if best_epoch else per_epoch[-1]
        if not math.isfinite(objective):
            raise kt.errors.FailedTrialError(f"{OBJECTIVE_KEY} is {objective} (training diverged)")
        x_val = np.asarray(tf.gather(values, val_rows))
        reconstruction = apply_in_batches(model, x_val)
        metrics = {OBJECTIVE_KEY: float(objective),
                   "val_reconstruction_mse": float(np.mean((reconstruction - x_val) ** 2))}
        return {**metrics, PRUNED_EPOCH: pruning.pruned_epoch} if pruning and pruning.pruned_epoch else metrics


class LinearHyperModel(kt.HyperModel):
    """A scikit-learn PCA, FastICA or NMF with ``latent_dim`` components (from the space, else ``params``)."""

    def __init__(self, space: SearchSpace, params: dict[str, Any]):
        super().__init__(name=f"{space.name}_linear")
        self.space, self.params = space, params

    def build(self, hp):
        method = hp.Choice("linear_model", list(LINEAR_METHODS))
        latent = self.space.parameters.get("latent_dim")
        # Alone in this subspace: conditions on the deep models' parameters do not apply to the linear ones.
        searched = {"latent_dim": replace(latent, when=())} if latent else {}
        subspace = SearchSpace(self.space.name, "", parameters=searched)
        n_components = define_hyperparameters(subspace, hp).get("latent_dim", self.params["latent_dim"])
        return linear_method(method, n_components, self.params["rng_seed"])


def reconstruction_mse_score(model, x, y=None, sample_weight=None) -> float:
    """SklearnTuner's scoring function: the reconstruction MSE the analysis uses for every method."""
    return reconstruction_mse(model, x)


def _timed(tuner_class):
    """``tuner_class`` that also records each trial's seconds and its finished state as this process saw it."""

    class TimedTuner(tuner_class):
        def __init__(self, *args, **kwargs):
            self.trial_seconds, self.finished_trials, self._started = {}, {}, {}
            super().__init__(*args, **kwargs)

        def on_trial_begin(self, trial):
            self._started[trial.trial_id] = time.monotonic()
            self.hypermodel.trial_id = trial.trial_id
            super().on_trial_begin(trial)

        def on_trial_end(self, trial):
            self.trial_seconds[trial.trial_id] = round(time.monotonic() - self._started[trial.trial_id], 2)
            if trial.status != "COMPLETED":
                reason = (trial.message or "").strip().splitlines() or ["no message"]
                logger.warning("trial %s failed: %s", trial.trial_id, reason[-1])
            super().on_trial_end(trial)
            self.finished_trials[trial.trial_id] = self.oracle.get_trial(trial.trial_id)

    TimedTuner.__name__ = f"Timed{tuner_class.__name__}"
    return TimedTuner


def _write_search_results(tuner, params: dict[str, Any], space: SearchSpace, folder: str) -> SearchHistory:
    """Write this process's results (all trials on the chief or a single machine) and return the best."""
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "chief")
    trials = tuner.oracle.trials if tuner_id == "chief" else tuner.finished_trials
    rows = [_trial_row(trial, tuner.trial_seconds.get(trial_id)) for trial_id, trial in sorted(trials.items())]
    names = list(dict.fromkeys(k for row in rows for k in row["values"]))
    table = hpo_results.results_table(rows, names)
    objective = "cv_reconstruction_mse" if params["tuner"] == "sklearn" else objective_label(params["objective"])
    if tuner_id != "chief":
        write_table(table, os.path.join(folder, f"hpo_results.{tuner_id}.csv"), index=False)
    else:
        hpo_results.write_results(folder, table, objective, f"{params['tuner']} search: {space.name}", space.fixed)
    best = hpo_results.best_trial(table)
    return SearchHistory({SUPERVISOR_OBJECTIVE: [math.nan if best is None else float(best["objective"])]})


def _trial_row(trial, seconds: float | None) -> dict[str, Any]:
    """One results row from a KerasTuner trial (Hyperband's bookkeeping values left out)."""
    metrics = trial.metrics.metrics
    completed = trial.status == "COMPLETED" and trial.score is not None and math.isfinite(trial.score)
    mse_name = "val_reconstruction_mse" if "val_reconstruction_mse" in metrics else LINEAR_OBJECTIVE
    mse = trial.metrics.get_last_value(mse_name) if mse_name in metrics else None
    status = hpo_results.COMPLETED if completed else hpo_results.FAILED
    return {"trial_id": trial.trial_id, "objective": trial.score if completed else None,
            "val_reconstruction_mse": mse if completed else None,
            "status": hpo_results.PRUNED if completed and PRUNED_EPOCH in metrics else status, "seconds": seconds,
            "values": {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}}

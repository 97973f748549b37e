"""Campaign-wide early stopping: a Keras callback that reports each epoch to the campaign record and stops the
trial when the campaign's rule (median or successive halving) says it is hopeless.

A stopped trial ends like one the time limit stopped: its history holds the epochs it ran, so it returns its
objective so far; the record marks it ``PRUNED`` at the epoch it reached. The rule never judges an epoch of the
KL warm-up (beta < 1) nor the grace period after it; warm-up epochs are not reported, so every rule compares trials
on epochs trained with the full KL. The value reported is the campaign's objective (``config.objective``), on one
scale for every trial whatever its kappa and epochs.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from tybalt_core.common import outputs
from tybalt_core.common.errors import TybaltInputError
from tybalt_core.config.objective import OBJECTIVE_KEY
from tybalt_core.models.backend import keras
from tybalt_core.train.training import first_comparable_epoch
from tybalt_core.train.campaign_record import StoppingRule, TrialReport, experiment_folder, record_path

logger = logging.getLogger(__name__)

# The per-epoch log entry trials report and rules compare; the campaign's objective on one scale for every trial.
MONITORED = OBJECTIVE_KEY


def monitored_value(logs: dict[str, Any] | None) -> float | None:
    """The monitored quantity in one epoch's Keras logs (None when the epoch has none)."""
    value = (logs or {}).get(MONITORED)
    return None if value is None else float(value)


class CampaignPruning(keras.callbacks.Callback):
    """Report the monitored value after every epoch; stop training when the rule says the trial is hopeless."""

    def __init__(self, path: str, trial_id: str, rule: StoppingRule, warmup_epochs: int = 0,
                 attributes: dict[str, Any] | None = None):
        super().__init__()
        self.path, self.trial_id, self.rule = path, trial_id, rule
        self.attributes = attributes  # recorded with the trial (not ``params``: Keras sets that on callbacks)
        self.warmup_epochs = warmup_epochs
        self.report: TrialReport | None = None
        self.pruned_epoch: int | None = None
        self.last_value: float | None = None
        self.unwritable = False

    def on_train_begin(self, logs=None):
        self.report = self._written(lambda: TrialReport(self.path, self.trial_id, self.rule, self.attributes))

    def on_epoch_end(self, epoch, logs=None):
        value = monitored_value(logs)
        if value is None:
            return
        self.last_value = value  # the trial's outcome in the record, even when it ends within the warm-up
        if epoch < self.warmup_epochs:
            return
        if self._written(lambda: self.report.report(epoch + 1, value)):
            self.pruned_epoch = epoch + 1
            logger.info("campaign %s rule: trial %s stopped after epoch %d, its %s %.6g is worse than its peers'",
                        self.rule.name, self.trial_id, epoch + 1, MONITORED, value)
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self._written(lambda: self.report.finish(self.last_value, pruned=self.pruned_epoch is not None))

    def _written(self, write: Callable[[], Any]) -> Any:
        """``write()`` to the record. When it fails with the rule off (the record only lets people watch), warn once
        and train on without it; with a rule on, stop with what to fix."""
        if self.unwritable:
            return None
        try:
            return write()
        except OSError as error:
            if self.rule.name != "off":
                raise TybaltInputError(f"campaign record {self.path} cannot be written ({error}); make the "
                                       "experiment folder writable or set pruning 'off'") from None
            self.unwritable = True
            logger.warning("campaign record %s cannot be written (%s); trial %s goes on without it (not watched "
                           "live)", self.path, error, self.trial_id)
            return None


def campaign_pruning(params: dict[str, Any], model, trial_id: str | None = None,
                     record_folder: str | None = None) -> CampaignPruning | None:
    """The callback for a trial with checked ``params``, or None when it reports to no record.

    A Supervisor trial (``instance_directory`` set) always reports to its experiment folder's record, so the
    campaign can be watched live, and stops only when ``pruning`` is not 'off'. Elsewhere a record exists only with
    ``pruning`` on: in ``record_folder`` (a KerasTuner search's folder) or else next to the run's output folder,
    the trial named by that folder.
    """
    if params.get("instance_directory"):
        folder, trial_id = experiment_folder(params["instance_directory"]), trial_id or str(params["run_id"])
    elif params["pruning"] == "off":
        return None
    else:
        run_folder = outputs.run_output_dir(params["output_dir"], params["experiment_id"], params["run_id"])
        folder, trial_id = record_folder or os.path.dirname(run_folder), trial_id or os.path.basename(run_folder)
    warmup_epochs = first_comparable_epoch(model, params["kappa"], params["kl_mode"])
    rule = StoppingRule(params["pruning"], warmup_epochs + params["pruning_grace_epochs"],
                        params["pruning_min_trials"])
    return CampaignPruning(record_path(folder), trial_id, rule, warmup_epochs,
                           {"epochs": params["epochs"], "pruning": params["pruning"]})

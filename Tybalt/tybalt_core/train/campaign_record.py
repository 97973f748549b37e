"""The campaign record: every trial's objective per epoch, shared by all trials of a campaign through a file.

Trials of a Supervisor campaign are separate processes or MPI ranks on many nodes that share only a file system,
so the record is Optuna's journal storage: an append-only log file (``campaign_record.journal``) written under a
lock that holds on NFS and parallel file systems (an atomically created symbolic link), replayed by every reader.
No database and no server. Optuna's pruners read it to decide whether a trial is hopeless (``StoppingRule``), and
``hpo_results.py`` and ``optuna-dashboard`` read it to show the campaign while it runs.

Each trial is one Optuna trial whose user attribute ``trial_id`` is the campaign's id for it (the Supervisor's
run id, KerasTuner's trial id); its intermediate values are the monitored quantity at epochs 1, 2, ...
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

RECORD_FILE = "campaign_record.journal"
STUDY_NAME = "tybalt"
REDUCTION_FACTOR = 4  # successive halving keeps the best quarter at each rung (Optuna's default)
TRIAL_ID = "trial_id"  # the user attribute naming a trial as the campaign does
RUNNING, COMPLETED, PRUNED, FAILED = "RUNNING", "COMPLETED", "PRUNED", "FAILED"


@dataclass(frozen=True)
class StoppingRule:
    """Which rule stops hopeless trials, and from which epoch (1-based) it may: never before ``first_epoch``.

    ``first_epoch`` is the first epoch after the KL warm-up plus the grace period. ``min_trials`` is how many
    trials must have finished before the median rule compares (successive halving compares at each rung with every
    trial that reached it, running ones included, so it also works when all trials run at once).
    """

    name: str
    first_epoch: int
    min_trials: int = 1

    def pruner(self):
        """The Optuna pruner for this rule (Optuna's NopPruner for 'off')."""
        import optuna

        if self.name == "median":
            return optuna.pruners.MedianPruner(n_startup_trials=self.min_trials, n_warmup_steps=self.first_epoch)
        if self.name == "successive_halving":
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=self.first_epoch,
                                                          reduction_factor=REDUCTION_FACTOR)
        return optuna.pruners.NopPruner()


def record_path(folder: str) -> str:
    """The campaign record of the experiment folder ``folder``."""
    return os.path.join(folder, RECORD_FILE)


def experiment_folder(instance_directory: str) -> str:
    """The experiment folder of a Supervisor trial's instance folder: ``<experiment>/run/<id>`` in py mode
    (and upf_runner), ``<experiment>/<id>`` in app mode."""
    parent = os.path.dirname(os.path.abspath(instance_directory))
    return os.path.dirname(parent) if os.path.basename(parent) == "run" else parent


def open_study(path: str, rule: StoppingRule | None = None):
    """The campaign's Optuna study in the journal ``path`` (created by the first trial that opens it)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is logged by the trial itself
    storage = JournalStorage(JournalFileBackend(path))
    return optuna.create_study(study_name=STUDY_NAME, storage=storage, direction="minimize", load_if_exists=True,
                               pruner=(rule or StoppingRule("off", 1)).pruner())


class TrialReport:
    """One trial's entry in the campaign record: report an epoch, ask the rule, and close it with its outcome."""

    def __init__(self, path: str, trial_id: str, rule: StoppingRule, attributes: dict[str, Any] | None = None):
        self.rule, self.trial_id = rule, str(trial_id)
        self.study = open_study(path, rule)
        self._fail_earlier_attempts()
        self.trial = self.study.ask()
        self.trial.set_user_attr(TRIAL_ID, self.trial_id)
        for name, value in (attributes or {}).items():
            self.trial.set_user_attr(name, value)

    def _fail_earlier_attempts(self) -> None:
        """A trial restarted after its process died: its earlier attempt, left running in the record, failed."""
        import optuna

        for earlier in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if earlier.user_attrs.get(TRIAL_ID) == self.trial_id:
                self.study.tell(earlier.number, state=optuna.trial.TrialState.FAIL)

    def report(self, epoch: int, value: float) -> bool:
        """Record the monitored value of 1-based ``epoch``; True when the rule says the trial is hopeless."""
        self.trial.report(value if math.isfinite(value) else math.nan, step=epoch)
        return self.rule.name != "off" and epoch >= self.rule.first_epoch and self.trial.should_prune()

    def finish(self, objective: float | None, *, pruned: bool = False) -> None:
        """Close the trial: pruned (its value the last reported one), completed with ``objective``, or failed."""
        from optuna.trial import TrialState

        if pruned:
            self.study.tell(self.trial, state=TrialState.PRUNED)
        elif objective is not None and math.isfinite(objective):
            self.study.tell(self.trial, objective)
        else:
            self.study.tell(self.trial, state=TrialState.FAIL)


@dataclass
class RecordedTrial:
    """What the record says about one trial: its state, the epochs it reported and their values."""

    trial_id: str
    state: str
    curve: dict[int, float]
    value: float | None

    @property
    def epochs(self) -> int:
        """The last epoch the trial reported (0 before its first)."""
        return max(self.curve, default=0)


def read_record(folder: str) -> dict[str, RecordedTrial]:
    """The latest entry of each trial in the campaign record of ``folder`` (empty when there is none)."""
    path = record_path(folder)
    if not os.path.isfile(path):
        return {}
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name=STUDY_NAME, storage=JournalStorage(JournalFileBackend(path)))
    states = {"RUNNING": RUNNING, "COMPLETE": COMPLETED, "PRUNED": PRUNED, "FAIL": FAILED, "WAITING": RUNNING}
    trials = {}
    for trial in study.get_trials(deepcopy=False):
        trial_id = str(trial.user_attrs.get(TRIAL_ID, trial.number))
        trials[trial_id] = RecordedTrial(trial_id, states[trial.state.name], dict(trial.intermediate_values),
                                         trial.value)
    return trials

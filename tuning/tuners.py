"""The four tuners: KerasTuner's, with per-trial backups and resumable grids."""

import contextlib
import gc
import os
import shutil

import keras_tuner as kt

from zoo.errors import ConfigError, close_matches
from zoo.tuning.callbacks import AtomicBackupAndRestore, monitor_mode
from zoo.tuning.checks import TUNERS
from zoo.tuning.internals import CheckpointFromBackupMixin, ResumableGridSearchOracle
from zoo.tuning.io import DiskFullError, is_disk_full, read_json, write_json


@contextlib.contextmanager
def spared_heap():
    """Keeps full garbage-collection passes off the objects made before a search.

    KerasTuner collects garbage before every trial to free the last trial's
    model, and a full pass walks every tracked object: with TensorFlow, Keras
    and pandas loaded that is ~500k objects and ~0.2 s a pass. Objects alive
    when the search starts (modules, data, the tuner) outlive every trial, so
    they are frozen (`gc.freeze`) and each pass walks only what the trials
    made. They are unfrozen at the end; a heap something else froze is left
    as it is.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class SearchDiskFullError(DiskFullError, kt.errors.FatalError):
    """A full disk stops the search (KerasTuner would record a failed trial
    and go on to fail every next one)."""


class _ZooTunerMixin(CheckpointFromBackupMixin):
    """Per-trial backups (a killed trial resumes from its last epoch) that
    also feed the best-epoch checkpoint, per-trial history files and a heap
    frozen through the search; everything else is KerasTuner's."""

    def search(self, *fit_args, **fit_kwargs):
        with spared_heap():
            return super().search(*fit_args, **fit_kwargs)

    def run_trial(self, trial, *args, **kwargs):
        # Which process ran the trial: shows how a distributed search shared
        # trials out, and that none ran twice.
        record_path = os.path.join(self.get_trial_dir(trial.trial_id), "worker.json")
        runs = (read_json(record_path, default={}) or {}).get("runs", [])
        runs.append({"tuner_id": self.tuner_id, "pid": os.getpid()})
        write_json(record_path, {"tuner_id": self.tuner_id, "runs": runs})
        callbacks = list(kwargs.pop("callbacks", []))
        if self.executions_per_trial == 1:
            trial_dir = self.get_trial_dir(trial.trial_id)
            callbacks.append(
                AtomicBackupAndRestore(
                    os.path.join(trial_dir, "backup"),
                    history_path=os.path.join(trial_dir, "history.csv"),
                )
            )
        try:
            return super().run_trial(trial, *args, callbacks=callbacks, **kwargs)
        except DiskFullError as error:
            raise SearchDiskFullError(error.path) from None
        except OSError as error:
            if not is_disk_full(error):
                raise
            raise SearchDiskFullError(self.get_trial_dir(trial.trial_id)) from None

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        shutil.rmtree(
            os.path.join(self.get_trial_dir(trial.trial_id), "backup"),
            ignore_errors=True,
        )


class RandomSearch(_ZooTunerMixin, kt.RandomSearch):
    pass


class BayesianOptimization(_ZooTunerMixin, kt.BayesianOptimization):
    pass


class Hyperband(_ZooTunerMixin, kt.Hyperband):
    """KerasTuner's Hyperband, stopping after `max_trials` trials if given."""

    def __init__(self, hypermodel=None, *, max_trials=None, **kwargs):
        super().__init__(hypermodel, **kwargs)
        # HyperbandOracle takes no max_trials, but Oracle.create_trial honours it.
        self.oracle.max_trials = max_trials


class GridSearch(_ZooTunerMixin, kt.Tuner):
    """KerasTuner's GridSearch on `ResumableGridSearchOracle`."""

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=None,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        **kwargs,
    ):
        self.seed = seed
        oracle = ResumableGridSearchOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle, hypermodel, **kwargs)


def default_objective(task):
    return "val_accuracy" if task in ("binary", "multiclass") else "val_loss"


def make_tuner(
    name,
    hypermodel,
    *,
    objective,
    direction,
    max_trials,
    epochs,
    executions_per_trial,
    seed,
    run_dir,
    overwrite,
    max_consecutive_failed_trials=5,
):
    """One of the four tuners over `hypermodel`, its state in `run_dir/search`."""
    name = str(name).lower()
    if name not in TUNERS:
        raise ConfigError(
            f"Unknown tuner {name!r}.{close_matches(name, TUNERS)} Choose one of {', '.join(TUNERS)}."
        )
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"max_trials must be >= 1, got {max_trials}.")
    if executions_per_trial < 1:
        raise ConfigError(
            f"executions_per_trial must be >= 1, got {executions_per_trial}."
        )
    if direction not in (None, "min", "max"):
        raise ConfigError(f"direction must be 'min' or 'max', got {direction!r}.")
    objective = kt.Objective(objective, direction=direction or monitor_mode(objective))
    common = dict(
        objective=objective,
        executions_per_trial=executions_per_trial,
        seed=seed,
        directory=run_dir,
        project_name="search",
        overwrite=overwrite,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    if name == "random":
        return RandomSearch(hypermodel, max_trials=max_trials, **common)
    if name == "bayesian":
        return BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    if name == "grid":
        return GridSearch(hypermodel, max_trials=max_trials, **common)
    return Hyperband(
        hypermodel, max_epochs=max(2, epochs), factor=3, max_trials=max_trials, **common
    )

"""The four tuners: KerasTuner's, with per-trial backups and resumable grids."""

import contextlib
import gc
import math
import os
import shutil
import sys
import time

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


class WorkerRecycled(Exception):
    """A worker ran its `trials_per_worker` trials and stops, so that a fresh
    process (started by `zoo.tuning.distributed.launch_local`) takes the next
    ones: Keras and TensorFlow keep ~4 MiB of every fitted model after
    `clear_session`, so only a new process gives memory back."""


class _ZooTunerMixin(CheckpointFromBackupMixin):
    """Per-trial backups (a killed trial resumes from its last epoch) that
    also feed the best-epoch checkpoint, per-trial history files and a heap
    frozen through the search; everything else is KerasTuner's."""

    #: Where the one-line-per-trial progress goes (None: silent). The default
    #: is whatever `sys.stdout` is when a line is printed: the stream at import
    #: time may since have been replaced and closed (pytest's capture).
    progress_stream = "stdout"
    #: Trials this process runs before `WorkerRecycled` (None: no limit).
    trials_per_worker = None

    def pre_create_trial(self):
        super().pre_create_trial()
        # Before asking the oracle, so no trial is handed out and left open.
        done = len(getattr(self, "_trial_seconds", ()))
        if self.trials_per_worker and done >= self.trials_per_worker:
            raise WorkerRecycled(f"{done} trials run")

    def search(self, *fit_args, **fit_kwargs):
        self._search_started = time.monotonic()
        self._trial_seconds = []
        with spared_heap():
            return super().search(*fit_args, **fit_kwargs)

    def on_trial_begin(self, trial):
        self._trial_started = time.monotonic()
        super().on_trial_begin(trial)

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
        self._trial_seconds.append(time.monotonic() - self._trial_started)
        if self.progress_stream is not None:
            # KerasTuner's own display is all-or-nothing with Keras' epoch
            # lines (one `verbose`); this line is the search's heartbeat.
            stream = self.progress_stream
            stream = sys.stdout if stream == "stdout" else stream
            print(self._progress_line(trial), file=stream, flush=True)

    def _progress_line(self, trial):
        """`trial 2 (3/10) [worker1]  lr=0.003 units=64  val_auc=0.9561  best=...`."""
        # The chief's copy carries the score; a worker's local one may not.
        ended = self.oracle.get_trial(trial.trial_id)
        objective = self.oracle.objective
        name = getattr(objective, "name", str(objective))
        number = _trial_number(trial.trial_id)
        total = self.oracle.max_trials
        # The trial's id as the leaderboard and trial folders show it, and
        # how far the search has come.
        parts = [f"trial {_trial_id(trial.trial_id)} ({number}/{total or '?'})"]
        if self.tuner_id and self.tuner_id != "tuner0":
            parts[0] += f" [{self.tuner_id}]"
        parts.append(short_values(ended.hyperparameters.values))
        if ended.score is None:
            reason = (ended.message or "no score").strip().splitlines()
            parts.append(f"failed: {reason[-1][:80] if reason else 'no score'}")
        else:
            parts.append(f"{name}={ended.score:.4f}")
        best = self.oracle.get_best_trials(1)
        if best and best[0].score is not None:
            parts.append(
                f"best {name}={best[0].score:.4f} (trial {_trial_id(best[0].trial_id)})"
            )
        elapsed = time.monotonic() - self._search_started
        parts.append(f"elapsed {_clock(elapsed)}")
        if total and number:
            mean = sum(self._trial_seconds) / len(self._trial_seconds)
            parts.append(f"left ~{_clock(mean * max(0, total - number))}")
        return "  ".join(parts)


def short_values(values, width=90):
    """Hyperparameter values as `name=value` pairs, floats to 3 digits."""

    def short(value):
        if isinstance(value, float):
            return f"{value:.3g}"
        return str(value)

    text = " ".join(f"{k}={short(v)}" for k, v in values.items())
    return text if len(text) <= width else text[: width - 3] + "..."


def _trial_id(trial_id):
    """KerasTuner's zero-padded id ("03") as the leaderboard prints it (3)."""
    try:
        return int(trial_id)
    except (TypeError, ValueError):
        return trial_id


def _trial_number(trial_id):
    # KerasTuner numbers trials 0, 1, ... (zero-padded) in creation order.
    try:
        return int(trial_id) + 1
    except (TypeError, ValueError):
        return 0


def _clock(seconds):
    if not math.isfinite(seconds):
        return "?"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return (
        f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
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

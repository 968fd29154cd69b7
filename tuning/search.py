"""KerasTuner over any registered model: `ZooHyperModel` and `tune()`.

`ZooHyperModel` is a plain `keras_tuner.HyperModel`, so a user's own tuner
script can use it directly (tested in tests/tuning/test_search.py):

    import keras_tuner as kt
    from tuning.search import ZooHyperModel

    hypermodel = ZooHyperModel("mlp", "breast_cancer")
    tuner = kt.Hyperband(hypermodel, objective="val_auc", max_epochs=9,
                         directory="runs", project_name="hb")
    tuner.search()   # data comes from the hypermodel; epochs from Hyperband
    best_model = tuner.get_best_models(1)[0]

`tune()` (and `zoo tune`) adds what a plain tuner lacks:

- the tuners here are KerasTuner's with two changes: each trial backs up every
  epoch (a search killed with SIGKILL resumes with `resume=True`, the
  interrupted trial from its last epoch) and writes `history.csv`;
  `GridSearch` resumes where it stopped (keras-tuner 1.4.8's grid oracle does
  not save its walk through the grid, so a reloaded grid search stopped at
  once: keras-team/keras-tuner#1055) and `Hyperband` honours `max_trials`;
- failed trials (an exception, NaN/inf loss) are recorded with their reason in
  `results.csv` and never ranked;
- `results.csv`, `best/` (model, metrics, test predictions) and `report.html`
  are written atomically at the end;
- distributed search: set `KERASTUNER_TUNER_ID` ("chief" for the oracle,
  any other id for a worker), `KERASTUNER_ORACLE_IP` and
  `KERASTUNER_ORACLE_PORT` (or use `zoo tune --distributed`), see
  `tuning.distributed`. Workers share the run folder (one machine, or a
  shared file system); the chief writes `results.csv` and `best/`.
"""

import contextlib
import dataclasses
import gc
import json
import math
import os
import shutil
import warnings

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
from keras_tuner.src.engine import tuner_utils

from tuning import distributed
from tuning.callbacks import (
    AtomicBackupAndRestore,
    CallbackOptions,
    make_callbacks,
    monitor_mode,
)
from tuning.io import copy_file, read_json, save_model, write_frame_csv, write_json
from tuning.spaces import TRAINING_KEYS, get_space, narrow, training_space
from tuning.train import evaluate_model, export_model, fit_inputs, prepare
from zoo.config import apply_overrides, config_to_dict
from zoo.errors import ConfigError, ZooError, close_matches
from zoo.registry import build_for_bundle, resolve_config

TUNERS = ("random", "bayesian", "hyperband", "grid")


class ZooHyperModel(kt.HyperModel):
    """Builds and fits any registered model from KerasTuner hyperparameters.

    Args:
        model: Registered model or family name; its config is the base.
        data: Embedded dataset name or path (the family's default if None).
        space: Optional dict narrowing or extending the family's space
            (see `tuning.spaces.narrow`); `replace_space=True` uses it alone.
        overrides: Config fields fixed for every trial.
        data_options: Loader options (target, features...).
        epochs: Epochs per trial unless the tuner passes `epochs`.
        seed: Seed of the split and the weights.
        replace_space: Tune only what `space` declares.
    """

    def __init__(
        self,
        model,
        data=None,
        *,
        space=None,
        overrides=None,
        data_options=None,
        epochs=None,
        seed=0,
        replace_space=False,
        name=None,
    ):
        super().__init__(name=name or f"zoo_{model}", tunable=True)
        self.model_name = model
        self.data = data
        self.space = dict(space or {})
        self.overrides = dict(overrides or {})
        self.data_options = dict(data_options or {})
        self.seed = seed
        self.replace_space = replace_space
        self.family, self.base_config = resolve_config(model, self.overrides)
        self.epochs = epochs or self.family.epochs
        self._bundles = {}
        self._current = None
        # Hyperparameters the family's space declares without being config
        # fields (num_layers, units...): a user's --space may narrow them too.
        self._space_names = set()
        try:
            probe = kt.HyperParameters()
            get_space(self.family.name)(probe)
            self._space_names = set(probe.values)
        except ZooError:
            if not replace_space:
                raise  # A family with no space needs a space of the user's.

    def config_for(self, hp):
        """The family config that `hp` selects."""
        values = narrow(hp, self.space)
        if not self.replace_space:
            values.update(
                {
                    k: v
                    for k, v in get_space(self.family.name)(hp).items()
                    if k not in self.space
                }
            )
            values.update(
                {k: v for k, v in training_space(hp).items() if k not in self.space}
            )
        fields = {f.name for f in dataclasses.fields(self.base_config)}
        known = fields | set(TRAINING_KEYS)
        if not self.replace_space:
            known |= self._space_names
        unknown = [k for k in values if k not in known]
        if unknown and unknown[0] in self._space_names:
            raise ConfigError(
                f"Search space names {unknown[0]!r}, a hyperparameter of "
                f"{self.family.name}'s built-in space, not a setting: a replaced space "
                "takes config fields only. Drop --replace-space to narrow the built-in "
                "space, or search the config field it sets."
            )
        if unknown:
            raise ConfigError(
                f"Search space names {unknown[0]!r}, which is not a setting of {self.family.name}."
                f"{close_matches(unknown[0], known)}"
            )
        changes = {
            k: v for k, v in values.items() if k in fields and k not in self.overrides
        }
        return apply_overrides(self.base_config, changes)

    def bundle_for(self, config):
        options = self.family.data_options(config) if self.family.data_options else {}
        key = json.dumps(
            [options, config_to_dict(config) if self.family.adapt else None],
            sort_keys=True,
            default=str,
        )
        if key not in self._bundles:
            if len(self._bundles) > 4:
                self._bundles.clear()
            _, _, bundle = prepare(
                self.model_name,
                self.data,
                overrides={**config_to_dict(config)},
                data_options=self.data_options,
                seed=self.seed,
            )
            self._bundles[key] = bundle
        return self._bundles[key]

    def build(self, hp):
        # Names restart at each build. No garbage collection here: the tuner's
        # `_try_build` has just collected (a full pass costs ~0.2 s).
        keras.backend.clear_session(free_memory=False)
        config = self.config_for(hp)
        bundle = self.bundle_for(config)
        model = build_for_bundle(self.family, config, bundle)
        batch_size = self._batch_size(hp)
        epochs = self.epochs
        steps = (
            max(1, -(-int(bundle.info.get("train_size", 0) or 0) // batch_size))
            * epochs
        )
        self.family.compile(
            model, config, num_classes=bundle.num_classes, total_steps=steps
        )
        self._current = (config, bundle)
        return model

    def _batch_size(self, hp):
        if "batch_size" in hp.values:
            return int(hp.get("batch_size"))
        return self.family.batch_size

    def fit(self, hp, model, *args, **kwargs):
        config, bundle = self._current
        batch_size = self._batch_size(hp)
        kwargs.setdefault(
            "epochs", int(hp.get("epochs")) if "epochs" in hp.values else self.epochs
        )
        kwargs.setdefault("verbose", 0)
        if not args and "x" not in kwargs:
            # The same inputs as `zoo train`.
            train, inputs = fit_inputs(model, bundle, batch_size, seed=self.seed)
            args = (train,)
            for key, value in inputs.items():
                kwargs.setdefault(key, value)
        if self.family.fit is not None:
            history = self.family.fit(model, config, *args, **kwargs)
        else:
            history = model.fit(*args, **kwargs).history
        _fail_on_nan(history)
        # A History, not its dict: KerasTuner scores a History by its best
        # epoch, but would average a dict of per-epoch lists over all epochs.
        result = keras.callbacks.History()
        result.history = dict(history)
        return result


def _fail_on_nan(history):
    for name, values in (history or {}).items():
        if (
            name.endswith("loss")
            and values
            and not all(math.isfinite(float(v)) for v in values)
        ):
            raise kt.errors.FailedTrialError(
                f"{name} became NaN or infinite; the trial is failed, not ranked."
            )


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


class BestEpochFromBackup(tuner_utils.SaveBestEpoch):
    """KerasTuner's best-epoch checkpoint, copied from the epoch's backup.

    KerasTuner saves the weights again on every improving epoch, just after
    `AtomicBackupAndRestore` (earlier in the callback list) saved the same
    weights and optimizer state: a second `save_weights`, ~20 ms for a small
    MLP and more for a large model. Copying the backup's file is cheaper and,
    unlike KerasTuner's write in place, atomic. Without a backup of this
    epoch it saves as KerasTuner does.

    Args:
        checkpoint: The `SaveBestEpoch` it replaces (objective, path, best).
        backup: The trial's `AtomicBackupAndRestore`.
    """

    def __init__(self, checkpoint, backup):
        super().__init__(checkpoint.objective, checkpoint.filepath)
        self.best_value = checkpoint.best_value
        self.backup = backup
        self._epoch = None

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        weights = self.backup.weights_after(self._epoch + 1)
        if weights is None:
            super()._save_model()
        else:
            copy_file(weights, self.filepath)


def _checkpoint_from_backup(callbacks):
    """`callbacks` with KerasTuner's checkpoint copying the backup that precedes it."""
    callbacks = list(callbacks)
    backup = None
    for index, callback in enumerate(callbacks):
        if isinstance(callback, AtomicBackupAndRestore):
            backup = callback
        elif backup is not None and type(callback) is tuner_utils.SaveBestEpoch:
            callbacks[index] = BestEpochFromBackup(callback, backup)
    return callbacks


class _ZooTunerMixin:
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
        return super().run_trial(trial, *args, callbacks=callbacks, **kwargs)

    def _build_and_fit_model(self, trial, *args, **kwargs):
        kwargs["callbacks"] = _checkpoint_from_backup(kwargs.get("callbacks", []))
        return super()._build_and_fit_model(trial, *args, **kwargs)

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


class ResumableGridSearchOracle(kt.oracles.GridSearchOracle):
    """`GridSearchOracle` that resumes (keras-tuner issue 1055).

    The stock oracle keeps its walk through the grid (`_ordered_ids`, a linked
    list of trials in grid order, and `_populate_next`, the trials whose
    successor is still to be generated) only in memory. After a reload both
    are empty, so `populate_space` finds nothing to extend and the resumed
    search stops at once. Both are rebuilt here from the saved trials: grid
    order is a total order on values, and re-queueing every ended trial is
    safe because the oracle skips a successor that already exists.
    """

    def set_state(self, state):
        super().set_state(state)
        space = self.get_space().space

        def position(trial_id):
            values = self.trials[trial_id].hyperparameters.values
            key = []
            for hp in space:
                ordered = [hp.default] + [v for v in hp.values if v != hp.default]
                value = values.get(hp.name, hp.default)
                key.append(ordered.index(value) if value in ordered else -1)
            return key

        from keras_tuner.src.tuners.gridsearch import LinkedList

        self._ordered_ids = LinkedList()
        known = [t for t in self.start_order if t in self.trials]
        for trial_id in sorted(known, key=position):
            self._ordered_ids.insert(trial_id)
        self._populate_next = [t for t in self.end_order if t in self.trials]


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


def results_frame(tuner):
    """One row per trial: id, status, score, every hyperparameter; best first.

    Only COMPLETED trials with a finite score have a score; failed trials
    keep the last line of their error in `reason` and sort last.
    """
    direction = tuner.oracle.objective.direction
    return frame_from_trials(tuner.oracle.trials.values(), direction)


def frame_from_trials(trials, direction):
    rows = []
    for trial in trials:
        score = trial.score
        status = str(trial.status)
        if status != "COMPLETED" or score is None or not math.isfinite(score):
            score = None
        row = {"trial_id": trial.trial_id, "status": status, "score": score}
        row.update(trial.hyperparameters.values)
        row["best_step"] = getattr(trial, "best_step", None)
        message = getattr(trial, "message", None)
        row["reason"] = _reason(message) if status != "COMPLETED" else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(
        ["score", "trial_id"],
        ascending=[direction == "min", True],
        na_position="last",
        kind="stable",
    )
    return frame.reset_index(drop=True)


def _reason(message):
    lines = [line.strip() for line in (message or "").strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    last = lines[-1]
    # "keras_tuner.src.errors.FailedTrialError: loss became NaN..." -> the text.
    head, sep, tail = last.partition(": ")
    return tail if sep and "." in head and " " not in head else last


@dataclasses.dataclass
class TuneResult:
    """What `tune()` returns.

    Attributes:
        run_dir: The run folder.
        results: The leaderboard (as `results.csv`), best first.
        best_metrics: Test metrics of the best trial's model ({} on a worker).
        best_hyperparameters: Its hyperparameter values ({} on a worker).
        tuner: The KerasTuner tuner.
    """

    run_dir: str
    results: pd.DataFrame
    best_metrics: dict
    best_hyperparameters: dict
    tuner: object


_SAVED_ARGUMENTS = (
    "model",
    "data",
    "tuner",
    "max_trials",
    "epochs",
    "objective",
    "direction",
    "space",
    "replace_space",
    "overrides",
    "data_options",
    "seed",
    "executions_per_trial",
)


def tune(
    model,
    data=None,
    *,
    run_dir,
    tuner="random",
    max_trials=10,
    epochs=None,
    objective=None,
    direction=None,
    executions_per_trial=1,
    space=None,
    replace_space=False,
    overrides=None,
    data_options=None,
    callbacks=None,
    resume=False,
    seed=0,
    verbose=0,
    max_consecutive_failed_trials=5,
    report=True,
):
    """Runs a KerasTuner search and writes `results.csv`, `best/` and `report.html`.

    Args:
        model: Registered model or family name.
        data: Embedded dataset name or path.
        run_dir: Output folder (`search/` holds KerasTuner's state).
        tuner: "random", "bayesian", "hyperband" or "grid".
        max_trials: Trials to run (Hyperband: an upper bound).
        epochs: Epochs per trial (Hyperband: `max_epochs`).
        objective: Metric name such as "val_accuracy" or "val_auc".
        direction: "min" or "max"; guessed from the name when None.
        executions_per_trial: Fits per trial, averaged.
        space: Narrows or extends the family's search space.
        replace_space: Tune only what `space` declares.
        overrides: Config fields fixed for every trial.
        data_options: Loader options.
        callbacks: `CallbackOptions` for every trial.
        resume: Continue an interrupted search in `run_dir` (its saved
            settings win over the arguments).
        seed: Seed of the tuner, the split and the weights.
        verbose: Keras verbosity inside trials.
        max_consecutive_failed_trials: Stop the search after this many
            failed trials in a row.
        report: Write `report.html` at the end.

    Returns:
        A `TuneResult`; `results` is the leaderboard as a DataFrame.

    In distributed mode (`tuning.distributed`, KERASTUNER_* variables) the
    chief runs the oracle and writes the outputs; a worker runs trials and
    returns its view of the leaderboard.

    Example:
    >>> result = tune("mlp_tiny", "iris", run_dir="runs/iris", max_trials=2, epochs=2)
    >>> list(result.results.columns[:3])
    ['trial_id', 'status', 'score']
    """
    from tuning.train import check_run_dir

    run_dir = os.fspath(run_dir)
    role = distributed.search_role()
    search_dir = os.path.join(run_dir, "search")
    if role != "worker" and os.path.exists(search_dir) and not resume:
        raise ZooError(
            f"{run_dir} already holds a search; pass --resume to continue it, or choose a new --run-dir."
        )
    saved = read_json(os.path.join(run_dir, "tune.json"))
    if (resume or role == "worker") and saved:
        model, data, tuner = saved["model"], saved["data"], saved["tuner"]
        max_trials, epochs, objective = (
            saved["max_trials"],
            saved["epochs"],
            saved["objective"],
        )
        direction, space, overrides = (
            saved["direction"],
            saved["space"],
            saved["overrides"],
        )
        data_options, seed = saved["data_options"], saved["seed"]
        executions_per_trial, replace_space = (
            saved["executions_per_trial"],
            saved["replace_space"],
        )
        callbacks = CallbackOptions(**saved["callbacks"])
    elif resume and not os.path.exists(search_dir):
        raise ZooError(
            f"{run_dir} holds no search to resume; drop --resume to start one there."
        )
    check_run_dir(run_dir)
    keras.utils.set_random_seed(seed)
    hypermodel = ZooHyperModel(
        model,
        data,
        space=space,
        overrides=overrides,
        data_options=data_options,
        epochs=epochs,
        seed=seed,
        replace_space=replace_space,
    )
    epochs = hypermodel.epochs
    base_bundle = hypermodel.bundle_for(hypermodel.base_config)
    objective = objective or default_objective(base_bundle.task)
    callbacks = dataclasses.replace(
        callbacks or CallbackOptions(),
        monitor=objective,
        checkpoint=False,
        backup=False,
    )
    direction = direction or monitor_mode(objective)
    settings = {
        "model": model,
        "family": hypermodel.family.name,
        "data": data or hypermodel.family.default_data,
        "data_kind": hypermodel.family.data_kind,
        "tuner": tuner,
        "max_trials": max_trials,
        "epochs": epochs,
        "objective": objective,
        "direction": direction,
        "space": space or {},
        "replace_space": replace_space,
        "overrides": overrides or {},
        "data_options": data_options or {},
        "seed": seed,
        "executions_per_trial": executions_per_trial,
        "callbacks": dataclasses.asdict(callbacks),
        "task": base_bundle.task,
    }
    if role != "worker":
        write_json(os.path.join(run_dir, "tune.json"), settings)
    search = make_tuner(
        tuner,
        hypermodel,
        objective=objective,
        direction=direction,
        max_trials=max_trials,
        epochs=epochs,
        executions_per_trial=executions_per_trial,
        seed=seed,
        run_dir=run_dir,
        overwrite=not resume and role != "worker",
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    trial_callbacks = make_callbacks(
        run_dir, callbacks, learning_rate=None, epochs=epochs
    )
    search_kwargs = {"callbacks": trial_callbacks, "verbose": verbose}
    if tuner != "hyperband":
        search_kwargs["epochs"] = epochs
    # Frozen through the export too: loading the best model collects garbage.
    with spared_heap():
        try:
            search.search(**search_kwargs)
        except RuntimeError as error:
            if "consecutive failures" not in str(error):
                raise
            # Keep the record of what failed, then say why the search stopped.
            write_frame_csv(os.path.join(run_dir, "results.csv"), results_frame(search))
            raise ZooError(
                f"The search stopped after {max_consecutive_failed_trials} failed trials "
                f"in a row; see the reason column of {os.path.join(run_dir, 'results.csv')}."
            ) from None
        if role == "worker":
            return TuneResult(run_dir, pd.DataFrame(), {}, {}, search)
        results = results_frame(search)
        write_frame_csv(os.path.join(run_dir, "results.csv"), results)
        best_metrics, best_values = _save_best(search, hypermodel, run_dir, results)
        if report:
            _write_report(run_dir)
    return TuneResult(run_dir, results, best_metrics, best_values, search)


def _write_report(run_dir):
    from tuning.report import write_report

    try:
        write_report(run_dir)
    except Exception as error:  # The search's outputs are already safe on disk.
        warnings.warn(
            f"Could not write report.html ({type(error).__name__}: {error}); "
            f"run `zoo report {run_dir}` to retry.",
            stacklevel=2,
        )


def _save_best(search, hypermodel, run_dir, results):
    from tuning.report import write_test_predictions

    completed = results[results["score"].notna()] if not results.empty else results
    if completed.empty:
        raise ZooError(
            "No trial completed with a finite score; see the reason column of "
            f"{os.path.join(run_dir, 'results.csv')}."
        )
    best_id = str(completed.iloc[0]["trial_id"])
    trial = search.oracle.get_trial(best_id)
    best_hp = trial.hyperparameters
    config = hypermodel.config_for(best_hp)
    bundle = hypermodel.bundle_for(config)
    model = search.load_model(trial)
    batch_size = hypermodel._batch_size(best_hp)
    best_dir = os.path.join(run_dir, "best")
    metrics = evaluate_model(
        model, hypermodel.family, config, bundle, batch_size, best_dir
    )
    metrics["best_trial_id"] = best_id
    write_test_predictions(model, bundle, batch_size, best_dir)
    save_model(export_model(model, bundle), os.path.join(best_dir, "model.keras"))
    write_json(os.path.join(best_dir, "metrics.json"), metrics)
    write_json(
        os.path.join(best_dir, "config.json"),
        {
            "status": "complete",
            "model": hypermodel.model_name,
            "family": hypermodel.family.name,
            "data": hypermodel.data or hypermodel.family.default_data,
            "data_kind": hypermodel.family.data_kind,
            "overrides": config_to_dict(config),
            "data_options": hypermodel.data_options,
            "seed": hypermodel.seed,
            "batch_size": batch_size,
            "trial_id": best_id,
            "hyperparameters": _plain(best_hp.values),
            "config": config_to_dict(config),
            "task": bundle.task,
            "num_classes": bundle.num_classes,
            "class_names": bundle.class_names,
            "input_shape": list(bundle.input_shape),
            "data_info": bundle.info,
        },
    )
    return metrics, _plain(best_hp.values)


def _plain(values):
    return {
        k: (v.item() if isinstance(v, np.generic) else v) for k, v in values.items()
    }

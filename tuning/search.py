"""KerasTuner over any registered model: `ZooHyperModel` and `tune()`.

`ZooHyperModel` is a plain `keras_tuner.HyperModel`, so a user's own tuner
script can use it directly:

    import keras_tuner as kt
    from tuning.search import ZooHyperModel

    hypermodel = ZooHyperModel("mlp", "breast_cancer")
    tuner = kt.Hyperband(hypermodel, objective="val_auc", max_epochs=9,
                         directory="runs", project_name="hb")
    tuner.search()   # data comes from the hypermodel; epochs from Hyperband
"""

import dataclasses
import json
import math
import os
import shutil

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from tuning.callbacks import (
    AtomicBackupAndRestore,
    CallbackOptions,
    make_callbacks,
    monitor_mode,
)
from tuning.io import read_json, save_model, write_frame_csv, write_json
from tuning.spaces import TRAINING_KEYS, get_space, narrow, training_space
from tuning.train import evaluate_model, export_model, prepare
from zoo.config import apply_overrides, config_to_dict
from zoo.errors import ConfigError, ZooError, close_matches
from zoo.registry import build_from_config, resolve_config

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
        self.family, self.base_config = resolve_config(model, **self.overrides)
        self.epochs = epochs or self.family.epochs
        self._bundles = {}
        self._current = None
        if not replace_space:
            get_space(self.family.name)  # Fails early for a family with no space.

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
        unknown = [
            k
            for k in values
            if k not in fields and k not in TRAINING_KEYS and k not in _SPACE_ONLY
        ]
        if unknown:
            raise ConfigError(
                f"Search space names {unknown[0]!r}, which is not a setting of {self.family.name}."
                f"{close_matches(unknown[0], fields)}"
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
        keras.backend.clear_session()
        config = self.config_for(hp)
        bundle = self.bundle_for(config)
        model = build_from_config(
            self.family,
            config,
            input_shape=bundle.input_shape,
            num_classes=bundle.num_classes,
        )
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
            args = (bundle.batches("train", batch_size, seed=self.seed),)
            kwargs.setdefault(
                "validation_data", bundle.batches("validation", batch_size)
            )
            if bundle.class_weight:
                kwargs.setdefault("class_weight", bundle.class_weight)
        if self.family.fit is not None:
            history = self.family.fit(model, config, *args, **kwargs)
        else:
            history = model.fit(*args, **kwargs).history
        _fail_on_nan(history)
        return history


# Hyperparameters that shape a config without being a field of it.
_SPACE_ONLY = ("num_layers", "units", "num_blocks", "filters")


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


class _ZooTunerMixin:
    """Per-trial backups (a killed trial resumes from its last epoch) and
    per-trial history files; everything else is KerasTuner's."""

    def run_trial(self, trial, *args, **kwargs):
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
    pass


class GridSearch(_ZooTunerMixin, kt.GridSearch):
    pass


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
):
    name = str(name).lower()
    if name not in TUNERS:
        raise ConfigError(
            f"Unknown tuner {name!r}.{close_matches(name, TUNERS)} Choose one of {', '.join(TUNERS)}."
        )
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"max_trials must be >= 1, got {max_trials}.")
    objective = kt.Objective(objective, direction=direction or monitor_mode(objective))
    common = dict(
        objective=objective,
        executions_per_trial=executions_per_trial,
        seed=seed,
        directory=run_dir,
        project_name="search",
        overwrite=overwrite,
        max_consecutive_failed_trials=5,
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
    """One row per trial: id, status, score, every hyperparameter; best first."""
    rows = []
    for trial in tuner.oracle.trials.values():
        score = trial.score
        if score is not None and not math.isfinite(score):
            score = None
        row = {"trial_id": trial.trial_id, "status": str(trial.status), "score": score}
        row.update(trial.hyperparameters.values)
        best_step = getattr(trial, "best_step", None)
        row["best_step"] = best_step
        message = getattr(trial, "message", None)
        row["message"] = (message or "").strip().splitlines()[-1] if message else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    ascending = tuner.oracle.objective.direction == "min"
    frame = frame.sort_values(
        "score", ascending=ascending, na_position="last", kind="stable"
    )
    return frame.reset_index(drop=True)


@dataclasses.dataclass
class TuneResult:
    run_dir: str
    results: pd.DataFrame
    best_metrics: dict
    best_hyperparameters: dict
    tuner: object


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
):
    """Runs a KerasTuner search and writes `results.csv` and `best/`.

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
        resume: Continue an interrupted search in `run_dir`.
        seed: Seed of the tuner, the split and the weights.
        verbose: Keras verbosity inside trials.

    Returns:
        A `TuneResult`; `results` is the leaderboard as a DataFrame.
    """
    run_dir = os.fspath(run_dir)
    from tuning.train import check_run_dir

    search_dir = os.path.join(run_dir, "search")
    if os.path.exists(search_dir) and not resume:
        raise ZooError(
            f"{run_dir} already holds a search; pass --resume to continue it, or choose a new --run-dir."
        )
    saved = read_json(os.path.join(run_dir, "tune.json"))
    if resume and saved:
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
    callbacks = callbacks or CallbackOptions(
        monitor=objective, checkpoint=False, backup=False
    )
    callbacks = dataclasses.replace(
        callbacks, monitor=objective, checkpoint=False, backup=False
    )
    direction = direction or monitor_mode(objective)
    write_json(
        os.path.join(run_dir, "tune.json"),
        {
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
        },
    )
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
        overwrite=not resume,
    )
    trial_callbacks = make_callbacks(
        run_dir, callbacks, learning_rate=None, epochs=epochs
    )
    search_kwargs = {"callbacks": trial_callbacks, "verbose": verbose}
    if tuner != "hyperband":
        search_kwargs["epochs"] = epochs
    search.search(**search_kwargs)
    results = results_frame(search)
    write_frame_csv(os.path.join(run_dir, "results.csv"), results)
    best_metrics, best_values = _save_best(search, hypermodel, run_dir, results)
    return TuneResult(run_dir, results, best_metrics, best_values, search)


def _save_best(search, hypermodel, run_dir, results):
    completed = results[results["score"].notna()] if not results.empty else results
    if completed.empty:
        raise ZooError(
            "No trial completed with a finite score; see results.csv for each trial's reason."
        )
    best_hp = search.get_best_hyperparameters(1)[0]
    config = hypermodel.config_for(best_hp)
    bundle = hypermodel.bundle_for(config)
    model = search.get_best_models(1)[0]
    batch_size = hypermodel._batch_size(best_hp)
    metrics = evaluate_model(
        model,
        hypermodel.family,
        config,
        bundle,
        batch_size,
        os.path.join(run_dir, "best"),
    )
    metrics["best_trial_id"] = str(completed.iloc[0]["trial_id"])
    best_dir = os.path.join(run_dir, "best")
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

"""`tune()`: a KerasTuner search over any registered model, into a run folder.

`ZooHyperModel` is a plain `keras_tuner.HyperModel`, so a user's own tuner
script can use it directly (tested in tests/tuning/test_search.py):

    import keras_tuner as kt
    from zoo.tuning.hypermodel import ZooHyperModel

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
  `zoo.tuning.distributed`. Workers share the run folder (one machine, or a
  shared file system); the chief writes `results.csv` and `best/`.
"""

import dataclasses
import os
import warnings

import keras
import numpy as np
import pandas as pd

from zoo.config import config_to_dict
from zoo.errors import ZooError
from zoo.tuning import distributed
from zoo.tuning.artifacts import write_test_predictions
from zoo.tuning.callbacks import CallbackOptions, make_callbacks, monitor_mode
from zoo.tuning.hypermodel import ZooHyperModel
from zoo.tuning.io import read_json, save_model, write_frame_csv, write_json
from zoo.tuning.report import write_report
from zoo.tuning.results import results_frame
from zoo.tuning.train import check_run_dir, evaluate_model, export_model
from zoo.tuning.tuners import default_objective, make_tuner, spared_heap


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
    max_trials=None,
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
        max_trials: Trials to run (Hyperband: an upper bound); default 10.
            With `resume`, a larger value than the saved one runs the extra
            trials.
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
        verbose: Keras verbosity inside trials (2: one line per epoch). A
            line per trial is printed whatever the verbosity.
        max_consecutive_failed_trials: Stop the search after this many
            failed trials in a row.
        report: Write `report.html` at the end.

    Returns:
        A `TuneResult`; `results` is the leaderboard as a DataFrame.

    In distributed mode (`zoo.tuning.distributed`, KERASTUNER_* variables) the
    chief runs the oracle and writes the outputs; a worker runs trials and
    returns its view of the leaderboard.

    Example:
    >>> result = tune("mlp_tiny", "iris", run_dir="runs/iris", max_trials=2, epochs=2)
    >>> list(result.results.columns[:3])
    ['trial_id', 'status', 'score']
    """
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
        max_trials = _resumed_max_trials(run_dir, saved["max_trials"], max_trials)
        if role != "worker" and max_trials == saved["max_trials"]:
            finished = _finished_search(run_dir)
            if finished is not None:
                return finished
        epochs, objective = saved["epochs"], saved["objective"]
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
    max_trials = 10 if max_trials is None else max_trials
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
    base_bundle = hypermodel.prepared_for(hypermodel.base_config).bundle
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


def _resumed_max_trials(run_dir, saved, requested):
    """The saved trial budget, or a larger requested one (said on the console)."""
    if requested is None or saved is None or requested == saved:
        return saved
    if requested < saved:
        print(
            f"{run_dir}: keeping the saved max_trials={saved} "
            f"(--max-trials {requested} is smaller).",
            flush=True,
        )
        return saved
    print(
        f"{run_dir}: max_trials raised from {saved} to {requested}; "
        f"running up to {requested - saved} more trials.",
        flush=True,
    )
    return requested


def _finished_search(run_dir):
    """The outputs of a search that already ended, or None."""
    metrics_path = os.path.join(run_dir, "best", "metrics.json")
    results_path = os.path.join(run_dir, "results.csv")
    if not (os.path.exists(metrics_path) and os.path.exists(results_path)):
        return None
    results = pd.read_csv(results_path, dtype={"trial_id": str})
    best_config = read_json(os.path.join(run_dir, "best", "config.json"), default={})
    print(
        f"{run_dir}: this search is already complete ({len(results)} trials); "
        "nothing to resume. Pass a larger --max-trials to run more.",
        flush=True,
    )
    return TuneResult(
        run_dir,
        results,
        read_json(metrics_path),
        (best_config or {}).get("hyperparameters", {}),
        None,
    )


def _write_report(run_dir):
    try:
        write_report(run_dir)
    except Exception as error:  # The search's outputs are already safe on disk.
        warnings.warn(
            f"Could not write report.html ({type(error).__name__}: {error}); "
            f"run `zoo report {run_dir}` to retry.",
            stacklevel=2,
        )


def _save_best(search, hypermodel, run_dir, results):
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
    prepared = dataclasses.replace(hypermodel.prepared_for(config), config=config)
    bundle = prepared.bundle
    model = search.load_model(trial)
    batch_size = hypermodel._batch_size(best_hp)
    best_dir = os.path.join(run_dir, "best")
    metrics = evaluate_model(model, prepared, batch_size, best_dir)
    metrics["best_trial_id"] = best_id
    write_test_predictions(model, bundle, batch_size, best_dir)
    save_model(
        export_model(model, prepared.preprocessing),
        os.path.join(best_dir, "model.keras"),
    )
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

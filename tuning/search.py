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
import shutil
import warnings

import keras
import numpy as np
import pandas as pd

from zoo.config import config_to_dict
from zoo.errors import ZooError
from zoo.tuning import distributed
from zoo.tuning.artifacts import data_summary, write_test_predictions
from zoo.tuning.callbacks import (
    CallbackOptions,
    make_callbacks,
    monitor_mode,
    options_for_family,
)
from zoo.tuning.checks import check_spec
from zoo.tuning.hypermodel import ZooHyperModel
from zoo.tuning.io import (
    DiskFullError,
    clean_temporaries,
    disk_full_as_error,
    save_model,
    write_frame_csv,
    write_json,
)
from zoo.tuning.report import write_report
from zoo.tuning.results import results_frame
from zoo.tuning.runspec import RunSpec, check_kind, read_record
from zoo.tuning.train import check_run_dir, evaluate_model, export_model
from zoo.tuning.tuners import (
    WorkerRecycled,
    default_objective,
    make_tuner,
    spared_heap,
)


@dataclasses.dataclass
class TuneResult:
    """What `tune()` returns.

    Attributes:
        run_dir: The run folder.
        results: The leaderboard (as `results.csv`), best first.
        best_metrics: Test metrics of the best trial's model ({} on a worker).
        best_hyperparameters: Its hyperparameter values ({} on a worker).
        tuner: The KerasTuner tuner.
        recycled: A worker stopped after its `trials_per_worker` trials,
            with the search still going (its launcher starts a fresh one).
    """

    run_dir: str
    results: pd.DataFrame
    best_metrics: dict
    best_hyperparameters: dict
    tuner: object
    recycled: bool = False


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
    chief_timeout=distributed.CHIEF_TIMEOUT,
    trials_per_worker=None,
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
        chief_timeout: Seconds a distributed worker waits for its chief
            before giving up.
        trials_per_worker: A distributed worker stops after this many trials
            (`TuneResult.recycled`), so a fresh process can take over and
            memory stays flat over a long search (`zoo tune --distributed
            local --trials-per-worker N` restarts it). The chief ignores it.

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
    distributed.check_trials_per_worker(trials_per_worker, role)
    if role == "worker":
        # The chief writes tune.json before it listens: read it after.
        distributed.wait_for_chief(chief_timeout)
    check_kind(run_dir, "tune")
    requested = RunSpec(
        kind="tune",
        model=model,
        data=data,
        overrides=overrides or {},
        data_options=data_options or {},
        seed=seed,
        epochs=epochs,
        callbacks=dataclasses.asdict(callbacks) if callbacks else None,
        search={
            "tuner": tuner,
            "max_trials": max_trials,
            "objective": objective,
            "direction": direction,
            "space": space or {},
            "replace_space": replace_space,
            "executions_per_trial": executions_per_trial,
        },
    )
    spec = _spec_to_run(run_dir, requested, role=role, resume=resume)
    check_spec(spec)
    check_run_dir(run_dir)
    if role != "worker":
        clean_temporaries(run_dir)
    keras.utils.set_random_seed(spec.seed)
    hypermodel, spec, settings = _prepare_search(run_dir, spec, role=role)
    search = make_tuner(
        spec.search["tuner"],
        hypermodel,
        objective=spec.search["objective"],
        direction=spec.search["direction"],
        max_trials=spec.search["max_trials"],
        epochs=spec.epochs,
        executions_per_trial=spec.search["executions_per_trial"],
        seed=spec.seed,
        run_dir=run_dir,
        overwrite=not resume and role != "worker",
        max_consecutive_failed_trials=max_consecutive_failed_trials,
    )
    if role == "worker":
        search.trials_per_worker = trials_per_worker
    options, note = options_for_family(
        CallbackOptions(**spec.callbacks), hypermodel.family
    )
    if note and verbose and role != "worker":
        print(note, flush=True)
    trial_callbacks = make_callbacks(
        run_dir,
        options,
        learning_rate=None,
        epochs=spec.epochs,
        history=False,
    )
    search_kwargs = {"callbacks": trial_callbacks, "verbose": verbose}
    if spec.search["tuner"] != "hyperband":
        search_kwargs["epochs"] = spec.epochs
    # Frozen through the export too: loading the best model collects garbage.
    with spared_heap():
        try:
            _search(search, search_kwargs, run_dir, max_consecutive_failed_trials)
        except WorkerRecycled:
            return TuneResult(run_dir, pd.DataFrame(), {}, {}, search, recycled=True)
        if role == "worker":
            return TuneResult(run_dir, pd.DataFrame(), {}, {}, search)
        results = results_frame(search)
        write_frame_csv(os.path.join(run_dir, "results.csv"), results)
        best_metrics, best_values = _save_best(search, hypermodel, run_dir, results)
        # Kept through the search (every trial reads it), not after.
        shutil.rmtree(hypermodel.feature_cache_dir, ignore_errors=True)
        if report:
            _write_report(run_dir)
        write_json(
            os.path.join(run_dir, "tune.json"), {**settings, "status": "complete"}
        )
    return TuneResult(run_dir, results, best_metrics, best_values, search)


def _spec_to_run(run_dir, requested, *, role, resume):
    """The requested run specification, or the saved one when resuming.

    A resumed search keeps its saved settings; only a larger `max_trials`
    than the saved one is taken from the request.
    """
    search_dir = os.path.join(run_dir, "search")
    if role != "worker" and os.path.exists(search_dir) and not resume:
        raise ZooError(
            f"{run_dir} already holds a search; pass --resume to continue it, or choose a new --run-dir."
        )
    saved = read_record(run_dir, "tune")
    if (resume or role == "worker") and saved:
        previous = RunSpec.from_record("tune", saved)
        if role != "worker":
            previous.check_same_request(requested.model, requested.data, run_dir)
        saved_trials = previous.search["max_trials"]
        wanted = _resumed_max_trials(
            run_dir,
            saved_trials,
            requested.search["max_trials"] if role != "worker" else None,
        )
        if (
            role != "worker"
            and wanted == saved_trials
            and _search_complete(run_dir, saved)
        ):
            raise ZooError(
                f"The search in {run_dir} is already complete ({saved_trials} trials); "
                "pass a larger --max-trials to run more, or choose a new --run-dir."
            )
        previous.search["max_trials"] = wanted
        return previous
    if resume and not os.path.exists(search_dir):
        raise ZooError(
            f"{run_dir} holds no search to resume; drop --resume to start one there."
        )
    return requested


def _prepare_search(run_dir, spec, *, role):
    """Builds the hypermodel, fills the spec's defaults from the family and the
    data, prints the loaded-data summary and writes `tune.json` (chief).

    Returns:
        `(hypermodel, spec, settings)`; `settings` is the `tune.json` record.
    """
    hypermodel = ZooHyperModel(
        spec.model,
        spec.data,
        space=spec.search["space"],
        overrides=spec.overrides,
        data_options=spec.data_options,
        epochs=spec.epochs,
        seed=spec.seed,
        replace_space=spec.search["replace_space"],
    )
    hypermodel.feature_cache_dir = os.path.join(run_dir, "feature_cache")
    base_bundle = hypermodel.prepared_for(hypermodel.base_config).bundle
    if role != "worker":
        print("\n".join(data_summary(base_bundle)), flush=True)
    objective = spec.search["objective"] or default_objective(base_bundle.task)
    callbacks = dataclasses.replace(
        CallbackOptions(**spec.callbacks) if spec.callbacks else CallbackOptions(),
        monitor=objective,
        checkpoint=False,
        backup=False,
    )
    spec = dataclasses.replace(
        spec,
        data=spec.data or hypermodel.family.default_data,
        epochs=hypermodel.epochs,
        callbacks=dataclasses.asdict(callbacks),
        search={
            **spec.search,
            "max_trials": 10
            if spec.search["max_trials"] is None
            else spec.search["max_trials"],
            "objective": objective,
            "direction": spec.search["direction"] or monitor_mode(objective),
        },
    )
    settings = {
        "status": "running",
        **spec.record(),
        "family": hypermodel.family.name,
        "data_kind": hypermodel.family.data_kind,
        "task": base_bundle.task,
    }
    if role != "worker":
        first = read_record(run_dir, "tune") is None
        try:
            write_json(os.path.join(run_dir, "tune.json"), settings)
        except DiskFullError as error:
            if not first:
                raise
            # Nothing of a new search is on disk yet: --resume would be refused.
            raise DiskFullError(error.path, resume=False) from None
    return hypermodel, spec, settings


def _search(search, search_kwargs, run_dir, max_consecutive_failed_trials):
    """Runs the search; a full disk or a run of failed trials ends in one line."""
    try:
        with disk_full_as_error(os.path.join(run_dir, "search")):
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


def _search_complete(run_dir, saved):
    """Whether the search in `run_dir` finished (records from before the
    status key: its best model and results were written)."""
    if "status" in saved:
        return saved["status"] == "complete"
    return os.path.exists(os.path.join(run_dir, "best", "model.keras")) and (
        os.path.exists(os.path.join(run_dir, "results.csv"))
    )


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
    prepared = hypermodel.prepared_for(config)
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

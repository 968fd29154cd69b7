"""`train()`: one model on one dataset, into a run folder that survives kills.

A run folder holds `config.json`, `history.csv`, `metrics.json`,
`model.keras` (preprocessing + model: takes raw rows, strings or images),
`logs/` (TensorBoard), `plots/` and, while training, `backup/`.
"""

import contextlib
import csv
import dataclasses
import json
import os
import shutil
import tempfile
import time
import warnings

import keras
import numpy as np

from zoo import feature_cache
from zoo.baselines import as_metrics, bundle_baseline
from zoo.config import config_to_dict
from zoo.datasets.base import load_data
from zoo.errors import ConfigError, ZooError
from zoo.preprocessing import Preprocessing
from zoo.registry import build_for_bundle, resolve_config
from zoo.tuning.artifacts import (
    data_summary,
    plot_history,
    write_evaluation,
    write_test_predictions,
)
from zoo.tuning.callbacks import (
    CallbackOptions,
    history_to_csv,
    make_callbacks,
    options_for_family,
)
from zoo.tuning.checks import check_spec
from zoo.tuning.distributed import fit_multiworker, get_strategy, shard_by_data
from zoo.tuning.io import (
    clean_temporaries,
    disk_full_as_error,
    save_model,
    write_json,
    write_text,
)
from zoo.tuning.runspec import RunSpec, check_kind, read_record

MIN_FREE_BYTES = 200 * 1024 * 1024


@dataclasses.dataclass
class TrainResult:
    """What `train()` returns.

    Attributes:
        run_dir: The run folder.
        model: The exported model (takes raw inputs).
        metrics: Test metrics, as written to `metrics.json`.
        history: One dict per epoch, as in `history.csv`.
        config: The family config used.
    """

    run_dir: str
    model: keras.Model
    metrics: dict
    history: list
    config: object


def check_run_dir(run_dir):
    """Creates the run folder or raises `ZooError` if it cannot be written."""
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write-test")
        with open(probe, "w") as handle:
            handle.write("ok")
        os.remove(probe)
    except OSError as error:
        raise ZooError(
            f"Cannot write to run folder {run_dir} ({error.strerror}); choose a writable --run-dir."
        ) from None
    free = shutil.disk_usage(run_dir).free
    if free < MIN_FREE_BYTES:
        raise ZooError(
            f"Only {free // (1024 * 1024)} MiB free where {run_dir} lives; free some space "
            "or choose another --run-dir."
        )


def resumed_spec(spec, run_dir, resume):
    """The spec a train run in `run_dir` continues: `spec` for a new run,
    the saved one on `--resume` (after checking it is the same request).

    Raises `ZooError` before any TensorFlow work when the folder already holds
    a run and `resume` is off, when that run is complete, or when it trained
    another model or data, or when the folder holds a search or comparison.
    """
    check_kind(run_dir, "train")
    saved = read_record(run_dir, "train")
    if saved is None:
        return spec
    if not resume:
        raise ZooError(
            f"{run_dir} already holds a run ({saved.get('status', 'unknown')}); "
            "pass --resume to continue it, or choose a new --run-dir."
        )
    if saved.get("status") == "complete":
        raise ZooError(
            f"The run in {run_dir} is already complete; choose a new --run-dir to train again."
        )
    previous = RunSpec.from_record("train", saved)
    previous.check_same_request(spec.model, spec.data, run_dir)
    return previous


def _positive(name, value):
    if value is not None and (
        not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1
    ):
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")


@dataclasses.dataclass
class Prepared:
    """A model name resolved and its data loaded and preprocessed.

    Attributes:
        family, config: The family and its config with overrides applied.
        raw: The `DataBundle` as the data layer loaded it (raw inputs).
        preprocessing: The family's fitted `Preprocessing`, or None.
        bundle: `raw` with the preprocessing mapped over its splits: what
            the network trains on.
    """

    family: object
    config: object
    raw: object
    preprocessing: Preprocessing | None
    bundle: object


def prepare(model, data=None, *, overrides=None, data_options=None, seed=0):
    """Resolves the family and config, loads the data and fits the family's
    preprocessing on the training split. Returns a `Prepared`."""
    family, config = resolve_config(model, overrides or {})
    options = dict(family.data_options(config)) if family.data_options else {}
    options.update({k: v for k, v in (data_options or {}).items() if v is not None})
    raw = load_data(
        data or family.default_data, kind=family.data_kind, seed=seed, **options
    )
    if raw.task not in family.tasks:
        raise ConfigError(
            f"{family.name} learns {' or '.join(family.tasks)} tasks, but "
            f"{data or family.default_data!r} gives a {raw.task} task; pick a model "
            "for that task (`zoo list`) or another --target."
        )
    preprocessing = family.adapt(config, raw) if family.adapt is not None else None
    return Prepared(family, config, raw, preprocessing, preprocess(raw, preprocessing))


def preprocess(bundle, preprocessing):
    """`bundle` with `preprocessing.layer` (and `target_layer`) mapped over its
    splits in batches, cached; the per-batch work and facts carried over."""
    if preprocessing is None:
        return bundle
    layer, target = preprocessing.layer, preprocessing.target_layer

    def apply(*example):
        x = layer(example[0]) if layer is not None else example[0]
        if len(example) == 1:
            return x
        y = target(example[1]) if target is not None else example[1]
        return x, y

    mapped = (
        bundle
        if layer is None and target is None
        else bundle.map(apply, cache=preprocessing.cache)
    )
    return dataclasses.replace(
        mapped,
        input_shape=tuple(preprocessing.input_shape or bundle.input_shape),
        batch_map=preprocessing.batch_map,
        lengths=preprocessing.lengths,
        info={**bundle.info, **preprocessing.info},
    )


def export_model(model, preprocessing):
    """The network with its preprocessing in front and postprocessing behind:
    the model a user saves, which takes raw inputs and answers in their units."""
    if preprocessing is None or (
        preprocessing.layer is None
        and preprocessing.export_front is None
        and preprocessing.postprocessor is None
    ):
        return model
    if preprocessing.layer is not None or preprocessing.export_front is not None:
        raw = preprocessing.raw_inputs()
        x = raw
        if preprocessing.export_front is not None:
            x = preprocessing.export_front(x)
        if preprocessing.layer is not None:
            x = preprocessing.layer(x)
        outputs = model(x)
    else:
        raw = keras.Input(shape=model.input_shape[1:], name="inputs")
        outputs = model(raw)
    if preprocessing.postprocessor is not None:
        outputs = preprocessing.postprocessor(outputs)
    model_class = preprocessing.export_class or keras.Model
    return model_class(raw, outputs, name=f"{model.name}_export")


def evaluate_model(network, prepared, batch_size, run_dir):
    """Test metrics named as Keras names them, with a `test_` prefix, the
    classical baseline's on the same split (`baseline_`, `zoo.baselines`)
    and the family's own; writes the family's pictures and files."""
    results = network.evaluate(
        prepared.bundle.batches("test", batch_size), return_dict=True, verbose=0
    )
    metrics = {f"test_{k}": float(v) for k, v in results.items()}
    metrics.update(baseline_metrics(prepared))
    if prepared.family.evaluate is not None:
        evaluation = prepared.family.evaluate(network, prepared.config, prepared.bundle)
        metrics.update(evaluation.metrics)
        write_evaluation(evaluation, run_dir)
    return metrics


def baseline_metrics(prepared):
    """`baseline_*` metrics of a scikit-learn model fitted on the raw
    training split; `{}` (and a warning) when it fails: the trained network
    and its own metrics matter more than the comparison."""
    try:
        return as_metrics(bundle_baseline(prepared.family.data_kind, prepared.raw))
    except Exception as error:  # scikit-learn raises many types.
        warnings.warn(
            f"No baseline for this run ({type(error).__name__}: {error}).",
            stacklevel=2,
        )
        return {}


def fit_inputs(model, bundle, batch_size, *, seed=0):
    """`(train batches, fit keyword arguments)` as `zoo train` and the tuner
    feed `model.fit`: the `DataBundle.training_stream` with one pass per
    epoch, the validation batches and class weights.

    Sets `model.steps_per_execution` to the steps that tile an epoch of the
    stream; `fit` reads it when it builds its train function.
    """
    train, steps, per_execution = bundle.training_stream(
        batch_size, seed=seed, steps_per_execution=model.steps_per_execution
    )
    model.steps_per_execution = per_execution
    kwargs = {
        "validation_data": bundle.batches("validation", batch_size),
        "class_weight": bundle.class_weight,
        "shuffle": False,  # The train split is shuffled in tf.data.
    }
    if steps is not None:
        kwargs["steps_per_epoch"] = steps
    return train, kwargs


def fit_model(
    model,
    family,
    config,
    bundle,
    *,
    epochs,
    batch_size,
    callbacks,
    seed=0,
    verbose=1,
    cache_dir=None,
):
    train_batches, kwargs = fit_inputs(model, bundle, batch_size, seed=seed)
    kwargs.update(epochs=epochs, callbacks=callbacks, verbose=verbose)
    with cache_settings(bundle, cache_dir):
        if family.fit is not None:
            return family.fit(model, config, train_batches, **kwargs)
        return model.fit(train_batches, **kwargs).history


def cache_settings(bundle, directory):
    """What `zoo.feature_cache` must know of the data: whether the training
    inputs are augmented, and where features too big for memory go."""
    return feature_cache.settings(
        augmented=bool(bundle.info.get("augment")), directory=directory
    )


def train(
    model,
    data=None,
    *,
    run_dir,
    epochs=None,
    batch_size=None,
    overrides=None,
    data_options=None,
    callbacks=None,
    resume=False,
    seed=0,
    verbose=1,
    strategy=None,
):
    """Trains a registered model on a dataset and writes a run folder.

    Args:
        model: Registered model or family name (`zoo list`).
        data: Embedded dataset name (`zoo datasets`) or a file/folder path;
            the family's default dataset when None.
        run_dir: Output folder.
        epochs: Epochs (the family's default when None).
        batch_size: Batch size (the family's default when None).
        overrides: Config fields to change, e.g. `{"dropout_rate": 0.2}`.
        data_options: Loader options, e.g. `{"target": "survived"}`.
        callbacks: A `CallbackOptions`.
        resume: Continue a killed run in `run_dir` from its last epoch.
        seed: Seeds the split, the shuffling and the initial weights.
        verbose: Keras verbosity.
        strategy: None, "mirrored" (every local device) or "multiworker"
            (one process per worker, each with `TF_CONFIG`; worker 0 writes
            the run folder, the others train their share and return).

    Returns:
        A `TrainResult`.

    Example:
    >>> result = train("mlp_small", "breast_cancer", run_dir="runs/mlp", epochs=5)
    >>> result.metrics["test_accuracy"] > 0.9
    True
    """
    run_dir = os.fspath(run_dir)
    spec = RunSpec(
        kind="train",
        model=model,
        data=data,
        overrides=overrides or {},
        data_options=data_options or {},
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=dataclasses.asdict(callbacks) if callbacks else None,
    )
    writer = strategy != "multiworker" or _worker_index() == 0
    if writer:
        spec = resumed_spec(spec, run_dir, resume)
    # A multi-worker strategy must exist before TensorFlow runs any op.
    distribution = get_strategy(strategy) if strategy else None
    if not writer:
        run_dir = tempfile.mkdtemp(prefix="zoo-worker-")
    spec = dataclasses.replace(spec, epochs=epochs or spec.epochs)
    callbacks = _checked_request(spec, run_dir, writer=writer)
    keras.utils.set_random_seed(spec.seed)
    prepared = prepare(
        spec.model,
        spec.data,
        overrides=spec.overrides,
        data_options=spec.data_options,
        seed=spec.seed,
    )
    print("\n".join(data_summary(prepared.bundle)), flush=True)
    spec, record = _run_record(spec, prepared, callbacks)
    config_path = os.path.join(run_dir, "config.json")
    write_json(config_path, record)

    network, callback_list, train_seconds = _fit_network(
        prepared,
        spec,
        run_dir,
        callbacks,
        distribution=distribution,
        multiworker=strategy == "multiworker",
        verbose=verbose,
    )
    metrics = _evaluate_run(
        network, prepared, spec, run_dir, callbacks, callback_list, train_seconds
    )
    history = _read_history(run_dir)
    write_test_predictions(network, prepared.bundle, spec.batch_size, run_dir)
    exported = export_model(network, prepared.preprocessing)
    save_model(exported, os.path.join(run_dir, "model.keras"))
    write_json(os.path.join(run_dir, "metrics.json"), metrics)
    plot_history(history, run_dir, title=spec.model)
    write_json(
        config_path, {**record, "status": "complete", "epochs_run": len(history)}
    )
    shutil.rmtree(os.path.join(run_dir, "backup"), ignore_errors=True)
    shutil.rmtree(os.path.join(run_dir, "feature_cache"), ignore_errors=True)
    if not writer:
        shutil.rmtree(run_dir, ignore_errors=True)
    return TrainResult(
        run_dir=run_dir,
        model=exported,
        metrics=metrics,
        history=history,
        config=prepared.config,
    )


def steps_per_epoch(bundle, batch_size):
    """Batches in one pass over the training split (at least 1)."""
    return max(1, -(-int(bundle.info.get("train_size", 0) or 0) // batch_size))


def _checked_request(spec, run_dir, *, writer):
    """Every argument checked before data is read; the run's `CallbackOptions`."""
    check_run_dir(run_dir)
    if writer:
        clean_temporaries(run_dir)
    _positive("epochs", spec.epochs)
    _positive("batch_size", spec.batch_size)
    callbacks = (
        CallbackOptions(**spec.callbacks) if spec.callbacks else CallbackOptions()
    )
    check_spec(spec)
    return callbacks


def _run_record(spec, prepared, callbacks):
    """The spec with the family's defaults filled in, and the `config.json`
    record of a run that has started."""
    family, bundle = prepared.family, prepared.bundle
    batch_size = spec.batch_size or family.batch_size
    epochs = spec.epochs
    if epochs is None and family.epochs_for is not None:
        epochs = family.epochs_for(prepared.config, steps_per_epoch(bundle, batch_size))
    spec = dataclasses.replace(
        spec,
        data=spec.data or family.default_data,
        epochs=epochs or family.epochs,
        batch_size=batch_size,
        callbacks=dataclasses.asdict(callbacks),
    )
    record = {
        "status": "running",
        **spec.record(),
        "family": family.name,
        "data_kind": family.data_kind,
        "config": config_to_dict(prepared.config),
        "task": bundle.task,
        "num_classes": bundle.num_classes,
        "class_names": bundle.class_names,
        "input_shape": list(bundle.input_shape),
        "data_info": bundle.info,
        "versions": {"keras": keras.__version__, "tensorflow": _tf_version()},
    }
    return spec, record


def _fit_network(
    prepared, spec, run_dir, callbacks, *, distribution, multiworker, verbose
):
    """Builds, compiles and fits the network. Returns `(network, callbacks,
    train_seconds)`."""
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    epochs, batch_size = spec.epochs, spec.batch_size
    if distribution is None:
        keras.backend.clear_session()
    keras.utils.set_random_seed(spec.seed)
    steps = steps_per_epoch(bundle, batch_size)
    with distribution.scope() if distribution else contextlib.nullcontext():
        network = build_for_bundle(family, config, bundle, prepared.preprocessing)
        family.compile(
            network,
            config,
            num_classes=bundle.num_classes,
            total_steps=steps * epochs,
        )
    callbacks, note = options_for_family(callbacks, family)
    if note and verbose:
        print(note, flush=True)
    callback_list = make_callbacks(
        run_dir,
        callbacks,
        learning_rate=getattr(config, "learning_rate", None),
        epochs=epochs,
    )
    started = time.perf_counter()
    if multiworker:
        network = _fit_multiworker(network, prepared, spec, run_dir, distribution)
    else:
        with disk_full_as_error(run_dir):
            fit_model(
                network,
                family,
                config,
                bundle,
                epochs=epochs,
                batch_size=batch_size,
                callbacks=callback_list,
                seed=spec.seed,
                verbose=verbose,
                cache_dir=os.path.join(run_dir, "feature_cache"),
            )
    return network, callback_list, time.perf_counter() - started


def _fit_multiworker(network, prepared, spec, run_dir, distribution):
    """Keras 3's fit() fails under MultiWorkerMirroredStrategy
    (keras-team/keras#20585): a custom loop, without callbacks. Returns a
    model outside the strategy holding the trained weights (evaluate() and
    predict() fail under it too)."""
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    losses = fit_multiworker(
        network,
        shard_by_data(bundle.batches("train", spec.batch_size, seed=spec.seed)),
        epochs=spec.epochs,
        global_batch_size=spec.batch_size,
        strategy=distribution,
    )
    rows = [{"epoch": i, "loss": float(v)} for i, v in enumerate(losses)]
    write_text(os.path.join(run_dir, "history.csv"), history_to_csv(rows))
    trained = network.get_weights()
    network = build_for_bundle(family, config, bundle, prepared.preprocessing)
    family.compile(network, config, num_classes=bundle.num_classes, total_steps=1)
    network.set_weights(trained)
    return network


def _evaluate_run(
    network, prepared, spec, run_dir, callbacks, callback_list, train_seconds
):
    """Restores the best epoch when the family wants it, then the test metrics
    (with the baseline beside them) and how the training went."""
    best = os.path.join(run_dir, "checkpoints", "best.weights.h5")
    restored_best = False
    if callbacks.checkpoint and prepared.family.restore_best and os.path.exists(best):
        try:
            network.load_weights(best)
            restored_best = True
        except (OSError, ValueError):
            restored_best = False
    metrics = evaluate_model(network, prepared, spec.batch_size, run_dir)
    metrics["train_seconds"] = round(train_seconds, 3)
    metrics["restored_best_epoch"] = restored_best
    nan_guard = [c for c in callback_list if getattr(c, "reason", None)]
    if nan_guard:
        metrics["stopped_early_reason"] = nan_guard[0].reason
    return metrics


def _worker_index():
    try:
        return int(json.loads(os.environ.get("TF_CONFIG", "{}"))["task"]["index"])
    except (KeyError, TypeError, ValueError):
        return 0


def _read_history(run_dir):
    path = os.path.join(run_dir, "history.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        rows = []
        for row in csv.DictReader(handle):
            rows.append(
                {k: (float(v) if v not in ("", None) else None) for k, v in row.items()}
            )
        return rows


def _tf_version():
    import tensorflow as tf

    return tf.__version__

"""Every argument of `train` and `tune` checked before any data is read.

One place for the ranges and types of the flags, the shape of `--space`, and
the metric names `--monitor` and `--objective` may name: a mistake costs one
line, never a loaded dataset or a spent trial.
"""

import dataclasses

from zoo.errors import ConfigError, close_matches
from zoo.registry import resolve_config

TUNERS = ("random", "bayesian", "hyperband", "grid")
# Loader options that are fractions of the data.
FRACTION_OPTIONS = ("validation_split", "test_split")
_MAX_SEED = 2**32 - 1  # NumPy's seed range.
# A stand-in class count per task, to read the compile recipe's metrics.
_TASK_CLASSES = {"binary": 2, "multiclass": 3}


def check_integer(name, value, *, minimum, maximum=None):
    """Raises `ConfigError` unless `value` is an int in [minimum, maximum]."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value!r}.")


def check_data_options(data_options):
    """Fractions are numbers in (0, 1)."""
    for name in FRACTION_OPTIONS:
        value = (data_options or {}).get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"{name} must be a number between 0 and 1, got {value!r}; "
                f"e.g. --data-option {name}=0.2."
            )
        if not 0 <= value < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {value!r}.")


def check_callbacks(callbacks):
    """Patiences and frequencies are integers >= 0."""
    if callbacks is None:
        return
    options = (
        callbacks if isinstance(callbacks, dict) else dataclasses.asdict(callbacks)
    )
    for name, flag in (
        ("early_stopping_patience", "--early-stopping"),
        ("reduce_lr_patience", "--reduce-lr"),
        ("histogram_freq", "--histogram-freq"),
    ):
        if name in options:
            check_integer(flag, options[name], minimum=0)


def logged_metrics(family, config):
    """The metric names a family's runs log (with and without `val_`), over
    every task it learns; None when its compile recipe does not name them
    (a model that computes its own losses)."""
    names = {"loss"}
    for task in family.tasks:
        recorder = _CompileRecorder()
        try:
            family.compile(
                recorder, config, num_classes=_TASK_CLASSES.get(task), total_steps=1
            )
        except Exception:  # A recipe that needs a real model: no check.
            return None
        if recorder.kwargs.get("loss") is None:
            return None
        for metric in recorder.kwargs.get("metrics") or []:
            names.add(metric if isinstance(metric, str) else metric.name)
    return names | {f"val_{name}" for name in names}


class _CompileRecorder:
    """Takes the place of a model in a compile recipe and keeps its arguments."""

    steps_per_execution = 1

    def __init__(self):
        self.kwargs = {}

    def compile(self, **kwargs):
        self.kwargs = kwargs


def check_metric(flag, name, known):
    """Raises `ConfigError` when `name` is not one of the `known` metrics."""
    if name is None or known is None or name in known:
        return
    raise ConfigError(
        f"{flag} {name!r} is not a metric this model logs.{close_matches(name, known)} "
        f"Choose one of {', '.join(sorted(known))}."
    )


def check_spec(spec):
    """`check_request` for a train or tune `RunSpec`."""
    return check_request(
        spec.model,
        overrides=spec.overrides,
        seed=spec.seed,
        data_options=spec.data_options,
        callbacks=spec.callbacks,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        search=spec.search or None,
    )


def check_request(
    model,
    *,
    overrides=None,
    seed=0,
    data_options=None,
    callbacks=None,
    epochs=None,
    batch_size=None,
    search=None,
):
    """Checks a train or tune request before anything loads.

    Args:
        model: Registered model name.
        overrides: `--set` values (checked against the config's fields).
        seed, epochs, batch_size: As for `train`.
        data_options: Loader options.
        callbacks: `CallbackOptions` (or its dict).
        search: For tune: tuner, max_trials, objective, direction, space,
            executions_per_trial.

    Returns:
        `(family, config)` as `zoo.registry.resolve_config` gives them.
    """
    family, config = resolve_config(model, overrides or {})
    check_integer("seed", seed, minimum=0, maximum=_MAX_SEED)
    check_integer("epochs", epochs, minimum=1)
    check_integer("batch_size", batch_size, minimum=1)
    check_data_options(data_options)
    check_callbacks(callbacks)
    monitor = None
    if callbacks is not None:
        monitor = (callbacks if isinstance(callbacks, dict) else vars(callbacks)).get(
            "monitor"
        )
    known = None
    if search:
        _check_search(search)
        known = logged_metrics(family, config)
        check_metric("--objective", search.get("objective"), known)
    elif monitor not in (None, "val_loss", "loss"):
        known = logged_metrics(family, config)
        check_metric("--monitor", monitor, known)
    return family, config


def _check_search(search):
    tuner = str(search.get("tuner")).lower()
    if tuner not in TUNERS:
        raise ConfigError(
            f"Unknown tuner {tuner!r}.{close_matches(tuner, TUNERS)} "
            f"Choose one of {', '.join(TUNERS)}."
        )
    check_integer("max_trials", search.get("max_trials"), minimum=1)
    check_integer("executions_per_trial", search.get("executions_per_trial"), minimum=1)
    if search.get("direction") not in (None, "min", "max"):
        raise ConfigError(
            f"direction must be 'min' or 'max', got {search['direction']!r}."
        )
    space = search.get("space")
    if space is not None and not isinstance(space, dict):
        raise ConfigError(
            f"--space must be a JSON object of {{name: rule}}, got a "
            f"{type(space).__name__}; e.g. '{{\"units\": [32, 64]}}'."
        )

"""Output heads and the default compile recipe, by task."""

import keras

from zoo.errors import ConfigError, close_matches
from zoo.metrics import classification_metrics, regression_metrics

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "nadam", "adagrad")


def task_of(num_classes):
    """ "binary", "multiclass" or "regression" from a class count."""
    if num_classes is None:
        return "regression"
    return "binary" if num_classes == 2 else "multiclass"


def output_head(x, num_classes, *, units=1, name="predictions", **dense_options):
    """The output layer for a task: sigmoid, softmax or linear.

    `dense_options` go to the `Dense` layer (an initializer, a
    regularizer...). The head always computes in float32 so mixed precision
    stays stable.
    """
    if num_classes is None:
        activation, units = None, units
    elif num_classes == 2:
        activation, units = "sigmoid", 1
    else:
        activation, units = "softmax", num_classes
    return keras.layers.Dense(
        units, activation=activation, name=name, dtype="float32", **dense_options
    )(x)


def task_loss(num_classes):
    task = task_of(num_classes)
    if task == "binary":
        return keras.losses.BinaryCrossentropy()
    if task == "multiclass":
        return keras.losses.SparseCategoricalCrossentropy()
    return keras.losses.MeanSquaredError()


def task_metrics(num_classes):
    if num_classes is None:
        return regression_metrics()
    return classification_metrics(num_classes)


def make_optimizer(name, learning_rate, **kwargs):
    """A Keras optimizer by name; `learning_rate` may be a schedule."""
    key = str(name).lower()
    if key not in OPTIMIZERS:
        raise ConfigError(
            f"Unknown optimizer {name!r}.{close_matches(key, OPTIMIZERS)} "
            f"Choose one of {', '.join(OPTIMIZERS)}."
        )
    return keras.optimizers.get(
        {"class_name": key, "config": {"learning_rate": learning_rate, **kwargs}}
    )


def optimizer_options(config):
    """Keyword arguments the config implies for its optimizer (SGD's momentum)."""
    if str(config.optimizer).lower() != "sgd":
        return {}
    return {"momentum": config.momentum, "nesterov": config.nesterov}


def default_compile(model, config, *, num_classes, total_steps=None):
    """Compiles with the config's optimizer and the task's loss and metrics.

    Args:
        model: The model to compile.
        config: A `BaseConfig` (optimizer, learning_rate, jit_compile,
            steps_per_execution).
        num_classes: As given to the builder; `None` for regression.
        total_steps: Number of training steps planned, for families whose
            schedules need it. Unused here.
    """
    del total_steps
    model.compile(
        optimizer=make_optimizer(
            config.optimizer, config.learning_rate, **optimizer_options(config)
        ),
        loss=task_loss(num_classes),
        metrics=task_metrics(num_classes),
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model

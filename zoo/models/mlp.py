"""Multi-layer perceptrons for tabular data."""

import dataclasses

import keras

from zoo.compile import default_compile, output_head
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.registry import Family, register_family, register_model
from zoo.tabular import adapt_table

ACTIVATIONS = (
    "relu",
    "tanh",
    "sigmoid",
    "elu",
    "selu",
    "gelu",
    "swish",
    "leaky_relu",
    "linear",
)
INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "random_uniform_0_1",
    "random_normal",
)


def make_initializer(name, seed=None):
    """A Keras initializer by name; "random_uniform_0_1" is `RandomUniform(0, 1)`."""
    if name == "random_uniform_0_1":
        return keras.initializers.RandomUniform(0.0, 1.0, seed=seed)
    return keras.initializers.get({"class_name": name, "config": {"seed": seed}})


def dense_block(x, units, config, index):
    """Dense, then optional batch norm, activation and dropout."""
    regularizer = None
    if config.l1 or config.l2:
        regularizer = keras.regularizers.L1L2(l1=config.l1, l2=config.l2)
    x = keras.layers.Dense(
        units,
        kernel_initializer=make_initializer(config.kernel_initializer, config.seed),
        kernel_regularizer=regularizer,
        use_bias=not config.batch_norm,
        name=f"dense_{index}",
    )(x)
    if config.batch_norm:
        x = keras.layers.BatchNormalization(name=f"batch_norm_{index}")(x)
    x = keras.layers.Activation(config.activation, name=f"activation_{index}")(x)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{index}")(x)
    return x


@dataclasses.dataclass
class MLPConfig(BaseConfig):
    """Config of an MLP.

    Attributes:
        hidden_units: Units of each hidden layer, input side first.
        activation: Hidden activation, one of `ACTIVATIONS`.
        dropout_rate: Dropout after each hidden layer, in [0, 1).
        batch_norm: Batch normalization after each hidden dense layer.
        kernel_initializer: One of `INITIALIZERS`.
        l1, l2: Kernel regularization factors.
        output_units: Outputs of a regression model.
        seed: Seed of the initializers, or None.
    """

    hidden_units: tuple[int, ...] = (64, 32)
    activation: str = "relu"
    dropout_rate: float = 0.1
    batch_norm: bool = False
    kernel_initializer: str = "glorot_uniform"
    l1: float = 0.0
    l2: float = 0.0
    output_units: int = 1
    seed: int | None = None
    # Measured by bench.throughput: a tiny MLP step is all
    # launch overhead, so 32 steps per call trains 2.5x faster than 1 (5.8x
    # the NumPy-into-fit reference); XLA slows it (1.0x), so it stays off.
    steps_per_execution: int = 32

    def validate(self):
        super().validate()
        if any(units < 1 for units in self.hidden_units):
            raise ConfigError(
                f"hidden_units must all be >= 1, got {self.hidden_units}."
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"Unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )
        if self.kernel_initializer not in INITIALIZERS:
            raise ConfigError(
                f"Unknown kernel_initializer {self.kernel_initializer!r}; "
                f"choose one of {', '.join(INITIALIZERS)}."
            )
        if self.l1 < 0 or self.l2 < 0:
            raise ConfigError("l1 and l2 must be >= 0.")
        if self.output_units < 1:
            raise ConfigError(f"output_units must be >= 1, got {self.output_units}.")


def build_mlp(config, *, input_shape, num_classes):
    """Builds an MLP on a flat feature vector.

    Args:
        config: An `MLPConfig`.
        input_shape: `(num_features,)`.
        num_classes: 2 for a sigmoid output, more for softmax, None for
            regression with `config.output_units` linear outputs.

    Example:
    >>> model = build_mlp(MLPConfig(hidden_units=(8,)), input_shape=(4,), num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    inputs = keras.Input(shape=input_shape, name="features")
    x = inputs
    if len(input_shape) > 1:
        x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(config.hidden_units):
        x = dense_block(x, units, config, index)
    outputs = output_head(x, num_classes, units=config.output_units)
    return keras.Model(inputs, outputs, name="mlp")


SEARCH_SPACE = {
    "num_layers": {"min": 1, "max": 3},
    "units": [32, 64, 128, 256],
    "activation": ["relu", "tanh", "elu"],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.1},
    "batch_norm": [False, True],
    # Adaptive optimizers only: plain SGD at these learning rates barely moves
    # in the few epochs a search gives each trial (bench.peers: titanic trials
    # that drew it stayed at 0.41-0.71 validation accuracy after 5 epochs).
    # "SGD vs momentum vs Adam" is a compare file, not a search.
    "optimizer": ["adam", "rmsprop"],
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
}


def mlp_space_to_config(values):
    """`num_layers` layers of `units` each."""
    values = dict(values)
    units, layers = values.pop("units"), values.pop("num_layers")
    return {**values, "hidden_units": (units,) * layers}


register_family(
    Family(
        name="mlp",
        tasks=("binary", "multiclass", "regression"),
        search_space=SEARCH_SPACE,
        space_to_config=mlp_space_to_config,
        config_class=MLPConfig,
        build=build_mlp,
        compile=default_compile,
        data_kind="tabular",
        default_data="breast_cancer",
        adapt=adapt_table,
        adapt_fields=(),  # Fitted on the data alone.
        description="Multi-layer perceptron for tabular data.",
    )
)


@register_model(family="mlp")
def mlp_small():
    """Two hidden layers (64, 32), ReLU, dropout 0.1."""
    return MLPConfig()


@register_model(family="mlp")
def mlp_deep():
    """Four hidden layers (256, 128, 64, 32) with batch norm and dropout 0.2."""
    return MLPConfig(hidden_units=(256, 128, 64, 32), batch_norm=True, dropout_rate=0.2)


@register_model(family="mlp")
def mlp_wide():
    """One hidden layer of 512 units, dropout 0.3, L2 1e-4."""
    return MLPConfig(hidden_units=(512,), dropout_rate=0.3, l2=1e-4)


@register_model(family="mlp", tiny=True)
def mlp_tiny():
    """One hidden layer of 8 units, for tests."""
    return MLPConfig(hidden_units=(8,), dropout_rate=0.0)

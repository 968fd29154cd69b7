"""The recurrent stack shared by the text LSTM and the forecaster families:
SimpleRNN, GRU or LSTM layers, optionally bidirectional, and their head."""

import dataclasses
from typing import Literal

import keras

from zoo.compile import output_head
from zoo.errors import ConfigError

RNN_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}


def recurrent_stack(x, config, *, prefix="rnn"):
    """`config.rnn_units` recurrent layers; all but the last return sequences."""
    layer_class = RNN_LAYERS[config.rnn_type]
    for index, units in enumerate(config.rnn_units, start=1):
        last = index == len(config.rnn_units)
        layer = layer_class(
            units,
            return_sequences=not last,
            dropout=config.dropout_rate if not last else 0.0,
            recurrent_dropout=config.recurrent_dropout,
            kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed),
            name=f"{prefix}_{index}",
        )
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional_{index}")
        x = layer(x)
    return x


def head(x, config, num_classes, *, units=1):
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name="dropout")(x)
    if config.dense_units:
        x = keras.layers.Dense(config.dense_units, activation="relu", name="dense")(x)
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(config.dropout_rate, name="dropout_dense")(x)
    return output_head(x, num_classes, units=units)


@dataclasses.dataclass
class RecurrentFields:
    """Fields of the recurrent stack, shared by both families."""

    rnn_type: Literal["lstm", "gru", "simple_rnn"] = "lstm"
    rnn_units: tuple[int, ...] = (64,)
    bidirectional: bool = False
    dropout_rate: float = 0.2
    recurrent_dropout: float = 0.0
    dense_units: int = 0
    seed: int | None = None

    def _validate_stack(self):
        if not self.rnn_units or any(units < 1 for units in self.rnn_units):
            raise ConfigError(
                f"rnn_units must be one or more sizes >= 1, got {self.rnn_units}."
            )
        for name in ("dropout_rate", "recurrent_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be in [0, 1), got {getattr(self, name)}."
                )
        if self.dense_units < 0:
            raise ConfigError(f"dense_units must be >= 0, got {self.dense_units}.")


# ---------------------------------------------------------------- text

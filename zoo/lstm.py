"""Recurrent networks: a text classifier and a time-series forecaster.

Two families share the recurrent stack (SimpleRNN, GRU or LSTM layers,
optionally bidirectional):

- "lstm": text classification. `adapt` fits a word-level `TextVectorization`
  on the training split only and maps the splits to token ids; the exported
  model puts the vectorizer in front, so it takes raw strings. The embedding
  can start from a GloVe-format word-vector file (a local path) and be frozen
  or trained.
- "lstm_forecaster": windows of one or many series (scaled with statistics of
  the training part only, see `datasets.timeseries`) to the next `horizon`
  values of the target. By default the network predicts the change from the
  last observed value, so an untrained model starts as the persistence
  forecast. `evaluate` reports RMSE/MAE in original units next to the
  persistence baseline on the same test windows, and plots the forecast.
"""

import dataclasses
import os
from typing import Literal

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.compile import default_compile, output_head
from zoo.config import BaseConfig
from zoo.errors import ConfigError, DataError
from zoo.registry import Family, register_family, register_model

RNN_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "none")


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
class _RecurrentFields:
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


@dataclasses.dataclass
class LSTMConfig(BaseConfig, _RecurrentFields):
    """Config of a recurrent text classifier.

    Attributes:
        rnn_type: "lstm", "gru" or "simple_rnn".
        rnn_units: Units of each recurrent layer, input side first.
        bidirectional: Wrap each recurrent layer in `Bidirectional`.
        dropout_rate: Dropout between recurrent layers and before the head.
        recurrent_dropout: Dropout on the recurrent state (slow on CPU).
        dense_units: A ReLU layer before the output; 0 for none.
        max_tokens: Vocabulary size, padding and out-of-vocabulary included.
        sequence_length: Tokens kept per text (padded or cut).
        standardize: `TextVectorization` standardization, or "none".
        embedding_dim: Size of the word vectors.
        pretrained_embeddings: Path of a GloVe-format text file ("word v1 v2
            ...") whose vectors initialise the embedding; "" for random.
        train_embeddings: Train the embedding (False freezes pretrained vectors).
        group_by_length: Training batches hold texts of similar length
            (sorted within shuffled groups of 8 batches), so less padding is
            stepped over; False for uniformly random batches. Every batch
            is cut to its longest text either way (unless `jit_compile`).
        seed: Seed of the initializers, or None.
    """

    max_tokens: int = 20000
    sequence_length: int = 64
    standardize: str = "lower_and_strip_punctuation"
    embedding_dim: int = 100
    pretrained_embeddings: str = ""
    train_embeddings: bool = True
    group_by_length: bool = True

    def validate(self):
        super().validate()
        self._validate_stack()
        if self.max_tokens < 3:
            raise ConfigError(
                f"max_tokens must be >= 3 (padding, unknown, one word), got {self.max_tokens}."
            )
        if self.sequence_length < 1 or self.embedding_dim < 1:
            raise ConfigError("sequence_length and embedding_dim must be >= 1.")
        if self.standardize not in STANDARDIZE:
            raise ConfigError(
                f"standardize must be one of {', '.join(STANDARDIZE)}, got {self.standardize!r}."
            )
        if self.pretrained_embeddings and not os.path.isfile(
            self.pretrained_embeddings
        ):
            raise ConfigError(
                f"pretrained_embeddings file {self.pretrained_embeddings!r} does not exist; "
                "give the path of a GloVe-format .txt file."
            )


def make_vectorizer(config):
    return keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        standardize=None if config.standardize == "none" else config.standardize,
        output_mode="int",
        output_sequence_length=config.sequence_length,
        name="text_vectorization",
    )


def read_word_vectors(path, vocabulary, embedding_dim, *, seed=0):
    """A `(len(vocabulary), embedding_dim)` matrix from a GloVe-format file.

    Row 0 (padding) is zeros; words missing from the file get small random
    vectors. Only the vocabulary's words are kept, so a large file costs one
    pass and little memory.

    Returns:
        `(matrix, found)`: the float32 matrix and how many words had a vector.
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.1, size=(len(vocabulary), embedding_dim)).astype(
        "float32"
    )
    matrix[0] = 0.0
    found = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                word, _, rest = line.rstrip("\n").partition(" ")
                row = index.get(word)
                if row is None or row == 0:
                    continue
                values = rest.split()
                if len(values) != embedding_dim:
                    raise ConfigError(
                        f"{path} line {number} has {len(values)} numbers for {word!r}, but "
                        f"embedding_dim is {embedding_dim}; set embedding_dim={len(values)}."
                    )
                try:
                    matrix[row] = np.asarray(values, dtype="float32")
                except ValueError:
                    raise ConfigError(
                        f"{path} line {number} is not `word v1 v2 ...` (GloVe text format)."
                    ) from None
                found += 1
    except OSError as error:
        raise ConfigError(
            f"Cannot read pretrained_embeddings {path}: {error.strerror or error}."
        ) from None
    return matrix, found


def build_lstm(config, *, input_shape, num_classes):
    """Builds a recurrent text classifier on token ids.

    Args:
        config: An `LSTMConfig`.
        input_shape: `(sequence_length,)` token ids from the `TextVectorization`
            that `adapt_lstm` fits; the exported model takes raw strings.
        num_classes: Number of classes (2 gives one sigmoid unit).

    Example:
    >>> model = build_lstm(lstm_tiny(), input_shape=(8,), num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    if num_classes is None:
        raise ConfigError(
            "lstm is a text classifier; use lstm_forecaster for time series."
        )
    if tuple(input_shape) != (config.sequence_length,):
        raise ConfigError(
            f"lstm takes {config.sequence_length} token ids per text, got input_shape "
            f"{tuple(input_shape)}; train it through `zoo train` (which adapts the vocabulary) "
            "or set sequence_length to match."
        )
    # Any length: training batches come trimmed to their longest text
    # (`trim_padding`); the exported vectorizer pads to `sequence_length`.
    inputs = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    embedding = keras.layers.Embedding(
        config.max_tokens,
        config.embedding_dim,
        mask_zero=True,
        trainable=config.train_embeddings,
        embeddings_initializer=keras.initializers.RandomUniform(
            -0.05, 0.05, seed=config.seed
        ),
        name="embedding",
    )
    x = embedding(inputs)
    x = recurrent_stack(x, config)
    outputs = head(x, config, num_classes)
    return keras.Model(inputs, outputs, name="lstm")


def initialize_lstm(model, config, bundle):
    """Copies the word vectors that `adapt_lstm` laid out into the embedding."""
    matrix = bundle.extras.get("embedding_matrix")
    if config.pretrained_embeddings and matrix is None:
        raise ConfigError(
            "pretrained_embeddings needs the vocabulary: build the model through "
            "`zoo train` / `tuning.train.train`, which adapts it first."
        )
    if matrix is not None:
        model.get_layer("embedding").set_weights([matrix])


def token_lengths(token_ids):
    """Tokens of each text in a batch (`TextVectorization` pads with zeros)."""
    return tf.reduce_sum(tf.cast(tf.not_equal(token_ids, 0), tf.int32), axis=-1)


def trim_padding(token_ids, label):
    """Cuts the padding columns that no text of the batch reaches.

    `TextVectorization` pads every text with zeros to `sequence_length`;
    the embedding masks them, so the recurrent layers step over them for
    nothing. Cut to the batch's longest text, the result is the same and a
    step is shorter (bench/results/throughput.md).
    """
    longest = tf.maximum(tf.reduce_max(token_lengths(token_ids)), 1)
    return token_ids[:, :longest], label


def adapt_lstm(config, bundle):
    """Fits the vocabulary on the training split and maps the splits to token ids.

    Sets `bundle.preprocessor` (the `TextVectorization`) and
    `bundle.raw_inputs`, so the exported model takes raw strings. With
    `pretrained_embeddings`, also prepares the embedding matrix for `build`.
    """
    x_spec = bundle.train.element_spec[0]
    if x_spec.dtype != tf.string:
        raise DataError("lstm needs raw text; give it labelled text (CSV/TSV/folder).")
    vectorizer = make_vectorizer(config)
    vectorizer.adapt(
        bundle.train.map(lambda x, y: x, num_parallel_calls=tf.data.AUTOTUNE).batch(512)
    )
    vocabulary = vectorizer.get_vocabulary()

    def vectorize(text, label):
        return vectorizer(tf.expand_dims(text, 0))[0], label

    adapted = bundle.map(vectorize)
    if not config.jit_compile:
        # XLA compiles once per shape: trimmed batches would recompile often.
        adapted.batch_map = trim_padding
        if config.group_by_length:
            adapted.lengths = token_lengths
    adapted.input_shape = (config.sequence_length,)
    adapted.preprocessor = vectorizer
    adapted.raw_inputs = lambda: keras.Input(shape=(), dtype="string", name="text")
    adapted.info = {**bundle.info, "vocabulary_size": len(vocabulary)}
    if config.pretrained_embeddings:
        matrix, found = read_word_vectors(
            config.pretrained_embeddings,
            vocabulary,
            config.embedding_dim,
            seed=config.seed or 0,
        )
        full = np.zeros((config.max_tokens, config.embedding_dim), dtype="float32")
        full[: len(matrix)] = matrix
        adapted.extras = {**bundle.extras, "embedding_matrix": full}
        adapted.info["pretrained_coverage"] = round(
            found / max(len(vocabulary) - 2, 1), 4
        )
    return adapted


register_family(
    Family(
        name="lstm",
        config_class=LSTMConfig,
        build=build_lstm,
        compile=default_compile,
        data_kind="text",
        default_data="rotten_tomatoes",
        adapt=adapt_lstm,
        initialize=initialize_lstm,
        epochs=10,
        batch_size=32,
        description="Recurrent (LSTM/GRU/SimpleRNN) text classifier on word embeddings.",
    )
)


@register_model(family="lstm")
def lstm_small():
    """One LSTM layer of 64 units on 100-d word embeddings."""
    return LSTMConfig()


@register_model(family="lstm")
def lstm_bidirectional():
    """Two bidirectional LSTM layers (64, 32), dropout 0.3."""
    return LSTMConfig(rnn_units=(64, 32), bidirectional=True, dropout_rate=0.3)


@register_model(family="lstm")
def gru_small():
    """One GRU layer of 64 units."""
    return LSTMConfig(rnn_type="gru")


@register_model(family="lstm")
def simple_rnn_small():
    """One SimpleRNN layer of 64 units (a baseline for the gated cells)."""
    return LSTMConfig(rnn_type="simple_rnn")


@register_model(family="lstm", tiny=True)
def lstm_tiny():
    """A 4-unit LSTM on 8 tokens of a 50-word vocabulary, for tests."""
    return LSTMConfig(
        rnn_units=(4,),
        max_tokens=50,
        sequence_length=8,
        embedding_dim=4,
        dropout_rate=0.0,
    )


@register_model(family="lstm", tiny=True)
def gru_bidirectional_tiny():
    """Two bidirectional GRU layers of 3 units, for tests."""
    return LSTMConfig(
        rnn_type="gru",
        rnn_units=(3, 3),
        bidirectional=True,
        max_tokens=50,
        sequence_length=8,
        embedding_dim=4,
        dense_units=4,
    )


# ---------------------------------------------------------------- forecasting


@keras.saving.register_keras_serializable(package="zoo")
class AddLastValue(keras.layers.Layer):
    """Adds the window's last value of input column `column` to every output.

    The network then predicts the change from now, and a zero output is the
    persistence forecast (tomorrow = today).
    """

    def __init__(self, column=0, **kwargs):
        super().__init__(**kwargs)
        self.column = int(column)

    def call(self, window, change):
        last = ops.cast(window[:, -1, self.column : self.column + 1], change.dtype)
        return change + last

    def compute_output_shape(self, window_shape, change_shape):
        return change_shape

    def get_config(self):
        return {**super().get_config(), "column": self.column}


@dataclasses.dataclass
class LSTMForecasterConfig(BaseConfig, _RecurrentFields):
    """Config of a recurrent forecaster.

    Attributes:
        rnn_type, rnn_units, bidirectional, dropout_rate, recurrent_dropout,
            dense_units, seed: As for `LSTMConfig`.
        window: Past time steps the model sees.
        horizon: Future steps of the target it predicts (1 = one step ahead).
        predict_change: Predict the change from the last observed target
            value (which the loader puts in input column 0) rather than the
            level.
    """

    dropout_rate: float = 0.0
    window: int = 30
    horizon: int = 1
    predict_change: bool = True
    # Measured by bench.throughput on the stock prices (2026-11-25, quiet
    # machine): XLA fuses the 30-step recurrent loop (1.6x the NumPy-into-fit
    # reference alone), and 8 steps per call on top trains at 2.95x; spe 8
    # without XLA gives 1.5x, the plain default 1.2x.
    jit_compile: bool = True
    steps_per_execution: int = 8

    def validate(self):
        super().validate()
        self._validate_stack()
        if self.window < 1 or self.horizon < 1:
            raise ConfigError(
                f"window and horizon must be >= 1, got {self.window} and {self.horizon}."
            )


def build_lstm_forecaster(config, *, input_shape, num_classes=None):
    """Builds a recurrent forecaster: `(window, features)` -> `(horizon,)`.

    Args:
        config: An `LSTMForecasterConfig`.
        input_shape: `(window, num_features)`; column 0 is the target.
        num_classes: Must be None.

    Example:
    >>> model = build_lstm_forecaster(lstm_forecaster_tiny(), input_shape=(6, 2))
    >>> model.output_shape
    (None, 2)
    """
    if num_classes is not None:
        raise ConfigError(
            "lstm_forecaster predicts numbers; use lstm for text classification."
        )
    input_shape = tuple(input_shape)
    if len(input_shape) != 2 or input_shape[0] != config.window:
        raise ConfigError(
            f"lstm_forecaster takes windows of shape ({config.window}, features), got {input_shape}; "
            "set window to match the data."
        )
    inputs = keras.Input(shape=input_shape, name="window")
    x = recurrent_stack(inputs, config)
    outputs = head(x, config, None, units=config.horizon)
    if config.predict_change:
        outputs = AddLastValue(0, name="add_last_value")(inputs, outputs)
    return keras.Model(inputs, outputs, name="lstm_forecaster")


def forecaster_data_options(config):
    return {"window": config.window, "horizon": config.horizon}


def _collect(dataset):
    xs, ys = [], []
    for x, y in dataset.batch(1024):
        xs.append(x.numpy())
        ys.append(y.numpy())
    if not xs:
        raise DataError(
            "The test split holds no window; lower window/horizon or raise test_split."
        )
    return np.concatenate(xs), np.concatenate(ys)


def evaluate_forecaster(model, config, bundle, run_dir):
    """Test RMSE/MAE in original units, the persistence baseline's, and a plot.

    Persistence repeats the last observed target value for every horizon
    step, on exactly the test windows the model sees.
    """
    windows, targets = _collect(bundle.test)
    predictions = model.predict(windows, verbose=0, batch_size=256)
    mean, std = bundle.extras["target_mean"], bundle.extras["target_std"]

    def original(values):
        return np.asarray(values, "float64") * std + mean

    truth = original(targets)
    forecast = original(predictions)
    persistence = original(np.repeat(windows[:, -1, :1], targets.shape[1], axis=1))
    metrics = {}
    for name, values in (("test", forecast), ("persistence_test", persistence)):
        error = values - truth
        metrics[f"{name}_rmse_original"] = float(np.sqrt(np.mean(error**2)))
        metrics[f"{name}_mae_original"] = float(np.mean(np.abs(error)))
    metrics["rmse_ratio_to_persistence"] = metrics["test_rmse_original"] / max(
        metrics["persistence_test_rmse_original"], 1e-12
    )
    if run_dir:
        _plot_forecast(bundle, truth, forecast, persistence, metrics, run_dir)
    return metrics


def _plot_forecast(bundle, truth, forecast, persistence, metrics, run_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dates = bundle.extras.get("test_dates")
    x_axis = (
        np.asarray(dates, dtype="datetime64[ns]")
        if dates is not None
        else np.arange(len(truth))
    )
    figure, axis = plt.subplots(figsize=(10, 4))
    axis.plot(x_axis, truth[:, 0], label="actual", color="black", linewidth=1)
    axis.plot(
        x_axis,
        forecast[:, 0],
        label=f"model (RMSE {metrics['test_rmse_original']:.4g})",
        linewidth=1,
    )
    axis.plot(
        x_axis,
        persistence[:, 0],
        label=f"persistence (RMSE {metrics['persistence_test_rmse_original']:.4g})",
        linewidth=1,
        linestyle="--",
    )
    axis.set_title(
        f"{bundle.extras.get('target_column', 'target')}: one-step-ahead forecast, test split"
    )
    axis.legend()
    figure.autofmt_xdate()
    plots = os.path.join(run_dir, "plots")
    os.makedirs(plots, exist_ok=True)
    figure.savefig(os.path.join(plots, "forecast.png"), dpi=100, bbox_inches="tight")
    plt.close(figure)


register_family(
    Family(
        name="lstm_forecaster",
        config_class=LSTMForecasterConfig,
        build=build_lstm_forecaster,
        compile=default_compile,
        data_kind="timeseries",
        default_data="stock_prices",
        data_options=forecaster_data_options,
        evaluate=evaluate_forecaster,
        epochs=20,
        batch_size=32,
        description="Recurrent forecaster of one or many series, one or many steps ahead.",
    )
)


@register_model(family="lstm_forecaster")
def lstm_forecaster_small():
    """One LSTM layer of 64 units on 30-step windows, one step ahead."""
    return LSTMForecasterConfig()


@register_model(family="lstm_forecaster")
def gru_forecaster_small():
    """One GRU layer of 64 units on 30-step windows, one step ahead."""
    return LSTMForecasterConfig(rnn_type="gru")


@register_model(family="lstm_forecaster")
def lstm_forecaster_multistep():
    """Two LSTM layers (64, 32) on 60-step windows, 5 steps ahead."""
    return LSTMForecasterConfig(rnn_units=(64, 32), window=60, horizon=5)


@register_model(family="lstm_forecaster", tiny=True)
def lstm_forecaster_tiny():
    """A 4-unit LSTM on 6-step windows, 2 steps ahead, for tests."""
    return LSTMForecasterConfig(rnn_units=(4,), window=6, horizon=2)

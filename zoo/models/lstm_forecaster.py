"""Recurrent forecaster (the "lstm_forecaster" family).

Windows of one or many series (scaled with statistics of the training part
only, see `zoo.datasets.timeseries`) to the next `horizon` values of the
target. By default the network predicts the change from the last observed
value, so an untrained model starts as the persistence forecast. `evaluate`
reports RMSE/MAE in original units next to the persistence baseline on the
same test windows, and plots the forecast.
"""

import dataclasses

import keras
import matplotlib.figure
import numpy as np
from keras import ops

from zoo.compile import default_compile
from zoo.config import BaseConfig
from zoo.errors import ConfigError, DataError
from zoo.preprocessing import Preprocessing
from zoo.recurrent import RecurrentFields, head, recurrent_stack
from zoo.registry import Evaluation, Family, register_family, register_model


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
class LSTMForecasterConfig(BaseConfig, RecurrentFields):
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


def adapt_forecaster(config, bundle):
    """Standard scaling fitted on the training rows only.

    The network sees scaled windows and learns scaled targets; the exported
    model puts the `Normalization` in front and a `Rescaling` back to the
    target's units behind, so it takes raw windows and answers in the
    series' units.
    """
    del config
    rows = np.asarray(bundle.extras["train_rows"], "float64")
    mean = rows.mean(axis=0)
    std = np.where(rows.std(axis=0) > 0, rows.std(axis=0), 1.0)
    shape = tuple(bundle.input_shape)
    target_mean, target_std = float(mean[0]), float(std[0])
    normalization = keras.layers.Normalization(
        axis=-1,
        mean=mean.tolist(),
        variance=(std**2).tolist(),
        name="normalization",
    )
    # Built here: tf.data maps it in graph mode, where it cannot make weights.
    normalization.build((None, *shape))
    return Preprocessing(
        layer=normalization,
        raw_inputs=lambda: keras.Input(shape=shape, name="raw_window"),
        input_shape=shape,
        target_layer=lambda y: (y - target_mean) / target_std,
        postprocessor=keras.layers.Rescaling(
            target_std, offset=target_mean, name="to_original_units"
        ),
        info={
            "scaling": "standard, fitted on the training rows",
            "target_mean": target_mean,
            "target_std": target_std,
        },
    )


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


def evaluate_forecaster(model, config, bundle):
    """Test RMSE/MAE in original units, the persistence baseline's, and a plot.

    `bundle` holds scaled windows; its `info` the target's scale. Persistence
    repeats the last observed target value for every horizon step, on
    exactly the test windows the model sees.
    """
    windows, targets = _collect(bundle.test)
    predictions = model.predict(windows, verbose=0, batch_size=256)
    mean, std = bundle.info["target_mean"], bundle.info["target_std"]

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
    figure = _plot_forecast(bundle, truth, forecast, persistence, metrics)
    return Evaluation(metrics=metrics, figures={"forecast.png": figure})


def _plot_forecast(bundle, truth, forecast, persistence, metrics):
    dates = bundle.extras.get("test_dates")
    x_axis = (
        np.asarray(dates, dtype="datetime64[ns]")
        if dates is not None
        else np.arange(len(truth))
    )
    figure = matplotlib.figure.Figure(figsize=(10, 4))
    axis = figure.subplots()
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
    return figure


SEARCH_SPACE = {
    "rnn_type": ["lstm", "gru"],
    "num_layers": {"min": 1, "max": 2},
    "units": [16, 32, 64],
    "window": [15, 30, 60],
    "dropout_rate": {"min": 0.0, "max": 0.3, "step": 0.1},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
}


def forecaster_space_to_config(values):
    """`num_layers` recurrent layers of `units` each."""
    values = dict(values)
    units, layers = values.pop("units"), values.pop("num_layers")
    return {**values, "rnn_units": (units,) * layers}


register_family(
    Family(
        name="lstm_forecaster",
        tasks=("forecast",),
        search_space=SEARCH_SPACE,
        space_to_config=forecaster_space_to_config,
        config_class=LSTMForecasterConfig,
        build=build_lstm_forecaster,
        compile=default_compile,
        data_kind="timeseries",
        default_data="stock_prices",
        data_options=forecaster_data_options,
        adapt=adapt_forecaster,
        adapt_fields=(),  # Fitted on the data alone.
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

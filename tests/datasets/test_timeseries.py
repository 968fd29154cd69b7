"""Time-series pipeline: date detection, chronological split, train-only scaling, windows."""

import keras
import numpy as np
import pandas as pd
import pytest

from zoo.datasets.base import load_data
from zoo.datasets.timeseries import load_timeseries
from zoo.errors import DataError, ZooError


def _csv(tmp_path, rows=100, shuffle=True):
    dates = pd.date_range("2021-01-01", periods=rows, freq="D")
    frame = pd.DataFrame(
        {
            "day": dates.strftime("%Y-%m-%d"),
            "sales": np.arange(rows, dtype=float),
            "promo": np.arange(rows) % 7,
        }
    )
    if shuffle:  # rows out of order: the loader sorts by date
        frame = frame.sample(frac=1.0, random_state=0)
    path = tmp_path / "sales.csv"
    frame.to_csv(path, index=False)
    return path


def _all(dataset):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in dataset])
    return np.stack(xs), np.stack(ys)


def test_detects_date_sorts_and_splits_chronologically(tmp_path):
    bundle = load_timeseries(
        str(_csv(tmp_path)),
        target="sales",
        window=5,
        horizon=2,
        validation_split=0.2,
        test_split=0.2,
    )
    info = bundle.info
    assert info["detected"] == {"date_column": "day", "target": "sales", "features": []}
    assert info["train_rows"] == 60 and bundle.input_shape == (5, 1)
    # The training rows (values 0..59) are there for the model's scaling.
    np.testing.assert_allclose(bundle.extras["train_rows"][:, 0], np.arange(60))
    x, y = _all(bundle.train)
    assert len(x) == info["train_size"] == 60 - 7 + 1
    # Windows and targets in the series' units; targets follow their window.
    np.testing.assert_allclose(x[0, :, 0], [0, 1, 2, 3, 4], atol=1e-4)
    np.testing.assert_allclose(y[0], [5, 6], atol=1e-4)
    assert y.max() <= 59 + 1e-3  # no train target from the validation rows
    x, y = _all(bundle.test)
    # Test targets all lie in the last 20 rows; inputs may reach back before them.
    assert y.min() == pytest.approx(80, abs=1e-3) and y.max() == pytest.approx(
        99, abs=1e-3
    )
    assert x[0, 0, 0] == pytest.approx(75, abs=1e-3)
    assert str(bundle.extras["test_dates"][0])[:10] == "2021-03-22"  # row 80


def test_features_and_multistep_shapes(tmp_path):
    bundle = load_timeseries(
        str(_csv(tmp_path)), target="sales", features="promo", window=4, horizon=3
    )
    assert bundle.input_shape == (4, 2)
    x, y = next(iter(bundle.train.batch(8)))
    assert x.shape == (8, 4, 2) and y.shape == (8, 3)
    assert bundle.task == "forecast" and bundle.num_classes is None
    every = load_timeseries(
        str(_csv(tmp_path)), target="sales", features="all", window=4
    )
    assert every.info["detected"]["features"] == ["promo"]


def test_forecaster_scaling_is_fitted_on_training_rows_and_round_trips(tmp_path):
    from zoo.models.lstm_forecaster import adapt_forecaster

    bundle = load_timeseries(
        str(_csv(tmp_path, shuffle=False)), target="sales", window=3
    )
    preprocessing = adapt_forecaster(None, bundle)
    rows = bundle.extras["train_rows"][:, 0]
    raw = np.array([[[10.0], [11.0], [12.0]]], dtype="float32")
    scaled = keras.ops.convert_to_numpy(preprocessing.layer(raw))
    np.testing.assert_allclose(
        scaled[0, :, 0], (raw[0, :, 0] - rows.mean()) / rows.std(), rtol=1e-5
    )
    back = keras.ops.convert_to_numpy(preprocessing.postprocessor(scaled[:, :, 0]))
    np.testing.assert_allclose(back, raw[:, :, 0], rtol=1e-5)
    target = keras.ops.convert_to_numpy(preprocessing.target_layer(raw[:, :, 0]))
    np.testing.assert_allclose(target, scaled[:, :, 0], rtol=1e-5)


def test_covariates_are_scaled_on_the_training_rows_only(tmp_path):
    from zoo.models.lstm_forecaster import adapt_forecaster

    bundle = load_timeseries(
        str(_csv(tmp_path, shuffle=False)), target="sales", features="promo", window=3
    )
    assert bundle.info["covariates"] == ["promo"] and bundle.info["target"] == "sales"
    assert bundle.info["columns"] == ["sales", "promo"]
    normalization = adapt_forecaster(None, bundle).layer
    train_promo = np.arange(bundle.info["train_rows"]) % 7
    np.testing.assert_allclose(
        np.ravel(normalization.mean)[1], train_promo.mean(), rtol=1e-5
    )
    np.testing.assert_allclose(
        np.ravel(normalization.variance)[1], train_promo.var(), rtol=1e-4
    )
    with pytest.raises(DataError, match=r"Did you mean 'promo'.*--features"):
        load_timeseries(str(_csv(tmp_path)), target="sales", features="prom")


def test_gaps_are_interpolated(tmp_path):
    path = tmp_path / "gappy.csv"
    path.write_text(
        "date,value\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n"
        + "".join(f"2020-02-{d:02d},{d}\n" for d in range(1, 29))
    )
    bundle = load_timeseries(str(path), window=3)
    assert bundle.info["filled_gaps"] == 1


def test_embedded_series():
    stocks = load_data("stock_prices", kind="timeseries", window=10)
    assert stocks.info["detected"]["target"] == "close" and stocks.info["rows"] == 3270
    assert stocks.info["test_first_date"] > stocks.info["validation_first_date"]
    co2 = load_data("co2", kind="timeseries", window=10, horizon=2)
    assert co2.info["filled_gaps"] == 59 and co2.input_shape == (10, 1)


def test_errors(tmp_path):
    path = _csv(tmp_path)
    assert (
        load_timeseries(str(path)).info["detected"]["target"] == "sales"
    )  # a known name
    ambiguous = tmp_path / "ambiguous.csv"
    ambiguous.write_text(
        "date,a,b\n" + "".join(f"2020-01-{d:02d},{d},{-d}\n" for d in range(1, 29))
    )
    with pytest.raises(DataError, match="several numeric columns"):
        load_timeseries(str(ambiguous))
    with pytest.raises(DataError, match="Column 'salez' is not in"):
        load_timeseries(str(path), target="salez")
    with pytest.raises(DataError, match="too few"):
        load_timeseries(str(path), target="sales", window=90)
    no_date = tmp_path / "nodate.csv"
    no_date.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match="No date column"):
        load_timeseries(str(no_date))
    twice = tmp_path / "twice.csv"
    twice.write_text("date,v\n2020-01-01,1\n2020-01-01,2\n")
    with pytest.raises(DataError, match="two rows dated"):
        load_timeseries(str(twice))
    with pytest.raises(ZooError, match="do not apply"):
        load_data("co2", kind="timeseries", target="x")

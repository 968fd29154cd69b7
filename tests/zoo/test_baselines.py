"""The scikit-learn baselines written beside every network's test metrics."""

import numpy as np
import pandas as pd
import pytest

from zoo.baselines import (
    as_metrics,
    bundle_baseline,
    comparison_line,
    image_baseline,
    tabular_baseline,
    text_baseline,
    too_large,
)
from zoo.datasets.base import load_data


def _table(rows, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    colour = rng.choice(["red", "blue"], size=rows)
    # The class is x's sign, flipped for blue rows: neither column alone tells it.
    y = ((x > 0) ^ (colour == "blue")).astype(int)
    x[::7] = np.nan  # gaps the imputer fills
    frame = pd.DataFrame({"x": x, "colour": colour})
    frame["xb"] = frame["x"] * (colour == "blue")
    return frame, np.where(np.isnan(x), 0, y)


def test_tabular_logistic_regression_uses_numbers_and_categories():
    train, y_train = _table(300, 0)
    test, y_test = _table(200, 1)
    test.loc[0, "colour"] = "green"  # a category the training split never saw
    baseline = tabular_baseline(
        train,
        y_train,
        test,
        y_test,
        numeric=["x", "xb"],
        categorical=["colour"],
        task="binary",
    )
    assert baseline["name"] == "logistic regression"
    assert baseline["accuracy"] > 0.85 and baseline["auc"] > 0.9
    majority = np.mean(y_test == np.bincount(y_train).argmax())
    assert baseline["majority_accuracy"] == pytest.approx(majority)
    numbers_only = tabular_baseline(
        train, y_train, test, y_test, numeric=["x"], categorical=[], task="binary"
    )
    assert numbers_only["accuracy"] < baseline["accuracy"] - 0.2


def test_tabular_regression_is_ridge_in_the_targets_units():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    y = 100 + 30 * frame["a"] - 20 * frame["b"] + rng.normal(scale=2, size=400)
    baseline = tabular_baseline(
        frame[:300],
        y[:300],
        frame[300:],
        y[300:],
        numeric=["a", "b"],
        categorical=[],
        task="regression",
    )
    assert baseline["name"] == "linear regression"
    assert 1 < baseline["rmse"] < 3 and baseline["mae"] < baseline["rmse"]
    assert "majority_accuracy" not in baseline


def test_text_baseline_reads_words():
    good = [f"a good film number {i}" for i in range(40)]
    bad = [f"a bad film number {i}" for i in range(40)]
    texts, labels = good + bad, [1] * 40 + [0] * 40
    baseline = text_baseline(
        texts[::2], labels[::2], texts[1::2], labels[1::2], task="binary"
    )
    assert baseline["name"] == "TF-IDF + logistic regression"
    assert baseline["accuracy"] == 1.0


def test_image_baseline_on_pixels_or_majority_class():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=90)
    images = rng.integers(0, 60, size=(90, 8, 8, 1)) + 60 * labels[:, None, None, None]
    baseline = image_baseline(
        images[:60], labels[:60], images[60:], labels[60:], task="multiclass"
    )
    assert baseline["name"] == "logistic regression on pixels"
    assert baseline["accuracy"] > 0.9
    assert not too_large((64, 64, 3), 20_000)
    assert too_large((65, 64, 1), 100) and too_large((32, 32, 3), 20_001)
    skipped = image_baseline(None, labels[:60], None, labels[60:], task="multiclass")
    assert skipped["name"] == "majority class" and "skipped" in skipped["note"]
    majority = np.mean(labels[60:] == np.bincount(labels[:60]).argmax())
    assert skipped["accuracy"] == pytest.approx(majority)


def test_bundle_baseline_on_the_loaders_own_split():
    bundle = load_data("titanic", kind="tabular", seed=0)
    metrics = as_metrics(bundle_baseline("tabular", bundle))
    assert metrics["baseline_name"] == "logistic regression"
    assert 0.6 < metrics["baseline_accuracy"] < 0.9
    assert metrics["baseline_majority_accuracy"] < metrics["baseline_accuracy"]
    # Forecasts keep their persistence baseline.
    assert bundle_baseline("timeseries", bundle) == {}


def test_comparison_line():
    metrics = {
        "test_accuracy": 0.787,
        "test_loss": 0.4,
        "baseline_name": "logistic regression",
        "baseline_accuracy": 0.775,
        "baseline_majority_accuracy": 0.62,
    }
    assert comparison_line(metrics) == (
        "test_accuracy=0.787 (baseline logistic regression 0.775), majority class 0.620"
    )
    assert comparison_line({"test_rmse": 3.0}) is None

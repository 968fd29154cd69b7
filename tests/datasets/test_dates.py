"""Date columns become year, month and day-of-week features, at training and
prediction time, instead of being dropped as identifier-like text."""

import numpy as np
import pandas as pd

from zoo.datasets.table_columns import rows_to_inputs
from zoo.datasets.tabular import bundle_from_frame


def _frame(rows=120):
    days = pd.date_range("2020-01-01", periods=rows, freq="3D")
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "when": days.strftime("%Y-%m-%d"),
            "amount": rng.normal(size=rows),
            "label": (days.dayofweek >= 5).astype(int),
        }
    )


def test_date_column_becomes_numeric_parts():
    bundle = bundle_from_frame(_frame(), target="label", name="toy", seed=0)
    info = bundle.info
    assert info["date_columns"] == {
        "when": ["when_year", "when_month", "when_dayofweek"]
    }
    assert "when" not in info["dropped_columns"]
    assert {"when_year", "when_month", "when_dayofweek"} <= set(info["numeric_columns"])
    features, _ = next(iter(bundle.train.batch(500)))
    assert set(np.unique(features["when_dayofweek"].numpy())) <= set(range(7))


def test_prediction_rows_derive_the_same_parts():
    raw_columns = {
        "amount": "numeric",
        "when_year": "numeric",
        "when_dayofweek": "numeric",
    }
    rows = pd.DataFrame({"amount": ["1.5"], "when": ["2024-03-02"]})  # a Saturday
    inputs = rows_to_inputs(rows, raw_columns)
    assert float(inputs["when_year"][0, 0]) == 2024.0
    assert float(inputs["when_dayofweek"][0, 0]) == 5.0


def test_data_summary_names_every_column_and_the_class_balance():
    from zoo.tuning.artifacts import data_summary

    frame = _frame()
    frame["ticket"] = [f"T{i}" for i in range(len(frame))]
    bundle = bundle_from_frame(frame, target="label", name="toy", seed=0)
    text = "\n".join(data_summary(bundle))
    assert "rows: train" in text and "validation" in text
    assert "numeric: amount" in text
    assert "date -> year, month, day of week: when" in text
    assert "dropped ticket: identifier-like text" in text
    assert "class balance (train):" in text and "%" in text

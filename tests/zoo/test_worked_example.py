"""The worked gradient-descent table: its numbers follow the chain rule."""

import numpy as np
import pandas as pd
import pytest

from zoo.errors import ConfigError
from zoo.fundamentals.worked_example import (
    START_WEIGHTS,
    worked_example,
    write_worked_example,
)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _hand_gradients(w, x, y):
    """The chain rule written out by hand for the 2-2-1 sigmoid network."""
    h1 = _sigmoid(w["w11"] * x[0] + w["w21"] * x[1] + w["b1"])
    h2 = _sigmoid(w["w12"] * x[0] + w["w22"] * x[1] + w["b2"])
    p = _sigmoid(w["v1"] * h1 + w["v2"] * h2 + w["c"])
    d_out = 2 * (p - y) * p * (1 - p)
    d_h1 = d_out * w["v1"] * h1 * (1 - h1)
    d_h2 = d_out * w["v2"] * h2 * (1 - h2)
    return {
        "w11": d_h1 * x[0],
        "w21": d_h1 * x[1],
        "b1": d_h1,
        "w12": d_h2 * x[0],
        "w22": d_h2 * x[1],
        "b2": d_h2,
        "v1": d_out * h1,
        "v2": d_out * h2,
        "c": d_out,
    }, (y - p) ** 2


def test_table_follows_the_chain_rule_and_the_sgd_step():
    table = worked_example(learning_rate=0.5).set_index("quantity")
    weights = dict(START_WEIGHTS)
    for column, (x, y) in zip(
        table.columns, [((0.05, 0.10), 0.01), ((0.6, 0.2), 0.99)]
    ):
        gradients, loss = _hand_gradients(weights, x, y)
        assert table.loc["loss (y - prediction)^2", column] == pytest.approx(loss)
        for name, gradient in gradients.items():
            assert table.loc[f"{name} before", column] == pytest.approx(weights[name])
            assert table.loc[f"dL/d{name}", column] == pytest.approx(gradient)
            after = weights[name] - 0.5 * gradient
            assert table.loc[f"{name} after", column] == pytest.approx(after)
            weights[name] = after
    # The first step lowered the loss on the first example.
    after_first = {name: table.loc[f"{name} after", "example 1"] for name in weights}
    loss_after = _hand_gradients(after_first, (0.05, 0.10), 0.01)[1]
    assert loss_after < table.loc["loss (y - prediction)^2", "example 1"]


def test_written_files_hold_the_same_table(tmp_path):
    paths = write_worked_example(str(tmp_path), learning_rate=0.1)
    csv = pd.read_csv(paths["csv"])
    expected = worked_example(learning_rate=0.1)
    pd.testing.assert_frame_equal(csv, expected)
    with open(paths["markdown"], encoding="utf-8") as handle:
        markdown = handle.read().splitlines()
    assert markdown[0] == "| quantity | example 1 | example 2 |"
    assert len(markdown) == 2 + len(expected)
    assert any(line.startswith("| dL/dw11 |") for line in markdown)


def test_bad_start_weights_are_named():
    with pytest.raises(ConfigError, match="w11"):
        worked_example(start_weights={"w11": 0.1})

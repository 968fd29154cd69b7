"""`zoo predict` counts categorical values its model never saw."""

import keras
import numpy as np

from zoo.tabular import feature_encoder
from zoo.tuning.predict import unseen_categories


def test_unseen_categories_are_counted_per_column():
    train = {"age": np.array([20.0, 30.0]), "sex": np.array(["f", "m"])}
    encoder = feature_encoder(["age"], ["sex"], train)
    model = keras.Model(encoder.inputs, keras.layers.Dense(1)(encoder.outputs[0]))
    rows = {
        "age": np.array([[1.0], [2.0], [3.0]], "float32"),
        "sex": np.array([["f"], ["x"], ["y"]]),
    }
    assert unseen_categories(model, rows) == [("sex", 2, ["x", "y"])]
    rows["sex"] = np.array([["m"], ["f"], ["m"]])
    assert unseen_categories(model, rows) == []

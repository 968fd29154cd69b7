"""The image MLP and the SGD momentum / Nesterov config fields."""

import keras
import numpy as np
import pytest

from zoo.compile import default_compile
from zoo.config import apply_overrides
from zoo.errors import ConfigError
from zoo.models.mlp import MLPConfig
from zoo.models.mlp_image import build_mlp_image


def test_image_mlp_learns_two_separable_image_classes():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 60, size=(64, 6, 6, 1)).astype("float32")
    y = np.arange(64) % 2
    x[y == 1, :3] += 180  # class 1: bright top half
    config = apply_overrides(
        MLPConfig(hidden_units=(8,), dropout_rate=0.0),
        {"optimizer": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
    )
    model = build_mlp_image(config, input_shape=(6, 6, 1), num_classes=2)
    default_compile(model, config, num_classes=2)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer.momentum == pytest.approx(0.9) and model.optimizer.nesterov
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"] > 0.95


def test_momentum_is_checked_and_ignored_by_adam():
    with pytest.raises(ConfigError, match="momentum"):
        apply_overrides(MLPConfig(), {"momentum": 1.5})
    config = apply_overrides(MLPConfig(hidden_units=(4,)), {"momentum": 0.9})
    model = build_mlp_image(config, input_shape=(4, 4, 1), num_classes=3)
    default_compile(model, config, num_classes=3)
    assert isinstance(model.optimizer, keras.optimizers.Adam)

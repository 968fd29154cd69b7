"""The grid detector family: build, fit, safe save/load, its grid and config checks."""

import numpy as np
import pytest

from tests.helpers import run_model_test
from zoo.box_losses import GridDetectionLoss
from zoo.errors import ConfigError
from zoo.registry import create_model, get_family, resolve_config


def scenes(count, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size, 1), "float32")
    targets = np.full((count, 3, 5), -1.0, "float32")
    for index in range(count):
        for slot, left in enumerate((2, 18)):
            top = int(rng.integers(0, size - 10))
            images[index, top : top + 10, left : left + 10] = 255.0 if slot else 120.0
            targets[index, slot] = [
                slot,
                left / size,
                top / size,
                (left + 10) / size,
                (top + 10) / size,
            ]
    return images, targets


def test_tiny_detector_builds_fits_and_loads_safely(tmp_path):
    x, y = scenes(4)
    model = run_model_test(
        "cnn_detector_tiny",
        input_shape=(32, 32, 1),
        num_classes=2,
        x=x,
        y=y,
        tmp_path=tmp_path,
    )
    assert model.output_shape == (None, 8, 8, 7)
    assert isinstance(model.loss, GridDetectionLoss)


@pytest.mark.parametrize(
    "name, grid",
    [
        ("cnn_detector_small", 12),
        ("cnn_detector_lenet5", 12),
        ("cnn_detector_deep", 12),
    ],
)
def test_three_trunks_give_a_grid_on_96_pixel_scenes(name, grid):
    model = create_model(name, input_shape=(96, 96, 1), num_classes=10)
    assert model.output_shape == (None, grid, grid, 15)


def test_search_space_maps_to_a_valid_config():
    family = get_family("cnn_detector")
    values = {
        key: (
            rule[0] if isinstance(rule, list) else rule.get("default", rule.get("min"))
        )
        for key, rule in family.search_space.items()
    }
    overrides = family.space_to_config(values)
    config = resolve_config("cnn_detector", overrides)[1]
    config.validate()
    assert config.filters == (16, 32, 64) and config.head_filters == (128, 128)


def test_config_checks():
    with pytest.raises(ConfigError, match="iou_threshold"):
        resolve_config("cnn_detector", iou_threshold=0.0)[1].validate()
    with pytest.raises(ConfigError, match="too small|pooled away"):
        create_model("cnn_detector_deep", input_shape=(4, 4, 1), num_classes=3)

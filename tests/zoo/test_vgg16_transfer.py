"""VGG16 transfer learning: shared test, heads, preprocessing, weights errors, fine-tuning."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_model_test
from zoo.errors import ConfigError, ZooError
from zoo.models.vgg16_transfer import (
    VGG16Preprocess,
    VGG16TransferConfig,
    build_vgg16_transfer,
    fine_tune,
)
from zoo.registry import create_model, get_family, list_models, resolve_config

TINY = {"weights": "random", "input_size": 32, "dense_units": (8,), "dropout_rate": 0.0}


def _images(count, size=32, seed=0):
    return (
        np.random.RandomState(seed)
        .uniform(0, 255, size=(count, size, size, 3))
        .astype("float32")
    )


def test_vgg16_tiny_shared(tmp_path):
    x, y = _images(4), np.array([0, 1, 2, 1])
    model = run_model_test(
        "vgg16_tiny",
        input_shape=(32, 32, 3),
        num_classes=3,
        x=x,
        y=y,
        tmp_path=tmp_path,
    )
    base = model.get_layer("vgg16")
    assert not base.trainable and not base.trainable_weights
    assert model.trainable_weights  # the head trains


@pytest.mark.parametrize(
    ("head", "layer"),
    [("conv_block", "head_conv"), ("conv_as_dense", "head_fc_conv_2")],
)
def test_heads(head, layer):
    config = VGG16TransferConfig(
        **{**TINY, "input_size": 64, "dense_units": (8, 4)}, head=head, head_filters=4
    )
    model = build_vgg16_transfer(config, input_shape=(64, 64, 3), num_classes=5)
    assert model.output_shape == (None, 5)
    assert model.get_layer(layer) is not None
    if head == "conv_as_dense":
        assert model.get_layer("head_fc_conv_1").kernel.shape[:2] == (
            2,
            2,
        )  # full extent of the 2x2 map
        assert not [
            lay
            for lay in model.layers
            if isinstance(lay, keras.layers.Dense) and lay.name != "predictions"
        ]
    else:
        assert isinstance(model.get_layer("head_dense_2"), keras.layers.Dense)
    assert np.all(np.isfinite(model.predict(_images(2, 64), verbose=0)))


def test_preprocessing_matches_keras_and_survives_safe_load(tmp_path):
    x = _images(2)
    expected = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(VGG16Preprocess()(x)), expected, rtol=1e-5, atol=1e-3
    )
    model = keras.Sequential([keras.Input((32, 32, 3)), VGG16Preprocess()])
    model.save(tmp_path / "pre.keras")
    loaded = keras.saving.load_model(tmp_path / "pre.keras", safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-3
    )


def test_input_checks():
    with pytest.raises(ConfigError, match="input_size"):
        resolve_config("vgg16_tiny", input_size=16)
    with pytest.raises(ConfigError, match="at least 32x32"):
        create_model("vgg16_tiny", input_shape=(28, 28, 3), num_classes=3)
    with pytest.raises(ConfigError, match="channels=3"):
        create_model("vgg16_tiny", input_shape=(32, 32, 1), num_classes=3)
    with pytest.raises(ConfigError, match="head"):
        resolve_config("vgg16_tiny", head="attention")


def test_data_options_ask_for_rgb_at_input_size():
    family = get_family("vgg16_transfer")
    _, config = resolve_config("vgg16_tiny", input_size=48)
    assert family.data_options(config) == {"image_size": 48, "channels": 3}
    assert family.data_kind == "image" and family.fit is fine_tune


def test_imagenet_weights_offline_is_one_line(tmp_path, monkeypatch):
    import keras.src.backend.config as keras_config
    import keras.src.utils.file_utils as file_utils

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", refuse)
    with pytest.raises(ZooError, match="weights=random") as caught:
        create_model(
            "vgg16_frozen", input_shape=(32, 32, 3), num_classes=3, input_size=32
        )
    message = str(caught.value)
    assert (
        "\n" not in message and "weights=/path/to" in message and "notop.h5" in message
    )


def test_local_weights_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        create_model(
            "vgg16_tiny",
            input_shape=(32, 32, 3),
            num_classes=3,
            weights=str(tmp_path / "nope.h5"),
        )
    source = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    path = tmp_path / "vgg16_notop.weights.h5"
    source.save_weights(path)
    model = create_model(
        "vgg16_tiny", input_shape=(32, 32, 3), num_classes=3, weights=str(path)
    )
    np.testing.assert_array_equal(
        model.get_layer("vgg16").get_layer("block1_conv1").kernel,
        source.layers[1].kernel,
    )


def test_trainable_blocks():
    model = create_model(
        "vgg16_tiny", input_shape=(32, 32, 3), num_classes=3, trainable_blocks=1
    )
    base = model.get_layer("vgg16")
    trainable = {
        layer.name for layer in base.layers if layer.trainable and layer.weights
    }
    assert trainable == {"block5_conv1", "block5_conv2", "block5_conv3"}


def test_two_phase_fine_tuning_is_one_history():
    _, config = resolve_config(
        "vgg16_tiny",
        fine_tune_epochs=1,
        fine_tune_blocks=2,
        fine_tune_learning_rate=1e-5,
    )
    model = build_vgg16_transfer(config, input_shape=(32, 32, 3), num_classes=3)
    get_family("vgg16_transfer").compile(model, config, num_classes=3)
    data = tf.data.Dataset.from_tensor_slices(
        (_images(6), np.array([0, 1, 2] * 2))
    ).batch(3)
    block4 = model.get_layer("vgg16").get_layer("block4_conv1")
    before = block4.kernel.numpy().copy()
    model.steps_per_execution = 2  # As `fit_inputs` tiles the stream.
    history = fine_tune(model, config, data, validation_data=data, epochs=1, verbose=0)
    assert model.steps_per_execution == 2  # Kept through the recompile.
    assert history["phase"] == [1, 2]
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    assert (
        block4.trainable
        and not model.get_layer("vgg16").get_layer("block3_conv1").trainable
    )
    assert float(
        keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    ) == pytest.approx(1e-5)
    assert not np.array_equal(before, block4.kernel.numpy())  # phase 2 moved block 4


def test_variants_registered():
    assert {
        "vgg16_frozen",
        "vgg16_conv_block",
        "vgg16_conv_as_dense",
        "vgg16_fine_tune",
        "vgg16_tiny",
    } <= set(list_models("vgg16*"))


@pytest.mark.slow
def test_head_on_random_vgg16_beats_chance_on_digits(tmp_path):
    from zoo.tuning.train import train

    result = train(
        "vgg16_tiny",
        "digits",
        run_dir=tmp_path / "vgg",
        epochs=3,
        overrides={"dense_units": (64,)},
        verbose=0,
    )
    assert result.metrics["test_accuracy"] > 0.3

"""Small CNNs: shared model test, config checks, real learning, train-and-predict on files."""

import keras
import numpy as np
import pytest
from PIL import Image

from tests.helpers import run_model_test
from zoo.datasets.base import load_data
from zoo.datasets.image_ops import load_image_files
from zoo.errors import ConfigError
from zoo.models.cnn import CNNConfig, build_cnn
from zoo.registry import create_model, get_family, list_models


@pytest.mark.parametrize("num_classes", [2, 3])
def test_cnn_tiny_shared(tmp_path, num_classes):
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 255, size=(4, 28, 28, 1)).astype("float32")
    y = np.array([0, 1, 1, 0]) % num_classes
    model = run_model_test(
        "cnn_tiny",
        input_shape=(28, 28, 1),
        num_classes=num_classes,
        x=x,
        y=y,
        tmp_path=tmp_path,
    )
    assert model.output_shape == (None, 1 if num_classes == 2 else num_classes)


def test_registered_variants_build():
    assert {"cnn_lenet5", "cnn_lenet5_classic", "cnn_deep", "cnn_tiny"} <= set(
        list_models("cnn*")
    )
    lenet = create_model("cnn_lenet5", input_shape=(28, 28, 1), num_classes=10)
    assert lenet.get_layer("block2_conv1").output.shape[1:] == (8, 8, 50)
    deep = create_model("cnn_deep", input_shape=(32, 32, 3), num_classes=10)
    assert any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in deep.layers
    )
    assert deep.output_shape == (None, 10)


def test_input_too_small_for_the_stack():
    with pytest.raises(ConfigError, match="too small"):
        create_model("cnn_lenet5", input_shape=(8, 8, 1), num_classes=10)
    with pytest.raises(ConfigError, match="pooled away"):
        build_cnn(CNNConfig(filters=(4, 4, 4, 4)), input_shape=(8, 8, 1), num_classes=3)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"filters": ()}, "filters"),
        ({"filters": (4, 8), "kernel_sizes": (3, 3, 3)}, "kernel_sizes"),
        ({"pooling": "median"}, "pooling"),
        ({"activation": "softmaxx"}, "activation"),
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"channels": 2}, "channels"),
    ],
)
def test_bad_configs(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_model("cnn_tiny", input_shape=(16, 16, 1), num_classes=3, **overrides)


def test_data_options_follow_the_config():
    family = get_family("cnn")
    assert family.data_kind == "image" and family.default_data == "digits"
    assert family.data_options(CNNConfig()) == {}
    assert family.data_options(CNNConfig(image_size=32, channels=3)) == {
        "image_size": 32,
        "channels": 3,
    }


def test_a_small_cnn_learns_real_digits():
    keras.utils.set_random_seed(0)
    bundle = load_data(
        "digits", kind="image", digits_source="sklearn_digits", image_size=16, seed=0
    )
    config = CNNConfig(
        filters=(8, 16), dense_units=(32,), dense_dropout_rate=0.0, seed=0
    )
    model = build_cnn(
        config, input_shape=bundle.input_shape, num_classes=bundle.num_classes
    )
    get_family("cnn").compile(model, config, num_classes=bundle.num_classes)
    model.fit(bundle.batches("train", 32, seed=0), epochs=4, verbose=0)
    accuracy = model.evaluate(bundle.batches("test", 128), return_dict=True, verbose=0)[
        "accuracy"
    ]
    assert accuracy > 0.85


def _write_folder(root, count=8):
    rng = np.random.RandomState(0)
    for class_name, bright in (("dark", False), ("light", True)):
        (root / class_name).mkdir(parents=True)
        for index in range(count):
            low, high = (160, 255) if bright else (0, 90)
            size = (12, 12) if index % 2 else (20, 16)
            pixels = rng.randint(low, high, size=(*size, 3)).astype("uint8")
            Image.fromarray(pixels, mode="RGB").save(root / class_name / f"{index}.png")


def test_train_then_predict_on_raw_files(tmp_path):
    train = pytest.importorskip("zoo.tuning.train").train
    _write_folder(tmp_path / "pictures")
    result = train(
        "cnn_tiny",
        str(tmp_path / "pictures"),
        run_dir=tmp_path / "run",
        epochs=2,
        batch_size=4,
        overrides={"image_size": 12},
        data_options={"validation_split": 0.25, "test_split": 0.25},
        verbose=0,
    )
    assert "test_accuracy" in result.metrics
    # 12x12x3 images, a handful of them: logistic regression on the pixels.
    assert result.metrics["baseline_name"] == "logistic regression on pixels"
    assert result.metrics["baseline_accuracy"] == 1.0
    loaded = keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    files = [
        str(tmp_path / "pictures" / "dark" / "1.png"),
        str(tmp_path / "pictures" / "light" / "0.png"),
    ]
    x = load_image_files(files, 12, 3)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0),
        result.model.predict(x, verbose=0),
        rtol=1e-4,
        atol=1e-5,
    )
    # Through the run folder, as `zoo predict RUN_DIR FILE...` does.
    predict = pytest.importorskip("zoo.tuning.predict").predict
    table = predict(tmp_path / "run", files)
    assert list(table["input"]) == files
    assert set(table["class"]) <= {"dark", "light"}
    expected = result.model.predict(x, verbose=0)[:, 0]
    np.testing.assert_array_equal(table["class"] == "light", expected >= 0.5)


@pytest.mark.slow
def test_lenet5_reaches_97_percent_on_embedded_digits(tmp_path):
    from zoo.tuning.train import train

    result = train("cnn_lenet5", "digits", run_dir=tmp_path / "lenet", verbose=0)
    assert result.metrics["test_accuracy"] >= 0.97

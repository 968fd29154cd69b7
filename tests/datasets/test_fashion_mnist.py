import gzip
import hashlib
import os

import numpy as np
import pytest

from zoo.datasets import fashion_mnist
from zoo.datasets.base import load_data
from zoo.errors import DataError


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def debian_copy(tmp_path, monkeypatch):
    """A small folder laid out as dataset-fashion-mnist lays out its files,
    with the hash table pointed at these files."""
    rng = np.random.default_rng(0)
    files = {}
    for prefix, count in (("train", 40), ("t10k", 20)):
        split = "train" if prefix == "train" else "test"
        arrays = {
            "labels": (np.arange(count) % 10, 2049, "idx1"),
            "images": (rng.integers(0, 256, (count, 28, 28)), 2051, "idx3"),
        }
        for kind, (array, magic, idx) in arrays.items():
            name = f"{prefix}-{kind}-{idx}-ubyte.gz"
            _write_idx(tmp_path / name, array, magic)
            digest = hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
            files[f"{split}_{kind}"] = (name, digest)
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    monkeypatch.setenv("ZOO_FASHION_MNIST_DIR", str(tmp_path))
    return tmp_path


def test_reads_the_debian_layout_offline(debian_copy):
    (train_x, train_y), (test_x, test_y) = fashion_mnist.load_fashion_mnist_arrays()
    assert train_x.shape == (40, 28, 28) and test_x.shape == (20, 28, 28)
    assert train_x.dtype == np.uint8
    np.testing.assert_array_equal(train_y, np.arange(40) % 10)
    bundle = load_data("fashion_mnist", kind="vae_image", image_size=16)
    assert bundle.input_shape == (16, 16, 1) and bundle.info["test_size"] == 20
    assert bundle.class_names[9] == "ankle boot"
    image_bundle = load_data("fashion_mnist", kind="image", validation_split=0.25)
    assert image_bundle.info["train_size"] == 30


def test_a_changed_file_is_refused(debian_copy):
    path = debian_copy / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DataError, match="SHA-256.*reinstall"):
        fashion_mnist.load_fashion_mnist_arrays()
    with pytest.raises(DataError, match="SHA-256"):
        load_data("fashion_mnist", kind="vae_image")


@pytest.mark.skipif(
    not os.path.isdir(fashion_mnist.DEBIAN_FOLDER),
    reason="apt-get install dataset-fashion-mnist",
)
def test_the_installed_package_matches_its_hashes():
    (train_x, train_y), (test_x, test_y) = fashion_mnist.load_fashion_mnist_arrays()
    assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
    assert np.bincount(test_y).tolist() == [1000] * 10

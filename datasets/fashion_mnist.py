"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package, offline.

`apt-get install dataset-fashion-mnist` puts Zalando's four IDX files in
`/usr/share/datasets/fashion-mnist/` (gzip, 60,000 train and 10,000 test
28x28 images). They are read in place, each checked against its SHA-256
first, so a changed or truncated copy is refused rather than trained on.
Without the package the loaders fall back to `keras.datasets` (a download).

Example:
    >>> (train_x, train_y), (test_x, test_y) = load_fashion_mnist_arrays()
    >>> train_x.shape, train_x.dtype, test_y[:3]
    ((60000, 28, 28), dtype('uint8'), array([9, 2, 1], dtype=uint8))
"""

import gzip
import hashlib
import os

import numpy as np

from zoo.errors import DataError

DEBIAN_FOLDER = "/usr/share/datasets/fashion-mnist"
# SHA-256 of the files of dataset-fashion-mnist 0.0~git20200523.55506a9-1.
FILES = {
    "train_images": (
        "train-images-idx3-ubyte.gz",
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    ),
    "train_labels": (
        "train-labels-idx1-ubyte.gz",
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    ),
    "test_images": (
        "t10k-images-idx3-ubyte.gz",
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    ),
    "test_labels": (
        "t10k-labels-idx1-ubyte.gz",
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    ),
}


def debian_folder():
    """The folder holding Debian's Fashion-MNIST files, or None."""
    folder = os.environ.get("ZOO_FASHION_MNIST_DIR", DEBIAN_FOLDER)
    found = all(
        os.path.exists(os.path.join(folder, name)) for name, _ in FILES.values()
    )
    return folder if found else None


def read_idx(path, expected_sha256):
    """A gzip IDX file (images `[N, H, W]` or labels `[N]`, uint8), hash-checked."""
    with open(path, "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != expected_sha256:
        raise DataError(
            f"{path} does not match the SHA-256 of dataset-fashion-mnist; "
            "reinstall it (apt-get install --reinstall dataset-fashion-mnist)."
        )
    raw = gzip.decompress(data)
    # IDX header: two zero bytes, the type (0x08: uint8), the number of
    # dimensions, then one big-endian int32 per dimension.
    if raw[:3] != b"\x00\x00\x08":
        raise DataError(f"{path} is not a uint8 IDX file.")
    dims = np.frombuffer(raw, ">i4", count=raw[3], offset=4)
    offset = 4 + 4 * raw[3]
    return np.frombuffer(raw, "uint8", offset=offset).reshape(tuple(dims))


def load_fashion_mnist_arrays():
    """`((train_x, train_y), (test_x, test_y))` as `keras.datasets` returns them.

    Read from Debian's package when it is installed, else through
    `keras.datasets.fashion_mnist` (downloaded once into the Keras cache).
    """
    folder = debian_folder()
    if folder is None:
        import keras

        return keras.datasets.fashion_mnist.load_data()
    arrays = {
        key: read_idx(os.path.join(folder, name), sha256)
        for key, (name, sha256) in FILES.items()
    }
    return (arrays["train_images"], arrays["train_labels"]), (
        arrays["test_images"],
        arrays["test_labels"],
    )

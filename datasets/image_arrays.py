"""Arrays of images and labels to a `DataBundle`: labels, stratified splits,
augmentation of the training split, caching."""

import numpy as np
import tensorflow as tf

from zoo.datasets.base import AUTOTUNE, DEFAULT_SPLITS, DataBundle
from zoo.datasets.image_ops import (
    augmentation_layer,
    check_fraction,
    parse_augment,
    parse_channels,
    parse_image_size,
    resize_image,
    to_channels,
)
from zoo.errors import DataError

# Splits smaller than this (in bytes of float32 pixels) are cached in memory.
CACHE_LIMIT_BYTES = 2 * 1024**3

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["image"]


def labels_to_indices(labels, class_names, source):
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


def split_indices(labels, *, validation_split, test_split, seed, source):
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


def finish_bundle(
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
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
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
    check_fraction(
        "validation_split", validation_split, allow_zero=x_validation is not None
    )
    check_fraction("test_split", test_split, allow_zero=x_test is not None)
    given = {
        "train": (x, y),
        "validation": (x_validation, y_validation),
        "test": (x_test, y_test),
    }
    arrays = {
        split: (_pixel_array(images, labels, split, source, info), labels)
        for split, (images, labels) in given.items()
        if images is not None
    }
    if not arrays or len(arrays["train"][0]) == 0:
        raise DataError(f"{source}: no images to train on.")
    class_names = _index_labels(arrays, class_names, source)
    _carve_missing_splits(
        arrays,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        source=source,
    )
    train_images = arrays["train"][0]
    native_size = tuple(int(d) for d in train_images.shape[1:3])
    size = parse_image_size(image_size) or native_size
    native_channels = int(train_images.shape[-1])
    channels = parse_channels(channels) or (3 if native_channels >= 3 else 1)
    info.setdefault("native_image_size", list(native_size))
    info.setdefault("native_channels", native_channels)
    splits = _converted_splits(arrays, native_size, size, channels)
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


def _pixel_array(images, labels, split, source, info):
    """`[N, H, W, C]` pixels of one split: integers, or float32 in 0..255.

    Floats in 0..1 are scaled to 0..255 (noted in `info`).
    """
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
    return images


def _index_labels(arrays, class_names, source):
    """Turns every split's labels into class indices in place; returns the class names.

    The classes are read from all splits together, so a class seen only in
    the test split still gets its index.
    """
    all_labels = np.concatenate(
        [np.asarray(labels).reshape(-1) for _, labels in arrays.values()]
    )
    all_labels, class_names = labels_to_indices(all_labels, class_names, source)
    offset = 0
    for split, (images, _labels) in list(arrays.items()):
        arrays[split] = (images, all_labels[offset : offset + len(images)])
        offset += len(images)
    if len(class_names) < 2:
        raise DataError(
            f"{source}: found {len(class_names)} class; a classifier needs at least 2."
        )
    return class_names


def _carve_missing_splits(arrays, *, validation_split, test_split, seed, source):
    """Adds the held-out splits not given, carved (stratified) from the training split."""
    train_images, train_labels = arrays["train"]
    carve = {}
    if "test" not in arrays:
        carve["test_split"] = test_split
    if "validation" not in arrays:
        carve["validation_split"] = validation_split
    if not carve:
        return
    parts = split_indices(
        train_labels,
        validation_split=carve.get("validation_split", 0.0),
        test_split=carve.get("test_split", 0.0),
        seed=seed,
        source=source,
    )
    for split, index in parts.items():
        arrays[split] = (train_images[index], train_labels[index])


def _converted_splits(arrays, native_size, size, channels):
    """`{split: (dataset of (image, label), size)}`, resized and converted in tf.data."""

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
    return splits

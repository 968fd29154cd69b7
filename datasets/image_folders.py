"""Folders of image files to a `DataBundle`: one sub-folder per class.

`root/<class>/<image files>` (searched recursively), or the same inside
`train/`, `validation/` (or `val/`) and `test/` folders that fix the split.
Every file is listed and decoded once in a parallel tf.data pass before
anything trains, so a file that is not an image, or one TensorFlow cannot
decode, is named at once (or skipped and counted with `bad_files="skip"`);
an image whose header claims more than `max_pixels` is refused before
decoding. The size and channels default to the folder's most common ones.
"""

import collections
import os
import warnings

import numpy as np
import tensorflow as tf

from zoo.datasets.base import AUTOTUNE
from zoo.datasets.image_arrays import finish_bundle, split_indices
from zoo.datasets.image_ops import (
    check_fraction,
    check_pixel_budget,
    decode_image_file,
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
SPLITS = ("train", "validation", "test")


def load_class_folders(
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
    """Loads `root/<class>/<images>` (or `root/train/<class>/...`) as a bundle.

    The options are those of `zoo.datasets.images.load_images`.

    Example:
        >>> bundle = load_class_folders("flowers", image_size=64, channels=3,
        ...     augment=None, rotation_factor=0.1, zoom_factor=0.1,
        ...     validation_split=0.15, test_split=0.15, seed=0, bad_files="skip")
        >>> bundle.class_names, bundle.info["skipped_files"]
        (['daisy', 'rose'], 0)
    """
    if bad_files not in BAD_FILE_MODES:
        raise DataError(f"bad_files must be 'error' or 'skip', got {bad_files!r}.")
    split_layout, split_roots, class_names = _split_roots(root)
    files, others = _list_files(split_roots)
    skipped = _skip_or_refuse(
        others, bad_files, "is not an image file (BMP, GIF, JPEG or PNG)"
    )
    files, good_shapes, bad = _readable_files(files, max_pixels)
    skipped.extend(
        _skip_or_refuse(
            bad, bad_files, "is corrupt or not an image TensorFlow can decode"
        )
    )
    counts, class_names, empty = _classes_with_images(root, files, class_names)
    sizes = collections.Counter(shape[:2] for shape in good_shapes)
    channel_counts = collections.Counter(shape[2] for shape in good_shapes)
    size = parse_image_size(image_size) or sizes.most_common(1)[0][0]
    channels = parse_channels(channels) or (
        3 if any(count >= 3 for count in channel_counts) else 1
    )
    lookup = {name: index for index, name in enumerate(class_names)}
    split_options = {
        "validation_split": validation_split,
        "test_split": test_split,
        "seed": seed,
    }
    paths_by_split = (
        _fixed_splits(root, files, lookup, **split_options)
        if split_layout
        else _random_splits(root, files["all"], lookup, **split_options)
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
        _decoded_splits(paths_by_split, size, channels),
        class_names=class_names,
        image_size=size,
        channels=channels,
        augment=augment,
        seed=seed,
        rotation_factor=rotation_factor,
        zoom_factor=zoom_factor,
        info=info,
    )


# ---------------------------------------------------------------- listing


def _class_folders(root):
    return sorted(
        name
        for name in os.listdir(root)
        if os.path.isdir(os.path.join(root, name)) and not name.startswith(".")
    )


def _split_roots(root):
    """`(split layout?, {split: folder}, class names)` of a class-folder tree."""
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
    return split_layout, split_roots, class_names


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


def _list_files(split_roots):
    """`({split: [(path, class name)]}, [paths of files that are not images])`."""
    files = {}
    others = []
    for split, folder in split_roots.items():
        files[split] = []
        for class_name in _class_folders(folder):
            images, other = _list_class_folder(folder, class_name)
            files[split].extend((image, class_name) for image in images)
            others.extend(other)
    return files, others


def _skip_or_refuse(paths, bad_files, problem):
    """The bad `paths` to skip, or a `DataError` naming the first one."""
    if paths and bad_files == "error":
        raise DataError(
            f"{paths[0]} {problem}; remove it, "
            "or pass --data-option bad_files=skip to skip and count such files."
        )
    return list(paths)


# ---------------------------------------------------------------- decoding


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


def _readable_files(files, max_pixels):
    """`(files without the undecodable ones, their shapes, undecodable paths)`."""
    all_files = [item for split in files for item in files[split]]
    check_pixel_budget([path for path, _ in all_files], max_pixels)
    shapes = _probe_images([path for path, _ in all_files])
    bad = [path for index, (path, _) in enumerate(all_files) if index not in shapes]
    bad_set = set(bad)
    readable = {
        split: [(path, name) for path, name in items if path not in bad_set]
        for split, items in files.items()
    }
    good_shapes = [
        shapes[index]
        for index, (path, _) in enumerate(all_files)
        if path not in bad_set
    ]
    return readable, good_shapes, bad


def _classes_with_images(root, files, class_names):
    """`(images per class, classes with images, empty classes)`; warns of the empty."""
    counts = collections.Counter(name for items in files.values() for _, name in items)
    empty = [name for name in class_names if counts[name] == 0]
    class_names = [name for name in class_names if counts[name] > 0]
    if empty:
        # Named at the caller of `load_images`, as before the split of this module.
        warnings.warn(
            f"{root}: skipping empty class folder(s) {', '.join(empty)}.", stacklevel=4
        )
    if len(class_names) < 2:
        raise DataError(
            f"{root} has {len(class_names)} class folder(s) with readable images; a classifier needs at least 2."
        )
    return counts, class_names, empty


# ---------------------------------------------------------------- splits


def _paths_and_labels(items, lookup):
    return (
        np.array([path for path, _ in items], dtype=object),
        np.array([lookup[name] for _, name in items], dtype=np.int32),
    )


def _fixed_splits(root, files, lookup, *, validation_split, test_split, seed):
    """The split folders' files; a missing validation or test split carved from train."""
    paths_by_split = {
        split: _paths_and_labels(items, lookup) for split, items in files.items()
    }
    if "train" not in paths_by_split or len(paths_by_split["train"][0]) == 0:
        raise DataError(
            f"{root}/train has no readable images; put training images in train/<class>/."
        )
    missing = [split for split in ("validation", "test") if split not in paths_by_split]
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
    return paths_by_split


def _random_splits(root, items, lookup, *, validation_split, test_split, seed):
    """One folder's files split at random (stratified, seeded)."""
    check_fraction("validation_split", validation_split)
    check_fraction("test_split", test_split)
    all_paths, all_labels = _paths_and_labels(items, lookup)
    parts = split_indices(
        all_labels,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        source=root,
    )
    return {
        split: (all_paths[index], all_labels[index]) for split, index in parts.items()
    }


def _decoded_splits(paths_by_split, size, channels):
    """`{split: (dataset of (image, label), size)}` decoding files in tf.data."""

    def decode(path, label):
        return decode_image_file(path, size, channels), label

    splits = {}
    for split in SPLITS:
        split_paths, split_labels = paths_by_split[split]
        dataset = tf.data.Dataset.from_tensor_slices(
            (split_paths.astype(str), split_labels)
        )
        splits[split] = (
            dataset.map(decode, num_parallel_calls=AUTOTUNE),
            len(split_paths),
        )
    return splits

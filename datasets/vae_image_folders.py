"""A folder of images for generative models (data kind "vae_image"), such as CelebA.

Images are found recursively, centre-cropped to a square and resized in the
tf.data pipeline; top-level sub-folders, when there are several, label the
images for evaluation only. The embedded sets (digits, dsprites, mnist,
fashion_mnist) are in `zoo.datasets.vae_images`.
"""

import os

import numpy as np
import tensorflow as tf

from zoo.datasets.base import AUTOTUNE, DataBundle, register_file_loader
from zoo.datasets.image_folders import IMAGE_EXTENSIONS
from zoo.datasets.vae_images import (
    TEST_SPLIT,
    VALIDATION_SPLIT,
    check_options,
    split_indices,
)
from zoo.errors import DataError


def list_images(path):
    """Image files under `path` (sorted) and their top-level sub-folder name or None."""
    files, groups = [], []
    for root, directories, names in os.walk(path):
        directories.sort()
        for name in sorted(names):
            if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith("."):
                full = os.path.join(root, name)
                relative = os.path.relpath(full, path)
                files.append(full)
                groups.append(relative.split(os.sep)[0] if os.sep in relative else None)
    return files, groups


def _decoder(image_size, channels):
    def read(path, label):
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=channels, expand_animations=False
        )
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        # Centre crop to a square, then resize (CelebA 178x218 -> 64x64).
        image = tf.image.crop_to_bounding_box(
            image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side
        )
        image = tf.image.resize(image, (image_size, image_size), antialias=True)
        image = tf.clip_by_value(image / 255.0, 0.0, 1.0)
        image = tf.ensure_shape(image, (image_size, image_size, channels))
        return image, label

    return read


@register_file_loader("vae_image")
def load_image_folder(
    path,
    *,
    image_size=64,
    channels=None,
    seed=0,
    max_images=None,
    validation_fraction=VALIDATION_SPLIT,
    test_fraction=TEST_SPLIT,
):
    """A folder of images (PNG, JPEG, BMP, GIF), searched recursively.

    Images are centre-cropped to a square and resized to `image_size`. When
    the images sit in sub-folders, each top-level sub-folder is a class (used
    for evaluation only); otherwise labels are -1. Files that fail to decode
    during training are skipped.

    Args:
        path: The folder (for instance CelebA's img_align_celeba).
        image_size: Side of the square images (64 for CelebA).
        channels: 3 (default) or 1.
        max_images: Use only this many images (chosen at random), or all.
    """
    check_options(image_size, channels, validation_fraction, test_fraction)
    channels = channels or 3
    if not os.path.isdir(path):
        raise DataError(
            f"{path!r} is a file; JointVAE models read a folder of images "
            "(or an embedded set: digits, dsprites, mnist, fashion_mnist)."
        )
    files, groups = list_images(path)
    if len(files) < 3:
        raise DataError(
            f"Found {len(files)} image(s) under {path!r}; need at least 3 "
            f"({', '.join(IMAGE_EXTENSIONS)}) for train/validation/test splits."
        )
    class_names, labels = _group_labels(groups)
    if max_images is not None:
        files, labels = _random_subset(files, labels, max_images, seed)
    read = _decoder(image_size, channels)
    _check_decodes(read, files[0])
    indices = split_indices(
        labels,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
    )
    files = np.array(files)
    splits = {
        split: tf.data.Dataset.from_tensor_slices((files[index], labels[index]))
        .map(read, num_parallel_calls=AUTOTUNE)
        .ignore_errors()
        for split, index in indices.items()
    }
    return DataBundle(
        **splits,
        input_shape=(image_size, image_size, channels),
        num_classes=None,
        class_names=class_names,
        task="reconstruction",
        info={
            "source": os.path.abspath(path),
            "num_files": int(len(files)),
            **{f"{s}_size": int(len(i)) for s, i in indices.items()},
        },
    )


def _group_labels(groups):
    """`(class names, int32 labels)`: top-level sub-folders, or None and -1s."""
    if any(group is None for group in groups) or len(set(groups)) < 2:
        return None, np.full(len(groups), -1, "int32")
    class_names = sorted(set(groups))
    return class_names, np.array([class_names.index(g) for g in groups], "int32")


def _random_subset(files, labels, max_images, seed):
    """`max_images` of the files, chosen at random (seeded), in their order."""
    if not isinstance(max_images, int) or max_images < 3:
        raise DataError(f"max_images must be an integer >= 3, got {max_images!r}.")
    keep = np.sort(np.random.default_rng(seed).permutation(len(files))[:max_images])
    return [files[i] for i in keep], labels[keep]


def _check_decodes(read, path):
    """Decodes the first file now, so a folder of non-images fails before training."""
    try:
        read(tf.constant(path), tf.constant(0))
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        raise DataError(
            f"Cannot decode {path!r} as an image ({error.message.splitlines()[0]}). "
            "Remove it or convert it to PNG/JPEG."
        ) from None

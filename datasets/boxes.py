"""The `image_boxes` data kind: images with the boxes of the objects in them.

`x` is a float32 image `[height, width, channels]` in 0..255, as for the
`image` kind; `y` is float32 `[max_boxes, 5]`: `(class, xmin, ymin, xmax,
ymax)` per object, coordinates as fractions of the image (Keras'
`rel_xyxy`), so the boxes follow the image through any resize. Rows of class
-1 are padding (`zoo.boxes` describes the layout the models and metrics use).

Sources, through `datasets.base.load_data(source, kind="image_boxes", ...)`:

- `digit_boxes` and `digit_scenes`: one, or one to four, embedded MNIST
  digits on a black canvas with exact boxes (`datasets/digit_canvases.py`).
- A folder (or CSV file) of the user's annotated images in the TF Object
  Detection CSV, YOLO or Pascal VOC layout (`datasets.annotations`).

Options: `image_size`, `channels`, `augment` ("flip", "shift" or both;
training split only, the boxes move with the pixels), `shift_factor`,
`validation_split`, `test_split`, `seed`.

Example:
    >>> from zoo.datasets.base import load_data
    >>> bundle = load_data("digit_scenes", kind="image_boxes", size=200)
    >>> bundle.input_shape, bundle.num_classes, bundle.info["max_boxes"]
    ((96, 96, 1), 10, 4)
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.datasets.annotations import read_annotations
from zoo.datasets.base import (
    AUTOTUNE,
    DataBundle,
    register_file_loader,
)
from zoo.datasets.image_ops import parse_image_size
from zoo.errors import DataError

KIND = "image_boxes"
BOX_AUGMENTATIONS = ("flip", "shift")
# Boxes pushed out of the picture by a shift to under this share of the
# image side no longer count as objects.
MIN_BOX_SIDE = 0.02


def parse_box_augment(value):
    """Tuple of names from None/False, True, or "flip,shift"."""
    if (
        value is None
        or value is False
        or str(value).lower() in ("", "none", "false", "0")
    ):
        return ()
    if value is True or str(value).lower() in ("true", "all", "1"):
        return BOX_AUGMENTATIONS
    names = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(
        dict.fromkeys(str(name).strip() for name in names if str(name).strip())
    )
    unknown = [name for name in names if name not in BOX_AUGMENTATIONS]
    if unknown:
        raise DataError(
            f"Unknown box augmentation {unknown[0]!r}; augment takes flip, shift or flip,shift."
        )
    return names


def box_augmentation(names, *, shift_factor=0.1, seed=0):
    """`augment(image, targets) -> (image, targets)` moving the boxes with the pixels.

    Keras' `RandomFlip` and `RandomTranslation` transform images and
    `rel_xyxy` boxes together; boxes shifted (almost) out of the picture
    become padding.
    """
    layers = []
    if "flip" in names:
        layers.append(
            keras.layers.RandomFlip(
                "horizontal", bounding_box_format="rel_xyxy", seed=seed
            )
        )
    if "shift" in names:
        layers.append(
            keras.layers.RandomTranslation(
                shift_factor,
                shift_factor,
                fill_mode="constant",
                bounding_box_format="rel_xyxy",
                seed=seed + 1,
            )
        )

    def augment(image, targets):
        data = {
            "images": image,
            "bounding_boxes": {"boxes": targets[:, 1:5], "labels": targets[:, 0]},
        }
        for layer in layers:
            data = layer(data, training=True)
        boxes = tf.clip_by_value(data["bounding_boxes"]["boxes"], 0.0, 1.0)
        sides = tf.reduce_min(boxes[:, 2:] - boxes[:, :2], axis=-1)
        keep = tf.logical_and(targets[:, 0] >= 0, sides >= MIN_BOX_SIDE)
        labels = tf.where(keep, targets[:, 0], -1.0)
        boxes = tf.where(keep[:, None], boxes, 0.0)
        return data["images"], tf.concat([labels[:, None], boxes], axis=-1)

    return augment


def pad_targets(boxes_per_image, labels_per_image, max_boxes=None):
    """`[N, max_boxes, 5]` targets from per-image rel boxes `[M, 4]` and class indices `[M]`."""
    max_boxes = max_boxes or max([len(labels) for labels in labels_per_image] + [1])
    targets = np.zeros((len(labels_per_image), max_boxes, 5), np.float32)
    targets[:, :, 0] = -1.0
    for index, (boxes, labels) in enumerate(
        zip(boxes_per_image, labels_per_image, strict=True)
    ):
        count = len(labels)
        targets[index, :count, 0] = labels
        targets[index, :count, 1:] = np.asarray(boxes).reshape(-1, 4)
    return targets


def bundle_from_arrays(
    splits, class_names, *, info, augment=(), shift_factor=0.1, seed=0
):
    """A `DataBundle` from `{"train": (images, targets), "validation": ..., "test": ...}`."""
    images = splits["train"][0]
    datasets = {}
    for name, (x, y) in splits.items():
        dataset = tf.data.Dataset.from_tensor_slices(
            (x.astype("float32"), y.astype("float32"))
        )
        datasets[name] = dataset
    if augment:
        datasets["train"] = datasets["train"].map(
            box_augmentation(augment, shift_factor=shift_factor, seed=seed),
            num_parallel_calls=AUTOTUNE,
        )
    info = {
        **info,
        "image_size": list(images.shape[1:3]),
        "channels": int(images.shape[3]),
        "max_boxes": int(splits["train"][1].shape[1]),
        "augment": list(augment),
        **{f"{name}_size": int(len(x)) for name, (x, _) in splits.items()},
        **{
            f"{name}_boxes": int((y[..., 0] >= 0).sum())
            for name, (_, y) in splits.items()
        },
    }
    return DataBundle(
        train=datasets["train"],
        validation=datasets["validation"],
        test=datasets["test"],
        input_shape=tuple(int(d) for d in images.shape[1:]),
        num_classes=len(class_names),
        class_names=list(class_names),
        task="detection",
        info=info,
    )


# === Users' annotated images ===


def load_annotated_image(path, image_size, channels):
    """One image file as float32 `[height, width, channels]` 0..255 at `image_size`."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("L" if channels == 1 else "RGB")
        image = image.resize((image_size[1], image_size[0]), Image.BILINEAR)
        array = np.asarray(image, dtype=np.float32)
    return array[..., None] if channels == 1 else array


@register_file_loader(KIND)
def load_annotated_images(
    path,
    *,
    layout=None,
    classes=None,
    image_size=96,
    channels=3,
    augment=None,
    shift_factor=0.1,
    validation_split=0.15,
    test_split=0.15,
    seed=0,
):
    """A user's annotated images (CSV, YOLO or VOC layout), resized with their boxes."""
    annotations = read_annotations(path, layout=layout, classes=classes)
    size = parse_image_size(image_size)
    if int(channels) not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels!r}.")
    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if not 0 < float(value) < 0.5:
            raise DataError(f"{name} must be in (0, 0.5), got {value}.")
    records = annotations.images
    if len(records) < 5:
        raise DataError(f"{path} has {len(records)} images; a split needs at least 5.")
    index = {name: i for i, name in enumerate(annotations.class_names)}
    images = np.stack(
        [load_annotated_image(r.path, size, int(channels)) for r in records]
    )
    # Pixel boxes over the image's own size: fractions that hold at any size.
    boxes = [
        r.boxes / np.array([r.width, r.height, r.width, r.height]) for r in records
    ]
    targets = pad_targets(
        boxes, [[index[label] for label in r.labels] for r in records]
    )
    order = np.random.default_rng(seed).permutation(len(records))
    test_count = max(1, int(round(len(order) * float(test_split))))
    validation_count = max(1, int(round(len(order) * float(validation_split))))
    parts = {
        "test": order[:test_count],
        "validation": order[test_count : test_count + validation_count],
        "train": order[test_count + validation_count :],
    }
    splits = {name: (images[part], targets[part]) for name, part in parts.items()}
    info = {
        "layout": annotations.layout,
        "summary": annotations.summary(),
        "images": len(records),
        "images_without_annotation_file": sum(not r.annotated for r in records),
    }
    return bundle_from_arrays(
        splits,
        annotations.class_names,
        info=info,
        augment=parse_box_augment(augment),
        shift_factor=float(shift_factor),
        seed=int(seed),
    )

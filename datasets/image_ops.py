"""Image options and the graph-side image ops every image loader shares.

Option parsers (`image_size`, `channels`, `augment`) raise `DataError` naming
the option and the fix. Decoding, resizing and channel conversion run inside
tf.data maps (no Python per example); `load_image_files` decodes files the
same way for `zoo predict`.
"""

import os
import re
import warnings

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import DataError

AUGMENTATIONS = ("flip", "rotation", "zoom")

# Images over this many pixels are refused before decoding (64 megapixels:
# above any photo a small model needs, far below a decompression bomb).
MAX_PIXELS = 64_000_000


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


def parse_channels(value):
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


def check_fraction(name, value, *, allow_zero=False):
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


def check_pixel_budget(paths, max_pixels=None):
    """Raises `DataError` for the first image whose header claims more than
    `max_pixels` pixels, before anything decodes it.

    PIL reads only the header on `Image.open`; TensorFlow's decoders have no
    size limit, so a small file claiming a huge image (a decompression bomb)
    would otherwise be decoded in full. Files PIL cannot read are left to the
    decoder, which names them.
    """
    from PIL import Image

    budget = MAX_PIXELS if max_pixels is None else max_pixels
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise DataError(f"max_pixels must be a positive integer, got {budget!r}.")
    for path in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    width, height = image.size
        except Image.DecompressionBombError as error:
            # PIL refuses to open it at all; its message holds the count.
            count = re.search(r"\((\d+) pixels\)", str(error))
            size = f"{count.group(1) if count else 'too many'} pixels"
        except (OSError, ValueError, SyntaxError):
            continue  # Not an image PIL reads: the decoder will name it.
        else:
            if width * height <= budget:
                continue
            size = f"{width}x{height}"
        raise DataError(
            f"{path} is {size}, over the budget of {budget} pixels; shrink it, "
            "or raise --data-option max_pixels=N if you trust the file."
        )


def load_image_files(paths, image_size, channels=3, *, max_pixels=None) -> np.ndarray:
    """Loads image files as a model trained on an image bundle expects them.

    Args:
        paths: Image file paths (BMP, GIF, JPEG, PNG), or one path.
        image_size: int or `(height, width)`: the run's `image_size`
            (`bundle.info["image_size"]`, also in the run's config.json).
        channels: 1 or 3 (`bundle.info["channels"]`).
        max_pixels: Largest image to decode (default `MAX_PIXELS`).

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
    channels = parse_channels(channels)
    if size is None or channels is None:
        raise DataError(
            "load_image_files needs image_size and channels; read them from the run's config.json."
        )
    if not paths:
        raise DataError("No image files given; pass one or more image paths.")
    for path in paths:
        if not os.path.isfile(path):
            raise DataError(f"Image file {path!r} does not exist; check the path.")
    check_pixel_budget(paths, max_pixels)
    images = []
    for path in paths:
        try:
            images.append(decode_image_file(tf.constant(path), size, channels))
        except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
            raise DataError(
                f"{path} is not a readable image ({first_line(error)}); give a BMP, GIF, JPEG or PNG file."
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


def first_line(error):
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

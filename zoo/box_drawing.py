"""Pictures of boxes: true boxes and predicted ones (class and score) on the images.

`keras.visualization.draw_bounding_boxes` would fit, but it needs OpenCV,
which the zoo does not depend on; PIL, already a dependency, draws the same.
"""

import numpy as np
from PIL import Image, ImageDraw

TRUE_COLOUR = (40, 220, 60)  # green: the annotation
PREDICTED_COLOUR = (255, 60, 200)  # magenta: the model


def _to_rgb(image):
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.clip(image, 0, 255).astype(np.uint8)


def _label(names, index):
    index = int(index)
    return names[index] if names and 0 <= index < len(names) else str(index)


def draw_boxes(
    image, truth=None, detections=None, class_names=None, *, scale=1, size=None
):
    """One image with its boxes drawn, as uint8 RGB.

    Args:
        image: `[H, W]` or `[H, W, C]` in 0..255.
        truth: `[M, 5]` true boxes `(class, xmin, ymin, xmax, ymax)` in
            image fractions (padding rows of class -1 are skipped), or None.
        detections: `[K, 6]` `(class, score, xmin, ymin, xmax, ymax)`, or None.
        class_names: Names for the labels.
        scale: Enlarge the picture this many times first (small images).
        size: `(width, height)` to draw at instead of `scale`.

    Returns:
        uint8 `[H', W', 3]`.
    """
    picture = Image.fromarray(_to_rgb(image))
    if size is None:
        size = (picture.width * scale, picture.height * scale)
    picture = picture.resize(size, Image.NEAREST)
    canvas = ImageDraw.Draw(picture)
    width, height = picture.size
    layers = ((truth, TRUE_COLOUR, False), (detections, PREDICTED_COLOUR, True))
    for rows, colour, scored in layers:
        for row in np.asarray(rows if rows is not None else []).reshape(
            -1, 6 if scored else 5
        ):
            if row[0] < 0:
                continue
            box = row[2:6] if scored else row[1:5]
            corners = [
                box[0] * width,
                box[1] * height,
                box[2] * width - 1,
                box[3] * height - 1,
            ]
            canvas.rectangle(corners, outline=colour, width=2 if scored else 1)
            text = _label(class_names, row[0])
            if scored:
                text += f" {row[1]:.2f}"
                anchor = (corners[0] + 2, max(corners[3] - 11, corners[1]))
            else:
                anchor = (corners[0] + 2, corners[1] + 1)
            # Dark backing keeps the label readable on bright pixels.
            canvas.rectangle(canvas.textbbox(anchor, text), fill=(0, 0, 0))
            canvas.text(anchor, text, fill=colour)
    return np.asarray(picture)


def box_grid(images, truths, detections, class_names=None, *, columns=4, cell=192):
    """A grid of `draw_boxes` pictures, `cell` pixels wide each, uint8 RGB."""
    tiles = []
    for image, truth, found in zip(images, truths, detections, strict=True):
        height, width = np.asarray(image).shape[:2]
        size = (cell, max(1, round(cell * height / width)))
        tiles.append(draw_boxes(image, truth, found, class_names, size=size))
    rows = -(-len(tiles) // columns)
    tile_height = max(tile.shape[0] for tile in tiles)
    grid = np.full((rows * (tile_height + 4), columns * (cell + 4), 3), 255, np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (
            (index // columns) * (tile_height + 4),
            (index % columns) * (cell + 4),
        )
        grid[top : top + tile.shape[0], left : left + tile.shape[1]] = tile
    return grid

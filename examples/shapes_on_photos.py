"""Writes a CSV-annotated folder of shapes on real photos, for `zoo train cnn_detector FOLDER`.

A user's own detection data in miniature: circles, squares and triangles in
random colours and sizes, one to three per picture, drawn on random crops of
the two photos scikit-learn ships (`china.jpg`, `flower.jpg`, CC BY 2.0, see
`datasets/data/SOURCES.md`). The boxes are exact because the shapes are drawn
from them. The layout is the TensorFlow Object Detection CSV
(`labels.csv`: filename,width,height,class,xmin,ymin,xmax,ymax; images
beside it), the one `zoo` reads with no option.

    python examples/shapes_on_photos.py /tmp/shapes --count 600
    zoo train cnn_detector /tmp/shapes --run-dir runs/shapes
"""

import argparse
import csv
import os

import numpy as np
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_images

CLASSES = ("circle", "square", "triangle")
WIDTH, HEIGHT = 160, 120
SIZES = (18, 44)


def _free_box(taken, rng, side, tries=40):
    for _ in range(tries):
        left = int(rng.integers(0, WIDTH - side + 1))
        top = int(rng.integers(0, HEIGHT - side + 1))
        box = (left, top, left + side, top + side)
        if all(
            box[2] + 2 <= t[0]
            or t[2] + 2 <= box[0]
            or box[3] + 2 <= t[1]
            or t[3] + 2 <= box[1]
            for t in taken
        ):
            return box
    return None


def draw_scene(photos, rng):
    """One picture and its `(class, xmin, ymin, xmax, ymax)` boxes."""
    photo = photos[int(rng.integers(len(photos)))]
    top = int(rng.integers(0, photo.shape[0] - HEIGHT))
    left = int(rng.integers(0, photo.shape[1] - WIDTH))
    picture = Image.fromarray(photo[top : top + HEIGHT, left : left + WIDTH])
    canvas = ImageDraw.Draw(picture)
    boxes = []
    for _ in range(int(rng.integers(1, 4))):
        side = int(rng.integers(SIZES[0], SIZES[1] + 1))
        box = _free_box([b[1:] for b in boxes], rng, side)
        if box is None:
            continue
        kind = int(rng.integers(len(CLASSES)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0, x1, y1 = box
        # PIL fills x1 and y1 inclusive; the boxes are exclusive.
        if CLASSES[kind] == "circle":
            canvas.ellipse((x0, y0, x1 - 1, y1 - 1), fill=colour, outline=(0, 0, 0))
        elif CLASSES[kind] == "square":
            canvas.rectangle((x0, y0, x1 - 1, y1 - 1), fill=colour, outline=(0, 0, 0))
        else:
            canvas.polygon(
                [(x0, y1 - 1), (x1 - 1, y1 - 1), ((x0 + x1 - 1) / 2, y0)],
                fill=colour,
                outline=(0, 0, 0),
            )
        boxes.append((kind, *box))
    return picture, boxes


def write_folder(folder, count=600, seed=0):
    """Writes `count` pictures and `labels.csv` into `folder`; returns the CSV path."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    rows = []
    for index in range(count):
        picture, boxes = draw_scene(photos, rng)
        name = f"shapes_{index:04d}.png"
        picture.save(os.path.join(folder, name))
        rows += [(name, WIDTH, HEIGHT, CLASSES[kind], *box) for kind, *box in boxes]
    path = os.path.join(folder, "labels.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
        )
        writer.writerows(rows)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    print(write_folder(arguments.folder, arguments.count, arguments.seed))

"""Readers for users' box annotations: TF Object Detection CSV, YOLO folders, Pascal VOC XML.

Each reader returns an `Annotations`: one `AnnotatedImage` per image with its
boxes in the image's own pixels (`xmin, ymin, xmax, ymax`, xmax exclusive, as
the CSV layout writes them) and the class list. Every bad annotation ends in
one `DataError` line naming the file, the box and the fix. Images with no
annotation file are kept as images without objects and counted in the
summary.

Layouts (`detect_layout` tells them apart, or pass `layout=`):

- "csv": `labels.csv` (any one `.csv`) with columns
  `filename,width,height,class,xmin,ymin,xmax,ymax`, one row per box, the
  images beside it (paths relative to the CSV's folder).
- "yolo": `images/`, `labels/<same name>.txt` with `class cx cy w h` lines
  normalised to 0..1, class names in `classes.txt` or `data.yaml` (`names:`).
- "voc": `Annotations/*.xml` (Pascal VOC: `filename`, `size`, `object/name`,
  `object/bndbox`, 1-based pixel coordinates) with the images in
  `JPEGImages/` or `images/`, or XML files beside their images.
"""

import csv
import dataclasses
import os
import xml.etree.ElementTree as ElementTree

import numpy as np

from zoo.errors import DataError

LAYOUTS = ("csv", "yolo", "voc")
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CSV_COLUMNS = ("filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax")
# Coordinates may overshoot the image by this many pixels (rounding in
# annotation tools) before a box counts as outside it; they are clipped.
EDGE_TOLERANCE = 0.5


@dataclasses.dataclass
class AnnotatedImage:
    path: str
    width: int
    height: int
    boxes: np.ndarray  # [M, 4] float pixels xyxy
    labels: list  # [M] class names
    annotated: bool = True  # False: no annotation file, so no objects


@dataclasses.dataclass
class Annotations:
    images: list
    class_names: list
    layout: str

    def summary(self) -> str:
        boxes = sum(len(image.labels) for image in self.images)
        unannotated = sum(not image.annotated for image in self.images)
        empty = sum(len(image.labels) == 0 for image in self.images)
        text = (
            f"{len(self.images)} images, {boxes} boxes of {len(self.class_names)} classes "
            f"({self.layout} layout); {empty} images without objects"
        )
        if unannotated:
            text += f", {unannotated} of them with no annotation file"
        return text


def _image_size(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError):
        raise DataError(
            f"{path} is not a readable image; replace it with a BMP, GIF, JPEG or PNG file."
        ) from None


def _list_images(folder):
    found = []
    for root, _, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.join(root, name))
    return sorted(found)


def check_box(box, width, height, where, shown=None):
    """The box clipped to the image; DataError when it is outside or inverted.

    `shown` is the box as the file writes it (VOC's 1-based corners), for
    the message; `box` is in 0-based pixels with an exclusive xmax.
    """
    xmin, ymin, xmax, ymax = (float(v) for v in box)
    text = ", ".join(f"{float(v):g}" for v in (shown if shown is not None else box))
    if not all(np.isfinite([xmin, ymin, xmax, ymax])):
        raise DataError(f"{where}: a coordinate is not a number; fix the annotation.")
    if xmin >= xmax or ymin >= ymax:
        raise DataError(
            f"{where}: xmin >= xmax or ymin >= ymax in box ({text}); "
            "give the top-left corner first."
        )
    tolerance = EDGE_TOLERANCE
    if (
        xmin < -tolerance
        or ymin < -tolerance
        or xmax > width + tolerance
        or ymax > height + tolerance
    ):
        raise DataError(
            f"{where}: box ({text}) lies outside the {width}x{height} image; "
            "fix the box or the image size."
        )
    return [max(xmin, 0.0), max(ymin, 0.0), min(xmax, width), min(ymax, height)]


def _check_classes(images, class_names, source):
    known = set(class_names)
    for image in images:
        for label in image.labels:
            if label not in known:
                raise DataError(
                    f"{source}: class {label!r} of {os.path.basename(image.path)} is not in the "
                    f"class list ({', '.join(class_names)}); add it there or fix the label."
                )


def _read_class_file(path):
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def _given_classes(folder, classes):
    """Classes from the `classes` option or a `classes.txt` in `folder`, or None."""
    if classes is not None:
        if isinstance(classes, str):
            classes = [part.strip() for part in classes.split(",") if part.strip()]
        return [str(name) for name in classes]
    path = os.path.join(folder, "classes.txt")
    return _read_class_file(path) if os.path.isfile(path) else None


def _finish(records, class_names, layout, source):
    labels_seen = sorted({label for image in records for label in image.labels})
    if class_names is None:
        class_names = labels_seen
    _check_classes(records, class_names, source)
    if not records:
        raise DataError(
            f"{source} holds no images; put the images beside the annotations."
        )
    if not class_names:
        raise DataError(f"{source} has no boxes at all; annotate at least one object.")
    return Annotations(records, list(class_names), layout)


def _unannotated(folder, annotated_paths):
    done = {os.path.abspath(p) for p in annotated_paths}
    return [
        AnnotatedImage(path, *_image_size(path), np.zeros((0, 4)), [], annotated=False)
        for path in _list_images(folder)
        if os.path.abspath(path) not in done
    ]


def read_csv_layout(path, *, classes=None) -> Annotations:
    """Reads a TF Object Detection CSV (`filename,width,height,class,xmin,...`)."""
    folder = os.path.dirname(os.path.abspath(path))
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in CSV_COLUMNS if name not in header]
        if missing:
            raise DataError(
                f"{path} lacks column(s) {', '.join(missing)}; the CSV layout needs "
                f"{','.join(CSV_COLUMNS)}."
            )
        rows = [
            {k.strip(): (v or "").strip() for k, v in row.items() if k}
            for row in reader
        ]
    by_image = {}
    for number, row in enumerate(rows, start=2):
        where = f"{path} line {number}"
        image_path = os.path.join(folder, row["filename"])
        try:
            width, height = int(float(row["width"])), int(float(row["height"]))
            box = [float(row[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError:
            raise DataError(
                f"{where}: width, height and box must be numbers; fix the row."
            ) from None
        if image_path not in by_image:
            if not os.path.isfile(image_path):
                raise DataError(
                    f"{where}: image {row['filename']!r} does not exist beside the CSV; "
                    "add the image or drop its rows."
                )
            actual = _image_size(image_path)
            if actual != (width, height):
                raise DataError(
                    f"{where}: {row['filename']} is {actual[0]}x{actual[1]} pixels, not the "
                    f"{width}x{height} the CSV says; fix the width and height columns."
                )
            by_image[image_path] = AnnotatedImage(image_path, width, height, [], [])
        record = by_image[image_path]
        record.boxes.append(
            check_box(box, width, height, f"{where} ({row['filename']})")
        )
        record.labels.append(row["class"])
    records = list(by_image.values())
    for record in records:
        record.boxes = np.asarray(record.boxes, dtype=np.float64).reshape(-1, 4)
    records += _unannotated(folder, by_image)
    return _finish(records, _given_classes(folder, classes), "csv", path)


def _yolo_classes(root, classes):
    given = _given_classes(root, classes)
    if given is not None:
        return given
    path = os.path.join(root, "data.yaml")
    if not os.path.isfile(path):
        raise DataError(
            f"{root} is a YOLO folder without class names; add classes.txt (one name per "
            "line) or data.yaml with names:."
        )
    import yaml

    with open(path, encoding="utf-8") as handle:
        names = (yaml.safe_load(handle) or {}).get("names")
    if isinstance(names, dict):
        names = [names[key] for key in sorted(names, key=int)]
    if not isinstance(names, list) or not names:
        raise DataError(f"{path} has no names: list; list the class names in it.")
    return [str(name) for name in names]


def read_yolo_layout(root, *, classes=None) -> Annotations:
    """Reads a YOLO folder: `images/`, `labels/*.txt`, `classes.txt` or `data.yaml`."""
    class_names = _yolo_classes(root, classes)
    images_dir, labels_dir = os.path.join(root, "images"), os.path.join(root, "labels")
    images = {
        os.path.splitext(os.path.relpath(p, images_dir))[0]: p
        for p in _list_images(images_dir)
    }
    records = []
    for folder, _, files in os.walk(labels_dir):
        for name in sorted(files):
            if not name.endswith(".txt"):
                continue
            label_path = os.path.join(folder, name)
            key = os.path.splitext(os.path.relpath(label_path, labels_dir))[0]
            if key not in images:
                raise DataError(
                    f"{label_path} annotates a missing image (no images/{key}.*); "
                    "add the image or delete the label file."
                )
            records.append(_read_yolo_labels(label_path, images.pop(key), class_names))
    for path in images.values():
        records.append(
            AnnotatedImage(
                path, *_image_size(path), np.zeros((0, 4)), [], annotated=False
            )
        )
    records.sort(key=lambda record: record.path)
    return _finish(records, class_names, "yolo", root)


def _read_yolo_labels(label_path, image_path, class_names):
    width, height = _image_size(image_path)
    boxes, labels = [], []
    with open(label_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{label_path} line {number}"
            parts = line.split()
            try:
                index = int(parts[0])
                cx, cy, w, h = (float(v) for v in parts[1:5])
            except (ValueError, IndexError):
                raise DataError(
                    f"{where}: expected 'class cx cy w h' numbers; fix the line."
                ) from None
            if len(parts) != 5:
                raise DataError(
                    f"{where}: expected 5 values 'class cx cy w h'; fix the line."
                )
            if not 0 <= index < len(class_names):
                raise DataError(
                    f"{where}: class {index} is not in the class list (0..{len(class_names) - 1}); "
                    "add it to classes.txt/data.yaml or fix the label."
                )
            box = [
                (cx - w / 2) * width,
                (cy - h / 2) * height,
                (cx + w / 2) * width,
                (cy + h / 2) * height,
            ]
            boxes.append(check_box(box, width, height, where))
            labels.append(class_names[index])
    return AnnotatedImage(
        image_path, width, height, np.asarray(boxes).reshape(-1, 4), labels
    )


def read_voc_layout(root, *, classes=None) -> Annotations:
    """Reads Pascal VOC XML files (`Annotations/` or beside the images)."""
    xml_dir = os.path.join(root, "Annotations")
    xml_dir = xml_dir if os.path.isdir(xml_dir) else root
    image_dirs = [os.path.join(root, d) for d in ("JPEGImages", "images")]
    image_dirs = [d for d in image_dirs if os.path.isdir(d)] or [root]
    records = []
    for name in sorted(os.listdir(xml_dir)):
        if name.endswith(".xml"):
            records.append(_read_voc_file(os.path.join(xml_dir, name), image_dirs))
    done = [record.path for record in records]
    for folder in image_dirs:
        records += _unannotated(folder, done)
    return _finish(records, _given_classes(root, classes), "voc", root)


def _voc_text(node, tag, where):
    found = node.find(tag)
    if found is None or found.text is None:
        raise DataError(f"{where}: no <{tag}>; every VOC file needs it.")
    return found.text.strip()


def _read_voc_file(path, image_dirs):
    # Annotation files are the user's own: ElementTree over expat (2.4.1+
    # limits entity expansion) reads them without fetching external entities.
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise DataError(
            f"{path} is not valid XML ({error}); fix or remove it."
        ) from None
    filename = _voc_text(root, "filename", path)
    candidates = [os.path.join(d, filename) for d in image_dirs]
    candidates.append(os.path.join(os.path.dirname(path), filename))
    image_path = next((c for c in candidates if os.path.isfile(c)), None)
    if image_path is None:
        raise DataError(
            f"{path} annotates a missing image {filename!r}; put it in JPEGImages/ or "
            "images/, or delete the XML file."
        )
    try:
        width = int(float(_voc_text(root, "size/width", path)))
        height = int(float(_voc_text(root, "size/height", path)))
    except ValueError:
        raise DataError(f"{path}: <size> must hold numbers; fix it.") from None
    boxes, labels = [], []
    for number, node in enumerate(root.findall("object"), start=1):
        where = f"{path} object {number}"
        try:
            xmin, ymin, xmax, ymax = (
                float(_voc_text(node, f"bndbox/{k}", where))
                for k in ("xmin", "ymin", "xmax", "ymax")
            )
        except ValueError:
            raise DataError(f"{where}: <bndbox> must hold numbers; fix it.") from None
        # VOC counts pixels from 1 and includes xmax: pixels xmin-1 .. xmax.
        boxes.append(
            check_box(
                [xmin - 1, ymin - 1, xmax, ymax],
                width,
                height,
                where,
                shown=(xmin, ymin, xmax, ymax),
            )
        )
        labels.append(_voc_text(node, "name", where))
    return AnnotatedImage(
        image_path, width, height, np.asarray(boxes).reshape(-1, 4), labels
    )


def detect_layout(path) -> str:
    """ "csv", "yolo" or "voc" for a file or folder; DataError for anything else."""
    path = os.fspath(path)
    if os.path.isfile(path) and path.lower().endswith(".csv"):
        return "csv"
    if os.path.isdir(path):
        if os.path.isdir(os.path.join(path, "labels")) and os.path.isdir(
            os.path.join(path, "images")
        ):
            return "yolo"
        names = os.listdir(path)
        if os.path.isdir(os.path.join(path, "Annotations")) or any(
            n.endswith(".xml") for n in names
        ):
            return "voc"
        if sum(n.lower().endswith(".csv") for n in names) == 1:
            return "csv"
    raise DataError(
        f"Cannot tell the annotation layout of {path}: give a CSV (filename,width,height,class,"
        "xmin,ymin,xmax,ymax), a YOLO folder (images/, labels/, classes.txt) or Pascal VOC XML "
        "(Annotations/*.xml), or pass layout=csv|yolo|voc."
    )


def read_annotations(path, *, layout=None, classes=None) -> Annotations:
    """Reads annotated images in any of `LAYOUTS` (detected when `layout` is None)."""
    path = os.fspath(path)
    layout = layout or detect_layout(path)
    if layout not in LAYOUTS:
        raise DataError(
            f"Unknown annotation layout {layout!r}; choose one of {', '.join(LAYOUTS)}."
        )
    if layout == "csv":
        if os.path.isdir(path):
            found = [n for n in sorted(os.listdir(path)) if n.lower().endswith(".csv")]
            if len(found) != 1:
                raise DataError(
                    f"{path} should hold one CSV file for the csv layout, found {len(found)}."
                )
            path = os.path.join(path, found[0])
        return read_csv_layout(path, classes=classes)
    if layout == "yolo":
        return read_yolo_layout(path, classes=classes)
    return read_voc_layout(path, classes=classes)

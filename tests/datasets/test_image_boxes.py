"""The image_boxes kind: generated digit canvases, the three annotation layouts, bad input."""

import os

import numpy as np
import pytest
from PIL import Image

import zoo.datasets.boxes  # noqa: F401  (registers the kind)
from zoo.datasets.annotations import read_annotations
from zoo.datasets.base import load_data
from zoo.detection_metrics import foreground_box
from zoo.errors import DataError

CLASSES = ["cat", "dog"]
# name, (width, height), boxes as (class, xmin, ymin, xmax, ymax) in pixels
SMALL_SET = [
    ("a.png", (40, 30), [(0, 2, 3, 20, 25), (1, 22, 5, 40, 30)]),
    ("b.png", (50, 60), [(1, 10, 10, 30, 50)]),
    ("c.png", (32, 32), [(0, 0, 0, 16, 16), (0, 16, 16, 32, 32)]),
    ("d.png", (64, 48), [(1, 5, 7, 60, 40)]),
    ("e.png", (40, 40), [(0, 8, 8, 24, 24)]),
    ("empty.png", (36, 36), []),  # no annotation: no objects
]


def draw(path, size, boxes):
    image = np.full((size[1], size[0], 3), 30, np.uint8)
    for class_index, xmin, ymin, xmax, ymax in boxes:
        image[ymin:ymax, xmin:xmax] = (
            (200, 80, 40) if class_index == 0 else (40, 200, 90)
        )
    Image.fromarray(image).save(path)


def write_csv(folder, items=SMALL_SET):
    os.makedirs(folder, exist_ok=True)
    lines = ["filename,width,height,class,xmin,ymin,xmax,ymax"]
    for name, size, boxes in items:
        draw(os.path.join(folder, name), size, boxes)
        for c, *box in boxes:
            lines.append(
                f"{name},{size[0]},{size[1]},{CLASSES[c]},{','.join(map(str, box))}"
            )
    with open(os.path.join(folder, "labels.csv"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return folder


def write_yolo(folder, items=SMALL_SET, names_file="classes.txt"):
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    os.makedirs(os.path.join(folder, "labels"), exist_ok=True)
    for name, (width, height), boxes in items:
        draw(os.path.join(folder, "images", name), (width, height), boxes)
        if not boxes:
            continue
        with open(
            os.path.join(folder, "labels", name.replace(".png", ".txt")), "w"
        ) as handle:
            for c, xmin, ymin, xmax, ymax in boxes:
                cx, cy = (xmin + xmax) / 2 / width, (ymin + ymax) / 2 / height
                w, h = (xmax - xmin) / width, (ymax - ymin) / height
                handle.write(f"{c} {cx:.8f} {cy:.8f} {w:.8f} {h:.8f}\n")
    if names_file == "classes.txt":
        with open(os.path.join(folder, "classes.txt"), "w") as handle:
            handle.write("\n".join(CLASSES) + "\n")
    else:
        with open(os.path.join(folder, "data.yaml"), "w") as handle:
            handle.write("names:\n  0: cat\n  1: dog\n")
    return folder


def write_voc(folder, items=SMALL_SET):
    os.makedirs(os.path.join(folder, "JPEGImages"), exist_ok=True)
    os.makedirs(os.path.join(folder, "Annotations"), exist_ok=True)
    for name, (width, height), boxes in items:
        draw(os.path.join(folder, "JPEGImages", name), (width, height), boxes)
        if not boxes:
            continue
        objects = "".join(
            f"<object><name>{CLASSES[c]}</name><bndbox><xmin>{x0 + 1}</xmin><ymin>{y0 + 1}</ymin>"
            f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for c, x0, y0, x1, y1 in boxes
        )
        xml = (
            f"<annotation><filename>{name}</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{objects}</annotation>"
        )
        with open(
            os.path.join(folder, "Annotations", name.replace(".png", ".xml")), "w"
        ) as handle:
            handle.write(xml)
    return folder


def as_table(annotations):
    return {
        os.path.basename(image.path): (
            image.width,
            image.height,
            image.labels,
            image.boxes,
        )
        for image in annotations.images
    }


@pytest.mark.parametrize("names_file", ["classes.txt", "data.yaml"])
def test_three_layouts_load_the_same_boxes(tmp_path, names_file):
    tables = {
        "csv": read_annotations(write_csv(tmp_path / "csv")),
        "yolo": read_annotations(write_yolo(tmp_path / "yolo", names_file=names_file)),
        "voc": read_annotations(write_voc(tmp_path / "voc")),
    }
    expected = {
        name: (
            size[0],
            size[1],
            [CLASSES[b[0]] for b in boxes],
            np.array([b[1:] for b in boxes]).reshape(-1, 4),
        )
        for name, size, boxes in SMALL_SET
    }
    for layout, annotations in tables.items():
        assert annotations.layout == layout
        assert annotations.class_names == CLASSES
        table = as_table(annotations)
        assert sorted(table) == sorted(expected)
        for name, (width, height, labels, boxes) in expected.items():
            assert table[name][:3] == (width, height, labels), (layout, name)
            np.testing.assert_allclose(
                table[name][3], boxes, atol=1e-5, err_msg=f"{layout} {name}"
            )
        assert (
            "1 images without objects, 1 of them with no annotation file"
            in annotations.summary()
        )
    bundles = [
        load_data(str(path), kind="image_boxes", image_size=24, seed=3)
        for path in (tmp_path / "csv", tmp_path / "yolo", tmp_path / "voc")
    ]
    first = [np.concatenate([y.numpy()[None] for _, y in bundles[0].test])]
    for bundle in bundles[1:]:
        assert bundle.input_shape == (24, 24, 3)
        np.testing.assert_allclose(
            [np.concatenate([y.numpy()[None] for _, y in bundle.test])],
            first,
            atol=1e-5,
        )


def test_boxes_rescale_with_the_image(tmp_path):
    bundle = load_data(
        str(write_csv(tmp_path / "csv")),
        kind="image_boxes",
        image_size=(30, 50),
        validation_split=0.2,
        test_split=0.2,
    )
    for image, target in bundle.train.concatenate(bundle.test).concatenate(
        bundle.validation
    ):
        image, target = image.numpy(), target.numpy()
        assert image.shape == (30, 50, 3)
        for row in target[target[:, 0] >= 0]:
            x0, y0, x1, y1 = np.round(row[1:] * [50, 30, 50, 30]).astype(int)
            inside = image[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1]
            assert inside.size and np.all(
                inside.max(axis=-1) > 60
            )  # the drawn box's colour


def test_digit_canvases_have_exact_boxes_and_are_seeded():
    bundle = load_data("digit_boxes", kind="image_boxes", size=40, seed=5)
    again = load_data("digit_boxes", kind="image_boxes", size=40, seed=5)
    assert bundle.input_shape == (64, 64, 1) and bundle.num_classes == 10
    pairs = list(bundle.train.take(10))
    for (image, target), (image2, _target2) in zip(pairs, again.train.take(10)):
        np.testing.assert_array_equal(image.numpy(), image2.numpy())
        np.testing.assert_allclose(
            foreground_box(image.numpy()), target.numpy()[0, 1:], atol=1.5 / 64
        )
    scenes = load_data("digit_scenes", kind="image_boxes", size=40, seed=1)
    targets = np.stack([y.numpy() for _, y in scenes.train])
    counts = (targets[..., 0] >= 0).sum(axis=1)
    assert (
        targets.shape[1:] == (4, 5)
        and counts.min() >= 1
        and counts.max() <= 4
        and len(set(counts)) > 1
    )


def test_flip_and_shift_move_the_boxes_with_the_pixels():
    bundle = load_data(
        "digit_boxes",
        kind="image_boxes",
        size=60,
        augment="flip,shift",
        shift_factor=0.15,
        seed=2,
    )
    plain = load_data("digit_boxes", kind="image_boxes", size=60, seed=2)
    moved = 0
    for (image, target), (_, original) in zip(
        bundle.train.take(16), plain.train.take(16)
    ):
        image, target = image.numpy(), target.numpy()
        if target[0, 0] < 0:
            continue  # shifted out of the picture
        np.testing.assert_allclose(foreground_box(image), target[0, 1:], atol=2.5 / 64)
        moved += not np.allclose(target[0, 1:], original.numpy()[0, 1:], atol=1 / 64)
    assert moved >= 8


# === Bad annotations: one line each ===


def one_line(error):
    message = str(error.value)
    assert "\n" not in message
    return message


def test_box_outside_its_image(tmp_path):
    write_csv(tmp_path, [("a.png", (40, 30), [(0, 2, 3, 41, 25)]), *SMALL_SET[1:]])
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path)
    assert (
        "line 2 (a.png): box (2, 3, 41, 25) lies outside the 40x30 image"
        in one_line(error)
    )


def test_xmin_not_below_xmax(tmp_path):
    write_voc(tmp_path, SMALL_SET)
    path = tmp_path / "Annotations" / "b.xml"
    path.write_text(path.read_text().replace("<xmin>11</xmin>", "<xmin>31</xmin>"))
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path)
    assert (
        "b.xml object 1: xmin >= xmax or ymin >= ymax in box (31, 11, 30, 50)"
        in one_line(error)
    )


def test_class_not_in_the_list(tmp_path):
    write_yolo(tmp_path / "yolo")
    with open(tmp_path / "yolo" / "labels" / "a.txt", "a") as handle:
        handle.write("2 0.5 0.5 0.2 0.2\n")
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path / "yolo")
    assert "a.txt line 3: class 2 is not in the class list (0..1)" in one_line(error)
    write_csv(tmp_path / "csv")
    (tmp_path / "csv" / "classes.txt").write_text("cat\n")
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path / "csv")
    assert "class 'dog' of a.png is not in the class list (cat)" in one_line(error)


@pytest.mark.parametrize("layout", ["csv", "yolo", "voc"])
def test_annotation_for_a_missing_image(tmp_path, layout):
    folder = {"csv": write_csv, "yolo": write_yolo, "voc": write_voc}[layout](tmp_path)
    victim = {"csv": "b.png", "yolo": "images/b.png", "voc": "JPEGImages/b.png"}[layout]
    os.remove(os.path.join(folder, victim))
    with pytest.raises(DataError) as error:
        read_annotations(folder)
    message = one_line(error)
    assert "missing image" in message or "does not exist" in message
    assert "b" in message


def test_image_without_annotation_file_is_an_image_without_objects(tmp_path):
    bundle = load_data(str(write_yolo(tmp_path)), kind="image_boxes", image_size=16)
    assert bundle.info["images_without_annotation_file"] == 1
    assert (
        bundle.info["summary"]
        == "6 images, 7 boxes of 2 classes (yolo layout); 1 images without objects, 1 of them with no annotation file"
    )


def test_unknown_layout(tmp_path):
    draw(tmp_path / "a.png", (8, 8), [])
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path)
    assert "Cannot tell the annotation layout" in one_line(error)
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path, layout="coco")
    assert "Unknown annotation layout 'coco'" in one_line(error)


def test_bad_csv_columns_and_numbers(tmp_path):
    write_csv(tmp_path)
    (tmp_path / "labels.csv").write_text("filename,class,xmin\na.png,cat,1\n")
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path)
    assert "lacks column(s) width, height, ymin, xmax, ymax" in one_line(error)
    (tmp_path / "labels.csv").write_text(
        "filename,width,height,class,xmin,ymin,xmax,ymax\na.png,40,30,cat,x,1,2,3\n"
    )
    with pytest.raises(DataError) as error:
        read_annotations(tmp_path)
    assert "line 2: width, height and box must be numbers" in one_line(error)

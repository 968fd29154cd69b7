"""Detection and localization scores in NumPy, and the baselines beside them.

Keras has no mean average precision (keras-hub's COCO metrics left with
KerasCV), so it is written here, after the Pascal VOC devkit (all-point
interpolated AP at IoU 0.5) and the COCO API (101-point AP averaged over IoU
0.5:0.95). Inputs follow `zoo.boxes`: per image, true boxes `[M, 5]`
`(class, xmin, ymin, xmax, ymax)` and detections `[K, 6]` `(class, score,
xmin, ymin, xmax, ymax)`; rows of class -1 are padding and ignored.

Example:
    >>> truth = [np.array([[0, 0.1, 0.1, 0.5, 0.5]])]
    >>> found = [np.array([[0, 0.9, 0.1, 0.1, 0.5, 0.5]])]
    >>> detection_scores(truth, found, num_classes=1)["map_50"]
    1.0
"""

import numpy as np

COCO_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)
# A pixel belongs to the foreground when a channel differs from the image's
# background colour by more than this (0..255 images).
FOREGROUND_DIFFERENCE = 25.5


def unpad(rows) -> list[np.ndarray]:
    """Per-image arrays without padding rows (class < 0)."""
    return [np.asarray(r, dtype=np.float64)[np.asarray(r)[:, 0] >= 0] for r in rows]


def iou_matrix(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU `[N, M]` of xyxy boxes `[N, 4]` and `[M, 4]`."""
    boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
    boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    overlap = np.clip(bottom_right - top_left, 0, None).prod(-1)
    area1 = np.clip(boxes1[:, 2:] - boxes1[:, :2], 0, None).prod(-1)
    area2 = np.clip(boxes2[:, 2:] - boxes2[:, :2], 0, None).prod(-1)
    union = area1[:, None] + area2[None, :] - overlap
    return np.where(union > 0, overlap / np.maximum(union, 1e-12), 0.0)


def _match(truth, found, class_index, threshold):
    """`(scores, is_true_positive, number of true boxes)` for one class."""
    scores, hits, total = [], [], 0
    for true_rows, found_rows in zip(truth, found, strict=True):
        true_boxes = true_rows[true_rows[:, 0] == class_index, 1:5]
        mine = found_rows[found_rows[:, 0] == class_index]
        mine = mine[np.argsort(-mine[:, 1], kind="stable")]
        total += len(true_boxes)
        taken = np.zeros(len(true_boxes), dtype=bool)
        overlaps = iou_matrix(mine[:, 2:6], true_boxes)
        for row, detection in enumerate(mine):
            scores.append(detection[1])
            candidates = np.where(taken, -1.0, overlaps[row]) if len(taken) else []
            best = int(np.argmax(candidates)) if len(candidates) else -1
            hit = best >= 0 and candidates[best] >= threshold
            if hit:
                taken[best] = True
            hits.append(hit)
    return np.asarray(scores), np.asarray(hits, dtype=bool), total


def average_precision(scores, hits, total, *, method="voc") -> float:
    """AP from detections' scores and hits and the number of true boxes.

    `method="voc"`: area under the precision envelope at every recall step
    (VOC 2010+). `"coco"`: mean envelope precision at 101 recall points.
    NaN when there is no true box of the class.
    """
    if total == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    hits = hits[order]
    true_positives = np.cumsum(hits)
    recall = true_positives / total
    precision = true_positives / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    if method == "coco":
        points = np.linspace(0.0, 1.0, 101)
        index = np.searchsorted(recall, points, side="left")
        padded = np.append(envelope, 0.0)
        return float(padded[index].mean())
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * envelope))


def detection_scores(truth, found, num_classes: int, class_names=None) -> dict:
    """mAP@0.5 (VOC-style, per class and mean) and mAP@0.5:0.95 (COCO-style).

    Args:
        truth: Per image, `[M, 5]` true boxes (padding allowed).
        found: Per image, `[K, 6]` detections (padding allowed).
        num_classes: Number of classes; classes without a true box are left
            out of the means.
        class_names: Names for the per-class keys (`ap_50_<name>`).

    Returns:
        `{"map_50", "map_50_95", "ap_50_<class>"...}` as floats.
    """
    truth, found = unpad(truth), unpad(found)
    names = class_names or [str(i) for i in range(num_classes)]
    voc = []
    coco = []
    for class_index in range(num_classes):
        scores, hits, total = _match(truth, found, class_index, 0.5)
        voc.append(average_precision(scores, hits, total, method="voc"))
        per_threshold = []
        for threshold in COCO_THRESHOLDS:
            scores, hits, total = _match(truth, found, class_index, threshold)
            per_threshold.append(average_precision(scores, hits, total, method="coco"))
        coco.append(np.mean(per_threshold))
    result = {
        "map_50": _nanmean(voc),
        "map_50_95": _nanmean(coco),
    }
    for name, value in zip(names, voc, strict=True):
        if not np.isnan(value):
            result[f"ap_50_{name}"] = float(value)
    return result


def _nanmean(values):
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else 0.0


def localization_scores(true_first, predicted_classes, predicted_boxes) -> dict:
    """Class accuracy, mean IoU and the share with IoU >= 0.5 of one box per image.

    Args:
        true_first: `[N, 5]` the first true box of each image (class -1 when
            it has none; those are left out).
        predicted_classes: `[N]` predicted class indices.
        predicted_boxes: `[N, 4]` predicted xyxy boxes.
    """
    true_first = np.asarray(true_first, dtype=np.float64)
    present = true_first[:, 0] >= 0
    if not np.any(present):
        return {"accuracy": 0.0, "mean_iou": 0.0, "iou_50": 0.0}
    ious = np.diag(
        iou_matrix(true_first[present, 1:5], np.asarray(predicted_boxes)[present])
    )
    right = np.asarray(predicted_classes)[present] == true_first[present, 0]
    return {
        "accuracy": float(right.mean()),
        "mean_iou": float(ious.mean()),
        "iou_50": float((ious >= 0.5).mean()),
    }


# === Baselines ===


def foreground_box(image: np.ndarray) -> np.ndarray:
    """The rel_xyxy box around every pixel that is not background colour.

    The background colour is the median of the image's border pixels; the
    whole image when nothing differs from it.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    height, width = image.shape[:2]
    border = np.concatenate(
        [image[0], image[-1], image[:, 0], image[:, -1]], axis=0
    ).reshape(-1, image.shape[-1])
    background = np.median(border, axis=0)
    mask = np.abs(image - background).max(axis=-1) > FOREGROUND_DIFFERENCE
    if not mask.any():
        return np.array([0.0, 0.0, 1.0, 1.0])
    rows, columns = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return np.array(
        [
            columns[0] / width,
            rows[0] / height,
            (columns[-1] + 1) / width,
            (rows[-1] + 1) / height,
        ]
    )


def baseline_scores(
    train_targets, test_images, test_targets, num_classes, class_names=None
):
    """Scores of two box-guessing baselines on the test split.

    - `mean_box`: the training split's mean box and most frequent class.
    - `foreground_box`: the box around all non-background pixels of each test
      image, with the most frequent training class.

    Both give one box (score 1) per image, scored as a localizer (accuracy,
    mean IoU, share with IoU >= 0.5, on each image's first box) and as a
    detector (mAP@0.5, mAP@0.5:0.95).

    Returns:
        `{"baseline_mean_box_mean_iou": ..., "baseline_foreground_box_map_50": ...}`.
    """
    train_rows = np.concatenate(unpad(train_targets), axis=0)
    majority = int(
        np.bincount(train_rows[:, 0].astype(int), minlength=num_classes).argmax()
    )
    mean_box = train_rows[:, 1:5].mean(axis=0)
    test_targets = np.asarray(test_targets)
    guesses = {
        "mean_box": np.tile(mean_box, (len(test_targets), 1)),
        "foreground_box": np.stack([foreground_box(image) for image in test_images]),
    }
    result = {}
    for name, boxes in guesses.items():
        located = localization_scores(
            test_targets[:, 0], np.full(len(boxes), majority), boxes
        )
        found = [np.array([[majority, 1.0, *box]]) for box in boxes]
        detected = detection_scores(test_targets, found, num_classes, class_names)
        for key in ("accuracy", "mean_iou", "iou_50"):
            result[f"baseline_{name}_{key}"] = located[key]
        for key in ("map_50", "map_50_95"):
            result[f"baseline_{name}_{key}"] = detected[key]
    return result

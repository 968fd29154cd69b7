"""The evaluate hook shared by the localizer and the detector.

Scores the test split (mAP, and for the localizer accuracy and IoU), puts
the box baselines of `zoo.detection_metrics` beside them, and draws
`boxes.png`. Returns a `zoo.registry.Evaluation`; the runner writes it.
"""

import numpy as np

from zoo.box_drawing import box_grid
from zoo.boxes import DecodeDetections, split_slots
from zoo.detection_metrics import baseline_scores, detection_scores, localization_scores
from zoo.registry import Evaluation

# Detections kept for mAP: every box scoring above this, as the VOC and COCO
# evaluations do (a higher display threshold would cut the recall curve).
MAP_SCORE_THRESHOLD = 0.01
PICTURE_COUNT = 12


def split_arrays(bundle, split="test", batch_size=256):
    """`(images, targets)` of a split as NumPy arrays, in order."""
    images, targets = [], []
    for x, y in bundle.batches(split, batch_size, shuffle=False):
        images.append(np.asarray(x))
        targets.append(np.asarray(y))
    return np.concatenate(images), np.concatenate(targets)


def evaluate_boxes(model, config, bundle, *, localizer: bool) -> Evaluation:
    """Test metrics, baselines and `boxes.png` for a box model.

    Args:
        model: The trained network answering prediction slots (`zoo.boxes`),
            decoded here with the low threshold mAP needs.
        config: Its config (`max_detections`, `iou_threshold`,
            `score_threshold` for the detector; `score_threshold` for both).
        bundle: The `image_boxes` bundle.
        localizer: One box per image (adds accuracy and IoU scores).
    """
    num_classes, names = bundle.num_classes, bundle.class_names
    images, targets = split_arrays(bundle, "test")
    slots = model.predict(images, batch_size=64, verbose=0)
    decoder = DecodeDetections(
        num_classes,
        max_detections=1 if localizer else config.max_detections,
        iou_threshold=getattr(config, "iou_threshold", 0.5),
        score_threshold=MAP_SCORE_THRESHOLD,
    )
    detections = np.asarray(decoder(slots))
    metrics = {
        f"test_{key}": value
        for key, value in detection_scores(
            targets, detections, num_classes, names
        ).items()
    }
    if localizer:
        _, probabilities, boxes = split_slots(np.asarray(slots), num_classes)
        located = localization_scores(targets[:, 0], probabilities.argmax(-1), boxes)
        metrics.update({f"test_{key}": value for key, value in located.items()})
    _, train_targets = split_arrays(bundle, "train")
    metrics.update(baseline_scores(train_targets, images, targets, num_classes, names))
    shown = detections[:PICTURE_COUNT].copy()
    shown[shown[..., 1] < config.score_threshold, 0] = -1  # as the saved model answers
    picture = box_grid(images[:PICTURE_COUNT], targets[:PICTURE_COUNT], shown, names)
    return Evaluation(metrics=metrics, images={"boxes.png": picture})

"""Losses and training metrics for the localizer and the grid detector.

Both read the `image_boxes` targets as they come (`[batch, max_boxes, 5]`,
see `zoo.boxes`) and assign them to prediction slots inside the loss, so the
data never depends on the model's grid. Registered with the zoo's package:
`model.keras` files that hold them load with `safe_mode=True`.
"""

import keras
from keras import ops

from zoo.boxes import EPSILON, box_giou, box_iou, encode_grid, slot_width, split_slots
from zoo.errors import ConfigError

BOX_LOSSES = ("l1", "smooth_l1", "iou", "giou")
# Smooth L1 turns linear beyond this distance, in image fractions (2.4 pixels
# of a 96-pixel canvas); Fast R-CNN's 1.0 is in pixels of a 600-pixel image.
SMOOTH_L1_BETA = 0.025


def check_box_loss(name: str) -> str:
    """The name when it is one of `BOX_LOSSES`, else a `ConfigError`."""
    if name not in BOX_LOSSES:
        raise ConfigError(
            f"Unknown box_loss {name!r}; choose one of {', '.join(BOX_LOSSES)}."
        )
    return name


def box_term(kind: str, true_boxes, predicted_boxes):
    """Per-box regression loss `[...]` of one of `BOX_LOSSES` (xyxy boxes)."""
    if kind in ("l1", "smooth_l1"):
        distance = ops.abs(true_boxes - predicted_boxes)
        if kind == "smooth_l1":
            distance = ops.where(
                distance < SMOOTH_L1_BETA,
                0.5 * distance * distance / SMOOTH_L1_BETA,
                distance - 0.5 * SMOOTH_L1_BETA,
            )
        return ops.sum(distance, axis=-1)
    if kind == "iou":
        return 1.0 - box_iou(true_boxes, predicted_boxes)
    return 1.0 - box_giou(true_boxes, predicted_boxes)


def slot_loss(cells, slots, num_classes, *, box_loss, weights):
    """Per-image loss `[batch]` of slots against assigned targets.

    Args:
        cells: `[batch, N, 6]` from `encode_grid`.
        slots: `[batch, N, 5 + C]` predictions.
        num_classes: C.
        box_loss: One of `BOX_LOSSES`.
        weights: `(object, no_object, class, box)` weights. The "no object"
            weight scales the objectness loss of slots without a box (YOLO v1's
            lambda_noobj), the box weight its lambda_coord.
    """
    object_weight, no_object_weight, class_weight, box_weight = weights
    has_object = cells[..., 0]
    objectness, probabilities, boxes = split_slots(slots, num_classes)
    objectness = ops.clip(objectness, EPSILON, 1.0 - EPSILON)
    object_term = -(
        object_weight * has_object * ops.log(objectness)
        + no_object_weight * (1.0 - has_object) * ops.log(1.0 - objectness)
    )
    true_class = ops.one_hot(ops.cast(cells[..., 1], "int32"), num_classes)
    class_term = -ops.sum(
        true_class * ops.log(ops.clip(probabilities, EPSILON, 1.0)), axis=-1
    )
    regression = box_term(box_loss, cells[..., 2:], boxes)
    per_slot = object_term + has_object * (
        class_weight * class_term + box_weight * regression
    )
    return ops.sum(per_slot, axis=-1)


class _BoxLossBase(keras.losses.Loss):
    def __init__(
        self,
        num_classes,
        box_loss="giou",
        box_weight=5.0,
        class_weight=1.0,
        object_weight=1.0,
        no_object_weight=0.5,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.box_loss = check_box_loss(box_loss)
        self.box_weight = float(box_weight)
        self.class_weight = float(class_weight)
        self.object_weight = float(object_weight)
        self.no_object_weight = float(no_object_weight)

    def _weights(self):
        return (
            self.object_weight,
            self.no_object_weight,
            self.class_weight,
            self.box_weight,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "box_loss": self.box_loss,
            "box_weight": self.box_weight,
            "class_weight": self.class_weight,
            "object_weight": self.object_weight,
            "no_object_weight": self.no_object_weight,
        }


@keras.saving.register_keras_serializable(package="zoo")
class LocalizerLoss(_BoxLossBase):
    """Class cross-entropy + weighted box term + "no object" for one box per image.

    `y_true`: `[batch, max_boxes, 5]` targets (the first box is the object;
    all padding means no object). `y_pred`: `[batch, 5 + C]` slots
    (`zoo.boxes`). The loss is the objectness cross-entropy, plus, when an
    object is present, `class_weight` x class cross-entropy and `box_weight`
    x the box term (`box_loss`: "l1", "smooth_l1", "iou" or "giou").

    Example:
        >>> loss = LocalizerLoss(num_classes=10, box_loss="giou", box_weight=5.0)
    """

    def __init__(self, num_classes, name="localizer_loss", **kwargs):
        kwargs.setdefault("no_object_weight", 1.0)
        super().__init__(num_classes, name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.reshape(y_true, (ops.shape(y_true)[0], -1, 5))
        cells = encode_grid(y_true, 1)
        slots = ops.reshape(y_pred, (-1, 1, slot_width(self.num_classes)))
        return slot_loss(
            cells,
            slots,
            self.num_classes,
            box_loss=self.box_loss,
            weights=self._weights(),
        )


@keras.saving.register_keras_serializable(package="zoo")
class GridDetectionLoss(_BoxLossBase):
    """The YOLO v1-style loss of a one-box-per-cell grid detector.

    `y_true`: `[batch, max_boxes, 5]`; each box is assigned to the cell
    holding its centre (`zoo.boxes.encode_grid`). `y_pred`: `[batch, S, S,
    5 + C]` slots from `GridBoxHead`. Per cell: objectness cross-entropy
    (cells without a box weighted by `no_object_weight`, YOLO's 0.5), and for
    cells with one, class cross-entropy and `box_weight` (YOLO's 5) times the
    box term. YOLO v1 uses squared errors on sqrt(w), sqrt(h); the box term
    here is chosen by `box_loss`, GIoU by default, which needs no such
    rescaling because it is scale-invariant.
    """

    def __init__(self, num_classes, name="grid_detection_loss", **kwargs):
        super().__init__(num_classes, name=name, **kwargs)

    def call(self, y_true, y_pred):
        grid_size = y_pred.shape[1]
        cells = encode_grid(y_true, grid_size)
        slots = ops.reshape(
            y_pred, (-1, grid_size * grid_size, slot_width(self.num_classes))
        )
        return slot_loss(
            cells,
            slots,
            self.num_classes,
            box_loss=self.box_loss,
            weights=self._weights(),
        )


# === Training metrics ===


@keras.saving.register_keras_serializable(package="zoo")
class LocalizerAccuracy(keras.metrics.MeanMetricWrapper):
    """Share of images whose first box's class is the predicted class.

    Images without an object count as right when the objectness is below 0.5.
    """

    def __init__(self, num_classes, name="accuracy", dtype=None):
        self.num_classes = int(num_classes)
        super().__init__(fn=self._accuracy, name=name, dtype=dtype)

    def _accuracy(self, y_true, y_pred):
        cells = encode_grid(ops.reshape(y_true, (ops.shape(y_true)[0], -1, 5)), 1)
        objectness, probabilities, _ = split_slots(y_pred, self.num_classes)
        has_object = cells[:, 0, 0] > 0.5
        predicted = ops.cast(ops.argmax(probabilities, axis=-1), "float32")
        right_class = ops.logical_and(objectness >= 0.5, predicted == cells[:, 0, 1])
        return ops.cast(ops.where(has_object, right_class, objectness < 0.5), "float32")

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="zoo")
class LocalizerMeanIoU(keras.metrics.Mean):
    """Mean IoU of the predicted box with the first true box, over images with one."""

    def __init__(self, num_classes, name="mean_iou", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)

    def update_state(self, y_true, y_pred, sample_weight=None):
        del sample_weight
        cells = encode_grid(ops.reshape(y_true, (ops.shape(y_true)[0], -1, 5)), 1)
        _, _, boxes = split_slots(y_pred, self.num_classes)
        iou = box_iou(cells[:, 0, 2:], boxes)
        return super().update_state(iou, sample_weight=cells[:, 0, 0])

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name, "dtype": self.dtype}

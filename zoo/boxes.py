"""Bounding boxes for localization and detection: formats, IoU, heads, decoding.

One layout runs through the data, the models and the metrics:

- Boxes are `rel_xyxy`: `(xmin, ymin, xmax, ymax)` as fractions of the image's
  width and height, so they stay right when the image is resized.
- A target (`y` of the `image_boxes` data kind) is `[max_boxes, 5]`:
  `(class, xmin, ymin, xmax, ymax)` per box, rows of class -1 are padding.
- A prediction *slot* is `[1 + num_classes + 4]`: objectness probability,
  class probabilities, box. The localizer predicts one slot per image
  (`[batch, 5 + C]`), the grid detector one per cell (`[batch, S, S, 5 + C]`).
- A detection (what a saved model answers) is `[6]`:
  `(class, score, xmin, ymin, xmax, ymax)`, class -1 for empty rows.

Keras has box format conversions and pairwise IoU
(`keras.utils.bounding_boxes`); it lacks an element-wise IoU/GIoU for a loss,
a grid head and non-maximum suppression in `keras.ops`, written here.
"""

import math

import keras
from keras import ops

BOX_FORMAT = "rel_xyxy"
TARGET_WIDTH = 5
DETECTION_WIDTH = 6
EPSILON = 1e-7


def slot_width(num_classes: int) -> int:
    """Width of one prediction slot: objectness, class probabilities, box."""
    return 1 + int(num_classes) + 4


def convert_boxes(boxes, source: str, target: str, *, height=None, width=None):
    """Converts boxes between Keras formats ("xyxy", "rel_xyxy", "center_xywh"...).

    A thin wrapper over `keras.utils.bounding_boxes.convert_format`; relative
    formats need the image `height` and `width`.

    Example:
        >>> convert_boxes([[10.0, 20.0, 30.0, 60.0]], "xyxy", "rel_xyxy", height=100, width=50)
        ... # doctest: +SKIP
        [[0.2, 0.2, 0.6, 0.6]]
    """
    boxes = ops.convert_to_tensor(boxes, dtype="float32")
    return keras.utils.bounding_boxes.convert_format(
        boxes, source=source, target=target, height=height, width=width
    )


def pairwise_iou(boxes1, boxes2):
    """IoU of every box in `boxes1` `[N, 4]` with every one in `boxes2` `[M, 4]` (xyxy)."""
    # Keras' compute_iou splits as yxyx; IoU does not depend on the axis order.
    return keras.utils.bounding_boxes.compute_iou(boxes1, boxes2, "yxyx")


def _area(boxes):
    return ops.maximum(boxes[..., 2] - boxes[..., 0], 0.0) * ops.maximum(
        boxes[..., 3] - boxes[..., 1], 0.0
    )


def box_iou(boxes1, boxes2):
    """Element-wise IoU of two xyxy box tensors of the same shape `[..., 4]`."""
    boxes1 = ops.cast(boxes1, "float32")
    boxes2 = ops.cast(boxes2, "float32")
    top_left = ops.maximum(boxes1[..., :2], boxes2[..., :2])
    bottom_right = ops.minimum(boxes1[..., 2:], boxes2[..., 2:])
    overlap = ops.maximum(bottom_right - top_left, 0.0)
    intersection = overlap[..., 0] * overlap[..., 1]
    union = _area(boxes1) + _area(boxes2) - intersection
    return intersection / (union + EPSILON)


def box_giou(boxes1, boxes2):
    """Element-wise generalized IoU (Rezatofighi et al. 2019), in [-1, 1].

    IoU minus the share of the smallest enclosing box that the union leaves
    empty: unlike IoU it still has a gradient when the boxes do not overlap.
    """
    boxes1 = ops.cast(boxes1, "float32")
    boxes2 = ops.cast(boxes2, "float32")
    top_left = ops.maximum(boxes1[..., :2], boxes2[..., :2])
    bottom_right = ops.minimum(boxes1[..., 2:], boxes2[..., 2:])
    overlap = ops.maximum(bottom_right - top_left, 0.0)
    intersection = overlap[..., 0] * overlap[..., 1]
    union = _area(boxes1) + _area(boxes2) - intersection
    iou = intersection / (union + EPSILON)
    enclosing_size = ops.maximum(
        ops.maximum(boxes1[..., 2:], boxes2[..., 2:])
        - ops.minimum(boxes1[..., :2], boxes2[..., :2]),
        0.0,
    )
    enclosing = enclosing_size[..., 0] * enclosing_size[..., 1]
    return iou - (enclosing - union) / (enclosing + EPSILON)


def split_slots(slots, num_classes: int):
    """`(objectness [...], class probabilities [..., C], boxes [..., 4])` of slots."""
    num_classes = int(num_classes)
    return (
        slots[..., 0],
        slots[..., 1 : 1 + num_classes],
        slots[..., 1 + num_classes : 5 + num_classes],
    )


def encode_grid(targets, grid_size: int):
    """Assigns each true box to the grid cell holding its centre (YOLO v1).

    Args:
        targets: `[batch, max_boxes, 5]` rows of `(class, xmin, ymin, xmax,
            ymax)`, class -1 for padding.
        grid_size: Cells per side, S.

    Returns:
        `[batch, S * S, 6]`: per cell `(object, class, xmin, ymin, xmax,
        ymax)`, object 1 where a box's centre falls. When two centres share a
        cell the first box in the target wins (YOLO v1 keeps one object per
        cell too); `grid_size=1` gives the localizer's target, the first box.
    """
    targets = ops.cast(targets, "float32")
    classes = targets[..., 0]
    boxes = targets[..., 1:5]
    valid = ops.cast(classes >= 0, "float32")
    centres = (boxes[..., :2] + boxes[..., 2:]) / 2.0
    cells = ops.clip(ops.floor(centres * grid_size), 0, grid_size - 1)
    index = ops.cast(cells[..., 1] * grid_size + cells[..., 0], "int32")
    assigned = ops.one_hot(index, grid_size * grid_size) * valid[..., None]
    # Keep the first box of each cell: its running count along the boxes is 1.
    first = assigned * ops.cast(ops.cumsum(assigned, axis=1) == 1.0, "float32")
    objects = ops.sum(first, axis=1)
    cell_classes = ops.einsum("bmc,bm->bc", first, classes)
    cell_boxes = ops.einsum("bmc,bmk->bck", first, boxes)
    return ops.concatenate(
        [objects[..., None], cell_classes[..., None], cell_boxes], axis=-1
    )


# === Layers ===


@keras.saving.register_keras_serializable(package="zoo")
class GridBoxHead(keras.layers.Layer):
    """Turns raw per-cell outputs into prediction slots.

    Input `[batch, S, S, 5 + C]` of unbounded values: objectness logit, class
    logits, `(tx, ty, tw, th)`. Output `[batch, S, S, 5 + C]` slots: sigmoid
    objectness, softmax classes, and the box in image fractions, its centre
    `((column + sigmoid(tx)) / S, (row + sigmoid(ty)) / S)` inside its cell
    and its size `sigmoid(tw), sigmoid(th)` of the image, as in YOLO v1. A
    1x1 grid is the localizer's single box anywhere in the image.

    Args:
        num_classes: Number of object classes, C.
        object_prior: Objectness when the raw logit is 0. Most cells of a
            grid hold no object; starting near the share that do keeps the
            empty cells' loss from swamping the first steps (RetinaNet's
            prior initialisation, as a fixed offset of the logit).
    """

    def __init__(self, num_classes, object_prior=0.5, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.object_prior = float(object_prior)
        if not 0 < self.object_prior < 1:
            raise ValueError(f"object_prior must be in (0, 1), got {object_prior}.")
        self._logit_offset = math.log(self.object_prior / (1.0 - self.object_prior))

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        rows, columns = inputs.shape[1], inputs.shape[2]
        objectness = ops.sigmoid(inputs[..., :1] + self._logit_offset)
        probabilities = ops.softmax(inputs[..., 1 : 1 + self.num_classes], axis=-1)
        raw = inputs[..., 1 + self.num_classes :]
        column_index = ops.reshape(ops.arange(columns, dtype="float32"), (1, 1, -1))
        row_index = ops.reshape(ops.arange(rows, dtype="float32"), (1, -1, 1))
        centre_x = (column_index + ops.sigmoid(raw[..., 0])) / columns
        centre_y = (row_index + ops.sigmoid(raw[..., 1])) / rows
        half_width = ops.sigmoid(raw[..., 2]) / 2.0
        half_height = ops.sigmoid(raw[..., 3]) / 2.0
        boxes = ops.stack(
            [
                ops.clip(centre_x - half_width, 0.0, 1.0),
                ops.clip(centre_y - half_height, 0.0, 1.0),
                ops.clip(centre_x + half_width, 0.0, 1.0),
                ops.clip(centre_y + half_height, 0.0, 1.0),
            ],
            axis=-1,
        )
        return ops.concatenate([objectness, probabilities, boxes], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "object_prior": self.object_prior,
        }


@keras.saving.register_keras_serializable(package="zoo")
class DecodeDetections(keras.layers.Layer):
    """Prediction slots to at most `max_detections` boxes per image, after NMS.

    Takes `[batch, 5 + C]` (a localizer) or `[batch, S, S, 5 + C]` (a grid
    detector); answers `[batch, max_detections, 6]` rows of `(class, score,
    xmin, ymin, xmax, ymax)`, best first, class -1 and score 0 for empty rows.
    The score is objectness times class probability. Per-class non-maximum
    suppression is `tf.image.combined_non_max_suppression`: `keras.ops` has
    none in Keras 3.15, and the zoo runs on the TensorFlow backend.

    Args:
        num_classes: Number of object classes.
        max_detections: Rows per image.
        iou_threshold: Boxes of one class overlapping a better one by more
            than this are dropped.
        score_threshold: Boxes scoring below this are dropped.
    """

    def __init__(
        self,
        num_classes,
        max_detections=20,
        iou_threshold=0.5,
        score_threshold=0.05,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.max_detections = int(max_detections)
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = float(score_threshold)

    def call(self, inputs):
        import tensorflow as tf

        width = slot_width(self.num_classes)
        slots = tf.reshape(
            tf.cast(inputs, tf.float32), (tf.shape(inputs)[0], -1, width)
        )
        objectness, probabilities, boxes = split_slots(slots, self.num_classes)
        scores = objectness[..., None] * probabilities
        # NMS wants (y1, x1, y2, x2); swap so its clipping and areas agree.
        yxyx = tf.gather(boxes, [1, 0, 3, 2], axis=-1)[:, :, None, :]
        result = tf.image.combined_non_max_suppression(
            yxyx,
            scores,
            max_output_size_per_class=self.max_detections,
            max_total_size=self.max_detections,
            iou_threshold=self.iou_threshold,
            score_threshold=self.score_threshold,
            pad_per_class=False,
            clip_boxes=True,
        )
        kept = tf.sequence_mask(result.valid_detections, self.max_detections)
        classes = tf.where(kept, result.nmsed_classes, -1.0)
        out_boxes = tf.gather(result.nmsed_boxes, [1, 0, 3, 2], axis=-1)
        return tf.concat(
            [classes[..., None], result.nmsed_scores[..., None], out_boxes], axis=-1
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.max_detections, DETECTION_WIDTH)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "max_detections": self.max_detections,
            "iou_threshold": self.iou_threshold,
            "score_threshold": self.score_threshold,
        }

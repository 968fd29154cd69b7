"""Box formats, IoU/GIoU, grid encoding, the box losses, decoding with NMS."""

import keras
import numpy as np
import pytest

from zoo.box_losses import (
    GridDetectionLoss,
    LocalizerAccuracy,
    LocalizerLoss,
    LocalizerMeanIoU,
    box_term,
)
from zoo.boxes import (
    DecodeDetections,
    GridBoxHead,
    box_giou,
    box_iou,
    convert_boxes,
    encode_grid,
    pairwise_iou,
)
from zoo.errors import ConfigError


def np_(x):
    return keras.ops.convert_to_numpy(x)


def test_convert_boxes_uses_keras_formats():
    rel = np_(
        convert_boxes(
            [[10.0, 20.0, 30.0, 60.0]], "xyxy", "rel_xyxy", height=100, width=50
        )
    )
    np.testing.assert_allclose(rel, [[0.2, 0.2, 0.6, 0.6]], atol=1e-6)
    centre = np_(convert_boxes(rel, "rel_xyxy", "center_xywh", height=100, width=50))
    np.testing.assert_allclose(centre, [[20.0, 40.0, 20.0, 40.0]], atol=1e-4)


def test_iou_and_giou_by_hand():
    a = np.array([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    b = np.array([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [2.0, 0.0, 3.0, 1.0]])
    np.testing.assert_allclose(np_(box_iou(a, b)), [1 / 7, 1.0, 0.0], atol=1e-6)
    # Enclosing boxes: 3x3 (9, union 7), equal, 3x1 (3, union 2).
    np.testing.assert_allclose(
        np_(box_giou(a, b)), [1 / 7 - 2 / 9, 1.0, -1 / 3], atol=1e-6
    )
    np.testing.assert_allclose(
        np_(pairwise_iou(a[:1], b))[0], [1 / 7, 0.25, 0.0], atol=1e-6
    )


def test_encode_grid_puts_each_box_in_its_centre_cell_first_wins():
    targets = np.array(
        [
            [
                [3, 0.0, 0.0, 0.2, 0.2],  # centre (0.1, 0.1): cell (0, 0)
                [1, 0.6, 0.1, 0.9, 0.3],  # centre (0.75, 0.2): row 0, column 1
                [2, 0.05, 0.05, 0.1, 0.1],  # also cell (0, 0): dropped
                [-1, 0, 0, 0, 0],
            ]
        ],
        "float32",
    )
    cells = np_(encode_grid(targets, 2))
    assert cells.shape == (1, 4, 6)
    np.testing.assert_allclose(cells[0, :, 0], [1, 1, 0, 0])
    np.testing.assert_allclose(cells[0, 0], [1, 3, 0.0, 0.0, 0.2, 0.2], atol=1e-6)
    np.testing.assert_allclose(cells[0, 1], [1, 1, 0.6, 0.1, 0.9, 0.3], atol=1e-6)
    empty = np_(encode_grid(np.full((1, 2, 5), -1.0, "float32"), 1))
    np.testing.assert_allclose(empty[0, 0, 0], 0.0)


def slots_for(box, class_index, num_classes, objectness=0.99):
    probabilities = np.full(num_classes, 0.01 / (num_classes - 1))
    probabilities[class_index] = 0.99
    return np.concatenate([[objectness], probabilities, box]).astype("float32")


@pytest.mark.parametrize("kind", ["l1", "smooth_l1", "iou", "giou"])
def test_localizer_loss_is_low_for_the_right_box_and_grows_with_the_error(kind):
    target = np.array([[[2, 0.2, 0.2, 0.6, 0.6]]], "float32")
    loss = LocalizerLoss(num_classes=3, box_loss=kind)
    right = float(loss(target, slots_for([0.2, 0.2, 0.6, 0.6], 2, 3)[None]))
    shifted = float(loss(target, slots_for([0.3, 0.3, 0.7, 0.7], 2, 3)[None]))
    far = float(loss(target, slots_for([0.7, 0.7, 0.9, 0.9], 2, 3)[None]))
    wrong_class = float(loss(target, slots_for([0.2, 0.2, 0.6, 0.6], 0, 3)[None]))
    assert right < shifted < far
    assert wrong_class > right + 3.0  # -log(0.005) is about 5.3


def test_localizer_loss_without_object_only_scores_objectness():
    loss = LocalizerLoss(num_classes=3, box_weight=5.0)
    empty = np.full((1, 1, 5), -1.0, "float32")
    low = float(
        loss(empty, slots_for([0.0, 0.0, 1.0, 1.0], 0, 3, objectness=0.01)[None])
    )
    high = float(
        loss(empty, slots_for([0.5, 0.5, 0.6, 0.6], 1, 3, objectness=0.9)[None])
    )
    assert low == pytest.approx(-np.log(0.99), abs=1e-4)
    assert high == pytest.approx(-np.log(0.1), abs=1e-4)


def test_box_term_giou_has_a_gradient_where_iou_has_none():
    import tensorflow as tf

    truth = tf.constant([[0.0, 0.0, 0.2, 0.2]])
    predicted = tf.Variable([[0.5, 0.5, 0.7, 0.7]])
    for kind, expect_gradient in (("iou", False), ("giou", True)):
        with tf.GradientTape() as tape:
            value = tf.reduce_sum(box_term(kind, truth, predicted))
        gradient = tape.gradient(value, predicted)
        assert (
            gradient is not None and float(tf.reduce_sum(tf.abs(gradient))) > 0
        ) == expect_gradient


def test_grid_loss_counts_objects_and_empty_cells():
    num_classes, grid = 2, 2
    target = np.array([[[1, 0.6, 0.6, 0.9, 0.9], [-1, 0, 0, 0, 0]]], "float32")
    empty = slots_for([0, 0, 0.1, 0.1], 0, num_classes, objectness=0.01)
    good = np.stack(
        [empty, empty, empty, slots_for([0.6, 0.6, 0.9, 0.9], 1, num_classes)]
    )
    bad = np.stack(
        [empty, slots_for([0.6, 0.6, 0.9, 0.9], 1, num_classes), empty, empty]
    )
    loss = GridDetectionLoss(num_classes=num_classes)
    good_value = float(loss(target, good.reshape(1, grid, grid, -1)))
    bad_value = float(loss(target, bad.reshape(1, grid, grid, -1)))
    assert good_value < 0.2 < bad_value


def test_losses_reject_an_unknown_box_loss_and_round_trip():
    with pytest.raises(ConfigError, match="box_loss 'l3'.*giou"):
        LocalizerLoss(num_classes=3, box_loss="l3")
    loss = GridDetectionLoss(num_classes=4, box_loss="smooth_l1", no_object_weight=0.25)
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(loss)
    )
    assert type(again) is GridDetectionLoss
    assert again.get_config() == loss.get_config()


def test_grid_head_places_boxes_in_their_cells():
    raw = np.zeros((1, 2, 2, 5 + 3), "float32")  # sigmoid(0) = 0.5: cell centres
    slots = np_(GridBoxHead(num_classes=3)(raw))
    np.testing.assert_allclose(
        slots[0, 0, 0, :4], [0.5, 1 / 3, 1 / 3, 1 / 3], atol=1e-6
    )
    # Centre (0.75, 0.25) with half the image's size: clipped at the border.
    np.testing.assert_allclose(slots[0, 0, 1, 4:], [0.5, 0.0, 1.0, 0.5], atol=1e-6)


def test_decode_detections_keeps_the_best_of_overlapping_boxes():
    num_classes = 2
    slots = np.stack(
        [
            slots_for([0.1, 0.1, 0.5, 0.5], 0, num_classes, objectness=0.9),
            slots_for([0.12, 0.1, 0.5, 0.52], 0, num_classes, objectness=0.8),
            slots_for([0.6, 0.6, 0.9, 0.9], 1, num_classes, objectness=0.7),
            slots_for([0.0, 0.0, 1.0, 1.0], 1, num_classes, objectness=0.01),
        ]
    ).reshape(1, 2, 2, -1)
    decoded = np_(
        DecodeDetections(num_classes, max_detections=5, score_threshold=0.1)(slots)
    )
    assert decoded.shape == (1, 5, 6)
    np.testing.assert_allclose(
        decoded[0, 0], [0, 0.9 * 0.99, 0.1, 0.1, 0.5, 0.5], atol=1e-5
    )
    np.testing.assert_allclose(
        decoded[0, 1], [1, 0.7 * 0.99, 0.6, 0.6, 0.9, 0.9], atol=1e-5
    )
    np.testing.assert_allclose(decoded[0, 2:, 0], [-1, -1, -1])


def test_model_with_head_loss_and_decoder_loads_in_safe_mode(tmp_path):
    num_classes = 3
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(5 + num_classes, 4, strides=4)(inputs)
    slots = GridBoxHead(num_classes)(x)
    model = keras.Model(inputs, slots)
    model.compile(
        "adam",
        GridDetectionLoss(num_classes, box_loss="iou"),
    )
    x_data = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype("float32")
    y_data = np.tile(np.array([[[1, 0.1, 0.1, 0.4, 0.4]]], "float32"), (4, 1, 1))
    model.fit(x_data, y_data, epochs=1, verbose=0)
    exported = keras.Model(
        inputs, DecodeDetections(num_classes, max_detections=4)(slots)
    )
    path = tmp_path / "detector.keras"
    exported.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        loaded.predict(x_data, verbose=0),
        exported.predict(x_data, verbose=0),
        atol=1e-5,
    )
    trained = tmp_path / "trained.keras"
    model.save(trained)
    reloaded = keras.saving.load_model(trained, safe_mode=True)
    assert isinstance(reloaded.loss, GridDetectionLoss)


def test_localizer_training_metrics():
    target = np.array([[[1, 0.2, 0.2, 0.6, 0.6]], [[0, 0.0, 0.0, 0.5, 0.5]]], "float32")
    predicted = np.stack(
        [slots_for([0.2, 0.2, 0.6, 0.6], 1, 3), slots_for([0.0, 0.0, 0.25, 0.5], 2, 3)]
    )
    accuracy = LocalizerAccuracy(3)
    accuracy.update_state(target, predicted)
    assert float(accuracy.result()) == pytest.approx(0.5)
    mean_iou = LocalizerMeanIoU(3)
    mean_iou.update_state(target, predicted)
    assert float(mean_iou.result()) == pytest.approx(0.75, abs=1e-5)

"""mAP (VOC and COCO style), localization scores and the box baselines."""

import numpy as np
import pytest

from zoo.detection_metrics import (
    average_precision,
    baseline_scores,
    detection_scores,
    foreground_box,
    iou_matrix,
    localization_scores,
)


def test_iou_matrix():
    iou = iou_matrix([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    np.testing.assert_allclose(iou, [[1 / 7, 1.0, 0.0]])


def test_average_precision_by_hand():
    # Detections by score: hit, miss, hit; two true boxes.
    scores = np.array([0.9, 0.8, 0.7])
    hits = np.array([True, False, True])
    # Recall 0.5 at precision 1, recall 1 at precision 2/3.
    assert average_precision(scores, hits, 2) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # 101 points: 51 points (0..0.5) at 1, 50 at 2/3.
    assert average_precision(scores, hits, 2, method="coco") == pytest.approx(
        (51 + 50 * 2 / 3) / 101
    )
    assert average_precision(np.array([]), np.array([], bool), 3) == 0.0
    assert np.isnan(average_precision(scores, hits, 0))


def test_detection_scores_per_class_and_thresholds():
    truth = [
        np.array([[0, 0.1, 0.1, 0.3, 0.3], [1, 0.5, 0.5, 0.9, 0.9], [-1, 0, 0, 0, 0]]),
        np.array([[0, 0.0, 0.0, 0.5, 0.5], [-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]),
    ]
    found = [
        np.array(
            [
                [0, 0.9, 0.1, 0.1, 0.3, 0.3],  # exact
                [1, 0.8, 0.5, 0.5, 0.9, 0.83],  # IoU 0.825
                [1, 0.3, 0.5, 0.5, 0.9, 0.9],  # exact, but second
            ]
        ),
        np.array([[0, 0.6, 0.0, 0.0, 0.5, 0.31], [-1, 0, 0, 0, 0, 0]]),  # IoU 0.62
    ]
    scores = detection_scores(truth, found, num_classes=3, class_names=["a", "b", "c"])
    assert scores["ap_50_a"] == pytest.approx(1.0)
    assert scores["ap_50_b"] == pytest.approx(1.0)
    assert "ap_50_c" not in scores  # no true box of class c
    assert scores["map_50"] == pytest.approx(1.0)
    # Class a: both found at 0.5, 0.55, 0.6, then only the exact one (recall
    # 0.5 at precision 1: 51 of 101 points) up to 0.95.
    a = (3 * 1.0 + 7 * 51 / 101) / 10
    # Class b: the first detection hits up to 0.8 (7 thresholds); above, it
    # is a false positive and the exact second one hits (precision 1/2).
    b = (7 * 1.0 + 3 * 0.5) / 10
    assert scores["map_50_95"] == pytest.approx((a + b) / 2)


def test_detection_scores_punish_wrong_class_and_misses():
    truth = [np.array([[0, 0.1, 0.1, 0.3, 0.3]]), np.array([[0, 0.5, 0.5, 0.7, 0.7]])]
    found = [
        np.array([[1, 0.9, 0.1, 0.1, 0.3, 0.3]]),
        np.array([[0, 0.9, 0.5, 0.5, 0.7, 0.7]]),
    ]
    assert detection_scores(truth, found, num_classes=2)["map_50"] == pytest.approx(0.5)


def test_localization_scores():
    truth = np.array(
        [[1, 0.0, 0.0, 0.5, 0.5], [2, 0.5, 0.5, 1.0, 1.0], [-1, 0, 0, 0, 0]]
    )
    boxes = np.array([[0.0, 0.0, 0.5, 0.25], [0.5, 0.5, 1.0, 1.0], [0, 0, 1, 1]])
    result = localization_scores(truth, np.array([1, 0, 0]), boxes)
    assert result == pytest.approx({"accuracy": 0.5, "mean_iou": 0.75, "iou_50": 1.0})


def test_foreground_box_finds_the_ink():
    image = np.full((10, 20, 3), 200.0)
    image[2:5, 4:9] = 10.0
    np.testing.assert_allclose(foreground_box(image), [4 / 20, 2 / 10, 9 / 20, 5 / 10])
    np.testing.assert_allclose(foreground_box(np.zeros((4, 4))), [0, 0, 1, 1])


def test_baselines_on_a_split():
    rng = np.random.default_rng(0)
    images, targets = [], []
    for _ in range(20):
        image = np.zeros((16, 16, 1))
        x, y = rng.integers(0, 12, 2)
        image[y : y + 4, x : x + 4] = 255.0
        images.append(image)
        targets.append([[1, x / 16, y / 16, (x + 4) / 16, (y + 4) / 16]])
    targets = np.array(targets)
    result = baseline_scores(targets, images, targets, num_classes=2)
    assert result["baseline_foreground_box_mean_iou"] == pytest.approx(1.0)
    assert result["baseline_foreground_box_map_50"] == pytest.approx(1.0)
    assert result["baseline_mean_box_accuracy"] == pytest.approx(1.0)
    assert result["baseline_mean_box_mean_iou"] < 0.5

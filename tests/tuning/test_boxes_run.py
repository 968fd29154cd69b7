"""A box model end to end: train, metrics with baselines, boxes.png, predict in pixels."""

import base64
from pathlib import Path

import numpy as np
from PIL import Image

from zoo.datasets.base import load_data
from zoo.tuning.artifacts import data_summary
from zoo.tuning.cli.main import main
from zoo.tuning.predict import load_run, predict
from zoo.tuning.report import write_report
from zoo.tuning.train import train


def test_detector_run_writes_boxes_and_predicts_in_image_pixels(tmp_path, capsys):
    result = train(
        "cnn_detector_tiny",
        "digit_scenes",
        run_dir=tmp_path / "run",
        epochs=1,
        data_options={"size": 40, "image_size": 32, "scale": "8,14"},
        verbose=0,
    )
    metrics = result.metrics
    for key in (
        "test_map_50",
        "test_map_50_95",
        "baseline_mean_box_map_50",
        "baseline_foreground_box_mean_iou",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key
    picture = np.asarray(Image.open(tmp_path / "run" / "boxes.png"))
    # The report shows the drawn boxes, inlined.
    page = Path(write_report(tmp_path / "run")).read_text(encoding="utf-8")
    encoded = base64.b64encode((tmp_path / "run" / "boxes.png").read_bytes())
    assert "<figcaption>boxes.png</figcaption>" in page
    assert f"data:image/png;base64,{encoded.decode()}" in page
    assert picture.ndim == 3 and picture.shape[0] >= 192
    record, model = load_run(tmp_path / "run")  # safe_mode=True
    assert model.output_shape == (None, 20, 6)
    # A 64x48 picture: the model sees it at 32x32, the boxes come back in its pixels.
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:30, 20:34] = 255
    Image.fromarray(image).save(tmp_path / "input.png")
    frame = predict(
        tmp_path / "run", [str(tmp_path / "input.png")], draw_dir=tmp_path / "drawn"
    )
    assert list(frame.columns) == [
        "input",
        "class",
        "score",
        "xmin",
        "ymin",
        "xmax",
        "ymax",
    ]
    found = frame[frame["class"] != "(none)"]
    assert (
        (found[["xmax"]].to_numpy() <= 64) & (found[["ymax"]].to_numpy() <= 48)
    ).all()
    assert Image.open(tmp_path / "drawn" / "input_boxes.png").size == (64, 48)
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "input.png")]) == 0
    assert "xmin" in capsys.readouterr().out


def test_data_summary_counts_the_objects_of_each_class():
    bundle = load_data("digit_scenes", kind="image_boxes", size=60, seed=0)
    line = [text for text in data_summary(bundle) if "per class" in text][0]
    counts = [int(part.split()[1]) for part in line.split(": ", 1)[1].split(", ")]
    # One to four digits per canvas over 42 training canvases, every digit drawn.
    assert len(counts) == 10 and 42 <= sum(counts) <= 4 * 42
    assert sum(count > 0 for count in counts) >= 8


def test_data_summary_of_a_vocabulary_lists_the_most_frequent_words():
    bundle = load_data("hamlet", kind="corpus", level="word", before=2, min_count=2)
    line = [text for text in data_summary(bundle) if "class balance" in text][0]
    shares = line.split(": ", 1)[1].split(", ")
    # 20 words, then one entry counting the rest of the vocabulary.
    assert len(shares) == 21, line
    assert shares[-1].startswith(f"... {bundle.num_classes - 20} more classes")
    counts = [int(share.rsplit(" ", 2)[1]) for share in shares[:-1]]
    assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]
    assert shares[0].split()[0] in bundle.extras["vocabulary"]

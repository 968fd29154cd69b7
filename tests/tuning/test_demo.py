"""`zoo demo`: a real server on 127.0.0.1, driven by gradio_client and headless Chromium."""

import shutil
import socket

import numpy as np
import pytest
from PIL import Image

from zoo.errors import ZooError

gradio = pytest.importorskip("gradio")


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory):
    """A tiny CNN trained for one epoch on the embedded digits."""
    from zoo.tuning.callbacks import CallbackOptions
    from zoo.tuning.train import train

    run_dir = tmp_path_factory.mktemp("demo") / "run"
    train(
        "cnn_tiny",
        "digits",
        run_dir=str(run_dir),
        epochs=1,
        callbacks=CallbackOptions(tensorboard=False, backup=False, checkpoint=False),
        verbose=0,
    )
    return str(run_dir)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(digit_run, tmp_path_factory):
    from zoo.tuning.demo import build_demo

    app = build_demo(digit_run)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    image = tmp_path_factory.mktemp("upload") / "digit.png"
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(image)
    yield f"http://127.0.0.1:{port}/", str(image)
    app.close()


@pytest.mark.slow
def test_gradio_client_gets_class_probabilities(served):
    from gradio_client import Client, handle_file

    url, image = served
    client = Client(url, verbose=False)
    result = client.predict(handle_file(image), api_name="/predict")
    confidences = {c["label"]: c["confidence"] for c in result["confidences"]}
    assert set(confidences) <= {str(d) for d in range(10)}
    assert result["label"] in confidences
    assert abs(max(confidences.values()) - confidences[result["label"]]) < 1e-9


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="apt-get install chromium")
def test_headless_chromium_uploads_and_reads_the_prediction(served):
    playwright = pytest.importorskip("playwright.sync_api")
    url, image = served
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=shutil.which("chromium"), args=["--no-sandbox"]
        )
        page = browser.new_page()
        page.goto(url)
        page.locator("input[type=file]").first.set_input_files(image)
        page.get_by_role("button", name="Predict").click()
        label = page.locator("[data-testid=label-output-value]")
        label.wait_for(timeout=60_000)
        text = label.inner_text().strip()
        browser.close()
    assert text in {str(d) for d in range(10)}


def test_missing_run_is_one_zoo_error(tmp_path):
    from zoo.tuning.demo import build_demo

    with pytest.raises(ZooError, match="no finished run"):
        build_demo(str(tmp_path))


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory):
    """A tiny detector trained for one epoch on small digit scenes."""
    from zoo.tuning.callbacks import CallbackOptions
    from zoo.tuning.train import train

    run_dir = tmp_path_factory.mktemp("demo_boxes") / "run"
    train(
        "cnn_detector_tiny",
        "digit_scenes",
        run_dir=str(run_dir),
        epochs=1,
        data_options={"size": 40, "image_size": 32, "scale": "8,14"},
        callbacks=CallbackOptions(tensorboard=False, backup=False, checkpoint=False),
        verbose=0,
    )
    return str(run_dir)


@pytest.mark.slow
def test_gradio_client_gets_the_image_with_its_boxes_drawn(detector_run, tmp_path):
    from gradio_client import Client, handle_file

    from zoo.tuning.demo import build_demo

    # A 64x48 upload: the model sees 32x32, the boxes come back in its pixels.
    upload = np.zeros((48, 64, 3), np.uint8)
    upload[10:30, 20:34] = 255
    path = tmp_path / "scene.png"
    Image.fromarray(upload).save(path)
    app = build_demo(detector_run)
    port = _free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        drawn, table = client.predict(handle_file(str(path)), api_name="/predict")
    finally:
        app.close()
    picture = np.asarray(Image.open(drawn).convert("RGB"))
    assert picture.shape == (48, 64, 3)
    assert table["headers"] == ["class", "score", "xmin", "ymin", "xmax", "ymax"]
    rows = [row for row in table["data"] if row[0] != "(none)"]
    if rows:  # Boxes drawn in the model's colour, inside the image.
        assert all(0 <= row[2] <= row[4] <= 64 and row[5] <= 48 for row in rows)
        from zoo.box_drawing import PREDICTED_COLOUR

        assert (picture == PREDICTED_COLOUR).all(axis=-1).any()
    else:
        np.testing.assert_array_equal(picture, upload)

"""`zoo demo RUN_DIR`: a Gradio app for any finished run.

The input widget follows the run's data kind: an image upload for image
models (and box models), a text box for text models, one field per column
for tabular models, a CSV upload for forecasters. The answer is the
predicted label with its probabilities (classifiers), the predicted values,
or for box models (`image_boxes`: detectors, localizers) the uploaded image
with its boxes drawn beside the table of boxes in its pixels. Inputs go
through the same readers as `zoo predict`, so the app and the command agree.

Gradio is an optional extra (`pip install -e ".[demo]"`). The server binds
127.0.0.1 unless `host` says otherwise: it has no authentication.
"""

import os
import tempfile

import numpy as np

from zoo.errors import ZooError
from zoo.tuning.predict import INPUT_READERS, load_run, predict_boxes

DEMO_INSTALL = 'pip install -e ".[demo]"'


def _gradio():
    try:
        import gradio
    except ImportError:
        raise ZooError(
            f"`zoo demo` needs Gradio; install it with `{DEMO_INSTALL}`."
        ) from None
    return gradio


def _answer(outputs, record):
    """`{label: probability}` for a classifier, else the predicted values."""
    names = record.get("class_names")
    outputs = np.asarray(outputs)[0]
    if not names:
        return {"value": [round(float(v), 6) for v in np.ravel(outputs)]}
    names = [str(name) for name in names]
    if outputs.size == 1:  # One sigmoid unit.
        probability = float(outputs.ravel()[0])
        return {names[1]: probability, names[0]: 1 - probability}
    return {name: float(p) for name, p in zip(names, outputs.ravel())}


def _tabular_inputs(gradio, record):
    info = record.get("data_info", {})
    numeric = info.get("numeric_columns", [])
    categorical = info.get("categorical_columns", [])
    widgets = [gradio.Number(label=c) for c in numeric]
    widgets += [gradio.Textbox(label=c) for c in categorical]
    columns = list(numeric) + list(categorical)

    def read(*values):
        row = ",".join(
            f"{c}={v}" for c, v in zip(columns, values) if v not in (None, "")
        )
        return INPUT_READERS["tabular"]([row], record)

    return widgets, read


def _widgets(gradio, record):
    """`(input components, read(*values) -> model inputs)` for the run's data kind."""
    kind = record.get("data_kind", "tabular")
    if kind == "image":
        widget = gradio.Image(type="filepath", label="image")
        return [widget], lambda path: INPUT_READERS["image"]([path], record)
    if kind == "text":
        widget = gradio.Textbox(label="text", lines=3)
        return [widget], lambda text: INPUT_READERS["text"]([text], record)
    if kind == "timeseries":
        widget = gradio.File(label="CSV indexed by date", file_types=[".csv"])
        return [widget], lambda path: INPUT_READERS["timeseries"]([path], record)
    if kind == "tabular":
        return _tabular_inputs(gradio, record)
    raise ZooError(f"`zoo demo` has no input form for {kind} models.")


def build_demo(run_dir: str, *, safe_mode: bool = True):
    """The Gradio `Blocks` app of a finished run (not launched).

    Example:
        >>> app = build_demo("runs/cnn")  # doctest: +SKIP
        >>> app.launch(server_name="127.0.0.1")  # doctest: +SKIP
    """
    gradio = _gradio()
    record, model = load_run(run_dir, safe_mode=safe_mode)
    if record.get("data_kind") == "image_boxes":
        return _boxes_demo(gradio, run_dir, record, model)
    inputs, read = _widgets(gradio, record)
    classes = len(record.get("class_names") or []) or None

    def predict(*values):
        if any(value is None or value == "" for value in values[:1]):
            raise gradio.Error("Give an input first.")
        try:
            outputs = model.predict(read(*values), verbose=0)
        except ZooError as error:
            raise gradio.Error(str(error)) from None
        return _answer(outputs, record)

    title = f"{record.get('model', 'model')} ({record.get('data_kind', 'tabular')})"
    with gradio.Blocks(title=title) as app:
        gradio.Markdown(f"# {title}\nRun folder: `{run_dir}`")
        for widget in inputs:
            widget.render()
        button = gradio.Button("Predict", variant="primary")
        if classes:
            output = gradio.Label(num_top_classes=min(classes, 5), label="prediction")
        else:
            output = gradio.JSON(label="prediction")
        button.click(predict, inputs=inputs, outputs=output, api_name="predict")
    return app


def _boxes_demo(gradio, run_dir, record, model):
    """An image in; the image with its boxes drawn, and the boxes as a table
    in the image's own pixels (`zoo predict --draw` and its table)."""
    drawn_dir = tempfile.mkdtemp(prefix="zoo-demo-boxes-")

    def find_boxes(path):
        if not path:
            raise gradio.Error("Give an image first.")
        try:
            frame = predict_boxes(model, record, [path], draw_dir=drawn_dir)
        except ZooError as error:
            raise gradio.Error(str(error)) from None
        stem = os.path.splitext(os.path.basename(path))[0]
        return os.path.join(drawn_dir, f"{stem}_boxes.png"), frame.drop(columns="input")

    title = f"{record.get('model', 'model')} (image_boxes)"
    with gradio.Blocks(title=title) as app:
        gradio.Markdown(f"# {title}\nRun folder: `{run_dir}`")
        image = gradio.Image(type="filepath", label="image")
        button = gradio.Button("Find boxes", variant="primary")
        drawn = gradio.Image(type="filepath", label="boxes")
        table = gradio.Dataframe(label="boxes in image pixels")
        button.click(
            find_boxes, inputs=image, outputs=[drawn, table], api_name="predict"
        )
    return app


def serve_demo(
    run_dir: str, *, host: str = "127.0.0.1", port: int | None = None, safe_mode=True
):
    """Builds and serves the app until interrupted."""
    app = build_demo(run_dir, safe_mode=safe_mode)
    app.launch(server_name=host, server_port=port, share=False, show_error=True)

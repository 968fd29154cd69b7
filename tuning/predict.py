"""`predict()`: a saved run's model on raw rows, strings or image files."""

import os
import shlex
import sys
import zipfile

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.box_drawing import draw_boxes
from zoo.datasets.base import load_datasets
from zoo.datasets.boxes import load_annotated_image
from zoo.datasets.image_ops import load_image_files
from zoo.datasets.table_columns import rows_to_inputs
from zoo.datasets.table_files import read_table
from zoo.errors import DataError, ZooError
from zoo.registry import load_families
from zoo.tabular import layer_names
from zoo.tuning.io import read_json

# data kind -> function(inputs: list[str], record: dict) -> model inputs
INPUT_READERS = {}


def register_input_reader(kind):
    def decorator(fn):
        INPUT_READERS[kind] = fn
        return fn

    return decorator


def load_run(run_dir, *, safe_mode=True):
    """Loads `config.json` and `model.keras` from a run (or `best/`) folder.

    `safe_mode=True` refuses `.keras` files that would run arbitrary code
    (lambdas); pass `safe_mode=False` only for files you trust.
    """
    run_dir = os.fspath(run_dir)
    if os.path.isfile(run_dir):
        raise ZooError(
            f"{run_dir} is a file; give the run folder that `zoo train --run-dir` "
            "or `zoo tune --run-dir` wrote."
        )
    if os.path.isdir(os.path.join(run_dir, "best")) and not os.path.exists(
        os.path.join(run_dir, "model.keras")
    ):
        run_dir = os.path.join(run_dir, "best")
    record = read_json(os.path.join(run_dir, "config.json"))
    path = os.path.join(run_dir, "model.keras")
    if record is None or not os.path.exists(path):
        raise ZooError(
            f"{run_dir} holds no finished run (config.json and model.keras); train one with `zoo train`."
        )
    # Register every serializable layer the zoo's models can hold.

    load_datasets()
    load_families()

    try:
        model = keras.saving.load_model(path, safe_mode=safe_mode)
    except ValueError as error:
        if "safe_mode" in str(error) or "lambda" in str(error).lower():
            raise ZooError(
                f"{path} holds code that safe mode will not run; load it with safe_mode=False "
                "(--unsafe) only if you trust where it came from."
            ) from None
        raise _corrupt(path) from None
    except (OSError, KeyError, zipfile.BadZipFile):
        raise _corrupt(path) from None
    return record, model


def _corrupt(path):
    return ZooError(
        f"{path} is corrupt (not a readable .keras file); train the run again "
        "or restore the file from a copy."
    )


@register_input_reader("tabular")
def read_tabular(inputs, record):

    columns = record.get("data_info", {})
    raw_columns = {c: "numeric" for c in columns.get("numeric_columns", [])}
    raw_columns.update(
        {c: "categorical" for c in columns.get("categorical_columns", [])}
    )
    frames = []
    for item in inputs:
        if os.path.exists(item):
            frames.append(read_table(item))
            continue
        row = parse_row(item)
        missing = [c for c in raw_columns if c not in row]
        if missing:
            raise DataError(
                f"Row {item!r} lacks column(s) {', '.join(missing)}; give each row as "
                "one argument, col=value pairs joined by commas (quote a value that "
                'holds a comma: name="Smith, J").'
            )
        frames.append(pd.DataFrame([row]))
    frame = pd.concat(frames, ignore_index=True)
    _check_numbers(frame, [c for c, kind in raw_columns.items() if kind == "numeric"])
    return rows_to_inputs(frame, dict(sorted(raw_columns.items())))


def parse_row(item):
    """`{col: value}` from `a=1,b="x, y"`: commas inside quotes stay in the
    value (`shlex` does the quoting, as a shell would)."""
    lexer = shlex.shlex(item, posix=True)
    lexer.whitespace, lexer.whitespace_split = ",", True
    try:
        pairs = [pair for pair in lexer if pair.strip()]
    except ValueError as error:
        raise DataError(f"Cannot read row {item!r} ({error}).") from None
    row = {}
    for pair in pairs:
        if "=" not in pair:
            raise DataError(
                f"Cannot read row {item!r}: give a CSV file or column=value pairs."
            )
        key, _, value = pair.partition("=")
        row[key.strip()] = value.strip()
    return row


def _check_numbers(frame, numeric_columns):
    for column in numeric_columns:
        values = frame[column]
        given = values.notna() & (values.astype("string").str.strip() != "")
        bad = given & pd.to_numeric(values, errors="coerce").isna()
        if bad.any():
            raise DataError(
                f"Column {column!r} holds numbers, got {values[bad].iloc[0]!r}; "
                "give a number (or leave it empty for a missing value)."
            )


@register_input_reader("text")
def read_text(inputs, record):
    texts = []
    for item in inputs:
        if os.path.isfile(item) and not item.endswith(".txt"):
            raise DataError(
                f"{item} is a file, but this is a text model: give the text itself "
                "or a .txt file with one text per line."
            )
        if os.path.isfile(item):
            with open(item, encoding="utf-8", errors="replace") as handle:
                texts += [line.rstrip("\n") for line in handle if line.strip()]
        else:
            texts.append(item)
    return tf.constant(texts)


@register_input_reader("timeseries")
def read_series(inputs, record):
    """The last `window` rows of each CSV, in the columns the model was trained on."""

    info = record.get("data_info", {})
    columns, window = info.get("columns"), info.get("window")
    if not columns or not window:
        raise ZooError(
            "This run does not record its columns and window; retrain it with this version."
        )
    windows = []
    for item in inputs:
        if not os.path.isfile(item):
            raise DataError(
                f"{item} is not a file; give a CSV with the columns {', '.join(columns)}."
            )
        frame = read_table(item)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"{item} lacks column(s) {', '.join(missing)} that the model was trained on."
            )
        values = (
            frame[columns]
            .apply(pd.to_numeric, errors="coerce")
            .ffill()
            .bfill()
            .to_numpy("float32")
        )
        if len(values) < window or not np.all(np.isfinite(values[-window:])):
            raise DataError(
                f"{item} needs at least {window} rows of numbers in {', '.join(columns)}."
            )
        windows.append(values[-window:])
    return np.stack(windows)


@register_input_reader("image")
def read_images(inputs, record):

    info = record.get("data_info", {})
    return load_image_files(
        inputs, image_size=info.get("image_size"), channels=info.get("channels")
    )


def predict_boxes(model, record, inputs, *, draw_dir=None):
    """Boxes found by an `image_boxes` model, in each image's own pixels.

    Args:
        model: The run's saved model (raw image in, `[K, 6]` detections out).
        record: The run's config.json.
        inputs: Image file paths.
        draw_dir: When given, writes `<name>_boxes.png` there: the image at
            its own size with the boxes drawn.

    Returns:
        A DataFrame, one row per box: input, class, score, xmin, ymin, xmax,
        ymax; an image without boxes gets one row of class "(none)".
    """
    from PIL import Image

    info = record.get("data_info", {})
    size, channels = info.get("image_size"), info.get("channels")
    if not size or not channels:
        raise ZooError(
            "This run does not record its image size; retrain it with this version."
        )
    originals, batch = [], []
    for path in inputs:
        if not os.path.isfile(path):
            raise DataError(f"Image file {path!r} does not exist; check the path.")
        try:
            with Image.open(path) as image:
                originals.append(np.asarray(image.convert("RGB")))
        except OSError:
            raise DataError(
                f"{path} is not a readable image; give a BMP, GIF, JPEG or PNG file."
            ) from None
        batch.append(load_annotated_image(path, tuple(size), int(channels)))
    detections = np.asarray(model.predict(np.stack(batch), verbose=0))
    names = record.get("class_names") or []
    rows = []
    for path, original, found in zip(inputs, originals, detections, strict=True):
        height, width = original.shape[:2]
        kept = found[found[:, 0] >= 0]
        for row in kept:
            corners = row[2:6] * [width, height, width, height]
            rows.append(
                {
                    "input": path,
                    "class": names[int(row[0])] if names else str(int(row[0])),
                    "score": round(float(row[1]), 4),
                    **dict(
                        zip(
                            ("xmin", "ymin", "xmax", "ymax"),
                            np.round(corners, 1),
                            strict=True,
                        )
                    ),
                }
            )
        if not len(kept):
            rows.append({"input": path, "class": "(none)", "score": 0.0})
        if draw_dir is not None:
            os.makedirs(draw_dir, exist_ok=True)
            stem = os.path.splitext(os.path.basename(path))[0]
            drawn = draw_boxes(original, None, kept, names, size=(width, height))
            Image.fromarray(drawn).save(os.path.join(draw_dir, f"{stem}_boxes.png"))
    return pd.DataFrame(
        rows, columns=["input", "class", "score", "xmin", "ymin", "xmax", "ymax"]
    )


def predict(run_dir, inputs, *, safe_mode=True, draw_dir=None):
    """Predicts with a finished run's model.

    Args:
        run_dir: A `zoo train` run folder or a `zoo tune` folder (uses `best/`).
        inputs: Raw inputs as strings: CSV paths or `col=value,...` rows for
            tabular models, texts (or .txt files) for text models, image paths
            for image models.
        safe_mode: See `load_run`.
        draw_dir: For box models, a folder to write the images with their
            boxes drawn.

    Returns:
        A DataFrame: one row per input with the predicted class and its
        probability (classification) or the predicted value(s); for box
        models one row per box in the image's own pixels.
    """
    record, model = load_run(run_dir, safe_mode=safe_mode)
    kind = record.get("data_kind", "tabular")
    if kind == "image_boxes":
        if not inputs:
            raise ZooError("Give at least one image to find boxes in.")
        return predict_boxes(model, record, list(inputs), draw_dir=draw_dir)
    if kind not in INPUT_READERS:
        raise ZooError(
            f"`zoo predict` cannot read raw inputs for {kind} models; use the Python API."
        )
    if not inputs:
        raise ZooError("Give at least one input to predict on.")
    x = INPUT_READERS[kind](list(inputs), record)
    if kind == "tabular":
        for column, count, examples in unseen_categories(model, x):
            print(
                f"zoo predict: {count} row(s) have categories of {column!r} unseen in "
                f"training ({', '.join(examples)}); they are encoded as unknown.",
                file=sys.stderr,
            )
    outputs = np.asarray(model.predict(x, verbose=0))
    return describe_predictions(outputs, record, inputs)


def unseen_categories(model, inputs):
    """`(column, rows, first values)` for categorical values the model's
    vocabularies (its `lookup_<column>` StringLookup layers) never saw."""
    lookups = {}
    stack = [model]
    while stack:  # The encoder is a model nested in the exported one.
        layer = stack.pop()
        stack.extend(getattr(layer, "layers", []))
        if isinstance(layer, keras.layers.StringLookup):
            lookups[layer.name] = set(layer.get_vocabulary())
    found = []
    names = layer_names(inputs)  # The reader gives every column the model takes.
    for column, values in inputs.items():
        vocabulary = lookups.get(f"lookup_{names[column]}")
        if vocabulary is None:
            continue
        texts = [
            v.decode() if isinstance(v, bytes) else str(v)
            for v in np.asarray(values).reshape(-1)
        ]
        unseen = [t for t in texts if t not in vocabulary]
        if unseen:
            found.append((column, len(unseen), sorted(set(unseen))[:3]))
    return found


def describe_predictions(outputs, record, inputs):
    names = record.get("class_names")
    num_classes = record.get("num_classes")
    count = outputs.shape[0]
    labels = list(inputs) if len(inputs) == count else [str(i) for i in range(count)]
    if num_classes:
        if outputs.shape[-1] == 1:
            positive = outputs[:, 0]
            index = (positive >= 0.5).astype(int)
            probability = np.where(index == 1, positive, 1 - positive)
        else:
            index = outputs.argmax(axis=-1)
            probability = outputs.max(axis=-1)
        classes = [names[i] if names else str(i) for i in index]
        return pd.DataFrame(
            {"input": labels, "class": classes, "probability": probability.round(4)}
        )
    flat = outputs.reshape(count, -1)
    frame = pd.DataFrame({"input": labels})
    for j in range(flat.shape[1]):
        frame[f"prediction_{j}" if flat.shape[1] > 1 else "prediction"] = flat[:, j]
    return frame

"""What a run writes beside its model: curves, test predictions, a family's
figures and files. Families return figures and text; only the runner writes."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from zoo.tuning.io import atomic_path, write_frame_csv, write_text  # noqa: E402

PREDICTIONS_FILE = "test_predictions.csv"


def write_test_predictions(model, bundle, batch_size, out_dir):
    """Writes `out_dir/test_predictions.csv` (true and predicted test targets).

    Classification: `y_true`, `y_pred` (class indices) and `probability` of
    the predicted class. Regression and forecasting: `y_true`/`y_pred`, or
    `y_true_J`/`y_pred_J` for several outputs (a forecast horizon). Models
    without targets (reconstruction) or with several outputs are skipped.

    Args:
        model: The trained model on preprocessed inputs (not the export).
        bundle: Its `DataBundle`.
        batch_size: Batch size for prediction.
        out_dir: Folder to write into.

    Returns:
        The path written, or None.
    """
    if bundle.task not in ("binary", "multiclass", "regression", "forecast"):
        return None
    truths, predictions = [], []
    for batch in bundle.batches("test", batch_size):
        if not isinstance(batch, tuple) or len(batch) < 2:
            return None
        output = model.predict_on_batch(batch[0])
        if isinstance(output, list | tuple | dict):
            return None
        truths.append(np.asarray(batch[1]))
        predictions.append(np.asarray(output))
    if not truths:
        return None
    y_true = np.concatenate(truths)
    y_pred = np.concatenate(predictions)
    if bundle.task in ("binary", "multiclass"):
        if y_pred.shape[-1] == 1:
            positive = y_pred[:, 0]
            index = (positive >= 0.5).astype(int)
            probability = np.where(index == 1, positive, 1 - positive)
        else:
            index = y_pred.argmax(axis=-1)
            probability = y_pred.max(axis=-1)
        frame = pd.DataFrame(
            {
                "y_true": y_true.reshape(-1).astype(int),
                "y_pred": index,
                "probability": probability.round(6),
            }
        )
    else:
        y_true = y_true.reshape(len(y_true), -1)
        y_pred = y_pred.reshape(len(y_pred), -1)
        if y_true.shape[1] != y_pred.shape[1]:
            return None
        if y_true.shape[1] == 1:
            frame = pd.DataFrame({"y_true": y_true[:, 0], "y_pred": y_pred[:, 0]})
        else:
            columns = {}
            for j in range(y_true.shape[1]):
                columns[f"y_true_{j}"] = y_true[:, j]
                columns[f"y_pred_{j}"] = y_pred[:, j]
            frame = pd.DataFrame(columns)
    path = os.path.join(out_dir, PREDICTIONS_FILE)
    write_frame_csv(path, frame)
    return path


def metric_names(rows):
    names = []
    for row in rows:
        for key in row:
            base = key.removeprefix("val_")
            if key != "epoch" and key != "learning_rate" and base not in names:
                names.append(base)
    return names


def plot_history(rows, run_dir, *, title=None):
    """Writes `loss.png` and `<metric>.png` (train and validation) from history rows.

    Returns the paths written.
    """
    if not rows:
        return []
    paths = []
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for name in metric_names(rows):
        figure, axis = plt.subplots(figsize=(6, 4))
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            values = [r.get(key) for r in rows]
            if any(v is not None and v == v for v in values):
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(f"{title}: {name}" if title else name)
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        path = os.path.join(run_dir, "plots", f"{name}.png")
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=90)
        plt.close(figure)
        paths.append(path)
    return paths


def write_evaluation(evaluation, run_dir):
    """Writes a family's `Evaluation` pictures and files into the run folder.

    Returns the paths written.
    """
    os.makedirs(os.path.join(run_dir, "plots"), exist_ok=True)
    paths = []
    for name, image in evaluation.images.items():
        path = os.path.join(run_dir, name)
        with atomic_path(path) as temporary:
            Image.fromarray(np.asarray(image, "uint8")).save(temporary, format="PNG")
        paths.append(path)
    for name, figure in evaluation.figures.items():
        path = os.path.join(run_dir, "plots", name)
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
        plt.close(figure)
        paths.append(path)
    for name, text in evaluation.files.items():
        path = os.path.join(run_dir, name)
        write_text(path, text)
        paths.append(path)
    return paths


# Longer class lists (a language model's vocabulary) show the most frequent.
MAX_LISTED_CLASSES = 20


def data_summary(bundle, *, max_labels=200_000):
    """What the loader made of the data, as console lines: rows per split,
    which columns became which features (and why any were dropped), and the
    class balance of the training split."""
    info = bundle.info or {}
    lines = []
    sizes = [
        f"{split} {info[f'{split}_size']}"
        for split in ("train", "validation", "test")
        if f"{split}_size" in info
    ]
    source = info.get("source") or info.get("name") or "data"
    head = f"data: {os.path.basename(str(source))}, task {bundle.task}"
    if info.get("target"):
        head += f", target {info['target']}"
    lines.append(head + (f"; rows: {', '.join(sizes)}" if sizes else ""))
    dates = info.get("date_columns") or {}
    derived = {part for parts in dates.values() for part in parts}
    numeric = [c for c in info.get("numeric_columns", []) if c not in derived]
    for label, columns in (
        ("numeric", numeric),
        ("categorical", info.get("categorical_columns", [])),
        ("date -> year, month, day of week", list(dates)),
    ):
        if columns:
            lines.append(f"  {label}: {', '.join(columns)}")
    if info.get("covariates"):
        lines.append(
            f"  covariates: {', '.join(info['covariates'])} (inputs beside the past "
            f"{info.get('target', 'target')} values, scaled on the training part)"
        )
    for column, reason in (info.get("dropped_columns") or {}).items():
        lines.append(f"  dropped {column}: {reason}")
    if bundle.num_classes:
        lines.append("  " + _class_balance(bundle, max_labels))
    return lines


def _class_balance(bundle, max_labels):
    labels = bundle.train.map(lambda *example: example[1]).take(max_labels)
    batches = [np.asarray(batch) for batch in labels.batch(8192)]
    if bundle.task == "detection":
        # Box targets are `[max_boxes, 5]` rows of (class, box); class -1 pads.
        classes = np.concatenate([batch[..., 0].reshape(-1) for batch in batches])
        classes = classes[classes >= 0].astype(int)
        what = "objects per class (train)"
    else:
        values = np.concatenate([b.reshape(len(b), -1) for b in batches])
        # One-hot targets count by their arg-max; integer targets as they are.
        classes = values.argmax(1) if values.shape[1] > 1 else values[:, 0].astype(int)
        what = "class balance (train)"
    counts = np.bincount(classes, minlength=bundle.num_classes)
    # A token task's classes are its vocabulary's words.
    vocabulary = bundle.extras.get("vocabulary")
    names = bundle.class_names or vocabulary or [str(i) for i in range(len(counts))]
    shown = range(len(counts))
    if len(counts) > MAX_LISTED_CLASSES:
        # A vocabulary (word_lm, cloze) has thousands of classes: the most
        # frequent ones and a count of the rest say what a full list would.
        shown = np.argsort(-counts, kind="stable")[:MAX_LISTED_CLASSES]
    shares = ", ".join(
        f"{names[index]} {counts[index]} ({counts[index] / max(1, counts.sum()):.0%})"
        for index in shown
        if index < len(names)
    )
    if len(counts) > MAX_LISTED_CLASSES:
        unseen = int((counts == 0).sum())
        shares += (
            f", ... {len(counts) - MAX_LISTED_CLASSES} more classes"
            f" ({unseen} with no training example)"
        )
        what += f", {MAX_LISTED_CLASSES} most frequent of {len(counts)}"
    return f"{what}: {shares}"

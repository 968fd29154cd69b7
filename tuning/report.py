"""Reading results: the leaderboard as a DataFrame and a self-contained `report.html`.

Works on the three kinds of run folder the zoo writes:

- a `zoo tune` folder (`tune.json`, `search/trial_*/history.csv`, `best/`),
- a `zoo compare` folder (`compare.json`, one `zoo train` folder per entry),
- a single `zoo train` folder (`config.json`, `history.csv`).

`write_report(run_dir)` writes `report.html` with the leaderboard, the loss
and metric curves of every trial (or run) overlaid, the score against each
hyperparameter, and the best model's confusion matrix (classification) or
predicted-against-true plot (regression, forecasting). The PNGs are written
into `run_dir/plots/` and also inlined as base64, so the HTML opens with no
network and no other file.

Example:
>>> from zoo.tuning.report import leaderboard, write_report
>>> frame = leaderboard("runs/iris")      # best trial first
>>> write_report("runs/iris")             # runs/iris/report.html
"""

import base64
import html
import io
import math
import os

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zoo.errors import ZooError  # noqa: E402
from zoo.tuning.artifacts import PREDICTIONS_FILE, write_test_predictions  # noqa: E402
from zoo.tuning.io import atomic_path, read_json, write_text  # noqa: E402
from zoo.tuning.predict import load_run  # noqa: E402
from zoo.tuning.results import histories, leaderboard, run_kind  # noqa: E402
from zoo.tuning.train import prepare  # noqa: E402

_NOT_HYPERPARAMETERS = ("trial_id", "status", "score", "best_step", "reason")
_MAX_METRICS = 6


# -- predictions --------------------------------------------------------------


def _predictions_for_train_run(run_dir, record):
    """Computes a finished train run's test predictions when it has none."""
    path = os.path.join(run_dir, PREDICTIONS_FILE)
    if os.path.exists(path):
        return path
    if record.get("status") != "complete" or record.get("task") not in (
        "binary",
        "multiclass",
        "regression",
        "forecast",
    ):
        return None

    _, exported = load_run(run_dir)
    bundle = prepare(
        record["model"],
        record["data"],
        overrides=record.get("overrides"),
        data_options=record.get("data_options"),
        seed=record.get("seed", 0),
    ).bundle
    # The export wraps the network: preprocessor -> network -> postprocessor.
    # The network is the nested model that takes the bundle's inputs.
    network = exported
    shape = tuple(bundle.input_shape)
    for layer in exported.layers:
        inputs = getattr(layer, "inputs", None)
        if (
            isinstance(layer, keras.Model)
            and inputs
            and len(inputs) == 1
            and tuple(inputs[0].shape[1:]) == shape
        ):
            network = layer
    return write_test_predictions(
        network, bundle, int(record.get("batch_size") or 32), run_dir
    )


# -- what a run folder holds ----------------------------------------------------


# -- pictures -----------------------------------------------------------------


def _save(figure, path):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    data = buffer.getvalue()
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        handle.write(data)
    return path, base64.b64encode(data).decode("ascii")


def _metric_names(frames):
    names = []
    for frame in frames.values():
        for column in frame.columns:
            base = column.removeprefix("val_")
            if column in ("epoch", "learning_rate") or base in names:
                continue
            names.append(base)
    names.sort(key=lambda n: (n != "loss", n))
    return names[:_MAX_METRICS]


def plot_curves(frames, plots_dir):
    """One PNG per metric: every run's validation (solid) and training (dotted) curve."""
    pictures = []
    if not frames:
        return pictures
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for name in _metric_names(frames):
        figure, axis = plt.subplots(figsize=(7, 4))
        drawn = False
        for index, (label, frame) in enumerate(frames.items()):
            color = colors[index % len(colors)]
            epochs = (frame["epoch"] + 1) if "epoch" in frame else frame.index + 1
            has_validation = (
                f"val_{name}" in frame and frame[f"val_{name}"].notna().any()
            )
            for key, style in ((f"val_{name}", "-"), (name, ":")):
                if key in frame and frame[key].notna().any():
                    solid = style == "-" or not has_validation
                    axis.plot(
                        epochs,
                        frame[key],
                        style,
                        color=color,
                        marker="o",
                        markersize=2,
                        label=label if solid else None,
                    )
                    drawn = True
        if not drawn:
            plt.close(figure)
            continue
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(f"{name}: validation (solid), training (dotted)")
        axis.grid(alpha=0.3)
        if len(frames) <= 12:
            axis.legend(fontsize=7)
        figure.tight_layout()
        pictures.append(
            (
                f"{name} per epoch",
                *_save(figure, os.path.join(plots_dir, f"curves_{name}.png")),
            )
        )
    return pictures


def plot_score_against_hyperparameters(frame, plots_dir, objective="score"):
    """Scatter of the score against each hyperparameter that varied."""
    if frame.empty or "score" not in frame:
        return []
    scored = frame[frame["score"].notna()]
    columns = [
        c
        for c in frame.columns
        if c not in _NOT_HYPERPARAMETERS and frame[c].nunique(dropna=True) > 1
    ]
    if scored.empty or not columns:
        return []
    count = len(columns)
    per_row = min(3, count)
    rows = math.ceil(count / per_row)
    figure, axes = plt.subplots(
        rows, per_row, figsize=(4 * per_row, 3.2 * rows), squeeze=False
    )
    for axis in axes.flat[count:]:
        axis.set_visible(False)
    for axis, column in zip(axes.flat, columns, strict=False):
        values = scored[column]
        numeric = pd.api.types.is_numeric_dtype(
            values
        ) and not pd.api.types.is_bool_dtype(values)
        if numeric:
            axis.scatter(values, scored["score"], s=18)
            positive = values[values > 0]
            if len(positive) == len(values) and positive.max() / positive.min() > 50:
                axis.set_xscale("log")
        else:
            categories = sorted(frame[column].dropna().astype(str).unique())
            positions = values.astype(str).map({c: i for i, c in enumerate(categories)})
            axis.scatter(positions, scored["score"], s=18)
            axis.set_xticks(range(len(categories)))
            axis.set_xticklabels(categories, rotation=30, fontsize=7)
        axis.set_xlabel(column)
        axis.set_ylabel(objective)
        axis.grid(alpha=0.3)
    figure.suptitle(f"{objective} against each hyperparameter")
    figure.tight_layout()
    return [
        (
            f"{objective} against each hyperparameter",
            *_save(figure, os.path.join(plots_dir, "score_vs_hyperparameters.png")),
        )
    ]


def plot_predictions(predictions_path, record, plots_dir, title):
    """Confusion matrix (classification) or predicted against true values."""
    if not predictions_path or not os.path.exists(predictions_path):
        return []
    frame = pd.read_csv(predictions_path)
    task = record.get("task")
    if task in ("binary", "multiclass") and {"y_true", "y_pred"} <= set(frame):
        from sklearn.metrics import confusion_matrix

        names = record.get("class_names") or []
        count = max(len(names), int(frame[["y_true", "y_pred"]].to_numpy().max()) + 1)
        labels = [str(names[i]) if i < len(names) else str(i) for i in range(count)]
        matrix = confusion_matrix(frame["y_true"], frame["y_pred"], labels=range(count))
        size = min(12, 2.5 + 0.5 * count)
        figure, axis = plt.subplots(figsize=(size, size * 0.85))
        image = axis.imshow(matrix, cmap="Blues")
        figure.colorbar(image, ax=axis, fraction=0.046)
        axis.set_xticks(range(count))
        axis.set_yticks(range(count))
        axis.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
        axis.set_yticklabels(labels, fontsize=8)
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(count):
            for j in range(count):
                axis.text(
                    j,
                    i,
                    int(matrix[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if matrix[i, j] > threshold else "black",
                )
        axis.set_title(f"{title}: confusion matrix (test split)")
        figure.tight_layout()
        return [
            (
                "Confusion matrix of the best model (test split)",
                *_save(figure, os.path.join(plots_dir, "confusion_matrix.png")),
            )
        ]
    true_columns = [c for c in frame.columns if c.startswith("y_true")]
    if not true_columns:
        return []
    figure, (line, scatter) = plt.subplots(1, 2, figsize=(11, 4))
    first_true, first_pred = true_columns[0], true_columns[0].replace("true", "pred")
    shown = frame.head(300)
    line.plot(shown[first_true].to_numpy(), label="true", linewidth=1)
    line.plot(shown[first_pred].to_numpy(), label="predicted", linewidth=1)
    line.set_xlabel("test example (in order)")
    line.set_title("forecast" if task == "forecast" else "predictions")
    line.legend()
    line.grid(alpha=0.3)
    trues = frame[true_columns].to_numpy().ravel()
    preds = frame[[c.replace("true", "pred") for c in true_columns]].to_numpy().ravel()
    scatter.scatter(trues, preds, s=6, alpha=0.6)
    low, high = float(np.nanmin(trues)), float(np.nanmax(trues))
    scatter.plot([low, high], [low, high], "k--", linewidth=1)
    scatter.set_xlabel("true")
    scatter.set_ylabel("predicted")
    scatter.set_title("predicted against true (all outputs)")
    scatter.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return [
        (
            "Forecast of the best model (test split)"
            if task == "forecast"
            else "Predictions of the best model (test split)",
            *_save(figure, os.path.join(plots_dir, "predictions.png")),
        )
    ]


# -- the report -----------------------------------------------------------------


def _best_predictions(run_dir, kind, board):
    """(predictions path, config record, label) of the best model."""
    if kind == "tune":
        best = os.path.join(run_dir, "best")
        record = read_json(os.path.join(best, "config.json"), default=None)
        if record is None:
            return None, {}, ""
        return (
            os.path.join(best, PREDICTIONS_FILE),
            record,
            f"best trial {record.get('trial_id', '')}".strip(),
        )
    if kind == "compare":
        if board.empty or "name" not in board:
            return None, {}, ""
        name = str(board.iloc[0]["name"])
        folder = os.path.join(run_dir, name)
    else:
        name, folder = None, run_dir
    record = read_json(os.path.join(folder, "config.json"), default=None) or {}
    try:
        path = _predictions_for_train_run(folder, record)
    except (ZooError, OSError, ValueError) as error:
        record = {**record, "prediction_error": str(error)}
        path = None
    return path, record, name or str(record.get("model", ""))


def _summary(run_dir, kind):
    if kind == "tune":
        settings = read_json(os.path.join(run_dir, "tune.json"), default={}) or {}
        keys = (
            "model",
            "data",
            "tuner",
            "objective",
            "direction",
            "max_trials",
            "epochs",
            "seed",
        )
        return "Search", {k: settings.get(k) for k in keys}
    if kind == "compare":
        settings = read_json(os.path.join(run_dir, "compare.json"), default={}) or {}
        return "Comparison", {
            "data": settings.get("data"),
            "runs": ", ".join(e["name"] for e in settings.get("entries", [])),
            "seed": settings.get("seed"),
        }
    record = read_json(os.path.join(run_dir, "config.json"), default={}) or {}
    keys = ("model", "data", "task", "epochs", "batch_size", "seed", "status")
    return "Training run", {k: record.get(k) for k in keys}


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; font-size: 13px; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.failed { color: #a00; font-weight: bold; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.summary td { text-align: left; }
"""


def _leaderboard_html(board):
    if board.empty:
        return "<p>No trials yet.</p>"
    shown = board.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(
                lambda v: "" if pd.isna(v) else f"{v:.5g}"
            )
    table = shown.to_html(
        index=False, table_id="leaderboard", na_rep="", border=0, escape=True
    )
    for status in ("FAILED", "INVALID"):
        table = table.replace(f"<td>{status}</td>", f'<td class="failed">{status}</td>')
    return table


def write_report(run_dir, *, title=None):
    """Writes `run_dir/report.html` (self-contained) and its PNGs in `run_dir/plots`.

    Args:
        run_dir: A `zoo tune`, `zoo compare` or `zoo train` folder.
        title: Page title (the folder name when None).

    Returns:
        The path of `report.html`.
    """
    run_dir = os.fspath(run_dir)
    kind = run_kind(run_dir)
    board = leaderboard(run_dir)
    plots_dir = os.path.join(run_dir, "plots")
    frames = histories(run_dir)
    heading, summary = _summary(run_dir, kind)
    title = title or f"{heading}: {os.path.basename(os.path.abspath(run_dir))}"

    pictures = []
    pictures += plot_curves(frames, plots_dir)
    if kind == "tune":
        objective = summary.get("objective") or "score"
        pictures += plot_score_against_hyperparameters(board, plots_dir, objective)
    predictions, record, label = _best_predictions(run_dir, kind, board)
    pictures += plot_predictions(predictions, record, plots_dir, label)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        '<table class="summary">',
    ]
    for key, value in summary.items():
        parts.append(
            f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(str(value))}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Leaderboard</h2>")
    parts.append(_leaderboard_html(board))
    if kind == "tune" and "reason" in board:
        failed = board[board["status"].astype(str) != "COMPLETED"]
        if not failed.empty:
            parts.append(
                f"<p>{len(failed)} trial(s) did not complete; they are not ranked "
                "(see the reason column).</p>"
            )
    if record.get("prediction_error"):
        parts.append(
            f"<p>No test predictions: {html.escape(record['prediction_error'])}</p>"
        )
    for caption, path, data in pictures:
        parts.append(f"<h2>{html.escape(caption)}</h2>")
        parts.append(
            f'<img alt="{html.escape(os.path.basename(path))}" '
            f'src="data:image/png;base64,{data}">'
        )
    if not frames:
        parts.append("<p>No per-epoch history found.</p>")
    parts.append("</body></html>")
    path = os.path.join(run_dir, "report.html")
    write_text(path, "\n".join(parts) + "\n")
    return path

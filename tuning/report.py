"""Reading results: the leaderboard as a DataFrame and a self-contained `report.html`.

Works on the three kinds of run folder the zoo writes:

- a `zoo tune` folder (`tune.json`, `search/trial_*/history.csv`, `best/`),
- a `zoo compare` folder (`compare.json`, one `zoo train` folder per entry),
- a single `zoo train` folder (`config.json`, `history.csv`).

`write_report(run_dir)` collects what the folder holds (this module), draws
it with plotly (`zoo.tuning.report_charts`) and fills the page template
(`templates/report.html`): the best model's test metrics beside any
baselines the metrics file holds, its hyperparameters, a sortable
leaderboard under the objective's real name with each trial's wall time,
interactive curves (one chart per metric, every trial overlaid), a
parallel-coordinates view of the trials, hyperparameter importance, the
objective against each hyperparameter (log axes for log-sampled ones) and
the confusion matrix or predicted-against-true values of the best model.
plotly.js is inlined once, so the file opens with no network.

Example:
>>> from zoo.tuning.report import leaderboard, write_report
>>> frame = leaderboard("runs/iris")      # best trial first
>>> write_report("runs/iris")             # runs/iris/report.html
"""

import base64
import datetime
import glob
import os

import jinja2
import keras
import pandas as pd

from zoo.errors import ZooError
from zoo.tuning import report_charts as charts
from zoo.tuning.artifacts import PREDICTIONS_FILE, write_test_predictions
from zoo.tuning.io import read_json, write_text
from zoo.tuning.predict import load_run
from zoo.tuning.report_tables import (
    baseline_table,
    cell_text,
    leaderboard_table,
    metric_rows,
)
from zoo.tuning.results import histories, leaderboard, run_kind
from zoo.tuning.train import prepare

__all__ = ["baseline_table", "leaderboard", "write_report"]

_NOT_HYPERPARAMETERS = ("trial_id", "status", "score", "seconds", "best_step", "reason")
_TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


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


def _trial_seconds(run_dir):
    """`{trial_id: seconds}` from file times: a trial starts when it writes
    `worker.json` and ends with its last epoch (`history.csv`, or
    `trial.json` for a trial that failed before one). KerasTuner 1.4.8
    records no times; a resumed trial counts its last run only."""
    seconds = {}
    for folder in glob.glob(os.path.join(run_dir, "search", "trial_*")):
        start = os.path.join(folder, "worker.json")
        ends = [os.path.join(folder, name) for name in ("history.csv", "trial.json")]
        ends = [path for path in ends if os.path.exists(path)]
        if not os.path.exists(start) or not ends:
            continue
        took = os.path.getmtime(ends[0]) - os.path.getmtime(start)
        seconds[os.path.basename(folder).removeprefix("trial_")] = max(took, 0.0)
    return seconds


def _log_sampled(run_dir, columns):
    """Hyperparameters the search space samples on a log scale (learning
    rates always: a compare folder has no space)."""
    names = {c for c in columns if "learning_rate" in c}
    oracle = read_json(os.path.join(run_dir, "search", "oracle.json"), default={})
    for entry in ((oracle or {}).get("hyperparameters") or {}).get("space", []):
        config = entry.get("config", {})
        if config.get("sampling") in ("log", "reverse_log"):
            names.add(config.get("name"))
    return names


def _objective(run_dir, kind, board):
    """(name, "min"/"max") the leaderboard ranks by."""
    if kind == "tune":
        settings = read_json(os.path.join(run_dir, "tune.json"), default={}) or {}
        return settings.get("objective") or "score", settings.get("direction") or "max"
    if kind == "train":
        return None, None
    # `zoo compare` ranks by test accuracy, else test loss.
    for column, direction in (("test_accuracy", "max"), ("test_loss", "min")):
        if column in board:
            return column, direction
    return None, "max"


def _hyperparameter_columns(run_dir, kind, board):
    if kind == "tune":
        return [c for c in board.columns if c not in _NOT_HYPERPARAMETERS]
    if kind == "compare":
        settings = read_json(os.path.join(run_dir, "compare.json"), default={}) or {}
        keys = ["model"]
        for entry in settings.get("entries", []):
            keys += [k for k in entry.get("set") or {} if k not in keys]
        return [k for k in keys if k in board]
    return []


def _best_run(run_dir, kind, board):
    """(folder of the best model, its label, its hyperparameters)."""
    if kind == "tune":
        folder = os.path.join(run_dir, "best")
        record = read_json(os.path.join(folder, "config.json"), default={}) or {}
        if "trial_id" not in record:
            return None, "no best model yet", {}
        label = f"trial {record['trial_id']}"
        return folder, label, record.get("hyperparameters") or {}
    if kind == "compare":
        if board.empty or "name" not in board:
            return None, "", {}
        name = str(board.iloc[0]["name"])
        settings = read_json(os.path.join(run_dir, "compare.json"), default={}) or {}
        entry = next((e for e in settings.get("entries", []) if e["name"] == name), {})
        values = {"model": entry.get("model"), **(entry.get("set") or {})}
        return os.path.join(run_dir, name), name, values
    record = read_json(os.path.join(run_dir, "config.json"), default={}) or {}
    values = {k: record.get(k) for k in ("model", "epochs", "batch_size", "seed")}
    values.update(record.get("overrides") or {})
    return run_dir, str(record.get("model", "run")), values


def _predictions(kind, folder):
    """(test predictions frame or None, config record, error text)."""
    record = read_json(os.path.join(folder, "config.json"), default={}) or {}
    path = os.path.join(folder, PREDICTIONS_FILE)
    try:
        if kind != "tune":
            path = _predictions_for_train_run(folder, record)
    except (ZooError, OSError, ValueError) as error:
        return None, record, str(error)
    if not path or not os.path.exists(path):
        return None, record, ""
    return pd.read_csv(path), record, ""


def _summary(run_dir, kind):
    if kind == "tune":
        settings = read_json(os.path.join(run_dir, "tune.json"), default={}) or {}
        keys = ("model", "data", "task", "tuner", "max_trials", "epochs", "seed")
        return "Search", {k: settings.get(k) for k in keys}
    if kind == "compare":
        settings = read_json(os.path.join(run_dir, "compare.json"), default={}) or {}
        return "Comparison", {
            "data": settings.get("data"),
            "runs": len(settings.get("entries", [])),
            "seed": settings.get("seed"),
        }
    record = read_json(os.path.join(run_dir, "config.json"), default={}) or {}
    keys = ("model", "data", "task", "epochs", "batch_size", "seed", "status")
    return "Training run", {k: record.get(k) for k in keys}


# -- the page -------------------------------------------------------------------


def _chart_sections(run_dir, kind, board, objective, direction, best_label, notes):
    """`[{"title", "charts": [(Figure, full width)], "note"}]` of the charts."""
    frames = histories(run_dir)
    best = best_label if best_label in frames else None
    curves = [(f, False) for _, f in charts.curve_figures(frames, best)]
    sections = [{"title": "Learning curves", "charts": curves, "note": ""}]
    if not frames:
        notes.append("No per-epoch history found.")
    hyperparameters = _hyperparameter_columns(run_dir, kind, board)
    varied = [h for h in hyperparameters if board[h].nunique(dropna=True) > 1]
    if kind == "train" or not objective or board.empty:
        return sections
    log_names = _log_sampled(run_dir, hyperparameters)
    scored = board if kind == "tune" else board.assign(score=board[objective])
    weights = charts.importance(scored, varied, log_names)
    finished = int(scored["score"].notna().sum())
    note = ""
    if weights is None:
        note = (
            f"Hyperparameter importance needs {charts.MIN_TRIALS_FOR_IMPORTANCE} "
            f"finished trials that vary a hyperparameter ({finished} here)."
        )
    search = [
        (
            charts.parallel_coordinates(
                scored, varied, objective, log_names, direction
            ),
            True,
        ),
        (weights and charts.importance_figure(weights, objective, finished), False),
        (
            kind == "tune" and charts.duration_figure(scored, objective, direction),
            False,
        ),
        (charts.score_scatter(scored, varied, objective, log_names), True),
    ]
    title = "Search" if kind == "tune" else "Settings against the objective"
    sections.append({"title": title, "charts": search, "note": note})
    return sections


def _trial_times(run_dir, board, summary, notes):
    """Adds each trial's wall time to a search's leaderboard, and the counts
    of finished and failed trials to the summary and notes."""
    seconds = _trial_seconds(run_dir)
    board.insert(
        board.columns.get_loc("score") + 1,
        "seconds",
        board["trial_id"].astype(str).map(seconds).astype(float).round(1),
    )
    summary["trials"] = f"{int(board['score'].notna().sum())} finished of {len(board)}"
    if seconds:
        summary["wall time"] = f"{sum(seconds.values()):.0f} s in trials"
    failed = int((board["status"].astype(str) != "COMPLETED").sum())
    if failed:
        notes.append(
            f"{failed} trial(s) did not complete; they are not ranked "
            "(see the reason column)."
        )


def _test_section(kind, folder, label, notes):
    """The confusion matrix or predicted-against-true section, or None."""
    predictions, record, error = _predictions(kind, folder)
    if error:
        notes.append(f"No test predictions: {error}")
    if predictions is None:
        return None
    if {"y_true", "y_pred"} <= set(predictions) and record.get("task") in (
        "binary",
        "multiclass",
    ):
        figure = charts.confusion_figure(predictions, record.get("class_names") or [])
    else:
        figure = charts.prediction_figure(predictions, record.get("task"))
    title = "The model" if kind == "train" else "The best model"
    return {
        "title": f"{title} on the test split ({label})",
        "charts": [(figure, True)],
        "note": "",
    }


def _pictures(folder):
    """The pictures the runner wrote beside the model (`boxes.png`, a JointVAE's
    `traversals.png`...), as `(name, data URI)`, inlined so the page stays one
    file; the history plots under `plots/` are the report's own charts."""
    pictures = []
    if not os.path.isdir(folder):
        return pictures
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.lower().endswith(".png") and os.path.isfile(path):
            with open(path, "rb") as handle:
                data = base64.b64encode(handle.read()).decode("ascii")
            pictures.append((name, f"data:image/png;base64,{data}"))
    return pictures


def _picture_rows(run_dir, kind, board, folder):
    """`[(picture name, [(caption, data URI), ...]), ...]`: the best model's
    pictures captioned with their file names, or, for a comparison, each
    picture of every entry side by side (in leaderboard order), captioned
    with the entry's name, so three JointVAEs' traversals read as one row."""
    if kind == "compare" and not board.empty and "name" in board:
        rows = {}
        for name in board["name"].astype(str):
            for picture, uri in _pictures(os.path.join(run_dir, name)):
                rows.setdefault(picture, []).append((name, uri))
        return sorted(rows.items())
    if not folder:
        return []
    return [(name, [(name, uri)]) for name, uri in _pictures(folder)]


def _collect(run_dir):
    """Everything the template shows, with the figures still as plotly objects."""
    kind = run_kind(run_dir)
    board = leaderboard(run_dir)
    heading, summary = _summary(run_dir, kind)
    objective, direction = _objective(run_dir, kind, board)
    notes = []
    if kind == "tune" and not board.empty:
        _trial_times(run_dir, board, summary, notes)
    if objective:
        summary["objective"] = f"{objective} ({direction}imize)"
    folder, best_label, best_values = _best_run(run_dir, kind, board)
    metrics = {}
    if folder:
        metrics = read_json(os.path.join(folder, "metrics.json"), default={}) or {}
    sections = _chart_sections(
        run_dir, kind, board, objective, direction, best_label, notes
    )
    if folder:
        sections.append(_test_section(kind, folder, best_label, notes))
    ranked = not board.empty and (kind != "tune" or pd.notna(board["score"].iloc[0]))
    return {
        "heading": heading,
        "summary": summary,
        "objective": objective or "",
        "best_label": best_label,
        "best_values": [
            (k, cell_text(v)) for k, v in best_values.items() if v is not None
        ],
        "metrics": metric_rows(baseline_table(metrics)),
        "board": leaderboard_table(board, objective or "score", 0 if ranked else None),
        "notes": notes,
        "sections": [section for section in sections if section],
        "pictures": _picture_rows(run_dir, kind, board, folder),
        "side_by_side": kind == "compare",
    }


def write_report(run_dir, *, title=None):
    """Writes `run_dir/report.html`: one self-contained, interactive page.

    Args:
        run_dir: A `zoo tune`, `zoo compare` or `zoo train` folder.
        title: Page title (the folder name when None).

    Returns:
        The path of `report.html`.
    """
    run_dir = os.fspath(run_dir)
    context = _collect(run_dir)
    folder = os.path.basename(os.path.abspath(run_dir))
    context["title"] = title or f"{context['heading']}: {folder}"
    sections = []
    for section in context.pop("sections"):
        drawn = [(figure, wide) for figure, wide in section["charts"] if figure]
        divs = [
            {
                "html": charts.figure_html(figure, f"chart-{len(sections)}-{i}"),
                "wide": wide,
            }
            for i, (figure, wide) in enumerate(drawn)
        ]
        if divs or section["note"]:
            sections.append({**section, "charts": divs})
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    page = environment.get_template("report.html").render(
        **context,
        sections=sections,
        plotly_js=charts.plotly_js(),
        run_dir=os.path.abspath(run_dir),
        written=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    path = os.path.join(run_dir, "report.html")
    write_text(path, page)
    return path

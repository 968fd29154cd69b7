"""The report's interactive charts: plotly figures built from run-folder data.

Every function takes plain frames and names (what `zoo.tuning.report`
collects) and returns a `plotly.graph_objects.Figure`, or None when there is
nothing to draw. `figure_html` renders one without plotly.js; the report
inlines the bundle (`plotly_js()`) once in its head, so the file works offline.
"""

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative, sequential
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import confusion_matrix

#: Trials needed before the report fits an importance model on them.
MIN_TRIALS_FOR_IMPORTANCE = 4
# plotly_white's layout only: its per-trace defaults would repeat in every figure.
_TEMPLATE = go.layout.Template(layout=pio.templates["plotly_white"].layout)
_COLORS = qualitative.D3
# Viridis without its palest yellows, which vanish on white as thin lines.
_SCALE = sequential.Viridis[:-2]
_CONFIG = {"displaylogo": False, "responsive": True}


def plotly_js():
    """The full plotly.js bundle, to inline once in the page's head."""
    return get_plotlyjs()


def figure_html(figure, div_id):
    """`<div>` and `<script>` of one figure, without plotly.js."""
    return figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG
    )


def _layout(figure, title, height, **extra):
    extra.setdefault("margin", {"l": 60, "r": 20, "t": 50, "b": 50})
    figure.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left"},
        template=_TEMPLATE,
        height=height,
        **extra,
    )
    return figure


def metric_names(frames, limit=8):
    """Distinct metrics of the histories (`val_x` and `x` are one), loss first."""
    names = []
    for frame in frames.values():
        for column in frame.columns:
            base = column.removeprefix("val_")
            if column not in ("epoch", "learning_rate") and base not in names:
                names.append(base)
    names.sort(key=lambda name: (name != "loss", name))
    return names[:limit]


def curve_figures(frames, best_label=None):
    """`[(metric, Figure)]`: every run's curves overlaid, train solid, val dashed.

    A run's two lines share a legend entry, so a click on the legend hides
    or shows the run; a double click isolates it.
    """
    figures = []
    for name in metric_names(frames):
        figure = go.Figure()
        for index, (label, frame) in enumerate(frames.items()):
            color = _COLORS[index % len(_COLORS)]
            epochs = (frame["epoch"] + 1) if "epoch" in frame else frame.index + 1
            best = label == best_label
            shown = False
            for key, dash, split in (
                (name, "solid", "train"),
                (f"val_{name}", "dash", "val"),
            ):
                if key not in frame or not frame[key].notna().any():
                    continue
                figure.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=frame[key],
                        mode="lines+markers",
                        name=f"{label} (best)" if best else label,
                        legendgroup=label,
                        showlegend=not shown,
                        line={
                            "color": color,
                            "dash": dash,
                            "width": 3 if best else 1.5,
                        },
                        marker={"size": 4},
                        hovertemplate=f"{label} {split}<br>epoch %{{x}}<br>{name} %{{y:.4g}}"
                        "<extra></extra>",
                    )
                )
                shown = True
        if figure.data:
            _layout(
                figure,
                f"{name}: train (solid), validation (dashed)",
                380,
                xaxis_title="epoch",
                yaxis_title=name,
                hovermode="closest",
                legend={"itemclick": "toggle", "itemdoubleclick": "toggleothers"},
            )
            figures.append((name, figure))
    return figures


def _numeric(values):
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(
        values
    )


def _category_order(text):
    """Numbers by value, then words, then "unset"."""
    try:
        return (text == "unset", 0, float(text), "")
    except ValueError:
        return (text == "unset", 1, 0.0, text)


def _column(values):
    """A hyperparameter's values; one that some trials lack (a conditional
    hyperparameter, a setting a compare entry leaves at its default) turns
    categorical, with "unset" where it is missing."""
    if _numeric(values) and values.isna().any():
        return values.map(lambda v: "unset" if pd.isna(v) else f"{v:g}")
    return values


def _encoded(values, log):
    """(numbers, axis range, tick positions, tick labels) of a hyperparameter:
    log10 of a log-sampled one, codes of a categorical one."""
    if _numeric(values):
        numbers = values.astype(float)
        if log and (numbers > 0).all():
            logged = np.log10(numbers)
            low, high = math.floor(logged.min()), math.ceil(logged.max())
            ticks = list(range(low, max(high, low + 1) + 1))
            return logged, [ticks[0], ticks[-1]], ticks, [f"{10.0**t:g}" for t in ticks]
        distinct = sorted(numbers.dropna().unique())
        if len(distinct) <= 8:
            return numbers, None, distinct, [f"{v:g}" for v in distinct]
        return numbers, None, None, None
    categories = sorted(values.astype(str).unique(), key=_category_order)
    codes = values.astype(str).map({c: i for i, c in enumerate(categories)})
    return codes.astype(float), None, list(range(len(categories))), categories


def parallel_coordinates(
    board, hyperparameters, objective, log_names=(), direction="max"
):
    """One line per finished trial across its hyperparameters and objective
    (the best in the brightest colour)."""
    scored = board[board["score"].notna()] if "score" in board else board.iloc[:0]
    if len(scored) < 2 or not hyperparameters:
        return None
    dimensions = []
    for name in hyperparameters:
        numbers, span, ticks, labels = _encoded(
            _column(scored[name]), name in log_names
        )
        dimension = {"label": name, "values": numbers}
        if ticks is not None:
            dimension.update(tickvals=ticks, ticktext=labels)
        if span is not None:
            dimension.update(range=span, label=f"{name} (log)")
        dimensions.append(dimension)
    dimensions.append({"label": f"<b>{objective}</b>", "values": scored["score"]})
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": scored["score"].astype(float),
                "colorscale": _SCALE,
                "reversescale": direction == "min",
                "showscale": True,
                "colorbar": {"title": {"text": objective}, "x": 1.04},
            },
            dimensions=dimensions,
            labelangle=-20,
            labelside="top",
        )
    )
    return _layout(
        figure,
        f"Trials across hyperparameters and {objective} "
        "(drag along an axis to filter; colour: the objective)",
        480,
        margin={"l": 80, "r": 120, "t": 110, "b": 40},
    )


def importance(board, hyperparameters, log_names=(), seed=0):
    """`{hyperparameter: importance}` from a random forest fitted on the
    finished trials (impurity importance), or None with too few trials."""
    scored = board[board["score"].notna()] if "score" in board else board.iloc[:0]
    varied = [h for h in hyperparameters if scored[h].nunique(dropna=False) > 1]
    if len(scored) < MIN_TRIALS_FOR_IMPORTANCE or not varied:
        return None
    features = np.column_stack(
        [_encoded(_column(scored[h]), h in log_names)[0] for h in varied]
    )
    forest = RandomForestRegressor(
        n_estimators=200, random_state=seed, min_samples_leaf=1
    )
    forest.fit(features, scored["score"].astype(float))
    return dict(zip(varied, forest.feature_importances_, strict=True))


def importance_figure(values, objective, trials):
    ranked = sorted(values.items(), key=lambda item: item[1])
    figure = go.Figure(
        go.Bar(
            x=[v for _, v in ranked],
            y=[k for k, _ in ranked],
            orientation="h",
            marker_color="#1f77b4",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    return _layout(
        figure,
        f"Hyperparameter importance for {objective} (random forest on {trials} trials)",
        max(260, 60 + 34 * len(ranked)),
        xaxis_title="share of the forest's impurity decrease",
        margin={"l": 140, "r": 20, "t": 50, "b": 50},
    )


def score_scatter(board, hyperparameters, objective, log_names=()):
    """The objective against each hyperparameter (log axes where sampled so)."""
    scored = board[board["score"].notna()] if "score" in board else board.iloc[:0]
    if scored.empty or not hyperparameters:
        return None
    per_row = min(4, len(hyperparameters))
    rows = math.ceil(len(hyperparameters) / per_row)
    figure = make_subplots(
        rows=rows,
        cols=per_row,
        subplot_titles=hyperparameters,
        vertical_spacing=0.25 / rows if rows > 1 else 0.1,
        horizontal_spacing=0.05,
    )
    labels = scored["trial_id"].astype(str) if "trial_id" in scored else scored.index
    for index, name in enumerate(hyperparameters):
        row, col = divmod(index, per_row)
        column = _column(scored[name])
        numeric = _numeric(column)
        values = column if numeric else column.astype(str)
        figure.add_trace(
            go.Scatter(
                x=values,
                y=scored["score"],
                mode="markers",
                marker={"size": 9, "color": "#1f77b4", "opacity": 0.8},
                text=labels,
                hovertemplate=f"trial %{{text}}<br>{name} %{{x}}<br>{objective} %{{y:.4g}}"
                "<extra></extra>",
                showlegend=False,
            ),
            row=row + 1,
            col=col + 1,
        )
        if name in log_names and numeric:
            figure.update_xaxes(type="log", row=row + 1, col=col + 1)
        if not numeric:
            figure.update_xaxes(type="category", row=row + 1, col=col + 1)
        figure.update_yaxes(
            title_text=objective if col == 0 else None, row=row + 1, col=col + 1
        )
    return _layout(figure, f"{objective} against each hyperparameter", 80 + 250 * rows)


def confusion_figure(frame, class_names):
    """Counts of true (rows) against predicted (columns) classes."""
    count = max(len(class_names), int(frame[["y_true", "y_pred"]].to_numpy().max()) + 1)
    labels = [
        str(class_names[i]) if i < len(class_names) else str(i) for i in range(count)
    ]
    matrix = confusion_matrix(frame["y_true"], frame["y_pred"], labels=range(count))
    totals = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    # Square cells of 28-110 px: big enough to read a count in each.
    size = 170 + count * min(110, max(28, 600 // count))
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            text=matrix,
            texttemplate="%{text}" if count <= 30 else None,
            textfont={"size": 14 if count <= 10 else 10},
            customdata=np.round(100 * matrix / totals, 1),
            colorscale="Blues",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z} examples "
            "(%{customdata}% of the true class)<extra></extra>",
            colorbar={"title": {"text": "examples", "side": "right"}},
        )
    )
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    return _layout(
        figure,
        f"Confusion matrix (test split, {matrix.sum()} examples, accuracy {accuracy:.3f})",
        size,
        width=size + 120,
        xaxis={"title": "predicted", "tickangle": -45 if count > 6 else 0},
        yaxis={"title": "true", "autorange": "reversed", "scaleanchor": "x"},
        margin={"l": 110, "r": 20, "t": 60, "b": 110},
    )


def prediction_figure(frame, task):
    """Predicted against true values, and the first output in test order."""
    true_columns = [c for c in frame.columns if c.startswith("y_true")]
    if not true_columns:
        return None
    pred_columns = [c.replace("true", "pred") for c in true_columns]
    trues = frame[true_columns].to_numpy(float).ravel()
    preds = frame[pred_columns].to_numpy(float).ravel()
    figure = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.4, 0.6],
        subplot_titles=(
            "predicted against true (all outputs)",
            "forecast, first step ahead" if task == "forecast" else "in test order",
        ),
    )
    figure.add_trace(
        go.Scattergl(
            x=trues,
            y=preds,
            mode="markers",
            marker={"size": 5, "opacity": 0.6},
            name="examples",
            hovertemplate="true %{x:.4g}<br>predicted %{y:.4g}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    low, high = float(np.nanmin(trues)), float(np.nanmax(trues))
    figure.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="predicted = true",
            line={"color": "black", "dash": "dash", "width": 1},
        ),
        row=1,
        col=1,
    )
    shown = frame.head(500)
    for column, name, color in (
        (true_columns[0], "true", "#333"),
        (pred_columns[0], "predicted", "#d62728"),
    ):
        figure.add_trace(
            go.Scatter(
                y=shown[column],
                mode="lines",
                name=name,
                line={"color": color, "width": 1.5},
            ),
            row=1,
            col=2,
        )
    figure.update_xaxes(title_text="true", row=1, col=1)
    figure.update_yaxes(title_text="predicted", row=1, col=1)
    figure.update_xaxes(title_text="test example", row=1, col=2)
    title = "Forecast" if task == "forecast" else "Predictions"
    return _layout(figure, f"{title} of the best model (test split)", 440)


def duration_figure(board, objective, direction="max"):
    """Seconds each trial took, coloured by its objective (grey: failed)."""
    if "seconds" not in board or board["seconds"].notna().sum() < 2:
        return None
    shown = board[board["seconds"].notna()].sort_values(
        "trial_id", key=lambda ids: pd.to_numeric(ids, errors="coerce")
    )
    scored = shown["score"].notna()
    figure = go.Figure(
        go.Bar(
            x=shown["trial_id"].astype(str),
            y=shown["seconds"],
            marker={
                "color": np.where(scored, shown["score"].fillna(0), np.nan),
                "colorscale": _SCALE,
                "reversescale": direction == "min",
                "showscale": bool(scored.any()),
                "colorbar": {"title": {"text": objective}},
            },
            customdata=shown["status"],
            hovertemplate="trial %{x}<br>%{y:.1f} s<br>%{customdata}<extra></extra>",
        )
    )
    return _layout(
        figure,
        f"Wall time per trial (total {shown['seconds'].sum():.0f} s)",
        320,
        xaxis={"title": "trial", "type": "category"},
        yaxis_title="seconds",
    )

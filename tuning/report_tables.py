"""The report's two tables as the page template wants them: the best
model's test metrics with each baseline beside the matching metric, and
the leaderboard's cells with the keys its header clicks sort by."""

import pandas as pd


def baseline_table(metrics):
    """The test metrics with each baseline's value beside the matching one.

    A baseline is any key that names a `test_<m>` metric with a prefix:
    `baseline_<m>`, `baseline_test_<m>`, `baseline_<name>_<m>`, or
    `<name>_test_<m>` (the forecaster's `persistence_test_rmse_original`, the
    language models' `bigram_test_perplexity`). `model_test_<m>` counts as
    the model's own. Numbers that match no test metric go to `other`.

    Returns:
        `{"baselines": [name], "rows": [(metric, value, [baseline value or
        None])], "other": [(key, value)]}`.
    """
    numbers = {
        k: v
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    own = {
        k.removeprefix("model_")[5:]: v
        for k, v in numbers.items()
        if k.startswith(("test_", "model_test_"))
    }
    found, used = {}, {k for k in numbers if k.startswith(("test_", "model_test_"))}
    for key, value in numbers.items():
        if key in used:
            continue
        name, metric = _baseline_of(key, own)
        if metric is not None:
            found.setdefault(name, {})[metric] = value
            used.add(key)
    names = sorted(found, key=lambda n: (n != "baseline", n))
    rows = [
        (metric, value, [found[n].get(metric) for n in names])
        for metric, value in own.items()
    ]
    # The runner's baseline is headed by what it is ("logistic regression").
    label = metrics.get("baseline_name")
    if label and "baseline" in found:
        used.add("baseline_name")
    other = [
        (k, v) for k, v in metrics.items() if k not in used and k != "best_trial_id"
    ]
    headers = [label if n == "baseline" and label else n for n in names]
    return {"baselines": headers, "rows": rows, "other": other}


def _baseline_of(key, own):
    """(baseline name, metric) of a metrics key, or (None, None)."""
    if key.startswith("baseline_"):
        rest = key.removeprefix("baseline_").removeprefix("test_")
        if rest in own:
            return "baseline", rest
        for metric in sorted(own, key=len, reverse=True):
            if rest.endswith(f"_{metric}"):
                return rest[: -len(metric) - 1], metric
    name, separator, metric = key.partition("_test_")
    if separator and name and metric in own:
        return name, metric
    return None, None


_LOWER_IS_BETTER = ("loss", "error", "rmse", "mae", "mse", "perplexity")


def metric_rows(table):
    """The template's rows of `baseline_table`: numbers as text, and whether
    the model beats every baseline it has (lower is better for losses,
    errors and perplexities)."""
    rows = []
    for metric, value, baselines in table["rows"]:
        lower = any(word in metric for word in _LOWER_IS_BETTER)
        known = [b for b in baselines if b is not None]
        wins = bool(known) and all((value < b) if lower else (value > b) for b in known)
        rows.append(
            {
                "metric": metric,
                "value": cell_text(float(value)),
                "baselines": [
                    cell_text(None if b is None else float(b)) for b in baselines
                ],
                "wins": wins,
            }
        )
    other = [(k, cell_text(v)) for k, v in table["other"]]
    return {"baselines": table["baselines"], "rows": rows, "other": other}


def cell_text(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:.4g}"
    if value is None or (not isinstance(value, list | dict | str) and pd.isna(value)):
        return ""
    return str(value)


def leaderboard_table(board, objective, best_index):
    """The leaderboard for the template: columns (name, numeric) and rows of
    cells (text, sort key); columns empty in every row are left out."""
    kept = [c for c in board.columns if board[c].map(cell_text).ne("").any()]
    columns = [
        {
            "name": objective if c == "score" else c,
            "numeric": pd.api.types.is_numeric_dtype(board[c])
            and not pd.api.types.is_bool_dtype(board[c]),
        }
        for c in kept
    ]
    rows = []
    for index, (_, row) in enumerate(board[kept].iterrows()):
        cells = []
        for column, value in zip(columns, row, strict=True):
            number = column["numeric"] and pd.notna(value)
            sort = repr(float(value)) if number else cell_text(value)
            cells.append({"text": cell_text(value), "sort": sort})
        status = str(row.get("status", ""))
        rows.append(
            {
                "cells": cells,
                "best": index == best_index,
                "failed": status in ("FAILED", "INVALID"),
            }
        )
    return {"columns": columns, "rows": rows}

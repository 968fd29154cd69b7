"""Typing a table's columns: the target and its task, numeric, date and category features.

Everything here is read from the training table's values (never from pandas'
guessed dtypes alone): a column is numeric when nearly all its non-empty values
are numbers, a date when nearly all parse as dates (it becomes year, month and
day-of-week numbers), and otherwise a category, unless it looks like an
identifier. `rows_to_inputs` turns new raw rows into the exported model's
inputs the same way.
"""

import warnings

import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.errors import DataError

TASKS = ("auto", "binary", "multiclass", "regression")
DATE_PARTS = ("year", "month", "dayofweek")


# ---------------------------------------------------------------- values


def numeric_or_none(series):
    """The column as floats if (nearly) all its non-empty values are numbers."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    text = series.astype("string").str.strip()
    present = text.notna() & (text != "")
    if present.sum() == 0:
        return None
    numbers = pd.to_numeric(text.where(present), errors="coerce")
    if numbers[present].notna().mean() >= 0.95:
        return numbers.astype("float64")
    return None


def dates_or_none(series):
    """The column as datetimes if (nearly) every non-empty value is a date."""
    text = series.dropna().astype("string").str.strip()
    text = text[text != ""]
    # A date has digits and a separator; plain numbers were taken as numeric.
    if text.empty or not text.str.contains(r"\d{1,4}[-/.]\d{1,2}", regex=True).all():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(series, errors="coerce", format="mixed")
    return parsed if parsed.notna().sum() >= 0.9 * len(text) else None


def date_parts(dates):
    """Year, month and day of week (0 = Monday) of datetimes, NaN where missing."""
    return {
        "year": dates.dt.year.astype("float64"),
        "month": dates.dt.month.astype("float64"),
        "dayofweek": dates.dt.dayofweek.astype("float64"),
    }


# ---------------------------------------------------------------- target


def _target_task(target, requested):
    if requested not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, got {requested!r}.")
    if requested != "auto":
        return requested
    numbers = numeric_or_none(target)
    if numbers is None:
        return "classification"
    unique = numbers.dropna().unique()
    is_integral = np.all(np.equal(np.mod(unique, 1), 0))
    if is_integral and len(unique) <= 20:
        return "classification"
    return "regression"


def _encode_target(target, task, column):
    """Returns (y, num_classes, class_names)."""
    if task == "regression":
        numbers = numeric_or_none(target)
        if numbers is None:
            raise DataError(
                f"Target {column!r} is not numeric, so it cannot be a regression target."
            )
        return numbers.to_numpy("float32"), None, None
    numbers = numeric_or_none(target)
    if (
        numbers is not None
        and not pd.api.types.is_object_dtype(target)
        and not pd.api.types.is_string_dtype(target)
    ):
        labels = (
            numbers.astype("int64").astype(str)
            if np.all(np.mod(numbers, 1) == 0)
            else numbers.astype(str)
        )
        order = sorted(labels.unique(), key=lambda v: float(v))
    else:
        labels = target.astype(str).str.strip()
        order = sorted(labels.unique())
    if len(order) < 2:
        raise DataError(
            f"Target {column!r} has a single class {order[0]!r}; a classifier needs at least two. "
            "Check the target column or use --set to pick another."
        )
    if len(order) > 1000:
        raise DataError(
            f"Target {column!r} has {len(order)} classes; did you mean a regression? "
            "Pass --data-option task=regression."
        )
    index = {name: i for i, name in enumerate(order)}
    y = labels.map(index).to_numpy("int32")
    return y, len(order), list(order)


def _looks_like_identifier(num_classes, rows):
    """Nearly one class per row: no class could be learned from the others."""
    return num_classes is not None and num_classes >= max(10, 0.9 * rows)


def encode_target(target, task, column):
    """`(y, num_classes, class_names, task)` of the target column.

    Args:
        target: The target column (rows with a missing target already dropped).
        task: "auto", "binary", "multiclass" or "regression".
        column: The column's name, for messages.

    Returns:
        Labels as int32 class indices (classification, `num_classes` and
        sorted `class_names`) or float32 values (regression, both None), and
        the task the labels make: "binary", "multiclass" or "regression".
    """
    detected_task = _target_task(target, task)
    y, num_classes, class_names = _encode_target(
        target,
        "regression" if detected_task == "regression" else "classification",
        column,
    )
    if task == "auto" and _looks_like_identifier(num_classes, len(y)):
        raise DataError(
            f"Target {column!r} has {num_classes} distinct values in {len(y)} rows: it "
            "looks like an identifier, not a class; choose the label column with "
            "--target (or pass --data-option task=multiclass to insist)."
        )
    task_name = (
        "regression"
        if num_classes is None
        else ("binary" if num_classes == 2 else "multiclass")
    )
    if detected_task in ("binary", "multiclass") and task_name != detected_task:
        raise DataError(
            f"task={detected_task} but target {column!r} has {num_classes} classes."
        )
    return y, num_classes, class_names, task_name


# ---------------------------------------------------------------- features


def type_features(frame, columns, *, chosen):
    """Sorts feature columns into numeric, date and categorical ones.

    Args:
        frame: The table.
        columns: The candidate feature columns, in order.
        chosen: True when the user named the features: identifier-like text
            columns are then kept rather than dropped.

    Returns:
        `(numeric, categorical, dropped, date_columns)`: `{column: float
        Series}` (date columns as `<column>_<part>` numbers), `{column:
        stripped string Series}`, `{column: why it was dropped}` and
        `{date column: its derived numeric columns}`.
    """
    numeric, categorical, dropped, date_columns = {}, {}, {}, {}
    for column in columns:
        series = frame[column]
        if series.isna().all() or (series.astype("string").str.strip() == "").all():
            dropped[column] = "all values missing"
            continue
        numbers = numeric_or_none(series)
        if numbers is not None:
            numeric[column] = _finite_numbers(numbers, column)
            continue
        dates = dates_or_none(series)
        if dates is not None:
            # Dates become numbers a network can use; the raw column is kept
            # in the info so `zoo predict` derives the same from new rows.
            for part, values in date_parts(dates).items():
                numeric[f"{column}_{part}"] = values
            date_columns[column] = [f"{column}_{part}" for part in DATE_PARTS]
            continue
        text = series.astype("string").str.strip().fillna("")
        unique = text.nunique()
        if not chosen and unique > 50 and unique > 0.5 * len(text):
            dropped[column] = f"identifier-like text ({unique} distinct values)"
            continue
        categorical[column] = text
    return numeric, categorical, dropped, date_columns


def _finite_numbers(numbers, column):
    """Infinities as missing values; values no float32 network can take refused."""
    numbers = numbers.replace([np.inf, -np.inf], np.nan)
    if numbers.abs().max() > 1e30:
        raise DataError(
            f"Column {column!r} has values as large as {numbers.abs().max():.3g}; "
            "rescale it (for instance take its log) before training."
        )
    return numbers


# ---------------------------------------------------------------- new rows


def _with_date_parts(frame, raw_columns):
    """Adds the `<column>_<part>` columns a model trained on dates expects."""
    frame = frame.copy()
    for column in raw_columns:
        base, _, part = column.rpartition("_")
        if column not in frame.columns and part in DATE_PARTS and base in frame.columns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dates = pd.to_datetime(frame[base], errors="coerce", format="mixed")
            frame[column] = date_parts(dates)[part]
    return frame


def rows_to_inputs(frame, raw_columns):
    """Turns a DataFrame of raw rows into the exported model's input dict."""
    frame = _with_date_parts(frame, raw_columns)
    missing = [c for c in raw_columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"The rows lack column(s) {', '.join(missing)} that the model was trained on."
        )
    inputs = {}
    for column, kind in raw_columns.items():
        if kind == "numeric":
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy("float32")
        else:
            values = (
                frame[column]
                .astype("string")
                .str.strip()
                .fillna("")
                .to_numpy(dtype=object)
                .astype(str)
            )
        inputs[column] = tf.constant(values.reshape(-1, 1))
    return inputs

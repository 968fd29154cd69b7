"""Time series from a CSV with a date column, as windows for forecasting.

The rows are sorted by date and split chronologically (train, then
validation, then test; never shuffled across the split). Windows of `window` past steps of the input
columns (target first) are paired with the next `horizon` target values by
`keras.utils.timeseries_dataset_from_array`. A validation or test window may
look back into the previous part for its inputs, but its targets all lie in
its own part.

Windows and targets stay in the series' own units. The forecaster fits its
scaling on the training rows (`bundle.extras["train_rows"]`), so a saved
model takes raw windows and answers in those units.

Example:
>>> from zoo.datasets.base import load_data
>>> bundle = load_data("co2", kind="timeseries", window=12, horizon=1)
>>> bundle.input_shape
(12, 1)
"""

import os

import keras
import numpy as np
import pandas as pd

from zoo.datasets.base import (
    AUTOTUNE,
    DEFAULT_SPLITS,
    DataBundle,
    register_dataset,
    register_file_loader,
)
from zoo.datasets.delimiters import detect_delimiter
from zoo.errors import DataError, close_matches

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
DATE_NAMES = (
    "date",
    "datetime",
    "timestamp",
    "time",
    "day",
    "month",
    "week",
    "period",
    "ds",
)
TARGET_NAMES = ("close", "value", "target", "y", "price", "sales", "load")

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["timeseries"]


def _read_csv(path):
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            sample = handle.read(1 << 16)
        delimiter = detect_delimiter(path, sample) or ","
        frame = pd.read_csv(path, sep=delimiter, encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(
            f"Time-series file {path} does not exist; check the path."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(
            f"Cannot parse {path} as CSV ({str(error).splitlines()[0]}); give a CSV with a date column."
        ) from None
    if frame.empty:
        raise DataError(f"{path} holds no rows.")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


# How a user names each column option on the command line.
OPTION_FLAGS = {
    "target": "--target NAME",
    "features": "--features NAME,NAME",
    "date_column": "--data-option date_column=NAME",
}


def _resolve(path, frame, name, option):
    if name in frame.columns:
        return name
    lowered = {c.lower(): c for c in frame.columns}
    if str(name).lower() in lowered:
        return lowered[str(name).lower()]
    raise DataError(
        f"Column {name!r} is not in {os.path.basename(path)}.{close_matches(name, frame.columns)} "
        f"Columns: {', '.join(frame.columns)}; pass {OPTION_FLAGS[option]}."
    )


def _detect_date_column(path, frame):
    named = [c for c in frame.columns if c.lower() in DATE_NAMES]
    candidates = named + [
        c for c in frame.columns if c not in named and frame[c].dtype == object
    ]
    for column in candidates:
        parsed = pd.to_datetime(frame[column], errors="coerce", format="mixed")
        if parsed.notna().mean() >= 0.95:
            return column
    raise DataError(
        f"No date column found in {path}; add one (e.g. 2020-01-31) or name it with "
        "--data-option date_column=NAME."
    )


def _numeric(path, frame, column):
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (
        values.isna()
        & frame[column].notna()
        & (frame[column].astype(str).str.strip() != "")
    )
    if bad.mean() > 0.05:
        raise DataError(
            f"Column {column!r} of {path} is not numeric (e.g. {frame[column][bad].iloc[0]!r}); "
            "choose numeric columns with target/features."
        )
    return values


def load_series(path, *, target=None, features=None, date_column=None):
    """Reads a dated CSV into `(dates, values, columns, info)`; column 0 is the target.

    Gaps in the numeric columns are filled by linear interpolation in time
    (counted in `info["filled_gaps"]`); rows without a date are dropped.
    """
    frame = _read_csv(path)
    date_col = (
        _resolve(path, frame, date_column, "date_column")
        if date_column
        else _detect_date_column(path, frame)
    )
    dates = pd.to_datetime(frame[date_col], errors="coerce", format="mixed")
    others = [c for c in frame.columns if c != date_col]
    numeric = [
        c
        for c in others
        if pd.to_numeric(frame[c], errors="coerce").notna().mean() >= 0.5
    ]
    if target is not None:
        target_col = _resolve(path, frame, target, "target")
    elif len(numeric) == 1:
        target_col = numeric[0]
    else:
        named = [c for c in numeric if c.lower() in TARGET_NAMES]
        if not numeric:
            raise DataError(
                f"{path} has no numeric value column (each column besides the "
                "dates is empty or not numbers); give a column of numbers to forecast."
            )
        if not named:
            raise DataError(
                f"{path} has several numeric columns ({', '.join(numeric)}); "
                "choose the one to forecast with --data-option target=NAME."
            )
        target_col = named[0]
    if features is None or features == "":
        feature_cols = []
    elif features in ("all", ["all"]):
        feature_cols = [c for c in numeric if c != target_col]
    else:
        names = features.split(",") if isinstance(features, str) else list(features)
        feature_cols = [
            _resolve(path, frame, n.strip(), "features")
            for n in names
            if str(n).strip()
        ]
        feature_cols = [c for c in feature_cols if c != target_col]
    if date_col in [target_col, *feature_cols]:
        raise DataError(
            f"{date_col!r} is the date column; it cannot also be the target or a feature."
        )
    columns = [target_col, *feature_cols]
    table = pd.DataFrame({c: _numeric(path, frame, c) for c in columns})
    table.index = dates
    dropped = int(table.index.isna().sum())
    table = table[table.index.notna()].sort_index()
    if table.index.has_duplicates:
        first = table.index[table.index.duplicated()][0]
        raise DataError(
            f"{path} has two rows dated {first.date()}; keep one row per date (one series per file)."
        )
    gaps = int(table.isna().sum().sum())
    if gaps:
        table = table.interpolate(method="time", limit_direction="both")
    if table.isna().any().any():
        empty = table.columns[table.isna().any()][0]
        raise DataError(
            f"Column {empty!r} of {path} has no numbers; drop it or choose another."
        )
    info = {
        "detected": {
            "date_column": date_col,
            "target": target_col,
            "features": feature_cols,
        },
        "target": target_col,
        # Inputs beside the target's past values, scaled like it on the
        # training rows only; `zoo predict` reads them from the recent rows.
        "covariates": feature_cols,
        "rows": int(len(table)),
        "filled_gaps": gaps,
        "dropped_undated_rows": dropped,
        "first_date": str(table.index[0].date()),
        "last_date": str(table.index[-1].date()),
    }
    return table.index.values, table.to_numpy("float32"), columns, info


def _windows(values, window, horizon):
    """Unbatched `(x, y)` windows: x = `window` rows, y = the next `horizon` targets."""
    dataset = keras.utils.timeseries_dataset_from_array(
        values,
        targets=None,
        sequence_length=window + horizon,
        batch_size=None,
        shuffle=False,
    )
    # Cached: slicing windows each epoch fed the forecaster only 2.6x what it
    # consumes (bench/results/pipelines.md); cached windows are 10x faster.
    return dataset.map(
        lambda seq: (seq[:window], seq[window:, 0]), num_parallel_calls=AUTOTUNE
    ).cache()


def make_series_bundle(
    dates,
    values,
    columns,
    *,
    window=30,
    horizon=1,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    info=None,
):
    """Chronological splits and windows (in the series' units) as a `DataBundle`.

    Args:
        dates: Sorted datetime64 array, one per row.
        values: `(rows, columns)` float array; column 0 is the target.
        columns: Their names.
        window: Past steps per input window.
        horizon: Future target steps per window.
        validation_split, test_split: Fractions of the rows, taken from the end.
        info: Facts to record.
    """
    window, horizon = int(window), int(horizon)
    if window < 1 or horizon < 1:
        raise DataError(f"window and horizon must be >= 1, got {window} and {horizon}.")
    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if not 0 < float(value) < 1:
            raise DataError(f"{name} must be in (0, 1) for a forecast, got {value}.")
    rows = len(values)
    n_test = int(round(rows * float(test_split)))
    n_validation = int(round(rows * float(validation_split)))
    n_train = rows - n_test - n_validation
    needed = window + horizon
    if n_train < needed or n_validation < horizon or n_test < horizon:
        raise DataError(
            f"{rows} rows are too few for window={window} and horizon={horizon} with these "
            f"splits ({n_train}/{n_validation}/{n_test} rows); lower window/horizon or give a longer series."
        )
    values = np.asarray(values, "float32")
    # Windows of a later part borrow the last `window` rows before it as context.
    parts = {
        "train": (0, n_train),
        "validation": (n_train, n_train + n_validation),
        "test": (n_train + n_validation, rows),
    }
    splits, sizes = {}, {}
    for name, (start, stop) in parts.items():
        context = max(start - window, 0)
        chunk = values[context:stop]
        sizes[name] = max(len(chunk) - needed + 1, 0)
        splits[name] = _windows(chunk, window, horizon)
    if min(sizes.values()) < 1:
        empty = min(sizes, key=sizes.get)
        raise DataError(
            f"The {empty} split holds no window of {needed} steps; lower window/horizon or raise {empty}_split."
        )
    test_start = parts["test"][0]
    first_target = max(test_start - window, 0) + window
    test_dates = np.asarray(dates[first_target : first_target + sizes["test"]])
    info = dict(info or {})
    info.update(
        {
            "columns": list(columns),
            "window": window,
            "horizon": horizon,
            "train_size": sizes["train"],
            "validation_size": sizes["validation"],
            "test_size": sizes["test"],
            "train_rows": n_train,
            "validation_first_date": str(pd.Timestamp(dates[n_train]).date()),
            "test_first_date": str(pd.Timestamp(dates[test_start]).date()),
        }
    )
    return DataBundle(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        input_shape=(window, len(columns)),
        num_classes=None,
        task="forecast",
        info=info,
        extras={
            "target_column": columns[0],
            "train_rows": values[:n_train],
            "test_dates": test_dates,
        },
    )


@register_file_loader("timeseries")
def load_timeseries(
    path,
    *,
    target=None,
    features=None,
    date_column=None,
    window=30,
    horizon=1,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    seed=0,
):
    """Loads a dated CSV as forecasting windows.

    Args:
        path: CSV (any common separator) with a date column.
        target: Column to forecast; detected when the file has one numeric
            column or a column named close/value/target/y/price/sales/load.
        features: Extra input columns: comma-separated names, "all" for every
            numeric column, or None for the target alone.
        date_column: Detected when None (a column named like a date, or the
            first that parses as dates).
        window: Past steps per input window.
        horizon: Future target steps to predict.
        validation_split, test_split: Fractions of the rows, from the end.
        seed: Unused (the split is chronological); accepted for uniformity.

    Example:
    >>> bundle = load_timeseries("sales.csv", target="sales", window=14)  # doctest: +SKIP
    """
    del seed
    dates, values, columns, info = load_series(
        path, target=target, features=features, date_column=date_column
    )
    return make_series_bundle(
        dates,
        values,
        columns,
        window=window,
        horizon=horizon,
        validation_split=validation_split,
        test_split=test_split,
        info=info,
    )


@register_dataset("stock_prices", kind="timeseries")
def stock_prices(
    *,
    target="close",
    features=None,
    window=30,
    horizon=1,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    seed=0,
):
    """IBM daily share prices 2000-2013 (open, high, low, close, volume); forecasts the close."""
    return load_timeseries(
        os.path.join(DATA_DIR, "stock_prices.csv.gz"),
        target=target,
        features=features,
        window=window,
        horizon=horizon,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
    )


@register_dataset("co2", kind="timeseries")
def co2(
    *,
    window=30,
    horizon=1,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    seed=0,
):
    """Weekly Mauna Loa CO2 (ppm) 1958-2001; 59 missing weeks interpolated."""
    return load_timeseries(
        os.path.join(DATA_DIR, "co2.csv"),
        window=window,
        horizon=horizon,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
    )

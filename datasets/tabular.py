"""Tabular data: CSV or Parquet files and scikit-learn's bundled tables.

Columns are typed from the training split, preprocessing (missing values,
normalisation, category lookup) is Keras preprocessing layers fitted on the
training split only, and it travels inside the saved model, which therefore
takes raw rows.
"""

import csv
import io
import os
import warnings

import numpy as np
import pandas as pd
import tensorflow as tf

from zoo.datasets.base import (
    DEFAULT_SPLITS,
    DataBundle,
    register_dataset,
    register_file_loader,
)
from zoo.errors import DataError, close_matches

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
TASKS = ("auto", "binary", "multiclass", "regression")

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["tabular"]


def read_table(path):
    """Reads a CSV/TSV/Parquet file into a DataFrame, or raises `DataError`.

    The delimiter is sniffed, a UTF-8 byte-order mark is tolerated, and
    non-UTF-8 bytes fall back to Latin-1.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DataError(
            f"{path} is a folder; tabular models need a CSV or Parquet file."
        )
    if os.path.getsize(path) == 0:
        raise DataError(
            f"{path} is empty; give a CSV file with a header row and data rows."
        )
    extension = os.path.splitext(path)[1].lower()
    if extension in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many types.
            raise DataError(f"Cannot read {path} as Parquet ({error}).") from None
    if extension in (
        ".xlsx",
        ".xls",
        ".json",
        ".npz",
        ".npy",
        ".png",
        ".jpg",
        ".zip",
        ".gz",
    ):
        raise DataError(
            f"{path}: {extension} files are not tables; save it as CSV or Parquet."
        )
    with open(path, "rb") as handle:
        raw = handle.read(1 << 16)
    if b"\x00" in raw:
        raise DataError(
            f"{path} looks binary, not like a CSV; save it as CSV or Parquet."
        )
    try:
        text = raw.decode("utf-8-sig")
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
        encoding = "latin-1"
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(
            f"{path} has no data; give a CSV file with a header row and data rows."
        )
    try:
        delimiter = (
            csv.Sniffer().sniff("\n".join(lines[:50]), delimiters=",;\t|").delimiter
        )
    except csv.Error:
        delimiter = ","
    # pandas renames a repeated header "a,a" to "a, a.1"; catch it first.
    header = [c.strip() for c in next(csv.reader([lines[0]], delimiter=delimiter))]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DataError(
            f"{path} has duplicated column names: {', '.join(repeated)}; rename them."
        )
    try:
        frame = pd.read_csv(
            path, sep=delimiter, encoding=encoding, skipinitialspace=True
        )
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{path} has no columns; give a CSV with a header row."
        ) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first = str(error).strip().splitlines()[0]
        raise DataError(
            f"Cannot parse {path} as a table ({first}); check its delimiter and quoting."
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) == 0:
        raise DataError(f"{path} has a header but no data rows.")
    if len(frame.columns) < 2:
        raise DataError(
            f"{path} has a single column {frame.columns[0]!r}; a table needs features and a target. "
            "Check the delimiter (comma, semicolon or tab)."
        )
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(
            f"{path} has duplicated column names: {', '.join(duplicated)}; rename them."
        )
    return frame


def _numeric_or_none(series):
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


def _target_task(target, requested):
    if requested not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, got {requested!r}.")
    if requested != "auto":
        return requested
    numbers = _numeric_or_none(target)
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
        numbers = _numeric_or_none(target)
        if numbers is None:
            raise DataError(
                f"Target {column!r} is not numeric, so it cannot be a regression target."
            )
        return numbers.to_numpy("float32"), None, None
    numbers = _numeric_or_none(target)
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


def _split(n, y, *, classification, seed, validation_split, test_split):
    from sklearn.model_selection import train_test_split

    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if not 0 < value < 1:
            raise DataError(f"{name} must be between 0 and 1, got {value}.")
    if validation_split + test_split >= 0.9:
        raise DataError(
            "validation_split + test_split leave too little to train on; keep their sum below 0.9."
        )
    indices = np.arange(n)
    stratify = y if classification else None
    if classification:
        counts = np.bincount(y)
        if counts[counts > 0].min() < 3:
            stratify = None
    try:
        rest, test = train_test_split(
            indices, test_size=test_split, random_state=seed, stratify=stratify
        )
        stratify_rest = y[rest] if stratify is not None else None
        train, validation = train_test_split(
            rest,
            test_size=validation_split / (1 - test_split),
            random_state=seed,
            stratify=stratify_rest,
        )
    except ValueError as error:
        raise DataError(
            f"Cannot split {n} rows into train/validation/test ({error}); give more rows."
        ) from None
    if min(len(train), len(validation), len(test)) < 1:
        raise DataError(
            f"{n} rows are too few to split into train/validation/test; give at least 10 rows."
        )
    return train, validation, test


def _class_weight(y, num_classes, mode):
    if mode in (None, "none", False):
        return None
    counts = np.bincount(y, minlength=num_classes).astype("float64")
    if mode == "auto" and counts.min() / counts.max() >= 1 / 3:
        return None
    if mode not in ("auto", "balanced"):
        raise DataError(
            f"class_weight must be 'auto', 'balanced' or 'none', got {mode!r}."
        )
    weights = len(y) / (num_classes * np.maximum(counts, 1))
    return {i: float(w) for i, w in enumerate(weights)}


def bundle_from_frame(
    frame,
    *,
    target,
    features=None,
    task="auto",
    seed=0,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    class_weight="auto",
    name="table",
):
    """Builds a `DataBundle` from a DataFrame with a target column.

    Args:
        frame: The table, one row per example.
        target: Name of the target column.
        features: Feature columns to use (a list or "a,b,c"), default all but
            the target and identifier-like columns.
        task: "auto" (detect), "binary", "multiclass" or "regression".
        seed: Seed of the stratified split.
        validation_split, test_split: Fractions of rows held out.
        class_weight: "auto" (balanced when the rarest class is under a third
            of the commonest), "balanced" or "none".
        name: Name used in messages.

    Returns:
        A `DataBundle` whose `x` is a raw row: a dict of `(1,)` columns,
        numeric ones as float32 (missing values NaN), categorical ones as
        strings. `zoo.tabular.adapt_table` fits the model's encoder on it.
    """
    columns = list(frame.columns)
    if target is None:
        raise DataError(
            f"{name}: say which column is the target with --target. Columns: {', '.join(columns)}."
        )
    if target not in columns:
        stripped = {c.strip().lower(): c for c in columns}
        if str(target).strip().lower() in stripped:
            target = stripped[str(target).strip().lower()]
        else:
            raise DataError(
                f"{name} has no column {target!r}.{close_matches(target, columns)} "
                f"Columns: {', '.join(columns)}."
            )
    frame = frame.copy()
    missing_target = frame[target].isna() | (
        frame[target].astype("string").str.strip() == ""
    )
    dropped_rows = int(missing_target.sum())
    frame = frame.loc[~missing_target].reset_index(drop=True)
    if len(frame) < 10:
        raise DataError(
            f"{name} has {len(frame)} rows with a target; give at least 10."
        )
    info = {
        "rows": len(frame),
        "rows_dropped_missing_target": dropped_rows,
        "target": target,
    }

    if features is not None:
        if isinstance(features, str):
            features = [f.strip() for f in features.split(",") if f.strip()]
        unknown = [f for f in features if f not in columns]
        if unknown:
            raise DataError(
                f"{name} has no column {unknown[0]!r}.{close_matches(unknown[0], columns)} "
                f"Columns: {', '.join(columns)}."
            )
        if target in features:
            raise DataError(
                f"The target {target!r} cannot also be a feature; remove it from --features."
            )
        candidates = list(features)
    else:
        candidates = [c for c in columns if c != target]

    detected_task = _target_task(frame[target], task)
    y, num_classes, class_names = _encode_target(
        frame[target],
        "regression" if detected_task == "regression" else "classification",
        target,
    )
    if task == "auto" and _looks_like_identifier(num_classes, len(y)):
        raise DataError(
            f"Target {target!r} has {num_classes} distinct values in {len(y)} rows: it "
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
            f"task={detected_task} but target {target!r} has {num_classes} classes."
        )

    numeric, categorical, dropped, date_columns = {}, {}, {}, {}
    for column in candidates:
        series = frame[column]
        if series.isna().all() or (series.astype("string").str.strip() == "").all():
            dropped[column] = "all values missing"
            continue
        numbers = _numeric_or_none(series)
        if numbers is not None:
            numbers = numbers.replace([np.inf, -np.inf], np.nan)
            if numbers.abs().max() > 1e30:
                raise DataError(
                    f"Column {column!r} has values as large as {numbers.abs().max():.3g}; "
                    "rescale it (for instance take its log) before training."
                )
            numeric[column] = numbers
            continue
        dates = _dates_or_none(series)
        if dates is not None:
            # Dates become numbers a network can use; the raw column is kept
            # in the info so `zoo predict` derives the same from new rows.
            for part, values in date_parts(dates).items():
                numeric[f"{column}_{part}"] = values
            date_columns[column] = [f"{column}_{part}" for part in DATE_PARTS]
            continue
        text = series.astype("string").str.strip().fillna("")
        unique = text.nunique()
        if features is None and unique > 50 and unique > 0.5 * len(text):
            dropped[column] = f"identifier-like text ({unique} distinct values)"
            continue
        categorical[column] = text
    if not numeric and not categorical:
        raise DataError(
            f"{name} has no usable feature columns besides the target {target!r}."
        )
    info.update(
        numeric_columns=list(numeric),
        categorical_columns=list(categorical),
        dropped_columns=dropped,
        date_columns=date_columns,
        task=task_name,
    )

    train_idx, val_idx, test_idx = _split(
        len(frame),
        y if num_classes else None,
        classification=num_classes is not None,
        seed=seed,
        validation_split=validation_split,
        test_split=test_split,
    )

    raw = {}
    for column, values in numeric.items():
        raw[column] = values.to_numpy("float32")
    for column, values in categorical.items():
        raw[column] = values.to_numpy(dtype=object).astype(str)

    splits = {}
    for split, idx in (
        ("train", train_idx),
        ("validation", val_idx),
        ("test", test_idx),
    ):
        rows = {c: raw[c][idx].reshape(-1, 1) for c in sorted(raw)}
        splits[split] = tf.data.Dataset.from_tensor_slices((rows, y[idx])).cache()
        info[f"{split}_size"] = int(len(idx))
    bundle = DataBundle(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        input_shape=(len(raw),),
        num_classes=num_classes,
        class_names=class_names,
        task=task_name,
        class_weight=_class_weight(y[train_idx], num_classes, class_weight)
        if num_classes
        else None,
        info=info,
    )
    return bundle


DATE_PARTS = ("year", "month", "dayofweek")


def _dates_or_none(series):
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


@register_file_loader("tabular")
def load_table(
    path,
    *,
    target=None,
    features=None,
    task="auto",
    seed=0,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    class_weight="auto",
):
    """Loads a user's CSV or Parquet file. See `bundle_from_frame`."""
    frame = read_table(path)
    if target is None:
        raise DataError(
            f"Say which column of {os.path.basename(path)} is the target with --target. "
            f"Columns: {', '.join(map(str, frame.columns))}."
        )
    return bundle_from_frame(
        frame,
        target=target,
        features=features,
        task=task,
        seed=seed,
        validation_split=validation_split,
        test_split=test_split,
        class_weight=class_weight,
        name=os.path.basename(path),
    )


def _embedded_loader(read_frame, default_target, name, description):
    """A registered loader: `read_frame(target) -> (frame, target)`, then the split."""

    def load(
        *,
        target=None,
        features=None,
        task="auto",
        seed=0,
        validation_split=VALIDATION_SPLIT,
        test_split=TEST_SPLIT,
        class_weight="auto",
    ):
        frame, target = read_frame(target or default_target, task)
        return bundle_from_frame(
            frame,
            target=target,
            features=features,
            task=task,
            seed=seed,
            validation_split=validation_split,
            test_split=test_split,
            class_weight=class_weight,
            name=name,
        )

    load.__doc__ = description
    return load


def _sklearn_frame(loader_name):
    def read_frame(target, task):
        import sklearn.datasets

        data = getattr(sklearn.datasets, loader_name)(as_frame=True)
        frame = data.frame.copy()
        if (
            hasattr(data, "target_names")
            and task != "regression"
            and target == "target"
        ):
            names = list(data.target_names)
            frame["target"] = [str(names[int(i)]) for i in frame["target"]]
        return frame, target

    return read_frame


def _csv_loader(file_name, default_target, description):
    def read_frame(target, task):
        return read_table(os.path.join(DATA_DIR, file_name)), target

    return _embedded_loader(read_frame, default_target, file_name, description)


for _name, _loader, _description in (
    (
        "breast_cancer",
        "load_breast_cancer",
        "Wisconsin breast cancer (569 rows, 30 features, binary); scikit-learn.",
    ),
    (
        "wine",
        "load_wine",
        "Wine cultivars (178 rows, 13 features, 3 classes); scikit-learn.",
    ),
    (
        "iris",
        "load_iris",
        "Iris flowers (150 rows, 4 features, 3 classes); scikit-learn.",
    ),
    (
        "digits",
        "load_digits",
        "8x8 handwritten digits as 64 pixel columns (1,797 rows, 10 classes); scikit-learn.",
    ),
    (
        "diabetes",
        "load_diabetes",
        "Diabetes progression (442 rows, 10 features, regression); scikit-learn.",
    ),
):
    register_dataset(_name, kind="tabular", description=_description)(
        _embedded_loader(_sklearn_frame(_loader), "target", _name, _description)
    )


register_dataset("titanic", kind="tabular")(
    _csv_loader(
        "titanic.csv",
        "survived",
        "Titanic passengers (1,309 rows: sex, age with gaps, class; yes/no survived); R carData.",
    )
)
register_dataset("credit_card", kind="tabular")(
    _csv_loader(
        "credit_card.csv",
        "card",
        "Credit card applications (1,319 rows, yes/no target, imbalanced); Greene via R AER.",
    )
)


def describe_frame(frame):
    """A short text summary of a table, for messages."""
    buffer = io.StringIO()
    frame.info(buf=buffer)
    return buffer.getvalue()

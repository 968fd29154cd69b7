"""Tabular data: CSV or Parquet files and scikit-learn's bundled tables.

Columns are typed from the training split, preprocessing (missing values,
normalisation, category lookup) is Keras preprocessing layers fitted on the
training split only, and it travels inside the saved model, which therefore
takes raw rows. Reading files is `zoo.datasets.table_files`, typing the
target and feature columns `zoo.datasets.table_columns`; this module chooses
the columns, splits the rows and registers the loaders.
"""

import os

import numpy as np
import tensorflow as tf

from zoo.datasets.base import (
    DEFAULT_SPLITS,
    DataBundle,
    register_dataset,
    register_file_loader,
)
from zoo.datasets.table_columns import encode_target, type_features
from zoo.datasets.table_files import read_table
from zoo.errors import DataError, close_matches

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["tabular"]
SPLITS = ("train", "validation", "test")


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

    Example:
        >>> bundle = bundle_from_frame(frame, target="survived", features="age,sex")
        >>> bundle.task, bundle.info["numeric_columns"]
        ('binary', ['age'])
    """
    columns = list(frame.columns)
    target = _target_column(target, columns, name)
    frame, dropped_rows = _rows_with_target(frame, target, name)
    info = {
        "rows": len(frame),
        "rows_dropped_missing_target": dropped_rows,
        "target": target,
    }
    candidates = _feature_columns(features, target, columns, name)
    y, num_classes, class_names, task_name = encode_target(frame[target], task, target)
    numeric, categorical, dropped, date_columns = type_features(
        frame, candidates, chosen=features is not None
    )
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
    indices = _split(
        len(frame),
        y if num_classes else None,
        classification=num_classes is not None,
        seed=seed,
        validation_split=validation_split,
        test_split=test_split,
    )
    raw = _raw_columns(numeric, categorical)
    splits = {}
    for split, idx in zip(SPLITS, indices, strict=True):
        rows = {c: raw[c][idx].reshape(-1, 1) for c in sorted(raw)}
        splits[split] = tf.data.Dataset.from_tensor_slices((rows, y[idx])).cache()
        info[f"{split}_size"] = int(len(idx))
    return DataBundle(
        train=splits["train"],
        validation=splits["validation"],
        test=splits["test"],
        input_shape=(len(raw),),
        num_classes=num_classes,
        class_names=class_names,
        task=task_name,
        class_weight=_class_weight(y[indices[0]], num_classes, class_weight)
        if num_classes
        else None,
        info=info,
    )


def _target_column(target, columns, name):
    """The target's column name, matched case- and space-insensitively."""
    if target is None:
        raise DataError(
            f"{name}: say which column is the target with --target. Columns: {', '.join(columns)}."
        )
    if target in columns:
        return target
    stripped = {c.strip().lower(): c for c in columns}
    if str(target).strip().lower() in stripped:
        return stripped[str(target).strip().lower()]
    raise DataError(
        f"{name} has no column {target!r}.{close_matches(target, columns)} "
        f"Columns: {', '.join(columns)}."
    )


def _rows_with_target(frame, target, name):
    """`(a copy without the rows missing the target, how many were dropped)`."""
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
    return frame, dropped_rows


def _feature_columns(features, target, columns, name):
    """The named features (a list or "a,b,c"), checked, or every other column."""
    if features is None:
        return [c for c in columns if c != target]
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
    return list(features)


def _raw_columns(numeric, categorical):
    """The model's raw inputs: float32 numbers (NaN missing) and strings."""
    raw = {}
    for column, values in numeric.items():
        raw[column] = values.to_numpy("float32")
    for column, values in categorical.items():
        raw[column] = values.to_numpy(dtype=object).astype(str)
    return raw


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

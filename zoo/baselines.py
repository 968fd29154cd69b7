"""A classical scikit-learn model beside every network, on the same split.

A test accuracy of 0.79 means little until one knows that logistic
regression reaches 0.77 on the same rows. The runner calls
`bundle_baseline(data_kind, bundle)` on the raw `DataBundle` (before the
family's preprocessing) and writes what it returns into `metrics.json` with
the prefix `baseline_`, plus `baseline_name`:

- tables: logistic regression (classification) or ridge regression on the
  table's features (numeric columns median-filled and standardized,
  categorical ones one-hot), and the majority class's accuracy;
- texts: TF-IDF (words and word pairs, at most 20,000 features) + logistic
  regression;
- images: logistic regression on the pixels when the images are small
  (at most 64x64x3 and 20,000 training images), else the majority class.

Forecasts keep their persistence baseline and the other kinds (corpus,
boxes, VAE) theirs: `bundle_baseline` returns `{}` for them. The fits are
capped (iterations, features) so that a small table costs well under a
second.
"""

import warnings

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

MAX_ITERATIONS = 200
MAX_TEXT_FEATURES = 20_000
MAX_IMAGE_VALUES = 64 * 64 * 3
MAX_IMAGE_SIDE = 64
MAX_IMAGES = 20_000
CLASSIFICATION = ("binary", "multiclass")


def tabular_baseline(
    train, y_train, test, y_test, *, numeric, categorical, task, class_weight=None
):
    """Logistic or ridge regression on a table's columns.

    Args:
        train, test: DataFrames of the raw columns (numbers with NaN gaps,
            categories as strings).
        y_train, y_test: Class indices or numbers.
        numeric, categorical: Which columns are which.
        task: "binary", "multiclass" or "regression".
        class_weight: `{class: weight}` as the network trains with, or None.

    Returns:
        `{"name": ..., metric: value}`; classification adds
        `majority_accuracy`.

    Example:
    >>> frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "c": list("abab")})
    >>> tabular_baseline(frame, [0, 0, 1, 1], frame, [0, 0, 1, 1],
    ...     numeric=["x"], categorical=["c"], task="binary")["accuracy"]
    1.0
    """
    parts = []
    if numeric:
        numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        parts.append(("numeric", numbers, list(numeric)))
    if categorical:
        parts.append(
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(categorical))
        )
    columns = ColumnTransformer(parts)
    if task in CLASSIFICATION:
        estimator = LogisticRegression(
            max_iter=MAX_ITERATIONS, class_weight=class_weight
        )
        name = "logistic regression"
    else:
        estimator, name = Ridge(alpha=1.0), "linear regression"
    metrics = _fit_and_score(
        make_pipeline(columns, estimator), train, y_train, test, y_test, task
    )
    if task in CLASSIFICATION:
        metrics["majority_accuracy"] = majority_accuracy(y_train, y_test)
    return {"name": name, **metrics}


def text_baseline(train, y_train, test, y_test, *, task, class_weight=None):
    """TF-IDF of words and word pairs + logistic regression.

    Args:
        train, test: Sequences of texts.
        y_train, y_test: Class indices.
        task: "binary" or "multiclass".
        class_weight: `{class: weight}` as the network trains with, or None.
    """
    model = make_pipeline(
        TfidfVectorizer(
            ngram_range=(1, 2),
            max_features=MAX_TEXT_FEATURES,
            sublinear_tf=True,
        ),
        LogisticRegression(C=4.0, max_iter=MAX_ITERATIONS, class_weight=class_weight),
    )
    metrics = _fit_and_score(model, list(train), y_train, list(test), y_test, task)
    return {"name": "TF-IDF + logistic regression", **metrics}


def image_baseline(train, y_train, test, y_test, *, task, class_weight=None):
    """Logistic regression on the pixels (scaled to [0, 1]) of small images;
    the majority class, with a note saying why, for larger ones.

    Args:
        train, test: Image arrays `(n, height, width, channels)`, or None
            when `too_large(shape, count)` (only the labels are needed).
        y_train, y_test: Class indices.
        task: "binary" or "multiclass".
        class_weight: `{class: weight}` as the network trains with, or None.
    """
    if train is None:
        return {
            "name": "majority class",
            "note": (
                "images larger than 64x64x3 or more than 20,000 of them: "
                "logistic regression on pixels skipped"
            ),
            **_classification_scores(
                DummyClassifier().fit(np.zeros((len(y_train), 1)), y_train),
                np.zeros((len(y_test), 1)),
                y_test,
                task,
            ),
        }

    def pixels(images):
        images = np.asarray(images, "float32")
        return images.reshape(len(images), -1) / 255.0

    model = LogisticRegression(max_iter=MAX_ITERATIONS // 2, class_weight=class_weight)
    metrics = _fit_and_score(model, pixels(train), y_train, pixels(test), y_test, task)
    return {"name": "logistic regression on pixels", **metrics}


def too_large(image_shape, count):
    """Whether images of `image_shape`, `count` of them, are too many or too
    big for logistic regression on pixels."""
    height, width = image_shape[0], image_shape[1]
    return (
        count > MAX_IMAGES
        or max(height, width) > MAX_IMAGE_SIDE
        or int(np.prod(image_shape)) > MAX_IMAGE_VALUES
    )


def majority_accuracy(y_train, y_test):
    """Accuracy of always answering the training split's commonest class."""
    majority = np.bincount(np.asarray(y_train, "int64").reshape(-1)).argmax()
    return float(np.mean(np.asarray(y_test).reshape(-1) == majority))


def _fit_and_score(model, x_train, y_train, x_test, y_test, task):
    y_train = np.asarray(y_train).reshape(-1)
    y_test = np.asarray(y_test).reshape(-1)
    # One BLAS thread: beside TensorFlow's threads, two of them fitting
    # MNIST-sized pixels took 15 s against 1.4 s for one (2-core machine).
    with warnings.catch_warnings(), threadpool_limits(1):
        # Capped iterations: a baseline close to converged is the point.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    if task in CLASSIFICATION:
        return _classification_scores(model, x_test, y_test, task)
    predicted = model.predict(x_test)
    return {
        "rmse": float(np.sqrt(np.mean((predicted - y_test) ** 2))),
        "mae": float(mean_absolute_error(y_test, predicted)),
    }


def _classification_scores(model, x_test, y_test, task):
    metrics = {"accuracy": float(accuracy_score(y_test, model.predict(x_test)))}
    if task == "binary":
        probabilities = model.predict_proba(x_test)
        if len(model.classes_) == 2 and len(np.unique(y_test)) == 2:
            metrics["auc"] = float(roc_auc_score(y_test, probabilities[:, 1]))
    return metrics


# === From a DataBundle ===


def split_arrays(dataset, *, labels_only=False):
    """`(x, y)` of an unbatched split as NumPy: `x` a dict of 1-D columns for
    table rows, a list of `str` for texts, an array otherwise; `x` is None
    with `labels_only`."""
    if labels_only:
        dataset = dataset.map(lambda x, y: y)
    parts = list(dataset.batch(4096).as_numpy_iterator())
    ys = [part if labels_only else part[1] for part in parts]
    y = np.concatenate([np.asarray(v).reshape(len(v), -1) for v in ys])
    y = y[:, 0] if y.shape[1] == 1 else y
    if labels_only:
        return None, y
    xs = [part[0] for part in parts]
    if isinstance(xs[0], dict):
        return {c: np.concatenate([_flat(x[c]) for x in xs]) for c in xs[0]}, y
    x = np.concatenate(xs)
    if x.dtype == object:
        return [_text(v) for v in x.reshape(-1)], y
    return x, y


def bundle_baseline(data_kind, bundle):
    """The baseline of a raw `DataBundle`'s test split, trained on its
    training split: `{"name": ..., metric: value}`, or `{}` for the kinds
    and tasks with a baseline of their own (forecasts, corpora, boxes,
    VAEs) or none."""
    task = bundle.task
    if data_kind not in ("tabular", "text", "image"):
        return {}
    if task not in (*CLASSIFICATION, "regression"):
        return {}
    weights = bundle.class_weight if task in CLASSIFICATION else None
    if data_kind == "image":
        if task not in CLASSIFICATION:
            return {}
        count = int(bundle.info.get("train_size") or bundle.train.cardinality())
        skip = too_large(tuple(bundle.input_shape), count)
        x_train, y_train = split_arrays(bundle.train, labels_only=skip)
        x_test, y_test = split_arrays(bundle.test, labels_only=skip)
        baseline = image_baseline(
            x_train, y_train, x_test, y_test, task=task, class_weight=weights
        )
        if bundle.info.get("augment") and not skip:
            baseline["note"] = "fitted on one augmented pass of the training images"
        return baseline
    x_train, y_train = split_arrays(bundle.train)
    x_test, y_test = split_arrays(bundle.test)
    if data_kind == "text":
        if task not in CLASSIFICATION:
            return {}
        return text_baseline(
            x_train, y_train, x_test, y_test, task=task, class_weight=weights
        )
    numeric = list(bundle.info.get("numeric_columns", []))
    categorical = list(bundle.info.get("categorical_columns", []))
    return tabular_baseline(
        _frame(x_train, categorical),
        y_train,
        _frame(x_test, categorical),
        y_test,
        numeric=numeric,
        categorical=categorical,
        task=task,
        class_weight=weights,
    )


def as_metrics(baseline):
    """`{"baseline_<metric>": value, "baseline_name": name}` for `metrics.json`."""
    return {f"baseline_{key}": value for key, value in baseline.items()}


def comparison_line(metrics):
    """`test_accuracy=0.787 (baseline logistic regression 0.775), ...` for
    each test metric that has a baseline beside it; None without one."""
    name = metrics.get("baseline_name")
    if name is None:
        return None
    parts = []
    for key in ("accuracy", "auc", "rmse", "mae"):
        test, baseline = metrics.get(f"test_{key}"), metrics.get(f"baseline_{key}")
        if test is None or baseline is None:
            continue
        parts.append(f"test_{key}={test:.3f} (baseline {name} {baseline:.3f})")
    majority = metrics.get("baseline_majority_accuracy")
    if majority is not None and name != "majority class":
        parts.append(f"majority class {majority:.3f}")
    return ", ".join(parts) or None


def _frame(columns, categorical):
    frame = pd.DataFrame(columns)
    for column in categorical:
        frame[column] = frame[column].map(_text)
    return frame


def _flat(values):
    return np.asarray(values).reshape(len(values), -1)[:, 0]


def _text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

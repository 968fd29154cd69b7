"""Labelled text: CSV/TSV/`text;label` files, class folders, embedded corpora.

Every text bundle gives `x` = one raw UTF-8 string (a `tf.string` scalar) and
`y` = an int class index; `class_names` holds the labels in index order, so a
prediction maps back to the name the user wrote. Families that need token ids
(the LSTM) adapt a `TextVectorization` on the training split themselves; the
char-CNN and BERT take the raw strings as they are.

What the loader detected (separator, header, text and label columns) is
recorded in `bundle.info["detected"]`, so a user sees at once how their file
was read and which option to pass when the guess is wrong. Reading files and
detecting their layout is `zoo.datasets.text_files`; this module splits the
examples into a bundle and registers the loaders.

Example:
>>> from zoo.datasets.base import load_data
>>> bundle = load_data("rotten_tomatoes", kind="text", seed=0)
>>> bundle.class_names
['fresh', 'rotten']
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
from zoo.datasets.text_files import ODD_BREAKS, read_any
from zoo.errors import DataError

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["text"]


def _sorted_classes(labels):
    """Class names in a stable order: numeric labels by value, others alphabetically."""
    names = sorted(set(labels))
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


def _split_indices(labels, fraction, seed, what):
    """Stratified `(rest, held_out)` index arrays; plain random when a class is too small."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    if fraction <= 0:
        return indices, indices[:0]
    counts = np.bincount(labels)
    held = int(round(fraction * len(labels)))
    if held < 1 or held >= len(labels):
        raise DataError(
            f"{what}={fraction} leaves {held} of {len(labels)} examples held out; "
            "use a fraction that keeps at least one example on each side."
        )
    stratify = labels if counts[counts > 0].min() >= 2 and held >= len(counts) else None
    rest, held_out = train_test_split(
        indices, test_size=held, random_state=seed, stratify=stratify
    )
    return np.sort(rest), np.sort(held_out)


def _to_dataset(texts, labels):
    return tf.data.Dataset.from_tensor_slices(
        (
            tf.constant(list(texts), dtype=tf.string),
            tf.constant(np.asarray(labels, "int32")),
        )
    )


def _check_fractions(validation_split, test_split, *, has_test):
    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if not 0 <= float(value) < 1:
            raise DataError(f"{name} must be in [0, 1), got {value}.")
    if float(validation_split) + (0 if has_test else float(test_split)) >= 0.9:
        raise DataError(
            "validation_split + test_split must leave at least 10% for training."
        )


def _class_names(labels):
    """The sorted classes of the labels; at least two, or a `DataError`."""
    class_names = _sorted_classes(labels)
    if not class_names:
        raise DataError(
            "The file holds no labelled examples (a header only, or an empty label column); "
            "give rows of text and label."
        )
    if len(class_names) < 2:
        raise DataError(
            f"The labels hold one class ({class_names[0]!r}) only; a classifier needs at least two. "
            "Check the label column (--data-option target=NAME)."
        )
    return class_names


def _given_test(test_texts, test_labels, index):
    """The separate test set as arrays; its labels must be training classes."""
    unknown = sorted(set(test_labels) - set(index))
    if unknown:
        raise DataError(
            f"The test data has label(s) {', '.join(map(repr, unknown[:5]))} absent from the "
            f"training data (classes: {', '.join(index)}); fix the labels or the files."
        )
    test_x = np.array(test_texts, dtype=object)
    test_y = np.array([index[label] for label in test_labels], dtype="int32")
    return test_x, test_y


def make_text_bundle(
    texts,
    labels,
    *,
    test_texts=None,
    test_labels=None,
    seed=0,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
    info=None,
):
    """Splits labelled strings into a raw-string text `DataBundle`.

    Args:
        texts, labels: Parallel lists of str (labels are class names).
        test_texts, test_labels: A separate test set; then `test_split` is unused.
        seed: Seed of the stratified split.
        validation_split, test_split: Fractions of the examples held out.
        info: Facts to record (source, detected layout).

    Returns:
        A `DataBundle` with `x` = tf.string scalars and `y` = int32 indices.
    """
    _check_fractions(validation_split, test_split, has_test=test_texts is not None)
    texts = [ODD_BREAKS.sub(" ", str(text)) for text in texts]
    if test_texts is not None:
        test_texts = [ODD_BREAKS.sub(" ", str(text)) for text in test_texts]
    class_names = _class_names(labels)
    index = {name: i for i, name in enumerate(class_names)}
    y = np.array([index[label] for label in labels], dtype="int32")
    texts = np.array(texts, dtype=object)
    if test_texts is not None:
        rest = np.arange(len(texts))
        test_x, test_y = _given_test(test_texts, test_labels, index)
    else:
        rest, held = _split_indices(y, float(test_split), seed, "test_split")
        test_x, test_y = texts[held], y[held]
    fraction = (
        float(validation_split) * len(y) / max(len(rest), 1)
        if test_texts is None
        else float(validation_split)
    )
    train_part, validation_part = _split_indices(
        y[rest], min(fraction, 0.9), seed + 1, "validation_split"
    )
    train_idx, validation_idx = rest[train_part], rest[validation_part]
    counts = np.bincount(y[train_idx], minlength=len(class_names))
    info = dict(info or {})
    info.update(
        {
            "train_size": int(len(train_idx)),
            "validation_size": int(len(validation_idx)),
            "test_size": int(len(test_y)),
            "class_counts_train": {
                name: int(c) for name, c in zip(class_names, counts)
            },
        }
    )
    return DataBundle(
        train=_to_dataset(texts[train_idx], y[train_idx]),
        validation=_to_dataset(texts[validation_idx], y[validation_idx]),
        test=_to_dataset(test_x, test_y),
        input_shape=(),
        num_classes=len(class_names),
        class_names=[str(name) for name in class_names],
        task="binary" if len(class_names) == 2 else "multiclass",
        info=info,
    )


@register_file_loader("text")
def load_text(
    path,
    *,
    target=None,
    text_column=None,
    test_data=None,
    seed=0,
    validation_split=VALIDATION_SPLIT,
    test_split=TEST_SPLIT,
):
    """Loads labelled text from a CSV/TSV/`text;label` file or a folder of class folders.

    The separator (comma, semicolon, tab, pipe), the header and the text and
    label columns are detected and recorded in `bundle.info["detected"]`.

    Args:
        path: A file (`.csv`, `.tsv`, `.txt`, optionally `.gz`) or a folder
            with one sub-folder of `.txt` files per class.
        target: Label column: a name with a header, a 0-based index without.
        text_column: Text column, likewise.
        test_data: A second file or folder used as the test split.
        seed: Seed of the stratified splits.
        validation_split: Fraction held out for validation.
        test_split: Fraction held out for test (unused with `test_data`).

    Example:
    >>> bundle = load_text("emotions.txt", test_data="emotions_test.txt")  # doctest: +SKIP
    """
    texts, labels, detected = read_any(path, target=target, text_column=text_column)
    info = {"detected": detected}
    test_texts = test_labels = None
    if test_data is not None:
        if not os.path.exists(test_data):
            raise DataError(
                f"Test data {test_data!r} does not exist; check the path given as test_data."
            )
        same_columns = detected.get("header") and not os.path.isdir(test_data)
        test_texts, test_labels, test_detected = read_any(
            test_data,
            target=detected["label_column"] if same_columns else target,
            text_column=detected["text_column"] if same_columns else text_column,
        )
        info["test_data"] = os.path.abspath(test_data)
        info["test_detected"] = test_detected
    return make_text_bundle(
        texts,
        labels,
        test_texts=test_texts,
        test_labels=test_labels,
        seed=int(seed),
        validation_split=validation_split,
        test_split=test_split,
        info=info,
    )


def _embedded(file_name, **options):
    return load_text(os.path.join(DATA_DIR, file_name), **options)


@register_dataset("rotten_tomatoes", kind="text")
def rotten_tomatoes(
    *, seed=0, validation_split=VALIDATION_SPLIT, test_split=TEST_SPLIT
):
    """4,863 Rotten Tomatoes review snippets labelled fresh/rotten (Pang & Lee 2004)."""
    return _embedded(
        "rotten_tomatoes.csv.gz",
        seed=seed,
        validation_split=validation_split,
        test_split=test_split,
    )

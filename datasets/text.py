"""Labelled text: CSV/TSV/`text;label` files, class folders, embedded corpora.

Every text bundle gives `x` = one raw UTF-8 string (a `tf.string` scalar) and
`y` = an int class index; `class_names` holds the labels in index order, so a
prediction maps back to the name the user wrote. Families that need token ids
(the LSTM) adapt a `TextVectorization` on the training split themselves; the
char-CNN and BERT take the raw strings as they are.

What the loader detected (separator, header, text and label columns) is
recorded in `bundle.info["detected"]`, so a user sees at once how their file
was read and which option to pass when the guess is wrong.

Example:
>>> from zoo.datasets.base import load_data
>>> bundle = load_data("rotten_tomatoes", kind="text", seed=0)
>>> bundle.class_names
['fresh', 'rotten']
"""

import csv
import io
import os
import re

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

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
TEXT_NAMES = (
    "text",
    "sentence",
    "review",
    "content",
    "document",
    "tweet",
    "comment",
    "body",
    "message",
)
LABEL_NAMES = (
    "label",
    "labels",
    "target",
    "class",
    "category",
    "sentiment",
    "emotion",
    "y",
    "tag",
)
TEXT_FILE_EXTENSIONS = (".txt", ".text", ".md", "")
# Line breaks other than "\n" (NEL, LS, PS, VT, FF, C1 controls): a saved
# `TextVectorization` writes its vocabulary one token per line and reads it
# back with `splitlines`, so a token holding one of these breaks the load.
ODD_BREAKS = re.compile("[\x0b\x0c\x1c-\x1e\x80-\x9f\u2028\u2029]")

VALIDATION_SPLIT, TEST_SPLIT = DEFAULT_SPLITS["text"]


def _open_text(path):
    """Reads a whole (possibly gzip/bz2) text file as a str."""
    compression = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension in compression:
            import bz2
            import gzip
            import lzma

            openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
            if extension == ".zip":
                raise DataError(
                    f"{path}: zip archives are not read; unzip it and pass the file."
                )
            with openers[extension](path, "rb") as handle:
                raw = handle.read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror or error}.") from None
    try:
        return ODD_BREAKS.sub(" ", raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text; re-save it as UTF-8.") from None


def _base_extension(path):
    root, extension = os.path.splitext(path.lower())
    if extension in (".gz", ".bz2", ".xz"):
        extension = os.path.splitext(root)[1]
    return extension


def _detect_separator(path, sample):
    """The column separator: from the extension, else the most regular one."""
    extension = _base_extension(path)
    if extension == ".tsv":
        return "\t"
    lines = [line for line in sample.splitlines()[:50] if line.strip()]
    if not lines:
        raise DataError(
            f"{path} is empty; give a file with one `text<sep>label` per line."
        )
    best, best_score = None, None
    for separator in SEPARATORS:
        present = sum(1 for line in lines if separator in line) / len(lines)
        if present < 0.9:
            continue
        if separator == ",":
            try:
                rows = [row for row in csv.reader(io.StringIO("\n".join(lines))) if row]
            except csv.Error:
                continue
        else:
            rows = [line.split(separator) for line in lines]
        # The right separator isolates a label column: the first or last field
        # then takes few distinct values, where prose split anywhere does not.
        rows = rows[1:] if len(rows) > 2 else rows
        distinct = min(len({row[0] for row in rows}), len({row[-1] for row in rows}))
        score = distinct / len(rows)
        if best_score is None or score < best_score:
            best, best_score = separator, score
    if best is None:
        raise DataError(
            f"Cannot find a column separator in {path}: expected comma-, semicolon-, tab- "
            "or pipe-separated `text<sep>label` lines."
        )
    return best


def _read_rows(path, text, separator):
    """Rows as lists of strings; `text<sep>label` lines split at the last separator."""
    lines = [line for line in text.splitlines() if line.strip()]
    # Semicolon/tab/pipe files are rarely quoted: when lines disagree on the
    # number of separators, the text itself holds some, so split at the last.
    regular = separator == "," or len({line.count(separator) for line in lines}) == 1
    if regular:
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=separator,
                header=None,
                dtype=str,
                keep_default_na=False,
                skip_blank_lines=True,
                engine="c",
            )
            return frame.values.tolist()
        except (pd.errors.ParserError, ValueError):
            pass
    # Unquoted text that contains the separator: keep two columns, the label
    # being what follows the last separator (the usual `text;label` format).
    rows = []
    for number, line in enumerate(lines, start=1):
        if separator not in line:
            raise DataError(
                f"{path} line {number} has no {SEPARATORS[separator]} separator; every line "
                "needs `text<sep>label`."
            )
        rows.append(line.rsplit(separator, 1))
    return rows


def _looks_like_header(rows, text_index, label_index):
    """A first row whose cells are column names rather than data."""
    first = [str(cell).strip().lower() for cell in rows[0]]
    if any(cell in TEXT_NAMES + LABEL_NAMES for cell in first):
        return True
    if len(rows) < 3:
        return False
    labels = [str(row[label_index]) for row in rows[1:]]
    # A label seen nowhere else, in a column of few distinct values, is a name.
    distinct = set(labels)
    return rows[0][label_index] not in distinct and len(distinct) <= max(
        2, len(labels) // 5
    )


def _pick_columns(path, columns, frame, text_column, target):
    """Which column holds the text and which the label."""
    lowered = {str(c).strip().lower(): c for c in columns}

    def resolve(name, option):
        if name in columns:
            return name
        if str(name).strip().lower() in lowered:
            return lowered[str(name).strip().lower()]
        raise DataError(
            f"Column {name!r} is not in {path}.{close_matches(name, [str(c) for c in columns])} "
            f"Columns: {', '.join(map(str, columns))}; pass --data-option {option}=NAME."
        )

    text_col = resolve(text_column, "text_column") if text_column is not None else None
    label_col = resolve(target, "target") if target is not None else None
    if text_col is None:
        named = [
            lowered[n] for n in TEXT_NAMES if n in lowered and lowered[n] != label_col
        ]
        if named:
            text_col = named[0]
        else:
            candidates = [c for c in columns if c != label_col]
            lengths = {c: frame[c].astype(str).str.len().mean() for c in candidates}
            text_col = max(candidates, key=lambda c: lengths[c])
    if label_col is None:
        named = [
            lowered[n] for n in LABEL_NAMES if n in lowered and lowered[n] != text_col
        ]
        if named:
            label_col = named[0]
        else:
            candidates = [c for c in columns if c != text_col]
            if not candidates:
                raise DataError(
                    f"{path} has only one column; it needs a text and a label column."
                )
            # Fewest distinct values; on a tie the later column (labels come last).
            label_col = min(
                candidates, key=lambda c: (frame[c].nunique(), -columns.index(c))
            )
    if text_col == label_col:
        raise DataError(
            f"{path}: the text and label columns are both {text_col!r}; "
            "pass --data-option text_column=NAME and target=NAME."
        )
    return text_col, label_col


def read_text_table(path, *, target=None, text_column=None):
    """Reads a labelled text file into `(texts, labels, detected)`.

    Args:
        path: CSV, TSV or `text<sep>label` file, optionally gzip/bz2/xz
            compressed, with or without a header.
        target: Name (with a header) or 0-based index (without) of the label
            column; detected when None.
        text_column: Same for the text column.

    Returns:
        `(texts, labels, detected)`: lists of str and a dict of what was
        detected (separator, header, columns).
    """
    content = _open_text(path)
    separator = _detect_separator(path, content[:65536])
    rows = _read_rows(path, content, separator)
    if not rows:
        raise DataError(f"{path} holds no rows.")
    width = max(len(row) for row in rows)
    if width < 2:
        raise DataError(
            f"{path} has one column with the {SEPARATORS[separator]} separator; "
            "it needs `text<sep>label` rows."
        )
    rows = [list(row) + [""] * (width - len(row)) for row in rows]
    given_names = [
        v for v in (target, text_column) if v is not None and not str(v).isdigit()
    ]
    numbered = pd.DataFrame(rows, columns=list(range(width)))
    guess_text, guess_label = _pick_columns(
        path,
        list(range(width)),
        numbered.iloc[1:] if len(rows) > 1 else numbered,
        None,
        None,
    )
    header = bool(given_names) or _looks_like_header(rows, guess_text, guess_label)
    if header:
        names = [str(cell).strip() or f"column_{i}" for i, cell in enumerate(rows[0])]
        frame = pd.DataFrame(rows[1:], columns=names)
        columns = names
    else:
        frame = numbered
        columns = list(range(width))
        target = int(target) if target is not None else None
        text_column = int(text_column) if text_column is not None else None
    text_col, label_col = _pick_columns(path, columns, frame, text_column, target)
    texts = frame[text_col].astype(str).str.strip()
    labels = frame[label_col].astype(str).str.strip()
    keep = (texts != "") & (labels != "")
    detected = {
        "separator": SEPARATORS[separator],
        "header": header,
        "text_column": text_col,
        "label_column": label_col,
        "rows": int(len(frame)),
        "dropped_empty_rows": int((~keep).sum()),
    }
    return texts[keep].tolist(), labels[keep].tolist(), detected


def read_text_folder(path):
    """Reads `path/<class>/<file>.txt` into `(texts, labels, detected)`."""
    classes = sorted(
        entry
        for entry in os.listdir(path)
        if os.path.isdir(os.path.join(path, entry)) and not entry.startswith(".")
    )
    if len(classes) < 2:
        raise DataError(
            f"Folder {path} needs one sub-folder per class (at least two), "
            f"found {len(classes)}; or pass a CSV/TSV file."
        )
    texts, labels = [], []
    for name in classes:
        folder = os.path.join(path, name)
        for file_name in sorted(os.listdir(folder)):
            file_path = os.path.join(folder, file_name)
            if file_name.startswith(".") or not os.path.isfile(file_path):
                continue
            if os.path.splitext(file_name)[1].lower() not in TEXT_FILE_EXTENSIONS:
                continue
            text = _open_text(file_path).strip()
            if text:
                texts.append(text)
                labels.append(name)
    if not texts:
        raise DataError(
            f"Folder {path} has no non-empty .txt files under its class sub-folders."
        )
    detected = {"layout": "one sub-folder per class", "classes_found": classes}
    return texts, labels, detected


def _read_any(path, *, target, text_column):
    if os.path.isdir(path):
        if target is not None or text_column is not None:
            raise DataError(
                f"{path} is a folder of class sub-folders; target and text_column apply to files only."
            )
        return read_text_folder(path)
    return read_text_table(path, target=target, text_column=text_column)


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
    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if not 0 <= float(value) < 1:
            raise DataError(f"{name} must be in [0, 1), got {value}.")
    if (
        float(validation_split) + (0 if test_texts is not None else float(test_split))
        >= 0.9
    ):
        raise DataError(
            "validation_split + test_split must leave at least 10% for training."
        )
    texts = [ODD_BREAKS.sub(" ", str(text)) for text in texts]
    if test_texts is not None:
        test_texts = [ODD_BREAKS.sub(" ", str(text)) for text in test_texts]
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
    index = {name: i for i, name in enumerate(class_names)}
    y = np.array([index[label] for label in labels], dtype="int32")
    texts = np.array(texts, dtype=object)
    if test_texts is not None:
        unknown = sorted(set(test_labels) - set(class_names))
        if unknown:
            raise DataError(
                f"The test data has label(s) {', '.join(map(repr, unknown[:5]))} absent from the "
                f"training data (classes: {', '.join(class_names)}); fix the labels or the files."
            )
        rest = np.arange(len(texts))
        test_x = np.array(test_texts, dtype=object)
        test_y = np.array([index[label] for label in test_labels], dtype="int32")
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
    texts, labels, detected = _read_any(path, target=target, text_column=text_column)
    info = {"detected": detected}
    test_texts = test_labels = None
    if test_data is not None:
        if not os.path.exists(test_data):
            raise DataError(
                f"Test data {test_data!r} does not exist; check the path given as test_data."
            )
        same_columns = detected.get("header") and not os.path.isdir(test_data)
        test_texts, test_labels, test_detected = _read_any(
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

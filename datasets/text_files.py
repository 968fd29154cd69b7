"""Reading labelled text: CSV/TSV/`text;label` files and folders of class folders.

The separator (comma, semicolon, tab, pipe), the header and the text and label
columns are detected, and what was detected is returned with the texts, so the
bundle can record it (`bundle.info["detected"]`). Files may be gzip, bz2 or xz
compressed; text must be UTF-8.
"""

import bz2
import gzip
import io
import lzma
import os
import re

import pandas as pd

from zoo.datasets.delimiters import DELIMITERS, base_extension, detect_delimiter
from zoo.errors import DataError, close_matches

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


def open_text(path):
    """Reads a whole (possibly gzip/bz2) text file as a str."""
    compression = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension in compression:
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


def _detect_separator(path, sample):
    """The column separator (see `detect_delimiter`), or a `DataError`."""
    if base_extension(path) != ".tsv" and not sample.strip():
        raise DataError(
            f"{path} is empty; give a file with one `text<sep>label` per line."
        )
    separator = detect_delimiter(path, sample)
    if separator is None:
        raise DataError(
            f"Cannot find a column separator in {path}: expected comma-, semicolon-, tab- "
            "or pipe-separated `text<sep>label` lines."
        )
    return separator


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
                f"{path} line {number} has no {DELIMITERS[separator]} separator; every line "
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
    content = open_text(path)
    separator = _detect_separator(path, content[:65536])
    rows = _read_rows(path, content, separator)
    if not rows:
        raise DataError(f"{path} holds no rows.")
    width = max(len(row) for row in rows)
    if width < 2:
        raise DataError(
            f"{path} has one column with the {DELIMITERS[separator]} separator; "
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
        "separator": DELIMITERS[separator],
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
            text = open_text(file_path).strip()
            if text:
                texts.append(text)
                labels.append(name)
    if not texts:
        raise DataError(
            f"Folder {path} has no non-empty .txt files under its class sub-folders."
        )
    detected = {"layout": "one sub-folder per class", "classes_found": classes}
    return texts, labels, detected


def read_any(path, *, target, text_column):
    """`(texts, labels, detected)` of a labelled file or a folder of class folders."""
    if os.path.isdir(path):
        if target is not None or text_column is not None:
            raise DataError(
                f"{path} is a folder of class sub-folders; target and text_column apply to files only."
            )
        return read_text_folder(path)
    return read_text_table(path, target=target, text_column=text_column)

"""Reading a corpus: a text file, a folder of them, or a CSV text column.

Everything comes back as a list of documents (str) plus what was detected,
so a user sees how their files were read. Binary data is refused here,
before it is tokenised into nonsense.
"""

import io
import os

import pandas as pd

from zoo.datasets.text_files import ODD_BREAKS, TEXT_NAMES
from zoo.errors import DataError, close_matches

TEXT_EXTENSIONS = (".txt", ".text", ".md", "")
TABLE_EXTENSIONS = (".csv", ".tsv")
COMPRESSED = (".gz", ".bz2", ".xz")


def _extension(path):
    """The extension under any compression suffix: "a.txt.gz" -> ".txt"."""
    root, extension = os.path.splitext(path.lower())
    if extension in COMPRESSED:
        extension = os.path.splitext(root)[1]
    return extension


def read_text_file(path):
    """The text of a (possibly compressed) UTF-8 file.

    Raises `DataError` for binary data (NUL bytes, or bytes that are not
    UTF-8), naming the file.
    """
    openers = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}
    suffix = os.path.splitext(path.lower())[1]
    try:
        if suffix in openers:
            import importlib

            with importlib.import_module(openers[suffix]).open(path, "rb") as handle:
                raw = handle.read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(
            f"Cannot read {path}: {getattr(error, 'strerror', None) or error}."
        ) from None
    if b"\x00" in raw:
        raise DataError(
            f"{path} holds binary data (NUL bytes), not text; give a UTF-8 .txt "
            "file, a folder of them or a CSV with a text column."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be decoded; binary "
            "data or another encoding); re-save it as UTF-8 text."
        ) from None
    return ODD_BREAKS.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))


def read_folder(path):
    """Every text file under `path` (sorted, recursively), one document each."""
    documents, names = [], []
    for root, folders, files in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or _extension(name) not in TEXT_EXTENSIONS:
                continue
            text = read_text_file(os.path.join(root, name))
            if text.strip():
                documents.append(text)
                names.append(os.path.relpath(os.path.join(root, name), path))
    if not documents:
        raise DataError(
            f"Folder {path} holds no non-empty .txt files; put the corpus in "
            ".txt files (one per document) or pass a file."
        )
    return documents, {"layout": "folder of text files", "files": len(names)}


def _pick_text_column(path, frame, text_column):
    columns = [str(column) for column in frame.columns]
    if text_column is not None:
        if str(text_column) in columns:
            return str(text_column)
        if str(text_column).isdigit() and int(text_column) < len(columns):
            return columns[int(text_column)]
        raise DataError(
            f"{path} has no column {text_column!r}.{close_matches(text_column, columns)} "
            f"Columns: {', '.join(columns)}."
        )
    for column in columns:
        if column.strip().lower() in TEXT_NAMES:
            return column
    # Else the column of longest values that are not numbers: prose.
    lengths = {}
    for column in columns:
        values = frame[column].astype(str)
        if pd.to_numeric(values, errors="coerce").notna().mean() < 0.5:
            lengths[column] = values.str.len().mean()
    if not lengths:
        raise DataError(
            f"{path} has no text column (every column holds numbers); "
            "pass text_column=NAME."
        )
    return max(lengths, key=lengths.get)


def read_table(path, *, text_column=None):
    """The non-empty values of one text column of a CSV/TSV, one document each."""
    text = read_text_file(path)
    separator = "\t" if _extension(path) == ".tsv" else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=separator, dtype=str, keep_default_na=False
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DataError(
            f"Cannot read {path} as a table ({str(error).splitlines()[0]}); give a "
            "CSV with a header row, or a .txt file."
        ) from None
    column = _pick_text_column(path, frame, text_column)
    values = frame[column].astype(str)
    documents = [value for value in values if value.strip()]
    detected = {
        "layout": "table",
        "text_column": column,
        "rows": int(len(frame)),
        "dropped_empty_rows": int(len(frame) - len(documents)),
    }
    return documents, detected


def read_corpus(path, *, text_column=None):
    """`(documents, detected)` from a text file, a folder or a CSV/TSV.

    Args:
        path: A `.txt` (or any non-table) file, optionally .gz/.bz2/.xz; a
            folder of text files; or a `.csv`/`.tsv` file.
        text_column: The table's text column; detected when None.

    Returns:
        A list of str (one per document) and a dict of what was detected.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if text_column is not None:
            raise DataError(
                f"{path} is a folder; text_column applies to CSV/TSV files only."
            )
        return read_folder(path)
    if _extension(path) in TABLE_EXTENSIONS:
        return read_table(path, text_column=text_column)
    if text_column is not None:
        raise DataError(
            f"{path} is read as plain text; text_column applies to .csv/.tsv files only."
        )
    return [read_text_file(path)], {"layout": "one text file"}

"""Reading tables: CSV, TSV or Parquet files into a DataFrame, or one `DataError`.

The delimiter is sniffed, a UTF-8 byte-order mark is tolerated and non-UTF-8
bytes fall back to Latin-1; what is not a table (a folder, an empty or binary
file, a spreadsheet, repeated or missing columns) is named with its fix before
pandas sees it.
"""

import csv
import io
import os

import pandas as pd

from zoo.datasets.delimiters import detect_delimiter
from zoo.errors import DataError

PARQUET_EXTENSIONS = (".parquet", ".pq")
# Files people pass by mistake: named as what they are, with the fix.
NOT_TABLE_EXTENSIONS = (
    ".xlsx",
    ".xls",
    ".json",
    ".npz",
    ".npy",
    ".png",
    ".jpg",
    ".zip",
    ".gz",
)
SNIFF_BYTES = 1 << 16


def read_table(path):
    """Reads a CSV/TSV/Parquet file into a DataFrame, or raises `DataError`.

    The delimiter is sniffed, a UTF-8 byte-order mark is tolerated, and
    non-UTF-8 bytes fall back to Latin-1.

    Example:
        >>> frame = read_table("passengers.csv")   # or .tsv, .parquet
        >>> list(frame.columns)
        ['age', 'sex', 'survived']
    """
    path = os.fspath(path)
    extension = _check_path(path)
    if extension in PARQUET_EXTENSIONS:
        try:
            return pd.read_parquet(path)
        except Exception as error:  # pyarrow raises many types.
            raise DataError(f"Cannot read {path} as Parquet ({error}).") from None
    lines, encoding = _sample_lines(path)
    delimiter = detect_delimiter(path, "\n".join(lines)) or ","
    _check_header(path, lines[0], delimiter)
    return _check_frame(path, _read_csv(path, delimiter, encoding))


def _check_path(path):
    """The file's lower-case extension, once it may hold a table."""
    if os.path.isdir(path):
        raise DataError(
            f"{path} is a folder; tabular models need a CSV or Parquet file."
        )
    if os.path.getsize(path) == 0:
        raise DataError(
            f"{path} is empty; give a CSV file with a header row and data rows."
        )
    extension = os.path.splitext(path)[1].lower()
    if extension in NOT_TABLE_EXTENSIONS:
        raise DataError(
            f"{path}: {extension} files are not tables; save it as CSV or Parquet."
        )
    return extension


def _sample_lines(path):
    """`(non-blank lines of the file's start, encoding)` for sniffing."""
    with open(path, "rb") as handle:
        raw = handle.read(SNIFF_BYTES)
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
    return lines, encoding


def _check_header(path, header_line, delimiter):
    # pandas renames a repeated header "a,a" to "a, a.1"; catch it first.
    header = [c.strip() for c in next(csv.reader([header_line], delimiter=delimiter))]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise DataError(
            f"{path} has duplicated column names: {', '.join(repeated)}; rename them."
        )


def _read_csv(path, delimiter, encoding):
    try:
        return pd.read_csv(
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


def _check_frame(path, frame):
    """The frame with stripped column names, once it has rows and two columns."""
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


def describe_frame(frame):
    """A short text summary of a table, for messages."""
    buffer = io.StringIO()
    frame.info(buf=buffer)
    return buffer.getvalue()

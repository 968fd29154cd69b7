"""The one column-delimiter detector of the tabular, text and time-series readers.

Example:
>>> detect_delimiter("rows.csv", "a;b\\n1;2\\n3;4\\n")
';'
"""

import csv
import io
import os

# Delimiters tried, with the words the loaders report them by.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SAMPLE_LINES = 50


def base_extension(path):
    """`.csv` for `rows.csv.gz`: the extension under a compression suffix."""
    root, extension = os.path.splitext(os.fspath(path).lower())
    if extension in (".gz", ".bz2", ".xz"):
        extension = os.path.splitext(root)[1]
    return extension


def detect_delimiter(path, sample):
    """The column delimiter of a delimited text file, or None if none is found.

    A `.tsv` file is tab-separated. Otherwise a delimiter must be on 90% of
    the first 50 non-blank lines of `sample`. When several are, the one
    whose split leaves a first or last column of few distinct values (a
    label or target) wins: a `text;label` file whose prose holds a comma on
    every line splits as regularly on commas, which is all `csv.Sniffer`
    (and pandas' `sep=None`) weighs; `csv.Sniffer` breaks ties.

    Args:
        path: The file's name (only its extension is read).
        sample: Its first characters, decoded.
    """
    if base_extension(path) == ".tsv":
        return "\t"
    lines = [line for line in sample.splitlines() if line.strip()][:SAMPLE_LINES]
    present = [
        delimiter
        for delimiter in DELIMITERS
        if lines and sum(delimiter in line for line in lines) >= 0.9 * len(lines)
    ]
    if len(present) < 2:
        return present[0] if present else None
    try:
        sniffed = csv.Sniffer().sniff("\n".join(lines), "".join(present)).delimiter
    except csv.Error:
        sniffed = None
    scores = {d: _end_column_variety(lines, d) for d in present}
    scores = {d: score for d, score in scores.items() if score is not None}
    if not scores:
        return sniffed or present[0]
    return min(scores, key=lambda d: (scores[d], d != sniffed))


def _end_column_variety(lines, delimiter):
    """Distinct values of the first or last field (the fewer), per row."""
    if delimiter == ",":
        try:
            rows = [row for row in csv.reader(io.StringIO("\n".join(lines))) if row]
        except csv.Error:
            return None
    else:
        # Semicolon, tab and pipe files are rarely quoted.
        rows = [line.split(delimiter) for line in lines]
    rows = rows[1:] if len(rows) > 2 else rows  # Past a header.
    counts = [len({row[0] for row in rows}), len({row[-1] for row in rows})]
    # One value on every line is a shared first word, not a label.
    return min([c for c in counts if c > 1] or counts) / len(rows)

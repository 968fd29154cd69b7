"""Document collections to search: files, folders and embedded corpora.

`read_corpus(source)` returns a DataFrame with a `text` column (one document
per row) and the source's other columns as metadata:

- a text file (`.txt`, optionally gzip/bz2/xz): one document per non-empty
  line; metadata `line` (1-based);
- a CSV or TSV file: a header row, the text column named by `text_column`
  or detected (a column called text, sentence, description...; else the
  longest one); every other column is kept;
- a folder: every text file under it, one document each, metadata `path`;
- an embedded name: "rotten_tomatoes" (4,863 review snippets, `label`
  fresh/rotten) or "wordnet_glosses" (WordNet's 117,659 definitions,
  `synset`, `pos`, `lemmas`; needs Debian's wordnet-base).

Example:
>>> corpus = read_corpus("rotten_tomatoes")
>>> list(corpus.columns), len(corpus)
(['text', 'label'], 4863)
"""

from __future__ import annotations

import io
import os

import pandas as pd

from zoo.datasets.delimiters import base_extension
from zoo.datasets.text import DATA_DIR
from zoo.datasets.text_files import TEXT_FILE_EXTENSIONS, TEXT_NAMES, open_text
from zoo.datasets.wordnet import read_synsets
from zoo.errors import DataError, close_matches

EMBEDDED_CORPORA = ("rotten_tomatoes", "wordnet_glosses")
TABLE_EXTENSIONS = {".csv": ",", ".tsv": "\t"}
# "description" and "title" for lists such as a GIF description file.
CORPUS_TEXT_NAMES = (*TEXT_NAMES, "description", "gloss", "definition", "title")


def _embedded(name: str) -> pd.DataFrame:
    if name == "rotten_tomatoes":
        return read_corpus(os.path.join(DATA_DIR, "rotten_tomatoes.csv.gz"))
    synsets = read_synsets()
    return pd.DataFrame(
        {
            "text": synsets["definition"],
            "synset": synsets["synset"],
            "pos": synsets["pos"],
            "lemmas": synsets["lemmas"].map(";".join),
        }
    )


def _read_table(path: str, text_column: str | None) -> pd.DataFrame:
    separator = TABLE_EXTENSIONS[base_extension(path)]
    try:
        frame = pd.read_csv(
            io.StringIO(open_text(path)),
            sep=separator,
            dtype=str,
            keep_default_na=False,
        )
    except (pd.errors.ParserError, ValueError) as error:
        raise DataError(f"Cannot parse {path} as a table: {error}.") from None
    columns = [str(c) for c in frame.columns]
    lowered = {c.strip().lower(): c for c in columns}
    if text_column is not None:
        if text_column not in columns:
            raise DataError(
                f"Column {text_column!r} is not in {path}."
                f"{close_matches(text_column, columns)} Columns: {', '.join(columns)}."
            )
        column = text_column
    else:
        named = [lowered[n] for n in CORPUS_TEXT_NAMES if n in lowered]
        lengths = {c: frame[c].str.len().mean() for c in columns}
        column = named[0] if named else max(columns, key=lambda c: lengths[c])
    metadata = frame.drop(columns=[column])
    return pd.concat(
        [frame[[column]].rename(columns={column: "text"}), metadata], axis=1
    )


def _read_folder(path: str) -> pd.DataFrame:
    rows = []
    for root, folders, files in os.walk(path):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            extension = base_extension(name)
            if name.startswith(".") or extension not in TEXT_FILE_EXTENSIONS:
                continue
            full = os.path.join(root, name)
            rows.append((open_text(full).strip(), os.path.relpath(full, path)))
    return pd.DataFrame(rows, columns=["text", "path"])


def read_corpus(source: str, *, text_column: str | None = None) -> pd.DataFrame:
    """Documents of a file, folder or embedded corpus (see the module doc).

    Raises:
        DataError: For a missing path, an unknown name, a missing column or
            a corpus without any non-empty document.
    """
    if source in EMBEDDED_CORPORA:
        frame = _embedded(source)
    elif os.path.isdir(source):
        frame = _read_folder(source)
    elif os.path.isfile(source):
        if base_extension(source) in TABLE_EXTENSIONS:
            frame = _read_table(source, text_column)
        else:
            lines = open_text(source).splitlines()
            frame = pd.DataFrame({"text": lines, "line": range(1, len(lines) + 1)})
    else:
        raise DataError(
            f"Corpus {source!r} is neither a file, a folder nor an embedded corpus."
            f"{close_matches(source, EMBEDDED_CORPORA)} Embedded: "
            f"{', '.join(EMBEDDED_CORPORA)}."
        )
    frame["text"] = frame["text"].astype(str).str.strip()
    frame = frame[frame["text"] != ""].reset_index(drop=True)
    if frame.empty:
        raise DataError(f"Corpus {source!r} holds no non-empty document.")
    return frame

"""Semantic index folders: build (resumable), add documents, search.

An index folder holds:

- `manifest.json`: the encoder's identity (name, weights SHA-256, width,
  pooling), the corpus' SHA-256 and size, the FAISS index kind and options,
  the chunk size, and `complete`;
- `documents.parquet`: the text and metadata of every document, row i is id i;
- `vectors.npy`: the float32 unit vectors, row i is document i;
- `index.faiss`: the FAISS index over them;
- `chunks/`: while building, one `.npy` per chunk of documents.

Every file is written to a temporary name and renamed into place, so a
build killed at any moment leaves only whole chunks; `resume=True` encodes
only the chunks that are missing. A query is encoded by the encoder the
manifest names, and refused if its weights differ.

Example:
>>> build_index_folder("rotten_tomatoes", "runs/rt-index")  # doctest: +SKIP
>>> search("runs/rt-index", "a heartwarming family film", k=5)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil

import keras
import numpy as np
import pandas as pd

from zoo.datasets.documents import read_corpus
from zoo.errors import ConfigError, ZooError
from zoo.minilm import SentenceEncoder
from zoo.semantic_index import (
    add_vectors,
    build_index,
    check_index_options,
    import_faiss,
    search_vectors,
)
from zoo.tuning.io import atomic_path, clean_temporaries

MANIFEST_VERSION = 1
RESULT_COLUMNS = ("query", "rank", "score", "doc_id")


def _atomic(path: str, write) -> None:
    """`write(temporary_path)`, then rename: readers never see half a file.

    `atomic_path` names the temporary so that `clean_temporaries` finds what
    a kill left behind when the build resumes.
    """
    with atomic_path(path) as temporary:
        write(temporary)


def _save_npy(path: str, array: np.ndarray) -> None:
    def write(temporary):
        with open(temporary, "wb") as handle:
            np.save(handle, array)

    _atomic(path, write)


def _save_json(path: str, value: dict) -> None:
    def write(temporary):
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(value, handle, indent=2)

    _atomic(path, write)


def _corpus_sha256(texts) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()


def encoder_for(identity: dict, max_sequence_length: int | None = None):
    """The `SentenceEncoder` an identity names, checked against its SHA-256."""
    name = identity["name"]
    length = max_sequence_length or identity["max_sequence_length"]
    if name.startswith("random-bert-seed"):
        encoder = SentenceEncoder(
            "random", seed=int(name.rsplit("seed", 1)[1]), max_sequence_length=length
        )
    else:
        encoder = SentenceEncoder("minilm", max_sequence_length=length)
    if encoder.identity["sha256"] != identity["sha256"]:
        raise ZooError(
            f"The index was built with {name} weights {identity['sha256'][:12]}..., "
            f"but the installed ones are {encoder.identity['sha256'][:12]}...; "
            "rebuild the index (zoo index) with the installed encoder."
        )
    return encoder


@dataclasses.dataclass
class IndexOptions:
    """How the index is built. `kind`: "flat", "ivf" or "hnsw"."""

    kind: str = "flat"
    nlist: int | None = None
    hnsw_m: int = 32
    chunk_size: int = 4096
    batch_size: int = 64

    def validate(self):
        check_index_options(self.kind, self.nlist, self.hnsw_m)
        if self.chunk_size < 1 or self.batch_size < 1:
            raise ConfigError("chunk_size and batch_size must be >= 1.")


def _start(out_dir, documents, identity, options, resume):
    """Writes (or checks, on resume) the manifest and the documents."""
    manifest_path = os.path.join(out_dir, "manifest.json")
    manifest = {
        "version": MANIFEST_VERSION,
        "encoder": identity,
        "corpus_sha256": _corpus_sha256(documents["text"]),
        "documents": len(documents),
        "index": dataclasses.asdict(options),
        "complete": False,
    }
    if os.path.exists(manifest_path):
        if not resume:
            raise ZooError(
                f"{out_dir} already holds an index; pass --resume to finish or keep "
                "it, or choose another --out folder."
            )
        with open(manifest_path, encoding="utf-8") as handle:
            old = json.load(handle)
        for key in ("encoder", "corpus_sha256", "documents", "index"):
            if old.get(key) != manifest[key]:
                raise ZooError(
                    f"Cannot resume {out_dir}: its {key} differs from this run's "
                    "(another corpus, encoder or index option); use a new --out folder."
                )
        return old
    os.makedirs(os.path.join(out_dir, "chunks"), exist_ok=True)
    documents_path = os.path.join(out_dir, "documents.parquet")
    _atomic(documents_path, lambda tmp: documents.to_parquet(tmp, index=False))
    _save_json(manifest_path, manifest)
    return manifest


def _encode_chunks(out_dir, texts, encoder, options, verbose):
    """Encodes every missing chunk; returns the paths of all chunks in order.

    The missing chunks' texts stream through one tf.data pipeline (tracing
    its tokenizer map costs seconds, so not one pipeline per chunk); each
    chunk is saved as soon as its last vector is out.
    """
    chunk_dir = os.path.join(out_dir, "chunks")
    os.makedirs(chunk_dir, exist_ok=True)
    starts = list(range(0, len(texts), options.chunk_size))
    paths = [os.path.join(chunk_dir, f"{i:06d}.npy") for i in range(len(starts))]
    pending = [i for i, path in enumerate(paths) if not os.path.exists(path)]
    progress = keras.utils.Progbar(len(texts), unit_name="document", verbose=verbose)
    done = len(texts) - sum(
        len(texts[starts[i] : starts[i] + options.chunk_size]) for i in pending
    )
    progress.update(done)
    if not pending:
        return paths
    pending_texts = [
        text
        for i in pending
        for text in texts[starts[i] : starts[i] + options.chunk_size]
    ]
    buffer, buffered, next_chunk = [], 0, 0
    for packed in encoder.dataset(pending_texts, options.batch_size):
        vectors = encoder.encode_batch(packed)
        buffer.append(vectors)
        buffered += len(vectors)
        done += len(vectors)
        progress.update(done)
        while next_chunk < len(pending):
            index = pending[next_chunk]
            size = len(texts[starts[index] : starts[index] + options.chunk_size])
            if buffered < size:
                break
            joined = np.concatenate(buffer)
            _save_npy(paths[index], joined[:size])
            buffer, buffered = [joined[size:]], buffered - size
            next_chunk += 1
    return paths


def build_index_folder(
    corpus,
    out_dir: str,
    *,
    encoder: str | SentenceEncoder = "minilm",
    options: IndexOptions | None = None,
    text_column: str | None = None,
    resume: bool = False,
    verbose: int = 1,
) -> dict:
    """Embeds a corpus and writes an index folder (see the module docstring).

    Args:
        corpus: A path or embedded name for `zoo.datasets.documents.read_corpus`, or
            a DataFrame with a `text` column.
        out_dir: The index folder.
        encoder: "minilm", "random" or a loaded `SentenceEncoder`.
        options: Index kind and sizes.
        text_column: The text column of a CSV/TSV corpus.
        resume: Continue a killed build in `out_dir`.
        verbose: 1 shows a progress bar.

    Returns:
        The manifest.
    """
    options = options or IndexOptions()
    options.validate()
    import_faiss()  # Fail before encoding anything when FAISS is missing.
    if isinstance(corpus, pd.DataFrame):
        documents = corpus.reset_index(drop=True)
    else:
        documents = read_corpus(corpus, text_column=text_column)
    if isinstance(encoder, str):
        encoder = SentenceEncoder(encoder)
    if resume and os.path.isdir(out_dir):
        clean_temporaries(out_dir)
    manifest = _start(out_dir, documents, encoder.identity, options, resume)
    if manifest["complete"]:
        # A kill between the last manifest write and the clean-up.
        shutil.rmtree(os.path.join(out_dir, "chunks"), ignore_errors=True)
        return manifest
    texts = documents["text"].tolist()
    paths = _encode_chunks(out_dir, texts, encoder, options, verbose)
    vectors = np.concatenate([np.load(path) for path in paths])
    _write_vectors_and_index(out_dir, vectors, build_index(vectors, **_kind(options)))
    manifest["complete"] = True
    _save_json(os.path.join(out_dir, "manifest.json"), manifest)
    shutil.rmtree(os.path.join(out_dir, "chunks"), ignore_errors=True)
    return manifest


def _kind(options: IndexOptions) -> dict:
    return {"kind": options.kind, "nlist": options.nlist, "hnsw_m": options.hnsw_m}


def _write_vectors_and_index(out_dir, vectors, index):
    faiss = import_faiss()
    _save_npy(os.path.join(out_dir, "vectors.npy"), vectors)
    _atomic(
        os.path.join(out_dir, "index.faiss"),
        lambda tmp: faiss.write_index(index, tmp),
    )


class SemanticIndex:
    """A complete index folder, loaded: search it and add documents to it.

    Args:
        index_dir: A folder written by `build_index_folder`.
        encoder: A loaded `SentenceEncoder` to reuse (checked against the
            manifest), or None to load the one the manifest names.
    """

    def __init__(self, index_dir: str, encoder: SentenceEncoder | None = None):
        faiss = import_faiss()
        manifest_path = os.path.join(index_dir, "manifest.json")
        if not os.path.isfile(manifest_path):
            raise ZooError(
                f"{index_dir} is not an index folder (no manifest.json); build one "
                "with `zoo index CORPUS --out DIR`."
            )
        with open(manifest_path, encoding="utf-8") as handle:
            self.manifest = json.load(handle)
        if not self.manifest.get("complete"):
            raise ZooError(
                f"The index in {index_dir} is unfinished; run `zoo index` again with "
                "--resume to complete it."
            )
        self.index_dir = index_dir
        self.documents = pd.read_parquet(os.path.join(index_dir, "documents.parquet"))
        self.index = faiss.read_index(os.path.join(index_dir, "index.faiss"))
        counts = {len(self.documents), self.index.ntotal, self.manifest["documents"]}
        if len(counts) != 1:
            raise ZooError(
                f"{index_dir} is inconsistent ({sorted(counts)} documents in its "
                "files; an interrupted add?); rebuild it with `zoo index`."
            )
        if encoder is not None and encoder.identity != self.manifest["encoder"]:
            raise ZooError(
                f"The encoder given ({encoder.identity['name']}) is not the one "
                f"{index_dir} was built with ({self.manifest['encoder']['name']})."
            )
        self._encoder = encoder

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = encoder_for(self.manifest["encoder"])
        return self._encoder

    def search(self, queries, k: int = 10, **search_options) -> pd.DataFrame:
        """The top `k` documents per query, best first.

        Args:
            queries: One string or a list of them.
            k: Results per query.
            **search_options: `nprobe` (IVF) or `ef_search` (HNSW).

        Returns:
            Columns `query`, `rank` (1-based), `score` (cosine), `doc_id`,
            `text`, then the metadata columns.
        """
        queries = [queries] if isinstance(queries, str) else list(queries)
        if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
            raise ConfigError("Give one or more non-empty query strings.")
        scores, ids = search_vectors(
            self.index, self.encoder.encode(queries), k, **search_options
        )
        frames = []
        for query, row_scores, row_ids in zip(queries, scores, ids):
            found = row_ids >= 0
            hits = self.documents.iloc[row_ids[found]].reset_index(drop=True)
            # A metadata column named like a result column keeps a prefix.
            hits = hits.rename(
                columns={c: f"meta_{c}" for c in RESULT_COLUMNS if c in hits.columns}
            )
            hits.insert(0, "doc_id", row_ids[found])
            hits.insert(0, "score", row_scores[found])
            hits.insert(0, "rank", np.arange(1, found.sum() + 1))
            hits.insert(0, "query", query)
            frames.append(hits)
        return pd.concat(frames, ignore_index=True)

    def add(self, corpus, *, text_column: str | None = None, batch_size: int = 64):
        """Encodes more documents and appends them (ids continue).

        Args:
            corpus: As for `build_index_folder`; its columns may differ (the
                missing ones are left empty).
        """
        if isinstance(corpus, pd.DataFrame):
            new = corpus.reset_index(drop=True)
        else:
            new = read_corpus(corpus, text_column=text_column)
        vectors = self.encoder.encode(new["text"].tolist(), batch_size)
        add_vectors(self.index, vectors)
        old_vectors = np.load(os.path.join(self.index_dir, "vectors.npy"))
        self.documents = pd.concat([self.documents, new], ignore_index=True)
        self.documents = self.documents.astype(
            {
                c: str
                for c in self.documents.columns
                if self.documents[c].dtype == object
            }
        )
        # Documents first, manifest last: a crash in between leaves counts
        # that disagree, which loading reports.
        _atomic(
            os.path.join(self.index_dir, "documents.parquet"),
            lambda tmp: self.documents.to_parquet(tmp, index=False),
        )
        _write_vectors_and_index(
            self.index_dir, np.concatenate([old_vectors, vectors]), self.index
        )
        self.manifest["documents"] = len(self.documents)
        self.manifest["corpus_sha256"] = _corpus_sha256(self.documents["text"])
        _save_json(os.path.join(self.index_dir, "manifest.json"), self.manifest)
        return len(new)


@functools.lru_cache(maxsize=4)
def _cached_index(index_dir: str, mtime_ns: int) -> SemanticIndex:
    del mtime_ns  # Cache key: an index changed by `add` is read again.
    return SemanticIndex(index_dir)


def search(index_dir: str, query, k: int = 10, **search_options) -> pd.DataFrame:
    """Searches an index folder; see `SemanticIndex.search`.

    The loaded index and encoder are cached, so repeated calls are fast.
    """
    manifest = os.path.join(index_dir, "manifest.json")
    if not os.path.isfile(manifest):
        raise ZooError(
            f"{index_dir} is not an index folder (no manifest.json); build one with "
            "`zoo index CORPUS --out DIR`."
        )
    loaded = _cached_index(os.path.abspath(index_dir), os.stat(manifest).st_mtime_ns)
    return loaded.search(query, k, **search_options)

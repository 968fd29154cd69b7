"""Nearest neighbours of sentence vectors with FAISS (the model side).

Vectors come from `zoo.minilm.SentenceEncoder` (unit length), so the inner
product is the cosine. The index kinds:

- "flat" (default): exact inner product (`IndexFlatIP`); fine to about a
  million vectors on a CPU.
- "ivf": an inverted file (`IndexIVFFlat`): k-means cells, `nprobe` of them
  searched; trained on the vectors it is built from.
- "hnsw": a navigable small-world graph (`IndexHNSWFlat`), no training.

FAISS is an optional dependency (`pip install keras-zoo[search]`); it is
imported only when an index is made or read. Files are written by the
runner (`tuning.indexing`), not here.

Example:
>>> vectors = np.eye(3, dtype="float32")
>>> index = build_index(vectors)  # doctest: +SKIP
>>> search_vectors(index, vectors[:1], k=2)[1][0].tolist()  # doctest: +SKIP
[0, 1]
"""

from __future__ import annotations

import math

import numpy as np

from zoo.errors import ConfigError, ZooError, unknown_name

INDEX_KINDS = ("flat", "ivf", "hnsw")
# FAISS' k-means wants about 39 training points per cell.
POINTS_PER_CELL = 39


def import_faiss():
    """The `faiss` module, or a `ZooError` naming the extra to install."""
    try:
        import faiss
    except ImportError:
        raise ZooError(
            "Semantic search needs FAISS: pip install 'keras-zoo[search]' "
            "(or pip install faiss-cpu)."
        ) from None
    return faiss


def check_index_options(kind: str, nlist: int | None, hnsw_m: int) -> None:
    """Raises `ConfigError` for an unknown kind or impossible sizes."""
    if kind not in INDEX_KINDS:
        raise unknown_name("index kind", kind, INDEX_KINDS)
    if nlist is not None and nlist < 1:
        raise ConfigError(f"nlist must be >= 1, got {nlist}.")
    if hnsw_m < 2:
        raise ConfigError(f"hnsw_m must be >= 2, got {hnsw_m}.")


def default_nlist(count: int) -> int:
    """About 4 sqrt(n) cells, but never more than the points can train."""
    return max(1, min(int(4 * math.sqrt(count)), count // POINTS_PER_CELL))


def build_index(
    vectors: np.ndarray,
    kind: str = "flat",
    *,
    nlist: int | None = None,
    hnsw_m: int = 32,
):
    """A FAISS inner-product index holding `vectors` (rows in id order).

    Args:
        vectors: `(n, dim)` float32, unit rows.
        kind: One of `INDEX_KINDS`.
        nlist: IVF cells (default `default_nlist(n)`).
        hnsw_m: HNSW neighbours per node.
    """
    faiss = import_faiss()
    check_index_options(kind, nlist, hnsw_m)
    vectors = np.ascontiguousarray(vectors, dtype="float32")
    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
        cells = nlist or default_nlist(len(vectors))
        if len(vectors) < cells:
            raise ConfigError(
                f"An IVF index with {cells} cells needs at least {cells} vectors "
                f"to train, got {len(vectors)}; lower nlist or use kind='flat'."
            )
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    index.add(vectors)
    return index


def add_vectors(index, vectors: np.ndarray) -> None:
    """Appends rows (ids continue from `index.ntotal`)."""
    if vectors.shape[1] != index.d:
        raise ConfigError(
            f"Vectors of width {vectors.shape[1]} cannot join an index of width "
            f"{index.d}; encode them with the index's encoder."
        )
    index.add(np.ascontiguousarray(vectors, dtype="float32"))


def search_vectors(
    index, queries: np.ndarray, k: int = 10, *, nprobe: int = 8, ef_search: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """`(scores, ids)`, each `(len(queries), k)`, best first; ids -1 pad.

    Args:
        index: From `build_index` or `faiss.read_index`.
        queries: `(q, dim)` float32 unit rows.
        k: Neighbours per query.
        nprobe: IVF cells searched (more: slower, closer to exact).
        ef_search: HNSW candidate list length (same trade).
    """
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}.")
    faiss = import_faiss()
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        ivf.nprobe = nprobe
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = max(ef_search, k)
    queries = np.ascontiguousarray(queries, dtype="float32")
    return index.search(queries, min(k, max(index.ntotal, 1)))


def recall_at_k(ids: np.ndarray, answers, k: int = 10) -> float:
    """Share of queries whose known answer is among their first `k` ids."""
    answers = np.asarray(answers).reshape(-1, 1)
    return float(np.mean((np.asarray(ids)[:, :k] == answers).any(axis=1)))

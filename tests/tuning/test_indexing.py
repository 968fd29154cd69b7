"""Index folders: build, a killed build resumed, add, search, index kinds."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

from zoo.errors import ZooError
from zoo.minilm import SentenceEncoder
from zoo.semantic_index import build_index, recall_at_k, search_vectors
from zoo.tuning.indexing import IndexOptions, SemanticIndex, build_index_folder, search

TEXTS = [
    "the cat sat on the mat",
    "a dog barked at the mailman",
    "stock prices fell sharply today",
    "the river bank was muddy",
    "she deposited cash at the bank",
    "a recipe for apple pie",
    "the football match ended in a draw",
    "quantum computers use qubits",
    "he planted tomatoes in the garden",
    "the orchestra played a symphony",
]


@pytest.fixture(scope="module")
def encoder():
    return SentenceEncoder("random")


def _corpus():
    return pd.DataFrame({"text": TEXTS, "topic": [f"t{i}" for i in range(len(TEXTS))]})


class Interrupted(Exception):
    pass


def test_killed_build_resumes_and_matches_a_fresh_one(tmp_path, encoder, monkeypatch):
    options = IndexOptions(chunk_size=4, batch_size=2)
    calls = []
    real = SentenceEncoder.encode_batch

    def dies_in_the_second_chunk(self, packed):
        calls.append(len(packed["token_ids"]))
        if len(calls) == 3:
            raise Interrupted
        return real(self, packed)

    monkeypatch.setattr(SentenceEncoder, "encode_batch", dies_in_the_second_chunk)
    with pytest.raises(Interrupted):
        build_index_folder(
            _corpus(), tmp_path / "a", encoder=encoder, options=options, verbose=0
        )
    chunks = sorted(p.name for p in (tmp_path / "a" / "chunks").iterdir())
    assert chunks == ["000000.npy"]  # the whole first chunk, nothing half-written
    # What a SIGKILL inside a chunk's write leaves (atomic_path's temporary).
    stray = tmp_path / "a" / "chunks" / ".000001.0a1b2c3d.tmp.npy"
    stray.write_bytes(b"half a chunk")
    with pytest.raises(ZooError, match="--resume"):
        build_index_folder(
            _corpus(), tmp_path / "a", encoder=encoder, options=options, verbose=0
        )

    calls.clear()
    monkeypatch.setattr(
        SentenceEncoder,
        "encode_batch",
        lambda self, p: (calls.append(1), real(self, p))[1],
    )
    manifest = build_index_folder(
        _corpus(),
        tmp_path / "a",
        encoder=encoder,
        options=options,
        resume=True,
        verbose=0,
    )
    assert (
        manifest["complete"] and len(calls) == 3
    )  # chunks 2 and 3 only: 2 + 1 batches
    build_index_folder(
        _corpus(), tmp_path / "b", encoder=encoder, options=options, verbose=0
    )
    np.testing.assert_array_equal(
        np.load(tmp_path / "a" / "vectors.npy"), np.load(tmp_path / "b" / "vectors.npy")
    )
    assert not (tmp_path / "a" / "chunks").exists() and not stray.exists()
    # Killed after the manifest said complete, before the chunks were removed.
    (tmp_path / "b" / "chunks").mkdir()
    (tmp_path / "b" / "chunks" / "000000.npy").write_bytes(b"left over")
    assert build_index_folder(
        _corpus(), tmp_path / "b", encoder=encoder, options=options, resume=True
    )["complete"]
    assert not (tmp_path / "b" / "chunks").exists()


def test_resume_refuses_another_corpus(tmp_path, encoder):
    options = IndexOptions(chunk_size=4)
    build_index_folder(_corpus(), tmp_path, encoder=encoder, options=options, verbose=0)
    other = _corpus().assign(text=lambda f: f.text + "!")
    with pytest.raises(ZooError, match="corpus_sha256"):
        build_index_folder(
            other, tmp_path, encoder=encoder, options=options, resume=True, verbose=0
        )


def test_search_and_add(tmp_path, encoder):
    build_index_folder(_corpus(), tmp_path, encoder=encoder, verbose=0)
    index = SemanticIndex(str(tmp_path), encoder=encoder)
    hits = index.search(["quantum computers use qubits", "a recipe for apple pie"], k=3)
    assert list(hits.columns[:5]) == ["query", "rank", "score", "doc_id", "text"]
    assert "topic" in hits.columns and len(hits) == 6
    top = hits[hits["rank"] == 1]
    assert top["doc_id"].tolist() == [7, 5]
    assert np.allclose(top["score"], 1.0, atol=1e-5)
    assert (np.diff(hits["score"][:3]) <= 1e-7).all()  # best first

    added = index.add(
        pd.DataFrame({"text": ["bees make honey", "volcanoes erupt lava"]})
    )
    assert added == 2
    reloaded = SemanticIndex(str(tmp_path), encoder=encoder)
    assert reloaded.index.ntotal == 12 and len(reloaded.documents) == 12
    assert json.loads((tmp_path / "manifest.json").read_text())["documents"] == 12
    hit = reloaded.search("volcanoes erupt lava", k=1)
    assert hit["doc_id"].tolist() == [11] and hit["text"][0] == "volcanoes erupt lava"
    assert np.load(tmp_path / "vectors.npy").shape == (12, encoder.dim)


def test_search_function_and_bad_folders(tmp_path, encoder):
    with pytest.raises(ZooError, match="zoo index"):
        search(str(tmp_path), "anything")
    build_index_folder(_corpus(), tmp_path, encoder=encoder, verbose=0)
    # The index names its encoder; search() loads it from the manifest.
    assert search(str(tmp_path), "the river bank was muddy", k=1)["doc_id"][0] == 3
    with pytest.raises(ZooError, match="query"):
        search(str(tmp_path), "  ")


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_find_exact_matches(kind):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 16)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_index(vectors, kind, nlist=8)
    _, ids = search_vectors(index, vectors[:50], k=10, nprobe=8)
    assert recall_at_k(ids, np.arange(50), k=1) == 1.0
    exact_ids = search_vectors(build_index(vectors), vectors[:50], k=10)[1]
    # Approximate neighbours agree with exact ones for most of the top 10.
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact_ids)])
    assert overlap > 0.7


def test_ivf_needs_enough_vectors_and_faiss_is_optional(monkeypatch):
    with pytest.raises(ZooError, match="nlist"):
        build_index(np.eye(4, dtype="float32"), "ivf", nlist=8)
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ZooError, match=r"keras-zoo\[search\]"):
        build_index(np.eye(4, dtype="float32"))


def test_recall_at_k():
    ids = np.array([[3, 1, 2], [0, 5, 6]])
    assert recall_at_k(ids, [1, 9], k=2) == 0.5
    assert recall_at_k(ids, [1, 9], k=1) == 0.0

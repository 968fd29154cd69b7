"""Semantic search: recall@10 with known answers, encoding throughput, query latency.

    python -m bench.semantic_search [--documents 1000] [--queries 300]

The retrieval set (`zoo.datasets.wordnet.gloss_retrieval_set`): the corpus is
WordNet definitions, each query an example sentence of one of them, and the
right answer that definition. Baselines on the same set: TF-IDF cosine
(scikit-learn) and the same pipeline with an untrained random BERT. Needs
Debian's wordnet-base and faiss-cpu; writes bench/results/semantic_search.{json,md}.
"""

import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bench.common import RESULTS_DIR, machine_info, machine_line
from zoo.datasets.wordnet import gloss_retrieval_set, read_synsets
from zoo.minilm import SentenceEncoder
from zoo.semantic_index import recall_at_k
from zoo.tuning.indexing import IndexOptions, SemanticIndex, build_index_folder
from zoo.tuning.io import write_json, write_text


def _tfidf_recall(corpus, queries, k):
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(corpus["text"])
    scores = (
        vectorizer.transform(queries["query"]) @ vectorizer.transform(corpus["text"]).T
    )
    ids = np.argsort(-scores.toarray(), axis=1)[:, :k]
    return recall_at_k(ids, queries["answer"], k)


def _measure(encoder_name, corpus, queries, k, folder):
    encoder = SentenceEncoder(encoder_name)
    encoder.encode(corpus["text"][:64].tolist())  # trace once before timing
    started = time.perf_counter()
    build_index_folder(
        corpus, folder, encoder=encoder, options=IndexOptions(), verbose=0
    )
    build_seconds = time.perf_counter() - started
    index = SemanticIndex(folder, encoder=encoder)
    hits = index.search(queries["query"].tolist(), k=k)
    ids = hits["doc_id"].to_numpy().reshape(len(queries), k)
    latencies = []
    for query in queries["query"][:50]:
        started = time.perf_counter()
        index.search(query, k=k)
        latencies.append(time.perf_counter() - started)
    return {
        "encoder": encoder.identity["name"],
        "recall_at_1": recall_at_k(ids, queries["answer"], 1),
        "recall_at_10": recall_at_k(ids, queries["answer"], k),
        "documents_per_second": len(corpus) / build_seconds,
        "query_latency_ms_median": 1000 * float(np.median(latencies)),
    }


# One format per column: a recall is a share, a rate and a latency are not
# (a shared `.3f if < 10` rule printed 8.8 documents/s as "8.794").
COLUMN_FORMATS = {
    "recall_at_1": "{:.3f}",
    "recall_at_10": "{:.3f}",
    "documents_per_second": "{:.1f}",
    "query_latency_ms_median": "{:.1f}",
}


def _cells(row):
    """A result row's table cells, blank where the encoder has no figure."""
    return [
        "" if row.get(key) is None else form.format(row[key])
        for key, form in COLUMN_FORMATS.items()
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    corpus, queries = gloss_retrieval_set(
        read_synsets(), documents=args.documents, queries=args.queries, seed=0
    )
    corpus = corpus.drop(columns="doc_id")  # the index's ids are the row numbers
    rows = [{"encoder": "tf-idf", "recall_at_10": _tfidf_recall(corpus, queries, 10)}]
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("minilm", "random"):
            rows.append(_measure(name, corpus, queries, 10, os.path.join(tmp, name)))
    rows.append({"encoder": "chance", "recall_at_10": 10 / len(corpus)})
    machine = machine_info()
    result = {
        "cpu": machine["cpu"],
        "machine": machine,
        "documents": len(corpus),
        "queries": len(queries),
        "rows": rows,
    }
    os.makedirs(RESULTS_DIR, exist_ok=True)
    write_json(os.path.join(RESULTS_DIR, "semantic_search.json"), result)
    lines = [
        f"# Semantic search ({len(corpus)} WordNet definitions, {len(queries)} example-sentence queries)",
        "",
        f"Machine: {machine_line(machine)}. Timings are wall clock: a shared,"
        " loaded machine slows them.",
        "",
        "| encoder | recall@1 | recall@10 | documents/s (encode + index) | query latency, median ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        lines.append(f"| {row['encoder']} | " + " | ".join(_cells(row)) + " |")
    write_text(os.path.join(RESULTS_DIR, "semantic_search.md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

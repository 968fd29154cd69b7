"""Semantic search: recall@10 with known answers, encoding throughput, query latency.

    python -m bench.semantic_search [--documents 1000] [--queries 300]

The retrieval set (`zoo.datasets.wordnet.gloss_retrieval_set`): the corpus is
WordNet definitions, each query an example sentence of one of them, and the
right answer that definition. Baselines on the same set: TF-IDF cosine
(scikit-learn) and the same pipeline with an untrained random BERT. Needs
Debian's wordnet-base and faiss-cpu; writes bench/results/semantic_search.{json,md}.
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from bench.common import RESULTS_DIR, cpu_model
from zoo.datasets.wordnet import gloss_retrieval_set, read_synsets
from zoo.minilm import SentenceEncoder
from zoo.semantic_index import recall_at_k
from zoo.tuning.indexing import IndexOptions, SemanticIndex, build_index_folder


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
    result = {
        "cpu": cpu_model(),
        "documents": len(corpus),
        "queries": len(queries),
        "rows": rows,
    }
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(os.path.join(RESULTS_DIR, "semantic_search.json"), "w") as handle:
        json.dump(result, handle, indent=2)
    lines = [
        f"# Semantic search ({len(corpus)} WordNet definitions, {len(queries)} example-sentence queries; {result['cpu']})",
        "",
        "| encoder | recall@1 | recall@10 | documents/s (encode + index) | query latency, median ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        cells = [
            row.get(key)
            for key in (
                "recall_at_1",
                "recall_at_10",
                "documents_per_second",
                "query_latency_ms_median",
            )
        ]
        text = [
            "" if c is None else f"{c:.3f}" if c < 10 else f"{c:.0f}" for c in cells
        ]
        lines.append(f"| {row['encoder']} | " + " | ".join(text) + " |")
    with open(os.path.join(RESULTS_DIR, "semantic_search.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

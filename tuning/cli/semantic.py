"""`zoo index`, `zoo search` and `zoo attention`: MiniLM as a sentence encoder."""


def add_parsers(verbs):
    index = verbs.add_parser(
        "index", help="Embed a corpus with MiniLM and write a FAISS index folder."
    )
    index.add_argument(
        "corpus",
        help="A .txt (one document per line), CSV/TSV, folder of text files, "
        "or rotten_tomatoes / wordnet_glosses.",
    )
    index.add_argument("--out", required=True, help="The index folder.")
    index.add_argument("--resume", action="store_true", help="Finish a killed build.")
    index.add_argument(
        "--kind", default="flat", help="flat (exact, default), ivf or hnsw."
    )
    index.add_argument("--nlist", type=int, help="IVF cells (default ~4 sqrt(n)).")
    index.add_argument("--text-column", help="Text column of a CSV/TSV corpus.")
    index.add_argument(
        "--chunk-size", type=int, default=4096, help="Documents per saved chunk."
    )
    index.add_argument(
        "--encoder", default="minilm", help="minilm (default) or random (baseline)."
    )
    index.add_argument("--add", action="store_true", help="Add to an existing index.")
    index.set_defaults(run=run_index)

    search = verbs.add_parser("search", help="Search an index folder by meaning.")
    search.add_argument("index_dir", help="A folder written by zoo index.")
    search.add_argument("query", nargs="+", help="One or more query strings.")
    search.add_argument("-k", type=int, default=10, help="Results per query.")
    search.set_defaults(run=run_search)

    attention = verbs.add_parser(
        "attention",
        help="MiniLM attention heatmaps and a word's contextual vs static cosine.",
    )
    attention.add_argument("first", help="First sentence.")
    attention.add_argument("second", help="Second sentence.")
    attention.add_argument("--word", required=True, help="A word in both sentences.")
    attention.add_argument("--out", default="attention", help="Output folder.")
    attention.set_defaults(run=run_attention)


def run_index(args):
    from zoo.tuning.indexing import IndexOptions, SemanticIndex, build_index_folder

    if args.add:
        added = SemanticIndex(args.out).add(args.corpus, text_column=args.text_column)
        print(f"added {added} documents to {args.out}")
        return 0
    options = IndexOptions(kind=args.kind, nlist=args.nlist, chunk_size=args.chunk_size)
    manifest = build_index_folder(
        args.corpus,
        args.out,
        encoder=args.encoder,
        options=options,
        text_column=args.text_column,
        resume=args.resume,
    )
    print(
        f"index: {args.out} ({manifest['documents']} documents, "
        f"{manifest['encoder']['name']}, {options.kind})"
    )
    return 0


def run_search(args):
    import pandas as pd

    from zoo.tuning.indexing import search

    hits = search(args.index_dir, args.query, k=args.k)
    with pd.option_context("display.width", 160, "display.max_colwidth", 90):
        for query, group in hits.groupby("query", sort=False):
            print(f"query: {query}")
            print(group.drop(columns="query").to_string(index=False))
    return 0


def run_attention(args):
    from zoo.tuning.attention_report import write_attention_report

    result = write_attention_report(args.first, args.second, args.word, args.out)
    cosine = result["cosine"]
    print(
        f"cosine of {args.word!r} across the two sentences: contextual "
        f"{cosine['contextual']:.3f}, static {cosine['static']:.3f}"
    )
    layers = ", ".join(
        f"{k}: {v:.3f}" for k, v in cosine.items() if k.startswith("layer_")
    )
    print(f"per layer: {layers}")
    for name, tokens in result["word_attends_to"].items():
        shares = ", ".join(f"{token} {float(weight):.3f}" for token, weight in tokens)
        print(f"{name}: {args.word!r} attends most to {shares}")
    print(f"pictures and figures: {args.out}")
    return 0

"""`zoo similar` and `zoo generate`: asking a trained language model."""

ANALOGY_HELP = "a word, or an analogy written `a - b + c` (king - man + woman)."


def add_parsers(verbs):
    similar = verbs.add_parser(
        "similar",
        help="Nearest words by cosine in a word_lm/cloze run's embeddings, or analogies.",
    )
    similar.add_argument("run_dir", help="A finished word_lm or cloze run.")
    similar.add_argument("words", nargs="+", help=ANALOGY_HELP)
    similar.add_argument("-k", type=int, default=10, help="How many words to list.")
    similar.set_defaults(run=run_similar)

    generate = verbs.add_parser(
        "generate", help="Continue a prompt with a word_lm or text_generator run."
    )
    generate.add_argument("run_dir", help="A finished word_lm or text_generator run.")
    generate.add_argument("--prompt", default="", help="Text to continue.")
    generate.add_argument(
        "--length", type=int, default=50, help="Tokens (words or characters) to add."
    )
    generate.add_argument(
        "--method",
        default="greedy",
        help="greedy, beam (--beam-width) or topk (--top-k, --temperature).",
    )
    generate.add_argument("--beam-width", type=int, default=5, help="Beams kept.")
    generate.add_argument(
        "--top-k", type=int, help="Sample among this many likeliest (default 10)."
    )
    generate.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="Below 1 sharpens, above 1 flattens the top-k distribution.",
    )
    generate.add_argument("--seed", type=int, help="Seed of top-k sampling.")
    generate.set_defaults(run=run_generate)


def parse_words(words):
    """`["king"]` -> ("king",); `["king", "-", "man", "+", "woman"]` ->
    ("king", "man", "woman"), quoted as one argument or not; anything else
    is a `ConfigError`."""
    from zoo.errors import ConfigError

    words = " ".join(words).split()
    if len(words) == 1:
        return tuple(words)
    if len(words) == 5 and words[1] == "-" and words[3] == "+":
        return words[0], words[2], words[4]
    raise ConfigError(
        f"Cannot read {' '.join(words)!r}: give one word, or an analogy "
        "`a - b + c` with spaces around - and +."
    )


def run_similar(args):
    from zoo.tuning.language import similar_words, word_analogy

    words = parse_words(args.words)
    if len(words) == 1:
        found = similar_words(args.run_dir, words[0], k=args.k)
    else:
        found = word_analogy(args.run_dir, *words, k=args.k)
    for word, cosine in found:
        print(f"{word:20s} {cosine:.4f}")
    return 0


def run_generate(args):
    from zoo.tuning.language import generate_text

    generation = generate_text(
        args.run_dir,
        args.prompt,
        length=args.length,
        method=args.method,
        beam_width=args.beam_width,
        top_k=args.top_k,
        temperature=args.temperature,
        seed=args.seed,
    )
    print(generation.text)
    print(f"(log-probability of the continuation: {generation.log_probability:.2f})")
    return 0

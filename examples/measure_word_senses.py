"""Measures how well MiniLM's vectors separate WordNet word senses.

    python examples/measure_word_senses.py OUT_DIR [--max-words N] [--encoder minilm]

Needs Debian's `wordnet-base` (apt-get install wordnet-base). Writes
`word_senses_<encoder>.csv` (one row per representation) and prints it.
"""

import argparse
import os
import time

from zoo.datasets.wordnet import read_synsets, sense_examples
from zoo.minilm import SentenceEncoder
from zoo.word_senses import sense_separation


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--max-words", type=int, default=None)
    parser.add_argument("--encoder", default="minilm")
    args = parser.parse_args()
    started = time.perf_counter()
    occurrences = sense_examples(read_synsets(), max_words=args.max_words)
    table = sense_separation(SentenceEncoder(args.encoder), occurrences)
    os.makedirs(args.out_dir, exist_ok=True)
    table.to_csv(
        os.path.join(args.out_dir, f"word_senses_{args.encoder}.csv"), index=False
    )
    print(table.to_string(index=False))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

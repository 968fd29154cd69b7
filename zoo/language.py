"""Language-model helpers: n-gram baselines, word neighbours, decoding.

Pure functions over token-id arrays, embedding matrices and Keras models;
no files and no training loop (the families and the runner own those).

- `NGramBaseline`: the unigram (add-one) and the smoothed bigram
  (interpolated with the unigram, Jelinek-Mercer) that a neural language
  model must beat, counted on the same vocabulary and training part and
  scored on the same test targets.
- `nearest_words` / `analogy`: cosine neighbours in an embedding matrix.
- `generate`: greedy, beam and top-k/temperature decoding through
  keras-hub's samplers; `sequence_log_probability` scores a continuation
  under the same model, so decoders can be compared.
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from zoo.errors import ConfigError, UnknownNameError, close_matches

PADDING, UNKNOWN = 0, 1
METHODS = ("greedy", "beam", "topk")
# Added to the logits of tokens a decoder may not emit (padding, [UNK]).
BANNED_LOGIT = -1e9
# Interpolation weights of the bigram tried on the validation part.
DEFAULT_TOP_K = 10
LAMBDA_GRID = tuple(np.round(np.linspace(0.05, 0.95, 19), 2))


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


def baseline_perplexities(documents, *, vocabulary_size, context=1):
    """Test perplexities of the unigram and the tuned bigram.

    Args:
        documents: `{"train", "validation", "test"}` lists of id arrays
            (`bundle.extras["documents"]` of a corpus bundle).
        vocabulary_size: Size of the vocabulary, padding and `[UNK]` included.
        context: Left-context length of the model compared with, so both
            are scored on the same test targets.

    Returns:
        `{"unigram_test_perplexity", "bigram_test_perplexity",
        "bigram_lambda"}`.
    """
    baseline = NGramBaseline.fit(documents["train"], vocabulary_size=vocabulary_size)
    baseline.tune(*adjacent_pairs(documents.get("validation", []), first=context))
    previous, targets = adjacent_pairs(documents["test"], first=context)
    return {
        "unigram_test_perplexity": perplexity(baseline.unigram_log_probs(targets)),
        "bigram_test_perplexity": perplexity(
            baseline.bigram_log_probs(previous, targets)
        ),
        "bigram_lambda": baseline.lam,
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


# === Decoding ===


def _check_decoding(method, length, beam_width, top_k, temperature, vocabulary_size):
    if method not in METHODS:
        raise ConfigError(
            f"Unknown decoding method {method!r}.{close_matches(method, METHODS)} "
            f"Choose one of {', '.join(METHODS)}."
        )
    if int(length) < 1:
        raise ConfigError(f"length must be >= 1 token, got {length}.")
    if int(beam_width) < 1:
        raise ConfigError(f"beam width must be >= 1, got {beam_width}.")
    if method == "topk" and not 1 <= int(top_k) <= vocabulary_size:
        raise ConfigError(
            f"top_k must be between 1 and the vocabulary size {vocabulary_size}, "
            f"got {top_k}."
        )
    if not float(temperature) > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}.")


def next_logits(model, *, window, banned=(PADDING, UNKNOWN)):
    """The `next(prompt, cache, index)` function keras-hub's samplers call.

    The model sees the `window` tokens before `index` (the prompt is
    left-padded with that many padding ids) and answers next-token
    probabilities: `(batch, vocabulary)`, or `(batch, steps, vocabulary)`
    of which the last step counts (a recurrent generator). The log of them
    are the logits; `banned` tokens get `BANNED_LOGIT`, so no decoder emits
    padding or `[UNK]`, and `sequence_log_probability` scores the same
    distribution.
    """
    size = int(model.output_shape[-1])
    penalty = np.zeros(size, "float32")
    penalty[list(banned)] = BANNED_LOGIT
    penalty = ops.convert_to_tensor(penalty)

    def next_fn(prompt, cache, index):
        batch = ops.shape(prompt)[0]
        context = ops.slice(prompt, [0, index - window], [batch, window])
        probabilities = ops.cast(model(context, training=False), "float32")
        if len(probabilities.shape) == 3:
            probabilities = probabilities[:, -1, :]
        logits = ops.log(ops.maximum(probabilities, 1e-12)) + penalty
        return logits, None, cache

    return next_fn


def _sampler(method, *, beam_width, top_k, temperature, seed):
    import keras_hub

    if method == "greedy":
        return keras_hub.samplers.GreedySampler()
    if method == "beam":
        return keras_hub.samplers.BeamSampler(num_beams=int(beam_width))
    return keras_hub.samplers.TopKSampler(
        k=int(top_k), seed=seed, temperature=float(temperature)
    )


def generate(
    model,
    prompt_ids,
    *,
    length,
    window,
    method="greedy",
    beam_width=5,
    top_k=None,
    temperature=1.0,
    seed=None,
    banned=(PADDING, UNKNOWN),
):
    """Continues a prompt with keras-hub's greedy, beam or top-k sampler.

    Args:
        model: A next-token model: `(batch, window)` ids to probabilities.
        prompt_ids: The prompt's token ids (may be empty).
        length: Tokens to generate.
        window: Context tokens the model takes.
        method: "greedy", "beam" (`beam_width` beams) or "topk" (sample
            among the `top_k` likeliest (default 10), probabilities sharpened or
            flattened by `temperature`).
        seed: Seed of top-k sampling.
        banned: Token ids never generated.

    Returns:
        The generated ids, an int array of `length`.

    Example:
    >>> ids = generate(model, [5, 9], length=20, window=3, method="beam")  # doctest: +SKIP
    """
    size = int(model.output_shape[-1])
    top_k = min(DEFAULT_TOP_K, size) if top_k is None else top_k
    _check_decoding(method, length, beam_width, top_k, temperature, size)
    prompt_ids = [int(token) for token in prompt_ids]
    start = window + len(prompt_ids)
    tokens = np.zeros((1, start + int(length)), "int32")
    tokens[0, window:start] = prompt_ids
    mask = np.zeros(tokens.shape, bool)
    mask[:, :start] = True
    sampler = _sampler(
        method, beam_width=beam_width, top_k=top_k, temperature=temperature, seed=seed
    )
    output = sampler(
        next_logits(model, window=window, banned=banned),
        ops.convert_to_tensor(tokens),
        index=start,
        mask=ops.convert_to_tensor(mask),
    )
    return np.asarray(keras.ops.convert_to_numpy(output))[0, start:]


def sequence_log_probability(
    model, prompt_ids, continuation, *, window, banned=(PADDING, UNKNOWN)
):
    """Natural-log probability of `continuation` after `prompt_ids`.

    Scores every step of the continuation in one batch, under the
    distribution the decoders draw from (`next_logits`). keras-hub's
    samplers return tokens only (the beam sampler its beams' scores, the
    others nothing), so decoders are compared with this.
    """
    tokens = np.r_[
        np.zeros(window, "int32"), np.asarray(prompt_ids, "int32"), continuation
    ].astype("int32")
    start = window + len(prompt_ids)
    steps = np.arange(start, len(tokens))
    batch = np.stack([tokens[step - window : step] for step in steps])
    next_fn = next_logits(model, window=window, banned=banned)
    logits = next_fn(
        ops.convert_to_tensor(np.c_[batch, np.zeros((len(batch), 1), "int32")]),
        (),
        window,
    )[0]
    log_probs = keras.ops.convert_to_numpy(ops.log_softmax(logits, axis=-1))
    return float(np.sum(log_probs[np.arange(len(steps)), tokens[steps]]))

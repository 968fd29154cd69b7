"""Cloze: predict a word from the k words on each side of it.

The course's experiment: does a recurrent encoder beat an MLP at reading
context? Both embed the 2k context words the same way; then

- "mlp": the embeddings concatenated, through ReLU layers;
- "rnn": one recurrent layer reads the left words towards the gap and,
  when `bidirectional`, a second reads the right words backwards towards
  the gap (as context2vec does); their last states are joined. Without
  `bidirectional` one layer reads all 2k words left to right.

`evaluate` reports test accuracy beside the most frequent word (unigram)
and the bigram that fills the gap with the word likeliest between its two
neighbours, on the same test gaps; examples/cloze_mlp_vs_rnn.json puts the
two encoders side by side with `zoo compare`.
"""

import dataclasses
from typing import Literal

import keras

from zoo.compile import output_head
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.language import language_compile
from zoo.language_models import (
    VocabularyFields,
    check_vocabulary,
    cloze_evaluation,
    embedding_evaluation,
    units_space_to_config,
    vocabulary_options,
    with_text_front,
)
from zoo.recurrent import RNN_LAYERS
from zoo.registry import Family, register_family, register_model

# === Config ===


@dataclasses.dataclass
class ClozeConfig(BaseConfig, VocabularyFields):
    """Config of a gap-filling model.

    Attributes:
        encoder: "mlp" or "rnn".
        window: Words on each side of the gap (k).
        embedding_dim: Size of the word vectors.
        hidden_units: ReLU layer sizes (mlp), or the recurrent layer's
            size and then ReLU layers (rnn).
        rnn_type: "lstm" or "gru" (rnn encoder).
        bidirectional: Read the right context backwards with its own layer
            (rnn encoder).
        dropout_rate: Dropout on the embeddings and before the softmax.
        max_tokens, min_count, seed: As for `VocabularyFields`.
    """

    encoder: Literal["mlp", "rnn"] = "mlp"
    window: int = 2
    embedding_dim: int = 64
    hidden_units: tuple[int, ...] = (128,)
    rnn_type: Literal["lstm", "gru"] = "gru"
    bidirectional: bool = True
    dropout_rate: float = 0.3

    def validate(self):
        super().validate()
        self._validate_vocabulary()
        if self.window < 1 or self.embedding_dim < 1:
            raise ConfigError("window and embedding_dim must be >= 1.")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ConfigError(
                f"hidden_units must be one or more sizes >= 1, got {self.hidden_units}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )


# === Functional Model ===


def _recurrent_encoder(x, config, units):
    def layer(name, backwards=False):
        return RNN_LAYERS[config.rnn_type](
            units,
            go_backwards=backwards,
            kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed),
            name=name,
        )

    if not config.bidirectional:
        return layer("context_rnn")(x)
    k = config.window
    left = keras.layers.Cropping1D((0, k), name="left_words")(x)
    right = keras.layers.Cropping1D((k, 0), name="right_words")(x)
    # Each side is read towards the gap, so both states end next to it.
    return keras.layers.Concatenate(name="both_sides")(
        [layer("left_rnn")(left), layer("right_rnn", backwards=True)(right)]
    )


def build_cloze(config, *, input_shape, num_classes):
    """Builds a gap filler: `(2 * window,)` ids (left, then right) to a
    softmax over the vocabulary.

    Example:
    >>> model = build_cloze(cloze_tiny(), input_shape=(2,), num_classes=30)
    >>> model.output_shape
    (None, 30)
    """
    check_vocabulary(input_shape, num_classes, 2 * config.window, "cloze")
    inputs = keras.Input(shape=(2 * config.window,), dtype="int32", name="context_ids")
    x = keras.layers.Embedding(
        num_classes,
        config.embedding_dim,
        embeddings_initializer=keras.initializers.RandomUniform(
            -0.05, 0.05, seed=config.seed
        ),
        name="embedding",
    )(inputs)
    x = keras.layers.Dropout(config.dropout_rate, name="embedding_dropout")(x)
    units = list(config.hidden_units)
    if config.encoder == "mlp":
        x = keras.layers.Flatten(name="concatenated_context")(x)
    else:
        x = _recurrent_encoder(x, config, units.pop(0))
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, activation="relu", name=f"hidden_{index}")(x)
    x = keras.layers.Dropout(config.dropout_rate, name="dropout")(x)
    return keras.Model(
        inputs, output_head(x, num_classes), name=f"cloze_{config.encoder}"
    )


# === Hooks ===


def cloze_data_options(config):
    k = config.window
    return {"level": "word", "before": k, "after": k, **vocabulary_options(config)}


def adapt_cloze(config, bundle):
    return with_text_front(bundle, before=config.window, after=config.window)


def evaluate_cloze(model, config, bundle):
    metrics = cloze_evaluation(model, bundle, before=config.window, after=config.window)
    return embedding_evaluation(model, bundle, metrics)


SEARCH_SPACE = {
    "encoder": ["mlp", "rnn"],
    "window": [2, 1, 3, 4],
    "embedding_dim": [64, 32, 128],
    "units": [128, 64, 256],
    "rnn_type": ["gru", "lstm"],
    "bidirectional": [True, False],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.1, "default": 0.3},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log", "default": 1e-3},
}


register_family(
    Family(
        name="cloze",
        config_class=ClozeConfig,
        build=build_cloze,
        compile=language_compile,
        data_kind="corpus",
        default_data="hamlet",
        tasks=("token",),
        search_space=SEARCH_SPACE,
        space_to_config=units_space_to_config,
        data_options=cloze_data_options,
        adapt=adapt_cloze,
        evaluate=evaluate_cloze,
        epochs=10,
        batch_size=64,
        description="Fill a gap from k words on each side: MLP or (bi)recurrent encoder.",
    )
)


# === Variants ===


@register_model(family="cloze")
def cloze_mlp():
    """2 words each side, concatenated 64-d embeddings, 128 ReLU units."""
    return ClozeConfig()


@register_model(family="cloze")
def cloze_birnn():
    """2 words each side, a 128-unit GRU reading each side towards the gap."""
    return ClozeConfig(encoder="rnn")


@register_model(family="cloze", tiny=True)
def cloze_tiny():
    """1 word each side, 8-d embeddings, 8 ReLU units, for tests."""
    return ClozeConfig(window=1, embedding_dim=8, hidden_units=(8,), max_tokens=30)


@register_model(family="cloze", tiny=True)
def cloze_birnn_tiny():
    """1 word each side, two 4-unit GRUs towards the gap, for tests."""
    return ClozeConfig(
        encoder="rnn", window=1, embedding_dim=8, hidden_units=(4,), max_tokens=30
    )

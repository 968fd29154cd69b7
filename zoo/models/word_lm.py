"""Word-level language models: the n words before a target predict it.

- "mlp": the neural probabilistic language model of Bengio et al. (2003):
  the `context` previous words' embeddings, concatenated, through tanh
  layers to a softmax over the vocabulary.
- "lstm"/"gru": the same embeddings read in order by a recurrent layer.

Trained on a `corpus` (Hamlet by default, or your own `.txt`). `evaluate`
reports test perplexity beside a unigram and a smoothed bigram counted on
the same vocabulary and training part and scored on the same test targets,
and writes the embeddings for TensorBoard's projector
(`logs/embeddings.tsv`, `logs/metadata.tsv`, `projector_config.pbtxt`);
`zoo similar RUN WORD` lists a word's nearest neighbours and
`zoo generate RUN --prompt ...` continues a text.
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
    embedding_evaluation,
    perplexity_evaluation,
    units_space_to_config,
    vocabulary_options,
    with_text_front,
)
from zoo.recurrent import RNN_LAYERS
from zoo.registry import Family, register_family, register_model

# === Config ===


@dataclasses.dataclass
class WordLMConfig(BaseConfig, VocabularyFields):
    """Config of a word-level language model.

    Attributes:
        architecture: "mlp" (Bengio et al.), "lstm" or "gru".
        context: Words before the target the model sees (n).
        embedding_dim: Size of the word vectors.
        hidden_units: Sizes of the tanh layers (mlp), or of the recurrent
            layer and then tanh layers (lstm/gru).
        dropout_rate: Dropout on the embeddings and before the softmax.
        max_tokens, min_count, seed: As for `VocabularyFields`.
    """

    architecture: Literal["mlp", "lstm", "gru"] = "mlp"
    context: int = 3
    embedding_dim: int = 64
    hidden_units: tuple[int, ...] = (128,)
    dropout_rate: float = 0.3

    def validate(self):
        super().validate()
        self._validate_vocabulary()
        if self.context < 1 or self.embedding_dim < 1:
            raise ConfigError("context and embedding_dim must be >= 1.")
        if not self.hidden_units or min(self.hidden_units) < 1:
            raise ConfigError(
                f"hidden_units must be one or more sizes >= 1, got {self.hidden_units}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )


# === Functional Model ===


def build_word_lm(config, *, input_shape, num_classes):
    """Builds a next-word model: `(context,)` ids to a softmax over words.

    Args:
        config: A `WordLMConfig`.
        input_shape: `(context,)`, as the corpus loader windows it.
        num_classes: The vocabulary size.

    Example:
    >>> model = build_word_lm(word_lm_tiny(), input_shape=(2,), num_classes=30)
    >>> model.output_shape
    (None, 30)
    """
    check_vocabulary(input_shape, num_classes, config.context, "word_lm")
    inputs = keras.Input(shape=(config.context,), dtype="int32", name="context_ids")
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
    if config.architecture == "mlp":
        x = keras.layers.Flatten(name="concatenated_context")(x)
    else:
        x = RNN_LAYERS[config.architecture](
            units.pop(0),
            kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed),
            name=config.architecture,
        )(x)
    for index, size in enumerate(units, start=1):
        x = keras.layers.Dense(size, activation="tanh", name=f"hidden_{index}")(x)
    x = keras.layers.Dropout(config.dropout_rate, name="dropout")(x)
    outputs = output_head(x, num_classes)
    return keras.Model(inputs, outputs, name=f"word_lm_{config.architecture}")


# === Hooks ===


def word_lm_data_options(config):
    return {"level": "word", "before": config.context, **vocabulary_options(config)}


def adapt_word_lm(config, bundle):
    return with_text_front(bundle, before=config.context)


def evaluate_word_lm(model, config, bundle):
    return embedding_evaluation(model, bundle, perplexity_evaluation(model, bundle))


SEARCH_SPACE = {
    "architecture": ["mlp", "lstm", "gru"],
    "context": [3, 2, 4, 5],
    "embedding_dim": [64, 32, 128],
    "units": [128, 64, 256],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.1, "default": 0.3},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log", "default": 1e-3},
}


register_family(
    Family(
        name="word_lm",
        config_class=WordLMConfig,
        build=build_word_lm,
        compile=language_compile,
        data_kind="corpus",
        default_data="hamlet",
        tasks=("token",),
        search_space=SEARCH_SPACE,
        space_to_config=units_space_to_config,
        data_options=word_lm_data_options,
        adapt=adapt_word_lm,
        evaluate=evaluate_word_lm,
        epochs=10,
        batch_size=64,
        description="Bengio-style MLP or LSTM/GRU language model on the previous n words.",
    )
)


# === Variants ===


@register_model(family="word_lm")
def word_lm_mlp():
    """Bengio et al.: 3 previous words, 64-d embeddings, 128 tanh units."""
    return WordLMConfig()


@register_model(family="word_lm")
def word_lm_lstm():
    """An LSTM of 128 units over the 5 previous words."""
    return WordLMConfig(architecture="lstm", context=5)


@register_model(family="word_lm")
def word_lm_gru():
    """A GRU of 128 units over the 5 previous words."""
    return WordLMConfig(architecture="gru", context=5)


@register_model(family="word_lm", tiny=True)
def word_lm_tiny():
    """2 previous words, 8-d embeddings, 8 tanh units, for tests."""
    return WordLMConfig(context=2, embedding_dim=8, hidden_units=(8,), max_tokens=30)


@register_model(family="word_lm", tiny=True)
def word_lm_gru_tiny():
    """A 6-unit GRU over 3 previous words, for tests."""
    return WordLMConfig(
        architecture="gru", context=3, embedding_dim=8, hidden_units=(6,), max_tokens=30
    )

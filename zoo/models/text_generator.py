"""Text generation: a character- or word-level LSTM/GRU language model.

Trained on windows of `sequence_length` tokens, predicting every next token
(the corpus loader's sequence windows). `evaluate` reports test perplexity
per token beside the unigram and bigram on the same targets, and writes
`samples.txt`: continuations of a test prompt by greedy search, beam search
and top-k sampling. `zoo generate RUN --prompt "..." --length N --method
greedy|beam|topk` continues any prompt with keras-hub's samplers
(`zoo.decoding`).
"""

import dataclasses
from typing import Literal

import keras

from zoo.compile import output_head
from zoo.config import BaseConfig
from zoo.decoding import detokenize, generate
from zoo.errors import ConfigError
from zoo.language import language_compile
from zoo.language_models import (
    VocabularyFields,
    check_vocabulary,
    perplexity_evaluation,
    vocabulary_options,
    with_text_front,
)
from zoo.recurrent import RNN_LAYERS
from zoo.registry import Evaluation, Family, register_family, register_model

# === Config ===


@dataclasses.dataclass
class TextGeneratorConfig(BaseConfig, VocabularyFields):
    """Config of a recurrent text generator.

    Attributes:
        level: "character" or "word" tokens.
        sequence_length: Tokens per training window (and the context the
            model keeps when it generates).
        stride: Tokens between training windows; 0 for `sequence_length`
            (windows that do not overlap).
        rnn_type: "lstm" or "gru".
        rnn_units: Units of each recurrent layer.
        embedding_dim: Size of the token vectors.
        dropout_rate: Dropout between recurrent layers and before the softmax.
        sample_length: Tokens of each sample in `samples.txt`.
        max_tokens, min_count, seed: As for `VocabularyFields`.
    """

    level: Literal["character", "word"] = "character"
    sequence_length: int = 100
    stride: int = 0
    rnn_type: Literal["lstm", "gru"] = "lstm"
    rnn_units: tuple[int, ...] = (256,)
    embedding_dim: int = 32
    dropout_rate: float = 0.1
    sample_length: int = 200
    # Characters: every one the training part holds is kept.
    min_count: int = 1

    def validate(self):
        super().validate()
        self._validate_vocabulary()
        if min(self.sequence_length, self.embedding_dim, self.sample_length) < 1:
            raise ConfigError(
                "sequence_length, embedding_dim and sample_length must be >= 1."
            )
        if self.stride < 0:
            raise ConfigError(f"stride must be >= 0, got {self.stride}.")
        if not self.rnn_units or min(self.rnn_units) < 1:
            raise ConfigError(
                f"rnn_units must be one or more sizes >= 1, got {self.rnn_units}."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )


# === Functional Model ===


def build_text_generator(config, *, input_shape, num_classes):
    """Builds `(steps,)` token ids to a softmax over the next token at
    every step (any number of steps; padding id 0 is masked).

    Example:
    >>> model = build_text_generator(text_generator_tiny(), input_shape=(8,), num_classes=20)
    >>> model.output_shape
    (None, None, 20)
    """
    check_vocabulary(input_shape, num_classes, config.sequence_length, "text_generator")
    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(
        num_classes,
        config.embedding_dim,
        mask_zero=True,
        embeddings_initializer=keras.initializers.RandomUniform(
            -0.05, 0.05, seed=config.seed
        ),
        name="embedding",
    )(inputs)
    for index, units in enumerate(config.rnn_units, start=1):
        x = RNN_LAYERS[config.rnn_type](
            units,
            return_sequences=True,
            kernel_initializer=keras.initializers.GlorotUniform(seed=config.seed),
            name=f"{config.rnn_type}_{index}",
        )(x)
        x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{index}")(x)
    outputs = output_head(x, num_classes)
    return keras.Model(inputs, outputs, name=f"text_generator_{config.rnn_type}")


# === Hooks ===


def text_generator_data_options(config):
    return {
        "level": config.level,
        "sequence_length": config.sequence_length,
        "stride": config.stride,
        **vocabulary_options(config),
    }


def adapt_text_generator(config, bundle):
    return with_text_front(bundle, before=config.sequence_length)


def samples_text(model, config, bundle):
    """Continuations of the test part's first tokens by each decoder."""
    vocabulary, level = bundle.extras["vocabulary"], bundle.extras["level"]
    test = bundle.extras["documents"]["test"][0]
    prompt = test[: min(len(test), max(config.sequence_length // 2, 1))]
    lines = [f"prompt: {detokenize(prompt, vocabulary, level)!r}", ""]
    for method in ("greedy", "beam", "topk"):
        ids = generate(
            model,
            prompt,
            length=config.sample_length,
            window=config.sequence_length,
            method=method,
            seed=config.seed or 0,
        )
        lines += [f"{method}:", detokenize(ids, vocabulary, level), ""]
    return "\n".join(lines)


def evaluate_text_generator(model, config, bundle):
    return Evaluation(
        metrics=perplexity_evaluation(model, bundle),
        files={"samples.txt": samples_text(model, config, bundle)},
    )


SEARCH_SPACE = {
    "rnn_type": ["lstm", "gru"],
    "num_layers": {"min": 1, "max": 2, "default": 1},
    "units": [256, 128, 512],
    "embedding_dim": [32, 16, 64],
    "sequence_length": [100, 50, 200],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.1, "default": 0.1},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log", "default": 2e-3},
}


def text_generator_space_to_config(values):
    """`num_layers` recurrent layers of `units` each."""
    values = dict(values)
    units, layers = values.pop("units"), values.pop("num_layers")
    return {**values, "rnn_units": (units,) * layers}


register_family(
    Family(
        name="text_generator",
        config_class=TextGeneratorConfig,
        build=build_text_generator,
        compile=language_compile,
        data_kind="corpus",
        default_data="hamlet",
        tasks=("token",),
        search_space=SEARCH_SPACE,
        space_to_config=text_generator_space_to_config,
        data_options=text_generator_data_options,
        adapt=adapt_text_generator,
        evaluate=evaluate_text_generator,
        epochs=20,
        batch_size=32,
        description="Character- or word-level LSTM/GRU that generates text.",
    )
)


# === Variants ===


@register_model(family="text_generator")
def char_lstm():
    """A 256-unit LSTM on windows of 100 characters."""
    return TextGeneratorConfig(learning_rate=2e-3)


@register_model(family="text_generator")
def char_gru():
    """A 256-unit GRU on windows of 100 characters."""
    return TextGeneratorConfig(rnn_type="gru", learning_rate=2e-3)


@register_model(family="text_generator")
def word_lstm_generator():
    """A 256-unit LSTM on windows of 30 words (64-d word vectors)."""
    return TextGeneratorConfig(
        level="word", sequence_length=30, embedding_dim=64, sample_length=40
    )


@register_model(family="text_generator", tiny=True)
def text_generator_tiny():
    """An 8-unit GRU on 8 characters, for tests."""
    return TextGeneratorConfig(
        rnn_type="gru",
        rnn_units=(8,),
        sequence_length=8,
        embedding_dim=4,
        sample_length=5,
    )

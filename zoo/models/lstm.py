"""Recurrent text classifier (the "lstm" family).

`adapt` fits a word-level `TextVectorization` on the training split only and
maps the splits to token ids; the exported model puts the vectorizer in
front, so it takes raw strings. The embedding can start from a GloVe-format
word-vector file (a local path) and be frozen or trained. The recurrent stack
(SimpleRNN, GRU or LSTM, optionally bidirectional) is `zoo.recurrent`.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from zoo.compile import default_compile
from zoo.config import BaseConfig
from zoo.errors import ConfigError, DataError
from zoo.preprocessing import Preprocessing
from zoo.recurrent import RecurrentFields, head, recurrent_stack
from zoo.registry import Family, register_family, register_model

STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "none")


@dataclasses.dataclass
class LSTMConfig(BaseConfig, RecurrentFields):
    """Config of a recurrent text classifier.

    Attributes:
        rnn_type: "lstm", "gru" or "simple_rnn".
        rnn_units: Units of each recurrent layer, input side first.
        bidirectional: Wrap each recurrent layer in `Bidirectional`.
        dropout_rate: Dropout between recurrent layers and before the head.
        recurrent_dropout: Dropout on the recurrent state (slow on CPU).
        dense_units: A ReLU layer before the output; 0 for none.
        max_tokens: Vocabulary size, padding and out-of-vocabulary included.
        sequence_length: Tokens kept per text (padded or cut).
        standardize: `TextVectorization` standardization, or "none".
        embedding_dim: Size of the word vectors.
        pretrained_embeddings: Path of a GloVe-format text file ("word v1 v2
            ...") whose vectors initialise the embedding; "" for random.
        train_embeddings: Train the embedding (False freezes pretrained vectors).
        group_by_length: Training batches hold texts of similar length
            (sorted within shuffled groups of 8 batches), so less padding is
            stepped over; False for uniformly random batches. Every batch
            is cut to its longest text either way (unless `jit_compile`).
        seed: Seed of the initializers, or None.
    """

    max_tokens: int = 20000
    sequence_length: int = 64
    standardize: str = "lower_and_strip_punctuation"
    embedding_dim: int = 100
    pretrained_embeddings: str = ""
    train_embeddings: bool = True
    group_by_length: bool = True
    # Measured by bench.levers on the embedded reviews: on a 2-core Intel Xeon
    # (2026-12-03) 8 steps per execution trained at +8%, +11% and +51% over 1
    # in three runs (levers_intel_cnn_lstm.md); on an AMD EPYC one run had it
    # at -13%, inside that machine's 2.1-2.9x run-to-run spread. So 8. The
    # trimmed batches of different lengths run in one multi-step call.
    steps_per_execution: int = 8

    def validate(self):
        super().validate()
        self._validate_stack()
        if self.max_tokens < 3:
            raise ConfigError(
                f"max_tokens must be >= 3 (padding, unknown, one word), got {self.max_tokens}."
            )
        if self.sequence_length < 1 or self.embedding_dim < 1:
            raise ConfigError("sequence_length and embedding_dim must be >= 1.")
        if self.standardize not in STANDARDIZE:
            raise ConfigError(
                f"standardize must be one of {', '.join(STANDARDIZE)}, got {self.standardize!r}."
            )
        if self.pretrained_embeddings and not os.path.isfile(
            self.pretrained_embeddings
        ):
            raise ConfigError(
                f"pretrained_embeddings file {self.pretrained_embeddings!r} does not exist; "
                "give the path of a GloVe-format .txt file."
            )
        if self.pretrained_embeddings:
            check_word_vector_file(self.pretrained_embeddings, self.embedding_dim)


def check_word_vector_file(path, embedding_dim):
    """Raises `ConfigError` unless `path` starts like a GloVe text file with
    `embedding_dim` numbers per word: read before any data loads, so a wrong
    file (a binary, a word2vec header) costs one line, not a run."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as error:
        raise ConfigError(
            f"Cannot read pretrained_embeddings {path}: {error.strerror or error}."
        ) from None
    if b"\0" in head:
        raise ConfigError(
            f"pretrained_embeddings {path} is a binary file; give a GloVe-format "
            "text file (`word v1 v2 ...` per line)."
        )
    lines = head.decode("utf-8", errors="replace").splitlines()
    first = next((line for line in lines if line.strip()), "")
    values = first.split()[1:]
    try:
        np.asarray(values, dtype="float32")
    except ValueError:
        values = None
    if not values:
        raise ConfigError(
            f"The first line of pretrained_embeddings {path} is not `word v1 v2 ...` "
            "(GloVe text format)."
        )
    if len(values) != embedding_dim:
        raise ConfigError(
            f"pretrained_embeddings {path} has {len(values)} numbers per word, but "
            f"embedding_dim is {embedding_dim}; set embedding_dim={len(values)}."
        )


def make_vectorizer(config):
    return keras.layers.TextVectorization(
        max_tokens=config.max_tokens,
        standardize=None if config.standardize == "none" else config.standardize,
        output_mode="int",
        output_sequence_length=config.sequence_length,
        name="text_vectorization",
    )


def read_word_vectors(path, vocabulary, embedding_dim, *, seed=0):
    """A `(len(vocabulary), embedding_dim)` matrix from a GloVe-format file.

    Row 0 (padding) is zeros; words missing from the file get small random
    vectors. Only the vocabulary's words are kept, so a large file costs one
    pass and little memory.

    Returns:
        `(matrix, found)`: the float32 matrix and how many words had a vector.
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.1, size=(len(vocabulary), embedding_dim)).astype(
        "float32"
    )
    matrix[0] = 0.0
    found = 0
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                word, _, rest = line.rstrip("\n").partition(" ")
                row = index.get(word)
                if row is None or row == 0:
                    continue
                values = rest.split()
                if len(values) != embedding_dim:
                    raise ConfigError(
                        f"{path} line {number} has {len(values)} numbers for {word!r}, but "
                        f"embedding_dim is {embedding_dim}; set embedding_dim={len(values)}."
                    )
                try:
                    matrix[row] = np.asarray(values, dtype="float32")
                except ValueError:
                    raise ConfigError(
                        f"{path} line {number} is not `word v1 v2 ...` (GloVe text format)."
                    ) from None
                found += 1
    except OSError as error:
        raise ConfigError(
            f"Cannot read pretrained_embeddings {path}: {error.strerror or error}."
        ) from None
    return matrix, found


def build_lstm(config, *, input_shape, num_classes):
    """Builds a recurrent text classifier on token ids.

    Args:
        config: An `LSTMConfig`.
        input_shape: `(sequence_length,)` token ids from the `TextVectorization`
            that `adapt_lstm` fits; the exported model takes raw strings.
        num_classes: Number of classes (2 gives one sigmoid unit).

    Example:
    >>> model = build_lstm(lstm_tiny(), input_shape=(8,), num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    if num_classes is None:
        raise ConfigError(
            "lstm is a text classifier; use lstm_forecaster for time series."
        )
    if tuple(input_shape) != (config.sequence_length,):
        raise ConfigError(
            f"lstm takes {config.sequence_length} token ids per text, got input_shape "
            f"{tuple(input_shape)}; train it through `zoo train` (which adapts the vocabulary) "
            "or set sequence_length to match."
        )
    # Any length: training batches come trimmed to their longest text
    # (`trim_padding`); the exported vectorizer pads to `sequence_length`.
    inputs = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    embedding = keras.layers.Embedding(
        config.max_tokens,
        config.embedding_dim,
        mask_zero=True,
        trainable=config.train_embeddings,
        embeddings_initializer=keras.initializers.RandomUniform(
            -0.05, 0.05, seed=config.seed
        ),
        name="embedding",
    )
    x = embedding(inputs)
    x = recurrent_stack(x, config)
    outputs = head(x, config, num_classes)
    return keras.Model(inputs, outputs, name="lstm")


def initialize_lstm(model, config, preprocessing):
    """Copies the word vectors that `adapt_lstm` laid out into the embedding."""
    matrix = preprocessing.arrays.get("embedding_matrix")
    if config.pretrained_embeddings and matrix is None:
        raise ConfigError(
            "pretrained_embeddings needs the vocabulary: build the model through "
            "`zoo train` / `zoo.tuning.train.train`, which adapts it first."
        )
    if matrix is not None:
        model.get_layer("embedding").set_weights([matrix])


def token_lengths(token_ids):
    """Tokens of each text in a batch (`TextVectorization` pads with zeros)."""
    return tf.reduce_sum(tf.cast(tf.not_equal(token_ids, 0), tf.int32), axis=-1)


def trim_padding(token_ids, label):
    """Cuts the padding columns that no text of the batch reaches.

    `TextVectorization` pads every text with zeros to `sequence_length`;
    the embedding masks them, so the recurrent layers step over them for
    nothing. Cut to the batch's longest text, the result is the same and a
    step is shorter (bench/results/throughput.md).
    """
    longest = tf.maximum(tf.reduce_max(token_lengths(token_ids)), 1)
    return token_ids[:, :longest], label


def adapt_lstm(config, bundle):
    """Fits the vocabulary on the training split: the model's preprocessing.

    The `TextVectorization` goes in front of the exported model, so it takes
    raw strings. With `pretrained_embeddings`, also lays out the word
    vectors by the fitted vocabulary for `initialize_lstm`.
    """
    x_spec = bundle.train.element_spec[0]
    if x_spec.dtype != tf.string:
        raise DataError("lstm needs raw text; give it labelled text (CSV/TSV/folder).")
    vectorizer = make_vectorizer(config)
    vectorizer.adapt(
        bundle.train.map(lambda x, y: x, num_parallel_calls=tf.data.AUTOTUNE).batch(512)
    )
    vocabulary = vectorizer.get_vocabulary()
    preprocessing = Preprocessing(
        layer=vectorizer,
        raw_inputs=lambda: keras.Input(shape=(), dtype="string", name="text"),
        input_shape=(config.sequence_length,),
        info={"vocabulary_size": len(vocabulary)},
    )
    if not config.jit_compile:
        # XLA compiles once per shape: trimmed batches would recompile often.
        preprocessing.batch_map = trim_padding
        if config.group_by_length:
            preprocessing.lengths = token_lengths
    if config.pretrained_embeddings:
        matrix, found = read_word_vectors(
            config.pretrained_embeddings,
            vocabulary,
            config.embedding_dim,
            seed=config.seed or 0,
        )
        full = np.zeros((config.max_tokens, config.embedding_dim), dtype="float32")
        full[: len(matrix)] = matrix
        preprocessing.arrays["embedding_matrix"] = full
        preprocessing.info["pretrained_coverage"] = round(
            found / max(len(vocabulary) - 2, 1), 4
        )
    return preprocessing


SEARCH_SPACE = {
    "rnn_type": ["lstm", "gru"],
    "num_layers": {"min": 1, "max": 2},
    "units": [32, 64, 128],
    "bidirectional": [False, True],
    "embedding_dim": [50, 100, 200],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.1},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
}


def lstm_space_to_config(values):
    """`num_layers` recurrent layers of `units` each."""
    values = dict(values)
    units, layers = values.pop("units"), values.pop("num_layers")
    return {**values, "rnn_units": (units,) * layers}


register_family(
    Family(
        name="lstm",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        space_to_config=lstm_space_to_config,
        config_class=LSTMConfig,
        build=build_lstm,
        compile=default_compile,
        data_kind="text",
        default_data="rotten_tomatoes",
        adapt=adapt_lstm,
        initialize=initialize_lstm,
        epochs=10,
        batch_size=32,
        description="Recurrent (LSTM/GRU/SimpleRNN) text classifier on word embeddings.",
    )
)


@register_model(family="lstm")
def lstm_small():
    """One LSTM layer of 64 units on 100-d word embeddings."""
    return LSTMConfig()


@register_model(family="lstm")
def lstm_bidirectional():
    """Two bidirectional LSTM layers (64, 32), dropout 0.3."""
    return LSTMConfig(rnn_units=(64, 32), bidirectional=True, dropout_rate=0.3)


@register_model(family="lstm")
def gru_small():
    """One GRU layer of 64 units."""
    return LSTMConfig(rnn_type="gru")


@register_model(family="lstm")
def simple_rnn_small():
    """One SimpleRNN layer of 64 units (a baseline for the gated cells)."""
    return LSTMConfig(rnn_type="simple_rnn")


@register_model(family="lstm", tiny=True)
def lstm_tiny():
    """A 4-unit LSTM on 8 tokens of a 50-word vocabulary, for tests."""
    return LSTMConfig(
        rnn_units=(4,),
        max_tokens=50,
        sequence_length=8,
        embedding_dim=4,
        dropout_rate=0.0,
    )


@register_model(family="lstm", tiny=True)
def gru_bidirectional_tiny():
    """Two bidirectional GRU layers of 3 units, for tests."""
    return LSTMConfig(
        rnn_type="gru",
        rnn_units=(3, 3),
        bidirectional=True,
        max_tokens=50,
        sequence_length=8,
        embedding_dim=4,
        dense_units=4,
    )

"""Character-level convolutional networks for text (Zhang, Zhao and LeCun, 2015).

Text is quantized into characters of the paper's "70-symbol" alphabet (26
letters, 10 digits, the other symbols and the newline; its printed list names
"-" twice, so 69 distinct symbols), read backwards as in the paper, cut
or padded to `sequence_length` characters, then one-hot encoded (or embedded)
and fed to six 1-D convolutions and two dense layers.

The quantizer, `CharQuantizer`, is a serializable layer of TensorFlow string
ops. A model built for `input_shape=()` holds it and takes raw strings. When
training through `zoo.tuning.train`, `adapt` moves it into the tf.data pipeline
instead (it has no state to fit): the model then takes character indices, so
it can be XLA-compiled and the quantization runs in parallel with training,
and the exported `model.keras` puts the quantizer back in front.

Training recipe (the paper's): SGD with momentum 0.9, learning rate 0.01
halved every 3 epochs, applied by `fit` with an epoch-indexed scheduler (see
`halving_schedule`).
"""

import dataclasses
from typing import Literal

import keras
import tensorflow as tf
from keras import ops

from zoo.compile import (
    make_optimizer,
    optimizer_options,
    output_head,
    task_loss,
    task_metrics,
)
from zoo.config import BaseConfig
from zoo.errors import ConfigError, DataError
from zoo.preprocessing import Preprocessing
from zoo.registry import Family, register_family, register_model

# The paper's alphabet: 26 letters, 10 digits, 32 other characters and "\n"
# (the paper counts 70 because its list holds "-" twice).
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-,;.!?:'\"/\\|_@#$%^&*~`+=<>()[]{}\n"


@keras.saving.register_keras_serializable(package="zoo")
class CharQuantizer(keras.layers.Layer):
    """Maps raw strings to `(batch, sequence_length)` int32 character indices.

    Index 0 stands for padding and characters outside the alphabet (their
    one-hot vector is all zeros, as in the paper); `alphabet[i]` has index
    `i + 1`. Runs as TF string ops, so it works inside tf.data and inside a
    model, and saves with it.

    Args:
        alphabet: The characters that get an index.
        sequence_length: Characters kept per text; longer texts are cut.
        lowercase: Lower-case ASCII letters first.
        reverse: Read the kept characters backwards (the paper's order: the
            latest character read is nearest the first convolution).

    Example:
    >>> CharQuantizer(sequence_length=4)(tf.constant(["ab", "abcdef"])).numpy().tolist()
    [[2, 1, 0, 0], [4, 3, 2, 1]]
    """

    def __init__(
        self,
        alphabet=ALPHABET,
        sequence_length=1014,
        lowercase=True,
        reverse=True,
        **kwargs,
    ):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        self.alphabet = str(alphabet)
        self.sequence_length = int(sequence_length)
        self.lowercase = bool(lowercase)
        self.reverse = bool(reverse)
        codes = [ord(c) for c in self.alphabet]
        if len(set(codes)) != len(codes):
            raise ConfigError(
                "The character alphabet holds a character twice; list each once."
            )
        size = max(codes) + 1
        table = [0] * size
        for index, code in enumerate(codes, start=1):
            table[code] = index
        self._table = tf.constant(table, dtype=tf.int32)
        self._table_size = size

    @property
    def vocabulary_size(self):
        """Indices produced: the alphabet plus the 0 for padding/unknown."""
        return len(self.alphabet) + 1

    def call(self, inputs):
        text = tf.convert_to_tensor(inputs)
        if text.shape.rank == 2:  # (batch, 1) from a 1-wide input
            text = tf.squeeze(text, axis=-1)
        if self.lowercase:
            text = tf.strings.lower(text)
        codes = tf.strings.unicode_decode(
            text, "UTF-8", errors="replace", replacement_char=0
        )
        codes = codes[:, : self.sequence_length]
        known = (codes >= 0) & (codes < self._table_size)
        indices = tf.ragged.map_flat_values(
            lambda c, k: tf.where(
                k,
                tf.gather(self._table, tf.clip_by_value(c, 0, self._table_size - 1)),
                0,
            ),
            codes,
            known,
        )
        lengths = tf.cast(indices.row_lengths(), tf.int32)
        dense = indices.to_tensor(default_value=0, shape=[None, self.sequence_length])
        if self.reverse:
            dense = tf.reverse_sequence(dense, lengths, seq_axis=1, batch_axis=0)
        return dense

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.sequence_length)

    def get_config(self):
        return {
            **super().get_config(),
            "alphabet": self.alphabet,
            "sequence_length": self.sequence_length,
            "lowercase": self.lowercase,
            "reverse": self.reverse,
        }


@keras.saving.register_keras_serializable(package="zoo")
class OneHotCharacters(keras.layers.Layer):
    """One-hot vectors of character indices; index 0 gives all zeros."""

    def __init__(self, num_symbols, **kwargs):
        super().__init__(**kwargs)
        self.num_symbols = int(num_symbols)

    def call(self, indices):
        return ops.one_hot(
            ops.cast(indices, "int32") - 1, self.num_symbols, dtype=self.compute_dtype
        )

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.num_symbols)

    def get_config(self):
        return {**super().get_config(), "num_symbols": self.num_symbols}


def conv_block(x, filters, kernel_size, pool_size, config, index):
    """Conv1D (valid padding) with ReLU, then max-pooling when `pool_size` > 1."""
    x = keras.layers.Conv1D(
        filters,
        kernel_size,
        activation="relu",
        kernel_initializer=keras.initializers.RandomNormal(
            0.0, config.init_stddev, seed=config.seed
        ),
        name=f"conv_{index}",
    )(x)
    if pool_size > 1:
        x = keras.layers.MaxPooling1D(pool_size, name=f"pool_{index}")(x)
    return x


def halving_schedule(initial_learning_rate, every_epochs, times):
    """Epoch -> learning rate: halved every `every_epochs` epochs, `times` times at most.

    Keras' `ExponentialDecay(staircase=True)`, held once it has halved `times` times.

    >>> [round(halving_schedule(0.01, 3, 10)(epoch), 6) for epoch in (0, 2, 3, 6)]
    [0.01, 0.01, 0.005, 0.0025]
    """
    halving = keras.optimizers.schedules.ExponentialDecay(
        float(initial_learning_rate), int(every_epochs), 0.5, staircase=True
    )
    last = int(every_epochs) * int(times)

    def schedule(epoch, learning_rate=None):
        del learning_rate
        return float(halving(min(int(epoch), last)))

    return schedule


@dataclasses.dataclass
class CharCNNConfig(BaseConfig):
    """Config of a character-level CNN.

    Attributes:
        sequence_length: Characters per text (the paper's 1014).
        lowercase: Lower-case the text before quantization.
        reverse: Read characters backwards, as the paper does.
        embedding: "one_hot" (the paper) or "learned" (an `Embedding`).
        embedding_dim: Size of a learned character embedding.
        filters: Feature maps of every convolution (small 256, large 1024).
        kernel_sizes: Kernel of each convolution, input side first.
        pool_sizes: Max-pool after each convolution; 1 means none.
        dense_units: Units of the two hidden dense layers (small 1024, large 2048).
        dropout_rate: Dropout after each hidden dense layer.
        init_stddev: Std of the Gaussian initializer (small 0.05, large 0.02).
        momentum: SGD momentum.
        lr_halving_epochs: Halve the learning rate every this many epochs;
            0 keeps it constant.
        lr_halvings: Halve at most this many times (the paper's 10).
        seed: Seed of the initializers, or None.
    """

    optimizer: str = "sgd"
    learning_rate: float = 0.01
    sequence_length: int = 1014
    lowercase: bool = True
    reverse: bool = True
    embedding: Literal["one_hot", "learned"] = "one_hot"
    embedding_dim: int = 16
    filters: int = 256
    kernel_sizes: tuple[int, ...] = (7, 7, 3, 3, 3, 3)
    pool_sizes: tuple[int, ...] = (3, 3, 1, 1, 1, 3)
    dense_units: int = 1024
    dropout_rate: float = 0.5
    init_stddev: float = 0.05
    momentum: float = 0.9
    lr_halving_epochs: int = 3
    lr_halvings: int = 10
    seed: int | None = None

    def validate(self):
        super().validate()
        if self.sequence_length < 1:
            raise ConfigError(
                f"sequence_length must be >= 1, got {self.sequence_length}."
            )
        if not self.kernel_sizes:
            raise ConfigError(
                "kernel_sizes is empty; give at least one convolution, e.g. 7,7,3,3,3,3."
            )
        if len(self.pool_sizes) != len(self.kernel_sizes):
            raise ConfigError(
                f"pool_sizes has {len(self.pool_sizes)} entries for {len(self.kernel_sizes)} "
                "convolutions; give one per convolution (1 for no pooling)."
            )
        if any(k < 1 for k in self.kernel_sizes) or any(p < 1 for p in self.pool_sizes):
            raise ConfigError("kernel_sizes and pool_sizes must all be >= 1.")
        for name in ("filters", "dense_units", "embedding_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )
        if not self.init_stddev > 0:
            raise ConfigError(f"init_stddev must be > 0, got {self.init_stddev}.")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}.")
        if self.lr_halving_epochs < 0 or self.lr_halvings < 0:
            raise ConfigError("lr_halving_epochs and lr_halvings must be >= 0.")
        length = self.sequence_length
        for kernel, pool in zip(self.kernel_sizes, self.pool_sizes):
            length = (length - kernel + 1) // pool
            if length < 1:
                raise ConfigError(
                    f"sequence_length {self.sequence_length} is too short for kernel_sizes "
                    f"{self.kernel_sizes} and pool_sizes {self.pool_sizes}; raise it "
                    f"(the paper uses 1014)."
                )


def make_quantizer(config):
    return CharQuantizer(
        sequence_length=config.sequence_length,
        lowercase=config.lowercase,
        reverse=config.reverse,
        name="char_quantizer",
    )


def build_char_cnn(config, *, input_shape, num_classes):
    """Builds a character-level CNN.

    Args:
        config: A `CharCNNConfig`.
        input_shape: `()` for raw strings (the quantizer goes inside the
            model) or `(sequence_length,)` for character indices from
            `CharQuantizer` (what `adapt` feeds during training).
        num_classes: Number of classes (2 gives one sigmoid unit).

    Example:
    >>> config = char_cnn_tiny()
    >>> model = build_char_cnn(config, input_shape=(), num_classes=4)
    >>> model.predict(tf.constant(["hello world", "bye"]), verbose=0).shape
    (2, 4)
    """
    if num_classes is None:
        raise ConfigError(
            "char_cnn is a classifier; give it labelled text, not a regression target."
        )
    input_shape = tuple(input_shape)
    quantizer = make_quantizer(config)
    if input_shape in ((), (1,)):
        inputs = keras.Input(shape=input_shape, dtype="string", name="text")
        x = quantizer(inputs)
    elif input_shape == (config.sequence_length,):
        inputs = keras.Input(shape=input_shape, dtype="int32", name="characters")
        x = inputs
    else:
        raise ConfigError(
            f"char_cnn takes raw strings (input_shape ()) or {config.sequence_length} character "
            f"indices, got input_shape {input_shape}; set sequence_length to match."
        )
    if config.embedding == "one_hot":
        x = OneHotCharacters(len(quantizer.alphabet), name="one_hot")(x)
    else:
        x = keras.layers.Embedding(
            quantizer.vocabulary_size, config.embedding_dim, name="char_embedding"
        )(x)
    for index, (kernel, pool) in enumerate(
        zip(config.kernel_sizes, config.pool_sizes), start=1
    ):
        x = conv_block(x, config.filters, kernel, pool, config, index)
    x = keras.layers.Flatten(name="flatten")(x)
    for index in (1, 2):
        x = keras.layers.Dense(
            config.dense_units,
            activation="relu",
            kernel_initializer=keras.initializers.RandomNormal(
                0.0, config.init_stddev, seed=config.seed
            ),
            name=f"dense_{index}",
        )(x)
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(config.dropout_rate, name=f"dropout_{index}")(x)
    outputs = output_head(x, num_classes)
    return keras.Model(inputs, outputs, name="char_cnn")


def compile_char_cnn(model, config, *, num_classes, total_steps=None):
    """SGD with momentum (the paper's recipe); the halving is applied by `fit_char_cnn`."""
    del total_steps
    kwargs = optimizer_options(config)
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate, **kwargs),
        loss=task_loss(num_classes),
        metrics=task_metrics(num_classes),
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model


def fit_char_cnn(
    model, config, train, *, validation_data=None, epochs=1, callbacks=None, **kwargs
):
    """`model.fit` with the learning rate halved every `lr_halving_epochs` epochs.

    The schedule is indexed by epoch, so it is exact whatever the batch size
    and survives a resumed run. It stands aside when the caller already
    controls the learning rate (a `LearningRateScheduler` or
    `ReduceLROnPlateau` among `callbacks`, e.g. `zoo train --lr-schedule`).
    """
    callbacks = list(callbacks or [])
    controls_rate = any(
        isinstance(
            c, keras.callbacks.LearningRateScheduler | keras.callbacks.ReduceLROnPlateau
        )
        for c in callbacks
    )
    if config.lr_halving_epochs > 0 and not controls_rate:
        schedule = halving_schedule(
            config.learning_rate, config.lr_halving_epochs, config.lr_halvings
        )
        callbacks.append(keras.callbacks.LearningRateScheduler(schedule))
    history = model.fit(
        train,
        validation_data=validation_data,
        epochs=epochs,
        callbacks=callbacks,
        **kwargs,
    )
    return history.history


def adapt_char_cnn(config, bundle):
    """The quantizer: run in tf.data for training, in front of the exported model.

    Nothing is fitted: the alphabet is fixed. Running the string ops in the
    pipeline lets the model itself be XLA-compiled and overlaps quantization
    with training on the two CPU cores.
    """
    spec = bundle.train.element_spec
    x_spec = spec[0] if isinstance(spec, tuple) else spec
    if x_spec.dtype != tf.string:
        raise DataError(
            "char_cnn needs raw text; load labelled text (CSV/TSV/folder) with it."
        )
    # Not cached: 1,014 ids per text add up on big corpora, and the
    # quantiser already outruns the model 185x (bench/results/pipelines.md).
    return Preprocessing(
        layer=make_quantizer(config),
        raw_inputs=lambda: keras.Input(shape=(), dtype="string", name="text"),
        input_shape=(config.sequence_length,),
        cache=False,
    )


SEARCH_SPACE = {
    "sequence_length": [256, 512, 1014],
    "embedding": ["one_hot", "learned"],
    "filters": [64, 128, 256],
    "dense_units": [256, 512, 1024],
    "dropout_rate": {"min": 0.2, "max": 0.5, "step": 0.1},
    "learning_rate": {"min": 1e-3, "max": 5e-2, "sampling": "log"},
}


register_family(
    Family(
        name="char_cnn",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        config_class=CharCNNConfig,
        build=build_char_cnn,
        compile=compile_char_cnn,
        data_kind="text",
        default_data="rotten_tomatoes",
        adapt=adapt_char_cnn,
        fit=fit_char_cnn,
        epochs=9,
        batch_size=128,
        description="Character-level CNN (Zhang, Zhao & LeCun 2015) on raw text.",
    )
)


@register_model(family="char_cnn")
def char_cnn_small():
    """The paper's small model: 256 feature maps, 1024 dense units, one-hot characters."""
    return CharCNNConfig()


@register_model(family="char_cnn")
def char_cnn_large():
    """The paper's large model: 1024 feature maps, 2048 dense units, init std 0.02."""
    return CharCNNConfig(filters=1024, dense_units=2048, init_stddev=0.02)


@register_model(family="char_cnn")
def char_cnn_short():
    """Small model on 256 characters with a learned 16-d embedding: for short texts on CPU."""
    return CharCNNConfig(
        sequence_length=256, embedding="learned", filters=128, dense_units=256
    )


@register_model(family="char_cnn", tiny=True)
def char_cnn_tiny():
    """Two convolutions of 4 filters on 32 characters, for tests."""
    return CharCNNConfig(
        sequence_length=32,
        filters=4,
        kernel_sizes=(3, 3),
        pool_sizes=(2, 2),
        dense_units=8,
        dropout_rate=0.0,
    )

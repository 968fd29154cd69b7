"""Transfer learning on `keras.applications.VGG16`: a frozen base, a new head, fine-tuning.

The model takes raw 0..255 RGB images; `VGG16Preprocess` (VGG16's
`preprocess_input`: RGB to BGR, minus the ImageNet channel means) runs inside
it, so a saved model predicts on `zoo.datasets.image_ops.load_image_files`.

Training follows the Keras transfer-learning guide: phase 1 trains the head
with the base frozen (called with `training=False`); phase 2, when
`fine_tune_epochs > 0`, unfreezes the top `fine_tune_blocks` blocks,
recompiles with `fine_tune_learning_rate` and continues the same history.
"""

import dataclasses
import os

import keras
from keras import ops

from zoo import feature_cache
from zoo.compile import default_compile, output_head
from zoo.config import BaseConfig
from zoo.errors import ConfigError, ZooError
from zoo.registry import Family, register_family, register_model

HEADS = ("conv_block", "conv_as_dense", "gap_dense")
NUM_BLOCKS = 5
MIN_INPUT_SIZE = 32
RANDOM_WEIGHTS = ("random", "none", "null", "")
IMAGENET_BGR_MEANS = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="zoo")
class VGG16Preprocess(keras.layers.Layer):
    """`keras.applications.vgg16.preprocess_input` as a layer: RGB to BGR, minus ImageNet means.

    A layer rather than a `Lambda`, so `.keras` files load with `safe_mode=True`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.means = IMAGENET_BGR_MEANS

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        bgr = ops.flip(inputs, axis=-1)
        return bgr - ops.convert_to_tensor(self.means, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def block_of(layer_name):
    """1..5 for VGG16's `blockN_*` layers, 0 for the input."""
    prefix = layer_name.split("_")[0]
    return int(prefix[len("block") :]) if prefix.startswith("block") else 0


def set_trainable_blocks(base, num_blocks):
    """Makes the top `num_blocks` blocks of the VGG16 base trainable, the rest frozen."""
    base.trainable = num_blocks > 0
    for layer in base.layers:
        layer.trainable = block_of(layer.name) > NUM_BLOCKS - num_blocks


def keras_weights(weights):
    """The `weights` argument of `keras.applications.VGG16` for a config value."""
    if weights is None or str(weights).strip().lower() in RANDOM_WEIGHTS:
        return None
    return weights


def vgg16_base(weights, input_shape):
    """`keras.applications.VGG16(include_top=False)` with a one-line error when weights are missing."""
    if weights is not None and weights != "imagenet" and not os.path.isfile(weights):
        raise ConfigError(
            f"VGG16 weights file {weights!r} does not exist; give the path of "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5, weights=imagenet or weights=random."
        )
    try:
        return keras.applications.VGG16(
            include_top=False, weights=weights, input_shape=input_shape
        )
    except Exception as error:  # noqa: BLE001 - get_file raises a bare Exception on URL failures
        message = (getattr(error, "message", None) or str(error)).strip().splitlines()
        detail = message[0] if message else type(error).__name__
        if weights == "imagenet":
            raise ZooError(
                f"Cannot download the VGG16 ImageNet weights ({detail[:160]}). Put "
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 in ~/.keras/models/, or pass "
                "--set weights=/path/to/that.h5, or --set weights=random to train from random weights."
            ) from None
        raise ZooError(
            f"Cannot load VGG16 weights from {weights} ({detail[:160]}); it must be the no-top "
            "VGG16 weights file (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)."
        ) from None


def conv_block_head(x, config, num_classes):
    """A new conv block (one 3x3 conv + max-pool), two dense layers, output."""
    x = keras.layers.Conv2D(
        config.head_filters, 3, padding="same", activation="relu", name="head_conv"
    )(x)
    x = keras.layers.MaxPooling2D(2, padding="same", name="head_pool")(x)
    x = keras.layers.Flatten(name="head_flatten")(x)
    for index, units in enumerate(config.dense_units):
        x = keras.layers.Dense(
            units, activation="relu", name=f"head_dense_{index + 1}"
        )(x)
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(
                config.dropout_rate, name=f"head_dropout_{index + 1}"
            )(x)
    return output_head(x, num_classes)


def conv_as_dense_head(x, config, num_classes):
    """No dense hidden layers: a full-extent conv, then 1x1 convs, act as the fully connected layers."""
    height, width = x.shape[1], x.shape[2]
    for index, units in enumerate(config.dense_units):
        # The first conv spans the whole feature map (a dense layer over it), the rest are 1x1.
        kernel = (height, width) if index == 0 else (1, 1)
        x = keras.layers.Conv2D(
            units,
            kernel,
            padding="valid",
            activation="relu",
            name=f"head_fc_conv_{index + 1}",
        )(x)
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(
                config.dropout_rate, name=f"head_dropout_{index + 1}"
            )(x)
    x = keras.layers.Flatten(name="head_flatten")(
        x
    )  # [batch, 1, 1, units] -> [batch, units]
    return output_head(x, num_classes)


def gap_dense_head(x, config, num_classes):
    """Global average pooling, dropout, one dense layer per `dense_units`, output."""
    x = keras.layers.GlobalAveragePooling2D(name="head_gap")(x)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name="head_dropout_0")(x)
    for index, units in enumerate(config.dense_units):
        x = keras.layers.Dense(
            units, activation="relu", name=f"head_dense_{index + 1}"
        )(x)
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(
                config.dropout_rate, name=f"head_dropout_{index + 1}"
            )(x)
    return output_head(x, num_classes)


HEAD_BUILDERS = {
    "conv_block": conv_block_head,
    "conv_as_dense": conv_as_dense_head,
    "gap_dense": gap_dense_head,
}


@dataclasses.dataclass
class VGG16TransferConfig(BaseConfig):
    """Config of a VGG16 transfer-learning model.

    Attributes:
        weights: "imagenet", a path to VGG16's no-top weights file, or
            "random" (random initial weights, nothing downloaded; "none" is
            taken to mean the same). A string, not None, because `--set`
            and config round-trips drop None values.
        input_size: Square input size the images are loaded at (>= 32).
        head: "conv_block" (conv + max-pool, two dense layers), "conv_as_dense"
            (convolutions as the fully connected layers) or "gap_dense"
            (global average pooling + dense).
        head_filters: Filters of the "conv_block" head's convolution.
        dense_units: Hidden units of the head's dense (or dense-like conv) layers.
        dropout_rate: Dropout in the head, in [0, 1).
        head_batch_norm: Batch-normalize the base's features before the head.
            Random-weight features are tiny (std ~0.1 on digits) and a head
            on them barely moves without it; harmless on ImageNet features.
        trainable_blocks: Top VGG16 blocks (0..5) trained in phase 1; 0
            freezes the whole base.
        fine_tune_epochs: Epochs of phase 2 (0: no fine-tuning).
        fine_tune_blocks: Top blocks unfrozen for phase 2 (1..5).
        fine_tune_learning_rate: Learning rate of phase 2.
        feature_cache: Compute a frozen base's outputs once per split and
            train the head on them (`zoo.feature_cache`); no effect when the
            base trains or the images are augmented.
    """

    learning_rate: float = 1e-3
    weights: str = "imagenet"
    input_size: int = 224
    head: str = "gap_dense"
    head_filters: int = 256
    dense_units: tuple[int, ...] = (256, 128)
    dropout_rate: float = 0.5
    head_batch_norm: bool = True
    trainable_blocks: int = 0
    fine_tune_epochs: int = 0
    fine_tune_blocks: int = 1
    fine_tune_learning_rate: float = 1e-5
    feature_cache: bool = True

    def validate(self):
        super().validate()
        if self.input_size < MIN_INPUT_SIZE:
            raise ConfigError(
                f"input_size must be >= {MIN_INPUT_SIZE} for VGG16's five poolings, got {self.input_size}; "
                f"use --set input_size={MIN_INPUT_SIZE} or more."
            )
        if self.head not in HEADS:
            raise ConfigError(
                f"Unknown head {self.head!r}; choose one of {', '.join(HEADS)}."
            )
        if self.head_filters < 1:
            raise ConfigError(f"head_filters must be >= 1, got {self.head_filters}.")
        if any(units < 1 for units in self.dense_units):
            raise ConfigError(f"dense_units must all be >= 1, got {self.dense_units}.")
        if self.head in ("conv_block", "conv_as_dense") and not self.dense_units:
            raise ConfigError(
                f"The {self.head} head needs at least one entry in dense_units."
            )
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )
        if not 0 <= self.trainable_blocks <= NUM_BLOCKS:
            raise ConfigError(
                f"trainable_blocks must be in 0..{NUM_BLOCKS}, got {self.trainable_blocks}."
            )
        if not 1 <= self.fine_tune_blocks <= NUM_BLOCKS:
            raise ConfigError(
                f"fine_tune_blocks must be in 1..{NUM_BLOCKS}, got {self.fine_tune_blocks}."
            )
        if self.fine_tune_epochs < 0:
            raise ConfigError(
                f"fine_tune_epochs must be >= 0, got {self.fine_tune_epochs}."
            )
        if not self.fine_tune_learning_rate > 0:
            raise ConfigError(
                f"fine_tune_learning_rate must be > 0, got {self.fine_tune_learning_rate}."
            )


def build_vgg16_transfer(config, *, input_shape, num_classes):
    """Builds VGG16 (no top) plus a new head, taking raw 0..255 RGB images.

    Args:
        config: A `VGG16TransferConfig`.
        input_shape: `(height, width, 3)`, both sides >= 32.
        num_classes: Number of classes (2 gives one sigmoid unit).

    Example:
    >>> config = VGG16TransferConfig(weights="random", input_size=32, dense_units=(8,))
    >>> build_vgg16_transfer(config, input_shape=(32, 32, 3), num_classes=10).output_shape
    (None, 10)
    """
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ConfigError(
            f"VGG16 takes RGB images (height, width, 3), got input shape {tuple(input_shape)}; "
            "load the data with --data-option channels=3."
        )
    if min(input_shape[:2]) < MIN_INPUT_SIZE:
        raise ConfigError(
            f"VGG16 needs inputs of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}, got {input_shape[0]}x{input_shape[1]}; "
            f"use --set input_size={MIN_INPUT_SIZE} or more."
        )
    if num_classes is None:
        raise ConfigError(
            "VGG16 transfer models are classifiers; give a dataset with class labels."
        )
    base = vgg16_base(keras_weights(config.weights), tuple(input_shape))
    set_trainable_blocks(base, config.trainable_blocks)
    inputs = keras.Input(shape=input_shape, name="image")
    x = VGG16Preprocess(name="vgg16_preprocess")(inputs)
    # training=False keeps the base in inference mode even when unfrozen, as the Keras guide advises.
    x = base(x, training=False)
    x = feature_cache.mark_features(x)
    if config.head_batch_norm:
        # Momentum 0.9, not 0.99: the moving statistics must settle within the
        # first epoch, or validation sees features scaled by the initial variance.
        x = keras.layers.BatchNormalization(momentum=0.9, name="head_input_bn")(x)
    outputs = HEAD_BUILDERS[config.head](x, config, num_classes)
    return keras.Model(inputs, outputs, name=f"vgg16_{config.head}")


def _num_classes_of(model):
    units = model.output_shape[-1]
    return 2 if units == 1 else units


def fine_tune(
    model,
    config,
    train,
    *,
    validation_data=None,
    epochs,
    callbacks=None,
    initial_epoch=0,
    **kwargs,
):
    """The two training phases, logged as one history.

    Phase 1 trains up to epoch `epochs` with the base as configured (frozen by
    default; a frozen base on un-augmented images runs once, `zoo.feature_cache`). Phase 2, when `config.fine_tune_epochs > 0`, unfreezes the top
    `fine_tune_blocks` blocks, recompiles with `fine_tune_learning_rate` and
    continues with `initial_epoch` where phase 1 ended, up to epoch
    `epochs + fine_tune_epochs`. A resumed run (whose backup already lies
    past `epochs`) goes straight on with phase 2.

    Returns:
        The merged history: `{metric: [value per epoch]}` with a "phase" list.
    """
    history = {}

    def record(result, phase):
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        history.setdefault("phase", []).extend(
            [phase] * len(result.history.get("loss", []))
        )

    # A frozen base on un-augmented images gives the same features every
    # epoch: computed once, the head trains on them (zoo.feature_cache).
    phase_one = feature_cache.fit_head(
        model,
        train,
        validation_data=validation_data,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        enabled=config.feature_cache,
        **kwargs,
    )
    record(phase_one, 1)
    if config.fine_tune_epochs <= 0:
        return history
    reached = initial_epoch + len(phase_one.history.get("loss", []))
    base = model.get_layer("vgg16")
    set_trainable_blocks(base, max(config.fine_tune_blocks, config.trainable_blocks))
    # Keep the steps per execution the caller fitted to the training stream.
    per_execution = model.steps_per_execution
    default_compile(
        model,
        dataclasses.replace(config, learning_rate=config.fine_tune_learning_rate),
        num_classes=_num_classes_of(model),
    )
    model.steps_per_execution = per_execution
    phase_two = model.fit(
        train,
        validation_data=validation_data,
        epochs=epochs + config.fine_tune_epochs,
        initial_epoch=reached,
        callbacks=callbacks,
        **kwargs,
    )
    record(phase_two, 2)
    return history


def vgg16_data_options(config):
    """VGG16 needs RGB images at `input_size`."""
    return {"image_size": config.input_size, "channels": 3}


SEARCH_SPACE = {
    "head": ["gap_dense", "conv_block", "conv_as_dense"],
    "dense_units": [64, 128, 256],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.25},
    "trainable_blocks": {"min": 0, "max": 1},
    "learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log"},
}


def vgg16_space_to_config(values):
    """Two dense layers, the second half as wide."""
    units = values["dense_units"]
    return {**values, "dense_units": (units, units // 2)}


register_family(
    Family(
        name="vgg16_transfer",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        space_to_config=vgg16_space_to_config,
        config_class=VGG16TransferConfig,
        build=build_vgg16_transfer,
        compile=default_compile,
        data_kind="image",
        default_data="digits",
        data_options=vgg16_data_options,
        fit=fine_tune,
        epochs=10,
        batch_size=32,
        description="VGG16 (keras.applications) base with a new head; two-phase fine-tuning.",
    )
)


@register_model(family="vgg16_transfer")
def vgg16_frozen():
    """ImageNet VGG16 frozen at 224x224, global-average-pool + dense(256, 128) head."""
    return VGG16TransferConfig()


@register_model(family="vgg16_transfer")
def vgg16_conv_block():
    """ImageNet VGG16 frozen, head: conv3x3(256) + max-pool, dense 256-128, output."""
    return VGG16TransferConfig(head="conv_block")


@register_model(family="vgg16_transfer")
def vgg16_conv_as_dense():
    """ImageNet VGG16 frozen, head: full-extent conv(256) and 1x1 conv(128) as the dense layers."""
    return VGG16TransferConfig(head="conv_as_dense")


@register_model(family="vgg16_transfer")
def vgg16_fine_tune():
    """ImageNet VGG16: 10 epochs on the head, then 5 with block 5 unfrozen at learning rate 1e-5."""
    return VGG16TransferConfig(fine_tune_epochs=5, fine_tune_blocks=1)


@register_model(family="vgg16_transfer", tiny=True)
def vgg16_tiny():
    """Random-weight VGG16 on 32x32 images with a dense(8) head: downloads nothing, for tests."""
    return VGG16TransferConfig(
        weights="random", input_size=32, dense_units=(8,), dropout_rate=0.0
    )

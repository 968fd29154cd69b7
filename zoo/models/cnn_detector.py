"""A one-stage grid detector in the manner of YOLO v1, on a LeNet-5-style trunk.

Conv blocks (the small CNN family's, `zoo.models.cnn.conv_block`) pool the
image down to an S x S grid; a few 3x3 convolutions at that resolution widen
what each cell sees; a 1x1 convolution predicts per cell objectness, class
logits and a box, which `GridBoxHead` turns into slots (`zoo.boxes`). The
loss is `GridDetectionLoss` (each true box belongs to the cell holding its
centre); the saved model ends in `DecodeDetections` (per-class non-maximum
suppression), so a raw image goes in and boxes come out. One box per cell,
where YOLO v1 has two: the digits' sizes vary little.
"""

import dataclasses

import keras

from zoo.box_evaluation import evaluate_boxes
from zoo.box_losses import GridDetectionLoss, check_box_loss
from zoo.boxes import DecodeDetections, GridBoxHead, slot_width
from zoo.compile import make_optimizer
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.models.cnn import ACTIVATIONS, cnn_data_options, conv_trunk
from zoo.preprocessing import Preprocessing
from zoo.registry import Family, register_family, register_model

# Share of cells holding an object at the start: about 2.5 digits in 144 cells.
OBJECT_PRIOR = 0.02

# === Config ===


@dataclasses.dataclass
class DetectorConfig(BaseConfig):
    """Config of the grid detector.

    Attributes:
        filters: Filters of each pooled conv block; each block halves the
            image, so a 96-pixel image and 3 blocks give a 12 x 12 grid.
        kernel_sizes: One kernel size for every block, or one per block.
        convs_per_block, batch_norm, activation, dropout_rate, seed: As in
            the small CNN family (`CNNConfig`).
        head_filters: 3x3 convolutions at grid resolution before the
            prediction layer.
        box_loss, box_weight, class_weight, no_object_weight: The loss
            (`GridDetectionLoss`); YOLO v1 weighs boxes 5 and empty cells 0.5.
        max_detections, iou_threshold, score_threshold: Decoding of the saved
            model (non-maximum suppression).
        image_size, channels: Loader options for users' images.
    """

    filters: tuple[int, ...] = (16, 32, 64)
    kernel_sizes: tuple[int, ...] = (3,)
    convs_per_block: int = 1
    batch_norm: bool = True
    activation: str = "relu"
    dropout_rate: float = 0.0
    head_filters: tuple[int, ...] = (128, 128)
    box_loss: str = "giou"
    box_weight: float = 5.0
    class_weight: float = 1.0
    no_object_weight: float = 0.5
    max_detections: int = 20
    iou_threshold: float = 0.5
    score_threshold: float = 0.3
    image_size: int | None = None
    channels: int | None = None
    seed: int | None = None
    steps_per_execution: int = 8

    # Fixed, not fields: the grid's cells must line up with the pooling.
    @property
    def padding(self):
        return "same"

    @property
    def pooling(self):
        return "max"

    def block_kernel_sizes(self):
        if len(self.kernel_sizes) == 1:
            return tuple(self.kernel_sizes) * len(self.filters)
        return tuple(self.kernel_sizes)

    def validate(self):
        super().validate()
        check_box_loss(self.box_loss)
        if not self.filters or any(f < 1 for f in self.filters):
            raise ConfigError(
                f"filters must be one or more positive counts, got {self.filters}."
            )
        if len(self.kernel_sizes) not in (1, len(self.filters)) or any(
            k < 1 for k in self.kernel_sizes
        ):
            raise ConfigError(
                f"kernel_sizes must be one size or one per block, got {self.kernel_sizes}."
            )
        if self.activation not in ACTIVATIONS:
            raise ConfigError(
                f"Unknown activation {self.activation!r}; choose one of {', '.join(ACTIVATIONS)}."
            )
        if self.convs_per_block < 1 or any(f < 1 for f in self.head_filters):
            raise ConfigError("convs_per_block and head_filters must be positive.")
        if not 0 <= self.dropout_rate < 1:
            raise ConfigError(
                f"dropout_rate must be in [0, 1), got {self.dropout_rate}."
            )
        for name in ("box_weight", "class_weight", "no_object_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}.")
        if (
            self.max_detections < 1
            or not 0 < self.iou_threshold <= 1
            or not 0 <= self.score_threshold < 1
        ):
            raise ConfigError(
                "max_detections must be >= 1, iou_threshold in (0, 1] and score_threshold in [0, 1)."
            )
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"channels must be 1, 3 or unset, got {self.channels}.")


# === Functional Model ===


def build_cnn_detector(config, *, input_shape, num_classes):
    """Builds the grid detector on raw 0..255 images.

    Args:
        config: A `DetectorConfig`.
        input_shape: `(height, width, channels)`.
        num_classes: Number of object classes.

    Returns:
        A model answering `[batch, S, S, 5 + num_classes]` slots.

    Example:
    >>> model = build_cnn_detector(cnn_detector_tiny(), input_shape=(32, 32, 1), num_classes=10)
    >>> model.output_shape
    (None, 8, 8, 15)
    """
    if len(input_shape) != 3 or num_classes is None:
        raise ConfigError(
            "cnn_detector takes images with boxes (the image_boxes data kind)."
        )
    inputs, x = conv_trunk(config, input_shape)
    for index, filters in enumerate(config.head_filters):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation=config.activation,
            kernel_initializer=keras.initializers.HeUniform(seed=config.seed),
            name=f"head_conv{index + 1}",
        )(x)
    x = keras.layers.Conv2D(
        slot_width(num_classes), 1, name="cell_predictions", dtype="float32"
    )(x)
    outputs = GridBoxHead(num_classes, object_prior=OBJECT_PRIOR, name="slots")(x)
    return keras.Model(inputs, outputs, name="cnn_detector")


def compile_cnn_detector(model, config, *, num_classes, total_steps=None):
    """The config's optimizer on `GridDetectionLoss` (no per-batch metric: mAP is computed at the end)."""
    del total_steps
    model.compile(
        optimizer=make_optimizer(config.optimizer, config.learning_rate),
        loss=GridDetectionLoss(
            num_classes,
            box_loss=config.box_loss,
            box_weight=config.box_weight,
            class_weight=config.class_weight,
            no_object_weight=config.no_object_weight,
        ),
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model


def detector_adapt(config, bundle):
    """The saved model answers boxes: `DecodeDetections` follows the grid."""
    return Preprocessing(
        postprocessor=DecodeDetections(
            bundle.num_classes,
            max_detections=config.max_detections,
            iou_threshold=config.iou_threshold,
            score_threshold=config.score_threshold,
        )
    )


def evaluate_cnn_detector(model, config, bundle):
    """mAP@0.5 (per class and mean), mAP@0.5:0.95; the mean-box and foreground-box baselines."""
    return evaluate_boxes(model, config, bundle, localizer=False)


# === Search space and registration ===

SEARCH_SPACE = {
    "base_filters": [16, 32],
    "num_blocks": [3, 4],
    "batch_norm": [True, False],
    "head_convs": {"min": 1, "max": 2, "default": 2},
    "head_width": [128, 64, 256],
    "box_loss": ["giou", "iou", "smooth_l1", "l1"],
    "no_object_weight": [0.5, 0.25, 1.0],
    "learning_rate": {"min": 3e-4, "max": 3e-3, "sampling": "log", "default": 1e-3},
}


def detector_space_to_config(values):
    """Doubling filters per block; `head_convs` convolutions of `head_width`."""
    values = dict(values)
    base, blocks = values.pop("base_filters"), values.pop("num_blocks")
    convs, width = values.pop("head_convs"), values.pop("head_width")
    return {
        **values,
        "filters": tuple(base * 2**index for index in range(blocks)),
        "head_filters": (width,) * convs,
    }


register_family(
    Family(
        name="cnn_detector",
        config_class=DetectorConfig,
        build=build_cnn_detector,
        compile=compile_cnn_detector,
        data_kind="image_boxes",
        default_data="digit_scenes",
        data_options=cnn_data_options,
        adapt=detector_adapt,
        evaluate=evaluate_cnn_detector,
        tasks=("detection",),
        search_space=SEARCH_SPACE,
        space_to_config=detector_space_to_config,
        epochs=30,
        batch_size=32,
        description="One-stage YOLO v1-style grid detector (objectness, class, box per cell) with NMS.",
    )
)


@register_model(family="cnn_detector")
def cnn_detector_small():
    """Three 3x3 blocks (16, 32, 64) with batch norm, two 3x3 head convs of 128: a 12x12 grid on 96 pixels."""
    return DetectorConfig()


@register_model(family="cnn_detector")
def cnn_detector_lenet5():
    """LeNet-5 trunk widths with 5x5 kernels (20, 50) and a third block (64), no batch norm; head 128."""
    return DetectorConfig(
        filters=(20, 50, 64), kernel_sizes=(5,), batch_norm=False, head_filters=(128,)
    )


@register_model(family="cnn_detector")
def cnn_detector_deep():
    """Three blocks of two 3x3 convs (32, 64, 128) with batch norm; two head convs of 256."""
    return DetectorConfig(
        filters=(32, 64, 128), convs_per_block=2, head_filters=(256, 256)
    )


@register_model(family="cnn_detector", tiny=True)
def cnn_detector_tiny():
    """Two blocks of 4 and 8 filters, one head conv of 8: for tests."""
    return DetectorConfig(filters=(4, 8), batch_norm=False, head_filters=(8,))

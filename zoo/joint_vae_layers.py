"""JointVAE building blocks: the latent samplers, the encoder and the decoder.

Read top to bottom as in keras-io's VAE example: the sampling layers (a
Gaussian reparameterisation and a Gumbel-softmax relaxation of each categorical
code), then the convolutional encoder (image -> latent parameters) and its
mirror, the decoder (latent vector -> pixel logits). The model that joins them
with its loss and `train_step` is `zoo.joint_vae_model.JointVAE`; the family
(config, builder, variants) is `zoo.models.joint_vae`.
"""

import math

import keras
from keras import ops

from zoo.errors import ConfigError

EPSILON = 1e-12


# ---------------------------------------------------------------- sampling layers


@keras.saving.register_keras_serializable(package="zoo")
class GaussianSampler(keras.layers.Layer):
    """Reparameterised sample `mean + exp(logvar / 2) * noise`; the mean at inference."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        mean, logvar = inputs
        if not training:
            return mean
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * logvar) * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="zoo")
class GumbelSoftmax(keras.layers.Layer):
    """Relaxed one-hot sample of a categorical distribution given its probabilities.

    Training: `softmax((log(alpha) + gumbel_noise) / temperature)`, a point of
    the probability simplex that approaches a one-hot vector as the
    temperature falls. Inference: the one-hot vector of the most probable
    category, so predictions are deterministic.

    Args:
        temperature: Relaxation temperature (> 0); 0.67 in the paper.
        seed: Seed of the Gumbel noise, or None.
    """

    def __init__(self, temperature=0.67, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, alpha, training=False):
        if not training:
            return ops.one_hot(
                ops.argmax(alpha, axis=-1), ops.shape(alpha)[-1], dtype=alpha.dtype
            )
        # Uniform in [eps, 1) keeps both logarithms finite.
        uniform = keras.random.uniform(
            ops.shape(alpha), minval=EPSILON, maxval=1.0, seed=self.seed_generator
        )
        gumbel = -ops.log(-ops.log(uniform))
        logits = (ops.log(alpha + EPSILON) + gumbel) / self.temperature
        return ops.softmax(logits, axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "seed": self.seed,
        }


# ---------------------------------------------------------------- encoder


def num_blocks_for(image_size):
    """Stride-2 blocks between the image and the 4x4 feature map."""
    blocks = math.log2(image_size / 4) if image_size >= 8 else 0
    if image_size < 8 or blocks != int(blocks):
        raise ConfigError(
            f"JointVAE needs square images of side 4 * 2**k (8, 16, 32, 64, 128), "
            f"got {image_size}. Set image_size=32 or 64."
        )
    return int(blocks)


def block_filters(filters, num_blocks):
    """Filters per encoder block: extra blocks repeat the first entry, as in the
    paper's 64x64 model (32-32-64-64) built on the 32x32 one (32-64-64)."""
    filters = tuple(filters)
    if len(filters) >= num_blocks:
        return filters[len(filters) - num_blocks :]
    return (filters[0],) * (num_blocks - len(filters)) + filters


INITIALIZERS = ("glorot", "pytorch")
# Every (transposed) convolution of the paper's network: 4x4, stride 2.
KERNEL_SIZE = 4


def initializers(config, fan_in):
    """Kernel and bias initialisers of a layer whose outputs each see `fan_in`
    inputs: Keras' defaults for "glorot" (Glorot-uniform kernel, zero bias);
    for "pytorch", PyTorch's default, which the paper's reference code runs
    with: kernel and bias both uniform in +-1/sqrt(fan_in) (for a transposed
    convolution PyTorch counts its output channels as the fan-in).

    By hand for the bias: Keras' `VarianceScaling(1 / 3, "fan_in", "uniform")`
    draws the same kernels, but no Keras initialiser sizes a bias by its
    layer's fan-in, so one bound serves both.
    """
    if config.initializer == "glorot":
        return {}
    bound = 1.0 / math.sqrt(fan_in)
    return {
        "kernel_initializer": keras.initializers.RandomUniform(-bound, bound),
        "bias_initializer": keras.initializers.RandomUniform(-bound, bound),
    }


def build_encoder(image_shape, config):
    """Image -> {"mean", "logvar", "alpha_0", ...} (alphas are softmax probabilities)."""
    num_blocks = num_blocks_for(image_shape[0])
    inputs = keras.Input(shape=image_shape, name="images")
    x = inputs
    for index, filters in enumerate(block_filters(config.filters, num_blocks)):
        x = keras.layers.Conv2D(
            filters,
            KERNEL_SIZE,
            strides=2,
            padding="same",
            activation="relu",
            name=f"conv_{index}",
            **initializers(config, KERNEL_SIZE**2 * x.shape[-1]),
        )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(
        config.hidden_units,
        activation="relu",
        name="hidden",
        **initializers(config, x.shape[-1]),
    )(x)
    outputs = {}
    if config.continuous_dim:
        outputs["mean"] = keras.layers.Dense(
            config.continuous_dim, name="mean", **initializers(config, x.shape[-1])
        )(x)
        outputs["logvar"] = keras.layers.Dense(
            config.continuous_dim, name="logvar", **initializers(config, x.shape[-1])
        )(x)
    for index, categories in enumerate(config.discrete_dims):
        head = initializers(config, x.shape[-1])
        # A small alpha kernel starts every image near the uniform code (KL_c
        # = 0, the discrete capacity's start); Glorot's larger one sends most
        # digits to two or three categories before training starts.
        if config.alpha_init_scale is not None:
            head = {
                **head,
                "kernel_initializer": keras.initializers.RandomNormal(
                    stddev=config.alpha_init_scale
                ),
            }
        outputs[f"alpha_{index}"] = keras.layers.Dense(
            categories,
            activation="softmax",
            name=f"alpha_{index}",
            dtype="float32",
            **head,
        )(x)
    return keras.Model(inputs, outputs, name="encoder")


# ---------------------------------------------------------------- decoder


def build_decoder(image_shape, config):
    """Latent vector [z, one-hot c...] -> pixel logits (the model applies the sigmoid)."""
    num_blocks = num_blocks_for(image_shape[0])
    filters = block_filters(config.filters, num_blocks)
    latent_size = config.continuous_dim + sum(config.discrete_dims)
    inputs = keras.Input(shape=(latent_size,), name="latent")
    x = keras.layers.Dense(
        config.hidden_units,
        activation="relu",
        name="hidden",
        **initializers(config, latent_size),
    )(inputs)
    x = keras.layers.Dense(
        4 * 4 * filters[-1],
        activation="relu",
        name="features",
        **initializers(config, config.hidden_units),
    )(x)
    x = keras.layers.Reshape((4, 4, filters[-1]), name="reshape")(x)
    # Mirror of the encoder: the last transposed convolution gives the pixels.
    for index, block in enumerate(reversed(filters[:-1])):
        x = keras.layers.Conv2DTranspose(
            block,
            KERNEL_SIZE,
            strides=2,
            padding="same",
            activation="relu",
            name=f"deconv_{index}",
            **initializers(config, KERNEL_SIZE**2 * block),
        )(x)
    logits = keras.layers.Conv2DTranspose(
        image_shape[-1],
        KERNEL_SIZE,
        strides=2,
        padding="same",
        name="pixel_logits",
        dtype="float32",
        **initializers(config, KERNEL_SIZE**2 * image_shape[-1]),
    )(x)
    return keras.Model(inputs, logits, name="decoder")

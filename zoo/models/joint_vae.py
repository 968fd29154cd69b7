"""JointVAE: disentangled continuous and discrete latents (Dupont, 2018).

"Learning Disentangled Joint Continuous and Discrete Representations",
Emilien Dupont, NeurIPS 2018. A convolutional VAE whose latent code is a
Gaussian part `z` plus one or more categorical parts `c`, each relaxed with
the Gumbel-softmax during training. The loss keeps each KL term close to a
capacity that rises linearly with the number of training steps:

    reconstruction + gamma_z * |KL_z - C_z(t)| + gamma_c * |KL_c - C_c(t)|

where the discrete capacity never exceeds sum(log(categories)), the most
information the categorical codes can carry, and the n-th training step uses
C(n), as in the paper's code. The step counter `t` is a model variable, so it is saved in `.keras` files and checkpoints and a resumed run
continues the schedule where it stopped.

Example (images: float32 `[N, 16, 16, 1]` in [0, 1]):
    >>> family, config = resolve_config("joint_vae_tiny")
    >>> model = build_joint_vae(config, input_shape=(16, 16, 1))
    >>> compile_joint_vae(model, config)
    >>> model.fit(images, epochs=1)           # the model's own loss; labels ignored
    >>> codes = encode(model, images)         # {"mean", "logvar", "alphas", "categories", ...}
    >>> grid = traverse(model, num_steps=8)   # [rows, 8, 16, 16, 1]
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.compile import make_optimizer, optimizer_options
from zoo.config import BaseConfig
from zoo.errors import ConfigError, DataError
from zoo.registry import Evaluation, Family, register_family, register_model

EPSILON = 1e-12
METRIC_NAMES = (
    "loss",
    "reconstruction_loss",
    "kl_z",
    "kl_c",
    "capacity_z",
    "capacity_c",
)


# ---------------------------------------------------------------- building blocks


def linear_capacity(step, minimum, maximum, num_steps):
    """Capacity after `step` training steps: linear from `minimum` to `maximum`.

    Reaches `maximum` at `step == num_steps` and stays there; `num_steps == 0`
    means the maximum from the start. Works on Python numbers and tensors.

    >>> linear_capacity(2500, 0.0, 5.0, 25000)
    0.5
    """
    if num_steps <= 0:
        return maximum + 0.0 * step
    fraction = step / float(num_steps)
    if isinstance(step, int | float):
        fraction = min(fraction, 1.0)
    else:
        fraction = ops.minimum(fraction, 1.0)
    return minimum + (maximum - minimum) * fraction


def discrete_capacity_limit(discrete_dims):
    """The most information (nats) categorical codes can hold: sum(log(k))."""
    return float(sum(math.log(k) for k in discrete_dims))


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


def build_encoder(image_shape, config):
    """Image -> {"mean", "logvar", "alpha_0", ...} (alphas are softmax probabilities)."""
    num_blocks = num_blocks_for(image_shape[0])
    inputs = keras.Input(shape=image_shape, name="images")
    x = inputs
    for index, filters in enumerate(block_filters(config.filters, num_blocks)):
        x = keras.layers.Conv2D(
            filters,
            4,
            strides=2,
            padding="same",
            activation="relu",
            name=f"conv_{index}",
        )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
    outputs = {}
    if config.continuous_dim:
        outputs["mean"] = keras.layers.Dense(config.continuous_dim, name="mean")(x)
        outputs["logvar"] = keras.layers.Dense(config.continuous_dim, name="logvar")(x)
    for index, categories in enumerate(config.discrete_dims):
        outputs[f"alpha_{index}"] = keras.layers.Dense(
            categories, activation="softmax", name=f"alpha_{index}", dtype="float32"
        )(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_decoder(image_shape, config):
    """Latent vector [z, one-hot c...] -> pixel logits (the model applies the sigmoid)."""
    num_blocks = num_blocks_for(image_shape[0])
    filters = block_filters(config.filters, num_blocks)
    latent_size = config.continuous_dim + sum(config.discrete_dims)
    inputs = keras.Input(shape=(latent_size,), name="latent")
    x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(
        inputs
    )
    x = keras.layers.Dense(4 * 4 * filters[-1], activation="relu", name="features")(x)
    x = keras.layers.Reshape((4, 4, filters[-1]), name="reshape")(x)
    # Mirror of the encoder: the last transposed convolution gives the pixels.
    for index, block in enumerate(reversed(filters[:-1])):
        x = keras.layers.Conv2DTranspose(
            block,
            4,
            strides=2,
            padding="same",
            activation="relu",
            name=f"deconv_{index}",
        )(x)
    logits = keras.layers.Conv2DTranspose(
        image_shape[-1],
        4,
        strides=2,
        padding="same",
        name="pixel_logits",
        dtype="float32",
    )(x)
    return keras.Model(inputs, logits, name="decoder")


@keras.saving.register_keras_serializable(package="zoo")
class JointVAE(keras.Model):
    """Joint continuous/discrete VAE with capacity-controlled KL terms.

    `model(images)` returns reconstructions in [0, 1] (latent means and
    arg-max categories at inference). `fit` and `evaluate` use the model's own
    loss: compile with an optimizer only. Labels in the data are ignored.

    Args:
        image_shape: `(size, size, channels)`, size 4 * 2**k.
        continuous_dim: Size of the Gaussian latent (0 for none).
        discrete_dims: Number of categories of each categorical latent.
        filters: Encoder convolution filters (see `block_filters`).
        hidden_units: Units of the dense layer on each side.
        temperature: Gumbel-softmax temperature.
        gamma_z, gamma_c: Weights of the continuous and discrete KL terms.
        capacity_z_min, capacity_z_max, capacity_z_steps: Continuous capacity
            schedule, in nats and training steps.
        capacity_c_min, capacity_c_max, capacity_c_steps: Discrete capacity
            schedule; its value is capped at sum(log(discrete_dims)).
        seed: Seed of the samplers, or None.
    """

    def __init__(
        self,
        image_shape,
        continuous_dim=10,
        discrete_dims=(10,),
        filters=(32, 64, 64),
        hidden_units=256,
        temperature=0.67,
        gamma_z=30.0,
        gamma_c=30.0,
        capacity_z_min=0.0,
        capacity_z_max=5.0,
        capacity_z_steps=25000,
        capacity_c_min=0.0,
        capacity_c_max=5.0,
        capacity_c_steps=25000,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.continuous_dim = int(continuous_dim)
        self.discrete_dims = tuple(int(k) for k in discrete_dims)
        self.filters = tuple(int(f) for f in filters)
        self.hidden_units = int(hidden_units)
        self.temperature = float(temperature)
        self.gamma_z = float(gamma_z)
        self.gamma_c = float(gamma_c)
        self.capacity_z_min = float(capacity_z_min)
        self.capacity_z_max = float(capacity_z_max)
        self.capacity_z_steps = int(capacity_z_steps)
        self.capacity_c_min = float(capacity_c_min)
        self.capacity_c_max = float(capacity_c_max)
        self.capacity_c_steps = int(capacity_c_steps)
        self.seed = seed
        self.discrete_limit = discrete_capacity_limit(self.discrete_dims)

        self.encoder = build_encoder(self.image_shape, self)
        self.decoder = build_decoder(self.image_shape, self)
        self.gaussian_sampler = GaussianSampler(seed=seed, name="gaussian_sampler")
        self.gumbel_samplers = [
            GumbelSoftmax(
                self.temperature,
                seed=None if seed is None else seed + 1 + index,
                name=f"gumbel_softmax_{index}",
            )
            for index in range(len(self.discrete_dims))
        ]
        # Training steps taken: drives the capacity schedule. A model variable,
        # so it is saved with the weights and restored on load and resume.
        self.step_counter = self.add_weight(
            name="step_counter",
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.trackers = {name: keras.metrics.Mean(name=name) for name in METRIC_NAMES}
        # Built from the start (fit goes through train_step, never __call__), so
        # weights load into a fresh model and a loaded optimizer keeps its state.
        self.build((None, *self.image_shape))

    @property
    def latent_size(self):
        return self.continuous_dim + sum(self.discrete_dims)

    def build(self, input_shape=None):
        # Encoder and decoder are built in __init__; nothing depends on the batch.
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ---- schedule

    def capacities(self, step=None):
        """`(C_z, C_c)` after `step` training steps (default: the step counter)."""
        if step is None:
            step = ops.cast(self.step_counter, "float32")
        capacity_z = linear_capacity(
            step, self.capacity_z_min, self.capacity_z_max, self.capacity_z_steps
        )
        capacity_c = linear_capacity(
            step, self.capacity_c_min, self.capacity_c_max, self.capacity_c_steps
        )
        if isinstance(step, int | float):
            return capacity_z, min(capacity_c, self.discrete_limit)
        return capacity_z, ops.minimum(capacity_c, self.discrete_limit)

    # ---- forward

    def encode_parameters(self, images, training=False):
        """`{"mean", "logvar", "alpha_0", ...}` for a batch of images."""
        return self.encoder(images, training=training)

    def sample_latent(self, parameters, training=False):
        """The decoder's input: [z, c_0, c_1, ...] sampled (training) or modal."""
        parts = []
        if self.continuous_dim:
            parts.append(
                self.gaussian_sampler(
                    [parameters["mean"], parameters["logvar"]], training=training
                )
            )
        for index, sampler in enumerate(self.gumbel_samplers):
            parts.append(sampler(parameters[f"alpha_{index}"], training=training))
        return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)

    def decode(self, latent, training=False):
        """Latent vectors -> images in [0, 1]."""
        return ops.sigmoid(self.decoder(latent, training=training))

    def call(self, images, training=False):
        parameters = self.encode_parameters(images, training=training)
        latent = self.sample_latent(parameters, training=training)
        return self.decode(latent, training=training)

    # ---- loss

    def compute_terms(self, images, training=False):
        """Loss and its parts, each averaged over the batch."""
        images = ops.cast(images, "float32")
        parameters = self.encode_parameters(images, training=training)
        latent = self.sample_latent(parameters, training=training)
        logits = self.decoder(latent, training=training)
        # Bernoulli cross-entropy summed over pixels, mean over the batch.
        cross_entropy = ops.binary_crossentropy(images, logits, from_logits=True)
        reconstruction = ops.mean(
            ops.sum(ops.reshape(cross_entropy, (ops.shape(images)[0], -1)), axis=-1)
        )
        kl_z = ops.zeros(())
        if self.continuous_dim:
            mean, logvar = parameters["mean"], parameters["logvar"]
            kl_z = ops.mean(
                ops.sum(
                    0.5 * (ops.square(mean) + ops.exp(logvar) - 1.0 - logvar), axis=-1
                )
            )
        kl_c = ops.zeros(())
        for index, categories in enumerate(self.discrete_dims):
            alpha = parameters[f"alpha_{index}"]
            # KL to the uniform prior: log(k) - entropy(alpha).
            negative_entropy = ops.sum(alpha * ops.log(alpha + EPSILON), axis=-1)
            kl_c = kl_c + math.log(categories) + ops.mean(negative_entropy)
        capacity_z, capacity_c = self.capacities()
        loss = reconstruction
        if self.continuous_dim:
            loss = loss + self.gamma_z * ops.abs(kl_z - capacity_z)
        if self.discrete_dims:
            loss = loss + self.gamma_c * ops.abs(kl_c - capacity_c)
        return {
            "loss": loss,
            "reconstruction_loss": reconstruction,
            "kl_z": kl_z,
            "kl_c": kl_c,
            "capacity_z": ops.convert_to_tensor(capacity_z, "float32"),
            "capacity_c": ops.convert_to_tensor(capacity_c, "float32"),
        }

    def _record(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        # As in the paper's code, the n-th step (from 1) trains at capacity C(n).
        self.step_counter.assign_add(1)
        with tf.GradientTape() as tape:
            terms = self.compute_terms(images, training=True)
        gradients = tape.gradient(terms["loss"], self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._record(terms)

    def test_step(self, data):
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._record(self.compute_terms(images, training=False))

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_shape": list(self.image_shape),
            "continuous_dim": self.continuous_dim,
            "discrete_dims": list(self.discrete_dims),
            "filters": list(self.filters),
            "hidden_units": self.hidden_units,
            "temperature": self.temperature,
            "gamma_z": self.gamma_z,
            "gamma_c": self.gamma_c,
            "capacity_z_min": self.capacity_z_min,
            "capacity_z_max": self.capacity_z_max,
            "capacity_z_steps": self.capacity_z_steps,
            "capacity_c_min": self.capacity_c_min,
            "capacity_c_max": self.capacity_c_max,
            "capacity_c_steps": self.capacity_c_steps,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


# ---------------------------------------------------------------- config


@dataclasses.dataclass
class JointVAEConfig(BaseConfig):
    """Config of a JointVAE.

    Attributes:
        image_size: Side of the square images the data is resized to (4 * 2**k).
        channels: 1 (grey) or 3 (RGB), or None to keep the data's own.
        continuous_dim: Size of the Gaussian latent (0 for none).
        discrete_dims: Categories of each categorical latent (empty for none).
        filters: Encoder convolution filters for a 32x32 image (4x4, stride 2);
            larger images repeat the first entry, as in the paper.
        hidden_units: The dense layer on each side of the latent.
        temperature: Gumbel-softmax temperature (0.67 in the paper).
        gamma_z, gamma_c: Weights of |KL - capacity| for each latent part.
        capacity_z_min, capacity_z_max, capacity_z_steps: The continuous
            capacity rises linearly from min to max (nats) over this many steps.
        capacity_c_min, capacity_c_max, capacity_c_steps: The same for the
            discrete part, capped at sum(log(discrete_dims)).
        seed: Seed of the samplers, or None.
    """

    learning_rate: float = 5e-4
    image_size: int = 32
    channels: int | None = None
    continuous_dim: int = 10
    discrete_dims: tuple[int, ...] = (10,)
    filters: tuple[int, ...] = (32, 64, 64)
    hidden_units: int = 256
    temperature: float = 0.67
    gamma_z: float = 30.0
    gamma_c: float = 30.0
    capacity_z_min: float = 0.0
    capacity_z_max: float = 5.0
    capacity_z_steps: int = 25000
    capacity_c_min: float = 0.0
    capacity_c_max: float = 5.0
    capacity_c_steps: int = 25000
    seed: int | None = None

    def validate(self):
        super().validate()
        num_blocks_for(self.image_size)
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"channels must be 1, 3 or None, got {self.channels}.")
        if self.continuous_dim < 0:
            raise ConfigError(
                f"continuous_dim must be >= 0, got {self.continuous_dim}."
            )
        if any(k < 2 for k in self.discrete_dims):
            raise ConfigError(
                f"Each of discrete_dims needs >= 2 categories, got {self.discrete_dims}."
            )
        if self.continuous_dim == 0 and not self.discrete_dims:
            raise ConfigError(
                "JointVAE needs a latent: set continuous_dim > 0 or discrete_dims, "
                "for example continuous_dim=10 discrete_dims=10."
            )
        if not self.filters or any(f < 1 for f in self.filters):
            raise ConfigError(f"filters must be positive integers, got {self.filters}.")
        if self.hidden_units < 1:
            raise ConfigError(f"hidden_units must be >= 1, got {self.hidden_units}.")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}.")
        for name in ("gamma_z", "gamma_c", "capacity_z_min", "capacity_c_min"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}.")
        for part in ("z", "c"):
            low = getattr(self, f"capacity_{part}_min")
            high = getattr(self, f"capacity_{part}_max")
            if high < low:
                raise ConfigError(
                    f"capacity_{part}_max ({high}) is below capacity_{part}_min ({low}); "
                    "the capacity only rises."
                )
            if getattr(self, f"capacity_{part}_steps") < 0:
                raise ConfigError(
                    f"capacity_{part}_steps must be >= 0 (0: maximum at once)."
                )


# ---------------------------------------------------------------- builder


def build_joint_vae(config, *, input_shape, num_classes=None):
    """Builds a `JointVAE` for images of `input_shape`.

    Args:
        config: A `JointVAEConfig`.
        input_shape: `(size, size, channels)` with size 4 * 2**k.
        num_classes: Ignored (the model is unsupervised); labels only serve
            evaluation.

    Example:
    >>> model = build_joint_vae(JointVAEConfig(), input_shape=(32, 32, 1))
    >>> model.latent_size
    20
    """
    del num_classes
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[0] != input_shape[1]:
        raise ConfigError(
            f"JointVAE takes square images (size, size, channels), got input shape "
            f"{input_shape}. Load the data with image_size=32 or 64."
        )
    num_blocks_for(input_shape[0])
    fields = {f.name for f in dataclasses.fields(BaseConfig)} | {
        "image_size",
        "channels",
    }
    arguments = {k: v for k, v in dataclasses.asdict(config).items() if k not in fields}
    return JointVAE(image_shape=input_shape, name="joint_vae", **arguments)


def compile_joint_vae(model, config, *, num_classes=None, total_steps=None):
    """Adam at 5e-4 (the paper's) by default, and the model's own loss."""
    del num_classes, total_steps
    model.compile(
        optimizer=make_optimizer(
            config.optimizer, config.learning_rate, **optimizer_options(config)
        ),
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    return model


def data_options(config):
    return {"image_size": config.image_size, "channels": config.channels}


# ---------------------------------------------------------------- Python API


def _batches(array, batch_size):
    for start in range(0, len(array), batch_size):
        yield array[start : start + batch_size]


def _check_images(model, images):
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3 and model.image_shape[-1] == 1:
        images = images[..., None]
    if images.shape[1:] != model.image_shape:
        raise DataError(
            f"Images of shape {images.shape[1:]} do not fit this model, which takes "
            f"{model.image_shape}. Resize them first (values in [0, 1])."
        )
    return images


def encode(model, images, *, batch_size=256):
    """Encodes images (float in [0, 1], `[N, H, W, C]`) to latent parameters.

    Returns:
        `{"mean": [N, continuous_dim], "logvar": ..., "alphas": [[N, k], ...],
        "categories": [N, num_discrete] (arg-max of each alpha),
        "latent": [N, latent_size] (the decoder input at inference)}` as numpy.
    """
    images = _check_images(model, images)
    parts = {"mean": [], "logvar": [], "latent": []}
    alphas = [[] for _ in model.discrete_dims]
    for batch in _batches(images, batch_size):
        parameters = model.encode_parameters(batch, training=False)
        latent = model.sample_latent(parameters, training=False)
        parts["latent"].append(ops.convert_to_numpy(latent))
        if model.continuous_dim:
            parts["mean"].append(ops.convert_to_numpy(parameters["mean"]))
            parts["logvar"].append(ops.convert_to_numpy(parameters["logvar"]))
        for index in range(len(model.discrete_dims)):
            alphas[index].append(ops.convert_to_numpy(parameters[f"alpha_{index}"]))
    empty = np.zeros((len(images), 0), "float32")
    result = {
        key: np.concatenate(values) if values else empty
        for key, values in parts.items()
    }
    result["alphas"] = [np.concatenate(values) for values in alphas]
    result["categories"] = (
        np.stack([a.argmax(-1) for a in result["alphas"]], axis=-1)
        if alphas
        else np.zeros((len(images), 0), "int64")
    )
    return result


def make_latent(model, continuous=None, categories=None):
    """Decoder inputs from continuous values `[N, continuous_dim]` and category
    indices `[N, num_discrete]` (zeros and category 0 where not given)."""
    if continuous is None and categories is None:
        raise ValueError("Give continuous values, categories or both.")
    size = len(continuous) if continuous is not None else len(categories)
    if continuous is None:
        continuous = np.zeros((size, model.continuous_dim), "float32")
    if categories is None:
        categories = np.zeros((size, len(model.discrete_dims)), "int64")
    categories = np.asarray(categories).reshape(size, len(model.discrete_dims))
    parts = [np.asarray(continuous, "float32").reshape(size, model.continuous_dim)]
    for index, k in enumerate(model.discrete_dims):
        parts.append(np.eye(k, dtype="float32")[categories[:, index]])
    return np.concatenate(parts, axis=-1)


def decode(model, latent, *, batch_size=256):
    """Decodes latent vectors `[N, latent_size]` to images in [0, 1] (numpy)."""
    latent = np.asarray(latent, "float32")
    if latent.ndim != 2 or latent.shape[1] != model.latent_size:
        raise DataError(
            f"Latent vectors must have shape [N, {model.latent_size}], got {latent.shape}."
        )
    outputs = [
        ops.convert_to_numpy(model.decode(batch, training=False))
        for batch in _batches(latent, batch_size)
    ]
    return (
        np.concatenate(outputs)
        if outputs
        else np.zeros((0, *model.image_shape), "float32")
    )


def traverse(
    model, *, num_steps=8, span=2.0, base=None, traverse_dim=None, discrete_index=0
):
    """Latent traversals: one row per continuous dimension, then one per category.

    Continuous rows move one dimension from -span to +span, every other
    dimension staying at `base` (the prior mean by default), categories too.
    Category rows set discrete latent `discrete_index` to each category in
    turn and move continuous dimension `traverse_dim` (if given) across the
    same range, so each row shows one category's variations.

    Args:
        model: A `JointVAE`.
        num_steps: Columns of the grid.
        span: Range of the continuous values, in prior standard deviations.
        base: Optional `encode()` result of one image to traverse around
            (its latent means and categories); the prior mean otherwise.
        traverse_dim: Continuous dimension that the category rows move.
        discrete_index: Which categorical latent the category rows go through.

    Returns:
        Images `[rows, num_steps, H, W, C]` in [0, 1].
    """
    values = np.linspace(-span, span, num_steps, dtype="float32")
    base_continuous = np.zeros(model.continuous_dim, "float32")
    base_categories = np.zeros(len(model.discrete_dims), "int64")
    if base is not None:
        base_continuous = np.asarray(base["mean"], "float32").reshape(-1)[
            : model.continuous_dim
        ]
        base_categories = np.asarray(base["categories"]).reshape(-1)
    rows = []
    for dim in range(model.continuous_dim):
        continuous = np.tile(base_continuous, (num_steps, 1))
        continuous[:, dim] = values
        rows.append(
            make_latent(model, continuous, np.tile(base_categories, (num_steps, 1)))
        )
    if model.discrete_dims:
        categories_count = model.discrete_dims[discrete_index]
        for category in range(categories_count):
            continuous = np.tile(base_continuous, (num_steps, 1))
            if model.continuous_dim and traverse_dim is not None:
                continuous[:, traverse_dim] = values
            categories = np.tile(base_categories, (num_steps, 1))
            categories[:, discrete_index] = category
            rows.append(make_latent(model, continuous, categories))
    latent = np.concatenate(rows)
    images = decode(model, latent)
    return images.reshape(len(rows), num_steps, *model.image_shape)


def sample_prior(model, num_samples, *, seed=0):
    """Images decoded from z ~ N(0, I) and uniform categories."""
    rng = np.random.default_rng(seed)
    continuous = rng.standard_normal((num_samples, model.continuous_dim)).astype(
        "float32"
    )
    categories = (
        np.stack(
            [rng.integers(0, k, num_samples) for k in model.discrete_dims], axis=-1
        )
        if model.discrete_dims
        else None
    )
    return decode(model, make_latent(model, continuous, categories))


# ---------------------------------------------------------------- evaluation


def unsupervised_accuracy(categories, labels):
    """Accuracy of a cluster assignment under the best one-to-one mapping of
    clusters to classes (Hungarian algorithm). Examples labelled -1 are skipped.

    >>> unsupervised_accuracy(np.array([2, 2, 0, 1]), np.array([0, 0, 1, 2]))
    1.0
    """
    from scipy.optimize import linear_sum_assignment

    categories = np.asarray(categories).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    keep = labels >= 0
    categories, labels = categories[keep], labels[keep]
    if not len(labels):
        return float("nan")
    size = int(max(categories.max(), labels.max())) + 1
    counts = np.zeros((size, size), "int64")
    np.add.at(counts, (categories, labels), 1)
    rows, columns = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, columns].sum() / len(labels))


def _discretise(values, num_bins):
    values = np.asarray(values, "float64")
    low, high = values.min(), values.max()
    if high <= low:
        return np.zeros(len(values), "int64")
    edges = np.linspace(low, high, num_bins + 1)[1:-1]
    return np.digitize(values, edges)


def mutual_information_gap(codes, factors, *, num_bins=20, discrete_codes=0):
    """Mutual information gap (Chen et al., 2018) of codes against known factors.

    For each factor, the difference between the two largest mutual
    informations with single codes, divided by the factor's entropy, averaged
    over factors. Continuous codes are put into `num_bins` equal-width bins.

    Args:
        codes: `[N, num_codes]`; the last `discrete_codes` columns are already
            category indices.
        factors: `[N, num_factors]` integer factor values.

    Returns:
        `(mig, per_factor)`: the score in [0, 1] and one score per factor.
    """
    from sklearn.metrics import mutual_info_score

    codes = np.asarray(codes)
    factors = np.asarray(factors)
    num_codes = codes.shape[1]
    if num_codes < 2:
        raise ValueError("The mutual information gap needs at least two codes.")
    binned = [
        codes[:, i].astype("int64")
        if i >= num_codes - discrete_codes
        else _discretise(codes[:, i], num_bins)
        for i in range(num_codes)
    ]
    per_factor = []
    for j in range(factors.shape[1]):
        factor = factors[:, j]
        entropy = mutual_info_score(factor, factor)
        if entropy <= 0:
            continue
        informations = sorted(
            (mutual_info_score(factor, code) for code in binned), reverse=True
        )
        per_factor.append((informations[0] - informations[1]) / entropy)
    return float(np.mean(per_factor)) if per_factor else float("nan"), per_factor


def image_grid(images, *, padding=2, scale=1):
    """`[rows, cols, H, W, C]` floats in [0, 1] -> one uint8 image with gaps."""
    images = np.clip(np.asarray(images, "float32"), 0.0, 1.0)
    rows, cols, height, width, channels = images.shape
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
        height, width = height * scale, width * scale
    canvas = np.full(
        (
            rows * (height + padding) + padding,
            cols * (width + padding) + padding,
            channels,
        ),
        0.5,
        "float32",
    )
    for r in range(rows):
        for c in range(cols):
            top, left = (
                padding + r * (height + padding),
                padding + c * (width + padding),
            )
            canvas[top : top + height, left : left + width] = images[r, c]
    canvas = (canvas * 255).round().astype("uint8")
    return canvas[..., 0] if channels == 1 else canvas


def _test_arrays(bundle, limit):
    images, labels = [], []
    count = 0
    for x, y in bundle.test.batch(512).as_numpy_iterator():
        images.append(x)
        labels.append(y)
        count += len(x)
        if count >= limit:
            break
    return np.concatenate(images)[:limit], np.concatenate(labels)[:limit].astype(
        "int64"
    )


def evaluate_joint_vae(model, config, bundle, *, limit=10000, batch_size=256):
    """Test losses, discrete-code accuracy, MIG on known factors, and pictures.

    The pictures: `reconstructions.png` (rows of inputs above their
    reconstructions), `traversals.png` (one row per continuous dimension,
    then one per category of the first discrete latent) and `samples.png`
    (prior samples).
    """
    del config
    results = model.evaluate(
        bundle.batches("test", batch_size), verbose=0, return_dict=True
    )
    metrics = {f"test_{name}": float(value) for name, value in results.items()}
    metrics["step_counter"] = int(ops.convert_to_numpy(model.step_counter))

    images, labels = _test_arrays(bundle, limit)
    codes = encode(model, images, batch_size=batch_size)
    if model.continuous_dim:
        kl_per_dim = 0.5 * (
            np.square(codes["mean"]) + np.exp(codes["logvar"]) - 1.0 - codes["logvar"]
        ).mean(axis=0)
        metrics["active_continuous_dims"] = int((kl_per_dim > 0.1).sum())
    if model.discrete_dims and (labels >= 0).any():
        for index in range(len(model.discrete_dims)):
            suffix = "" if index == 0 else f"_{index}"
            metrics[f"discrete_accuracy{suffix}"] = unsupervised_accuracy(
                codes["categories"][:, index], labels
            )
        metrics["chance_accuracy"] = float(
            np.bincount(labels[labels >= 0]).max() / (labels >= 0).sum()
        )
    factors = bundle.extras.get("factors", {}).get("test")
    if factors is not None:
        factors = np.asarray(factors)[: len(images)]
        parts = [codes["mean"], codes["categories"]]
        mig, per_factor = mutual_information_gap(
            np.concatenate(parts, axis=-1),
            factors,
            discrete_codes=len(model.discrete_dims),
        )
        metrics["mig"] = mig
        for name, value in zip(bundle.extras.get("factor_names", []), per_factor):
            metrics[f"mig_{name}"] = float(value)

    shown = images[:16]
    reconstructions = ops.convert_to_numpy(model(shown, training=False))
    pairs = np.stack([shown, reconstructions], axis=1)  # [16, 2, H, W, C]
    rows = pairs.reshape(2, 8, 2, *model.image_shape).transpose(0, 2, 1, 3, 4, 5)
    pictures = {"reconstructions.png": rows.reshape(4, 8, *model.image_shape)}
    traverse_dim = None
    if model.continuous_dim:
        traverse_dim = int(np.argmax(kl_per_dim))
    base = {
        "mean": np.zeros(model.continuous_dim),
        "categories": codes["categories"][0],
    }
    pictures["traversals.png"] = traverse(
        model, num_steps=10, base=base, traverse_dim=traverse_dim
    )
    samples = sample_prior(model, 64)
    pictures["samples.png"] = samples.reshape(8, 8, *model.image_shape)
    scale = 2 if model.image_shape[0] <= 32 else 1
    images = {name: image_grid(grid, scale=scale) for name, grid in pictures.items()}
    return Evaluation(metrics=metrics, images=images)


# One gamma for both KL terms, as in the paper's settings; the objective is
# the validation total loss (val_loss).
SEARCH_SPACE = {
    "learning_rate": {"min": 1e-4, "max": 2e-3, "sampling": "log", "default": 5e-4},
    "gamma": {"values": [10.0, 30.0, 100.0], "default": 30.0},
    "continuous_dim": {"values": [4, 6, 10, 16], "default": 10},
    "discrete_categories": {"values": [3, 10, 20], "default": 10},
    "temperature": {"values": [0.5, 0.67, 1.0], "default": 0.67},
}


def joint_vae_space_to_config(values):
    """One gamma for both terms; one discrete latent."""
    values = dict(values)
    gamma = values.pop("gamma")
    categories = values.pop("discrete_categories")
    return {
        **values,
        "gamma_z": gamma,
        "gamma_c": gamma,
        "discrete_dims": (categories,),
    }


register_family(
    Family(
        name="joint_vae",
        tasks=("reconstruction",),
        search_space=SEARCH_SPACE,
        space_to_config=joint_vae_space_to_config,
        config_class=JointVAEConfig,
        build=build_joint_vae,
        compile=compile_joint_vae,
        data_kind="vae_image",
        default_data="digits",
        data_options=data_options,
        evaluate=evaluate_joint_vae,
        epochs=30,
        batch_size=64,
        # The capacity targets rise during training, so an early epoch's
        # validation loss looks best without being the better model.
        restore_best=False,
        description="JointVAE (Dupont 2018): disentangled continuous and discrete latents.",
    )
)


# ---------------------------------------------------------------- variants


@register_model(family="joint_vae")
def joint_vae_mnist():
    """Paper's MNIST settings: 10 continuous, one 10-way discrete, C 0->5 nats over 25k steps, gamma 30."""
    return JointVAEConfig()


@register_model(family="joint_vae")
def joint_vae_dsprites():
    """Paper's dSprites settings (64x64): 6 continuous, one 3-way discrete, C_z 0->40, C_c 0->1.1 over 300k steps, gamma 150."""
    return JointVAEConfig(
        image_size=64,
        channels=1,
        continuous_dim=6,
        discrete_dims=(3,),
        gamma_z=150.0,
        gamma_c=150.0,
        capacity_z_max=40.0,
        capacity_z_steps=300000,
        capacity_c_max=1.1,
        capacity_c_steps=300000,
    )


@register_model(family="joint_vae")
def joint_vae_celeba():
    """Paper's CelebA settings (64x64 RGB): 32 continuous, one 10-way discrete, C_z 0->50, C_c 0->10 over 100k steps, gamma 100."""
    return JointVAEConfig(
        image_size=64,
        channels=3,
        continuous_dim=32,
        discrete_dims=(10,),
        gamma_z=100.0,
        gamma_c=100.0,
        capacity_z_max=50.0,
        capacity_z_steps=100000,
        capacity_c_max=10.0,
        capacity_c_steps=100000,
    )


@register_model(family="joint_vae", tiny=True)
def joint_vae_tiny():
    """16x16 images, 2 continuous, one 3-way discrete, 8 filters, capacities over 10 steps: for tests."""
    return JointVAEConfig(
        image_size=16,
        continuous_dim=2,
        discrete_dims=(3,),
        filters=(4, 8),
        hidden_units=16,
        capacity_z_max=2.0,
        capacity_z_steps=10,
        capacity_c_max=1.0,
        capacity_c_steps=10,
        seed=0,
    )

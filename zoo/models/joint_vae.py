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
    >>> from zoo.joint_vae_analysis import encode, traverse
    >>> codes = encode(model, images)         # {"mean", "logvar", "alphas", "categories", ...}
    >>> grid = traverse(model, num_steps=8)   # [rows, 8, 16, 16, 1]

The latent API, the metrics and the pictures are in `zoo.joint_vae_analysis`.
"""

import dataclasses
import math

import keras
import tensorflow as tf
from keras import ops

from zoo.compile import make_optimizer, optimizer_options
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.joint_vae_analysis import evaluate_joint_vae
from zoo.registry import Family, register_family, register_model

EPSILON = 1e-12
METRIC_NAMES = (
    "loss",
    "reconstruction_loss",
    "kl_z",
    "kl_c",
    "capacity_z",
    "capacity_c",
)


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
        capacity_z_start, capacity_c_start: Training steps each capacity
            stays at its minimum before its ramp starts (0 in the paper, where
            both ramps start together). A later continuous ramp lets the
            discrete code take the digit before the continuous code can.
        alpha_init_scale: Standard deviation of the alpha heads' initial
            kernel (bias zero), or None for Keras' default (Glorot uniform).
            Small values start every image at the uniform code, KL_c = 0,
            where the discrete capacity starts.
        marginal_entropy_weight: Outside the paper, 0 (off) by default:
            weight of `log(k) - H(mean alpha over the batch)`, which is 0 when
            the batch uses every category equally and grows as the code
            collapses onto a few categories.
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
    capacity_z_start: int = 0
    capacity_c_start: int = 0
    alpha_init_scale: float | None = None
    marginal_entropy_weight: float = 0.0
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
        for name in (
            "gamma_z",
            "gamma_c",
            "capacity_z_min",
            "capacity_c_min",
            "capacity_z_start",
            "capacity_c_start",
            "marginal_entropy_weight",
        ):
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
        if self.alpha_init_scale is not None and not self.alpha_init_scale > 0:
            raise ConfigError(
                f"alpha_init_scale must be > 0 or None, got {self.alpha_init_scale}."
            )


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
    # A small alpha kernel starts every image near the uniform code (KL_c = 0,
    # the discrete capacity's start); Glorot's larger one sends most digits to
    # two or three categories before training starts.
    kernel = (
        "glorot_uniform"
        if config.alpha_init_scale is None
        else keras.initializers.RandomNormal(stddev=config.alpha_init_scale)
    )
    for index, categories in enumerate(config.discrete_dims):
        outputs[f"alpha_{index}"] = keras.layers.Dense(
            categories,
            activation="softmax",
            kernel_initializer=kernel,
            name=f"alpha_{index}",
            dtype="float32",
        )(x)
    return keras.Model(inputs, outputs, name="encoder")


# ---------------------------------------------------------------- decoder


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


# ---------------------------------------------------------------- model


def linear_capacity(step, minimum, maximum, num_steps, *, start=0):
    """Capacity after `step` training steps: linear from `minimum` to `maximum`.

    Stays at `minimum` until `step == start`, then reaches `maximum` at
    `step == start + num_steps` and stays there; `num_steps == 0` means the
    maximum from `start` on. Works on Python numbers and tensors.

    >>> linear_capacity(2500, 0.0, 5.0, 25000)
    0.5
    >>> linear_capacity(2500, 0.0, 5.0, 25000, start=5000)
    0.0
    """
    if start:
        step = (
            max(step - start, 0)
            if isinstance(step, int | float)
            else ops.maximum(step - float(start), 0.0)
        )
    if num_steps <= 0:
        if start:
            return minimum + (maximum - minimum) * (
                float(step > 0)
                if isinstance(step, int | float)
                else ops.cast(step > 0, "float32")
            )
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
        capacity_z_start, capacity_c_start: Steps before each ramp starts.
        alpha_init_scale: Initial alpha-head kernel scale (None: Glorot).
        marginal_entropy_weight: Weight of the (non-paper) marginal entropy
            term; 0 is the paper's loss.
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
        capacity_z_start=0,
        capacity_c_start=0,
        alpha_init_scale=None,
        marginal_entropy_weight=0.0,
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
        self.capacity_z_start = int(capacity_z_start)
        self.capacity_c_start = int(capacity_c_start)
        self.alpha_init_scale = (
            None if alpha_init_scale is None else float(alpha_init_scale)
        )
        self.marginal_entropy_weight = float(marginal_entropy_weight)
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
            step,
            self.capacity_z_min,
            self.capacity_z_max,
            self.capacity_z_steps,
            start=self.capacity_z_start,
        )
        capacity_c = linear_capacity(
            step,
            self.capacity_c_min,
            self.capacity_c_max,
            self.capacity_c_steps,
            start=self.capacity_c_start,
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
        marginal_gap = ops.zeros(())
        for index, categories in enumerate(self.discrete_dims):
            alpha = parameters[f"alpha_{index}"]
            # KL to the uniform prior: log(k) - entropy(alpha).
            negative_entropy = ops.sum(alpha * ops.log(alpha + EPSILON), axis=-1)
            kl_c = kl_c + math.log(categories) + ops.mean(negative_entropy)
            if self.marginal_entropy_weight:
                marginal = ops.mean(alpha, axis=0)
                marginal_gap = marginal_gap + math.log(categories)
                marginal_gap = marginal_gap + ops.sum(
                    marginal * ops.log(marginal + EPSILON)
                )
        capacity_z, capacity_c = self.capacities()
        loss = reconstruction
        if self.continuous_dim:
            loss = loss + self.gamma_z * ops.abs(kl_z - capacity_z)
        if self.discrete_dims:
            loss = loss + self.gamma_c * ops.abs(kl_c - capacity_c)
        if self.marginal_entropy_weight:
            loss = loss + self.marginal_entropy_weight * marginal_gap
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
            "capacity_z_start": self.capacity_z_start,
            "capacity_c_start": self.capacity_c_start,
            "alpha_init_scale": self.alpha_init_scale,
            "marginal_entropy_weight": self.marginal_entropy_weight,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


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


# The paper's MNIST run: both capacities ramp over 25,000 steps (batch 64).
PAPER_CAPACITY_STEPS = 25000


def schedule_end(config):
    """The training step at which both capacities reach their maxima."""
    return max(
        config.capacity_z_start + config.capacity_z_steps,
        config.capacity_c_start + config.capacity_c_steps,
    )


def describe_schedule(config, total_steps):
    """One line for the console: the capacity schedule and how this run
    compares with the paper's (names the variant that runs the paper's)."""
    limit = discrete_capacity_limit(config.discrete_dims)
    end = schedule_end(config)
    paper = end >= PAPER_CAPACITY_STEPS
    name = "the paper's schedule" if paper else "a compressed schedule"
    ramps = []
    for part, label in (("z", "continuous"), ("c", "discrete")):
        high = getattr(config, f"capacity_{part}_max")
        start = getattr(config, f"capacity_{part}_start")
        steps = getattr(config, f"capacity_{part}_steps")
        ramp = f"{label} 0->{high:g} nats over steps {start}-{start + steps}"
        if part == "c" and high > limit:
            ramp += f", capped at {limit:.2f}"
        ramps.append(ramp)
    line = f"JointVAE: {name} ({'; '.join(ramps)}); this run trains {total_steps} steps"
    if total_steps < end:
        line += f", {end - total_steps} short of its own ramp (raise --epochs)"
    if not paper:
        line += (
            f"; the paper's ramps take {PAPER_CAPACITY_STEPS} steps, "
            f"{max(PAPER_CAPACITY_STEPS - total_steps, 0)} more than this run "
            "(variant joint_vae_mnist_paper)"
        )
    return line + "."


def fit_joint_vae(model, config, train, *, epochs, steps_per_epoch=None, **kwargs):
    """`model.fit`, first printing which capacity schedule the run follows."""
    if steps_per_epoch is not None:
        total = epochs * steps_per_epoch - int(ops.convert_to_numpy(model.step_counter))
        print(describe_schedule(config, max(total, 0)), flush=True)
    history = model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch, **kwargs)
    return history.history


def data_options(config):
    return {"image_size": config.image_size, "channels": config.channels}


# the validation total loss (val_loss).
# ---------------------------------------------------------------- family


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
        fit=fit_joint_vae,
        # 100 epochs of the 4,000 training digits at batch 64: the 6,300
        # steps of joint_vae_mnist's schedule.
        epochs=100,
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
    """Paper's MNIST model and loss on a 6,000-step schedule (100 epochs of the digits): C 0->5 nats over 6k steps, Adam 2e-3."""
    return JointVAEConfig(
        learning_rate=2e-3,
        capacity_z_steps=6000,
        capacity_c_steps=6000,
    )


@register_model(family="joint_vae")
def joint_vae_mnist_paper():
    """Paper's MNIST settings: 10 continuous, one 10-way discrete, C 0->5 nats over 25k steps, gamma 30, Adam 5e-4."""
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

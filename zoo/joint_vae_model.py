"""The JointVAE model: encoder, samplers and decoder joined with the capacity loss.

`JointVAE` owns the loss of Dupont (2018),

    reconstruction + gamma_z * |KL_z - C_z(t)| + gamma_c * |KL_c - C_c(t)|,

its `train_step` and metric trackers, and the step counter `t` that drives the
capacity schedule (`linear_capacity`). The layers it is made of are in
`zoo.joint_vae_layers`; the family (config, builder, variants) is
`zoo.models.joint_vae`.
"""

import math

import keras
import tensorflow as tf
from keras import ops

from zoo.joint_vae_layers import (
    EPSILON,
    GaussianSampler,
    GumbelSoftmax,
    build_decoder,
    build_encoder,
)

METRIC_NAMES = (
    "loss",
    "reconstruction_loss",
    "kl_z",
    "kl_c",
    "capacity_z",
    "capacity_c",
)


# ---------------------------------------------------------------- capacity schedule


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


# ---------------------------------------------------------------- model


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
        initializer: "glorot" (Keras' default) or "pytorch" (the paper's
            reference code: uniform +-1/sqrt(fan_in) kernels and biases).
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
        initializer="glorot",
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
        self.initializer = str(initializer)
        self.marginal_entropy_weight = float(marginal_entropy_weight)
        self.seed = seed
        self.discrete_limit = discrete_capacity_limit(self.discrete_dims)
        self._make_parts()
        # Built from the start (fit goes through train_step, never __call__), so
        # weights load into a fresh model and a loaded optimizer keeps its state.
        self.build((None, *self.image_shape))

    def _make_parts(self):
        """Encoder, samplers, decoder, the step counter and the metric trackers."""
        seed = self.seed
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
            "initializer": self.initializer,
            "marginal_entropy_weight": self.marginal_entropy_weight,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

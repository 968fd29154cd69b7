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

The family reads as a keras-io example in three files: the building blocks
(`zoo.joint_vae_layers`: samplers, encoder, decoder), the model with its loss,
`train_step` and metric trackers (`zoo.joint_vae_model`), and this file (config,
builder, hooks, search space, variants). The latent API, the metrics and the
pictures are in `zoo.joint_vae_analysis`.
"""

import contextlib
import dataclasses

from keras import ops

from zoo.compile import make_optimizer, optimizer_options
from zoo.config import BaseConfig
from zoo.errors import ConfigError
from zoo.joint_vae_analysis import evaluate_joint_vae
from zoo.joint_vae_layers import INITIALIZERS, num_blocks_for
from zoo.joint_vae_model import JointVAE, discrete_capacity_limit
from zoo.registry import Family, register_family, register_model

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
        initializer: "glorot", Keras' default (Glorot-uniform kernels, zero
            biases), or "pytorch", PyTorch's default, under which the paper's
            reference code trains: kernels and biases uniform in
            +-1/sqrt(fan_in).
        marginal_entropy_weight: Outside the paper, 0 (off) by default:
            weight of `log(k) - H(mean alpha over the batch)`, which is 0 when
            the batch uses every category equally and grows as the code
            collapses onto a few categories.
        starts, start_steps: Outside the paper, 1 (off) by default: `zoo
            train` trains this many starts (different initial weights) for
            `start_steps` steps (rounded up to whole epochs) and continues the
            one whose validation loss, the model's own objective, is lowest:
            k-means' restarts for the code's partition, which depends on the
            seed more than on any setting measured. Costs (starts - 1) *
            start_steps extra steps; 10,000 (40% of the paper's run) is the
            earliest the loss ranked the seeds well. A killed run keeps the
            starts it finished (in its backup) and trains only the others.
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
    initializer: str = "glorot"
    marginal_entropy_weight: float = 0.0
    starts: int = 1
    start_steps: int = 10000
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
        if self.starts < 1 or self.start_steps < 1:
            raise ConfigError(
                f"starts and start_steps must be >= 1, got {self.starts} and "
                f"{self.start_steps} (starts=1: one start, no choice)."
            )
        if self.initializer not in INITIALIZERS:
            raise ConfigError(
                f"initializer must be one of {', '.join(INITIALIZERS)}, got "
                f"{self.initializer!r}."
            )
        if self.alpha_init_scale is not None and not self.alpha_init_scale > 0:
            raise ConfigError(
                f"alpha_init_scale must be > 0 or None, got {self.alpha_init_scale}."
            )


# ---------------------------------------------------------------- builder and compile recipe


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
    # Data and training settings, not the model's.
    fields = {f.name for f in dataclasses.fields(BaseConfig)} | {
        "image_size",
        "channels",
        "starts",
        "start_steps",
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


# ---------------------------------------------------------------- hooks


# The paper's MNIST run: both capacities ramp over 25,000 steps (batch 64).
PAPER_CAPACITY_STEPS = 25000
# The family's default epochs (joint_vae_mnist: 6,300 steps of the digits).
EPOCHS = 100


def schedule_end(config):
    """The training step at which both capacities reach their maxima."""
    return max(
        config.capacity_z_start + config.capacity_z_steps,
        config.capacity_c_start + config.capacity_c_steps,
    )


def describe_schedule(config, total_steps, start_step=0):
    """One line for the console: the capacity schedule and how this run
    compares with the paper's (names the variant that runs the paper's).

    `total_steps` is the step the run ends at; `start_step` the one it
    trains from (a resumed run, or one that has chosen among its starts)."""
    trains = f"this run trains {total_steps - start_step} steps"
    if start_step:
        trains += f" (steps {start_step}-{total_steps})"
    limit = discrete_capacity_limit(config.discrete_dims)
    if config.capacity_z_max == 0 and config.capacity_c_max == 0:
        return (
            f"JointVAE: no capacity control (both capacities 0, gamma_z "
            f"{config.gamma_z:g}, gamma_c {config.gamma_c:g}): the KL terms are "
            f"pushed to 0 all along; {trains}."
        )
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
    line = f"JointVAE: {name} ({'; '.join(ramps)}); {trains}"
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
    """`model.fit`, first printing which capacity schedule the run follows;
    with `config.starts > 1` a fresh run first chooses its start."""
    initial_epoch = 0
    # The runner's backup callback (duck-typed: `AtomicBackupAndRestore`
    # lives in the runner's layer, above this one) keeps the starts as they
    # finish, and restores the model when fit starts: a run with a backup
    # state has chosen its start already.
    callbacks = kwargs.get("callbacks") or ()
    restoring = any(getattr(callback, "state", None) for callback in callbacks)
    keeper = next((c for c in callbacks if hasattr(c, "save_before_fit")), None)
    fresh = int(ops.convert_to_numpy(model.step_counter)) == 0 and not restoring
    if config.starts > 1 and fresh:
        if kwargs.get("validation_data") is None or steps_per_epoch is None:
            raise ConfigError(
                "starts > 1 chooses by validation loss after a number of steps: "
                "give validation data and steps_per_epoch, or set starts=1."
            )
        initial_epoch = min(epochs, -(-config.start_steps // steps_per_epoch))
        print(
            f"JointVAE: {config.starts} starts of {initial_epoch * steps_per_epoch} "
            "steps each; the one with the lowest validation loss continues.",
            flush=True,
        )
        losses = choose_start(
            model,
            config,
            train,
            kwargs["validation_data"],
            epochs=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            keeper=keeper,
            log=lambda line: print(line, flush=True),
        )
        best = losses.index(min(losses))
        print(f"JointVAE: continuing start {best + 1}.", flush=True)
    if steps_per_epoch is not None:
        done = int(ops.convert_to_numpy(model.step_counter))
        total = max(epochs * steps_per_epoch, done)
        print(describe_schedule(config, total, start_step=done), flush=True)
    history = model.fit(
        train,
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        **kwargs,
    )
    return history.history


def choose_start(
    model,
    config,
    train,
    validation_data,
    *,
    epochs,
    steps_per_epoch,
    keeper=None,
    log=None,
):
    """Trains `config.starts` starts for `epochs` epochs: `model` itself and
    fresh copies (new initial weights), and leaves `model` holding the one
    with the lowest validation loss: weights, step counter, optimizer state.
    Returns the validation losses in start order; `log(line)`, if given,
    hears each one as it comes. `keeper` (the runner's backup callback), if
    given, keeps each finished start's loss and the best start so far, so a
    killed run trains only the starts it had not finished.

    By hand: Keras and KerasTuner have no "best of n initialisations" inside
    one run (scikit-learn's `KMeans(n_init=...)` is the model for it). At the
    same step every start has the same capacity targets, so the losses
    compare. On the digits, over eight seeds of the paper's run, the lowest
    of four losses at step 10,000 picks a run 0.04 above the average one
    (0.683 against 0.641, the best of the four being 0.689); at step 5,000
    it picks no better than chance (bench/results/joint_vae.md).
    """
    strategy = getattr(model, "distribute_strategy", None)
    kept = keeper.load_before_fit("starts") if keeper else None
    losses = list(kept["losses"]) if kept else []
    for index, loss in enumerate(losses):
        if log is not None:
            log(f"  start {index + 1}: validation loss {loss:.1f} (kept)")

    def fresh_start():
        with strategy.scope() if strategy else contextlib.nullcontext():
            start = build_joint_vae(config, input_shape=model.image_shape)
            compile_joint_vae(start, config)
        start.steps_per_execution = model.steps_per_execution
        return start

    # A resumed run draws (and drops) the initial weights of the starts it
    # kept, so each start it trains begins where the killed run's would have.
    for _ in range(len(losses) - 1):
        fresh_start()
    best = None  # The best start trained here, if it beats the kept ones.
    for index in range(len(losses), config.starts):
        start = model if index == 0 else fresh_start()
        start.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=0)
        result = start.evaluate(validation_data, verbose=0, return_dict=True)
        losses.append(float(result["loss"]))
        if log is not None:
            log(f"  start {index + 1}: validation loss {losses[-1]:.1f}")
        improved = losses[-1] == min(losses)
        if improved:
            best = start
        if keeper is not None:
            keeper.save_before_fit(
                "starts", {"losses": losses}, model=start if improved else None
            )
    if best is None:  # A start kept before a kill is the best.
        keeper.load_before_fit("starts", model)
    elif best is not model:
        model.set_weights(best.get_weights())
        for mine, theirs in zip(model.optimizer.variables, best.optimizer.variables):
            mine.assign(theirs)
    return losses


def joint_vae_epochs(config, steps_per_epoch):
    """`zoo train`'s epochs when none are given: enough for both capacity
    ramps to reach their maxima (`joint_vae_mnist_paper`: 397 epochs of the
    4,000 digits, 25,011 steps), and never fewer than the family's 100."""
    return max(EPOCHS, -(-schedule_end(config) // steps_per_epoch))


def data_options(config):
    return {"image_size": config.image_size, "channels": config.channels}


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
        # steps of joint_vae_mnist's schedule; longer ramps get more.
        epochs=EPOCHS,
        epochs_for=joint_vae_epochs,
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
    """Paper's MNIST model and loss on a 6,000-step schedule (100 epochs of the digits): C_z 0->3.5, C_c 0->5 nats over 6k steps, Adam 2e-3."""
    # Within the method, three changes to the paper's run, each measured in
    # bench/results/joint_vae.md: ramps 4x faster with a 4x learning rate
    # (the code forms as far as the paper's does, in a quarter of the
    # steps), and 3.5 nats of continuous capacity instead of 5, which leaves
    # more of each digit to the discrete code (discrete accuracy, median of
    # three seeds: 0.608 against 0.590 with 5 nats).
    return JointVAEConfig(
        learning_rate=2e-3,
        capacity_z_max=3.5,
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

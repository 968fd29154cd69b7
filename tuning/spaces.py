"""Search spaces: how KerasTuner hyperparameters map onto a family's config.

Each space is a function `space(hp) -> dict` of config overrides (and the
training knobs `batch_size` / `epochs`), registered per family. Builders in
`zoo/` never see `hp`; the generic HyperModel calls the space, then
`create_model`. Users narrow or replace a space with `narrow(hp, spec)`:
values registered first win, because KerasTuner returns an existing
hyperparameter's value when a space asks for the same name again.
"""

from zoo.errors import ConfigError, unknown_name

SPACES = {}

# Keys of a space's result that are training knobs, not config fields.
TRAINING_KEYS = ("batch_size", "epochs")


def register_space(family):
    """Registers `space(hp) -> dict` as the search space of a family."""

    def decorator(fn):
        if family in SPACES:
            raise ConfigError(f"A search space for {family!r} is already registered.")
        SPACES[family] = fn
        return fn

    return decorator


def get_space(family):
    if family not in SPACES:
        raise unknown_name("search space", family, SPACES)
    return SPACES[family]


def narrow(hp, spec):
    """Registers user-given hyperparameters before the family's space runs.

    `spec` maps a hyperparameter (or config field) name to a list of values
    (`hp.Choice`), a dict `{"min", "max", "step"?, "sampling"?}` (`hp.Int` or
    `hp.Float`), or a single value (`hp.Fixed`). Returns the overrides they
    give, so fields the family's space does not know are tuned as well.
    """
    values = {}
    for name, rule in (spec or {}).items():
        if isinstance(rule, list):
            if not rule:
                raise ConfigError(
                    f"Search space for {name!r} is an empty list; give at least one value."
                )
            if any(isinstance(v, list | dict) for v in rule):
                raise ConfigError(
                    f"Search space for {name!r}: a choice holds plain values only."
                )
            values[name] = hp.Choice(name, rule)
        elif isinstance(rule, dict):
            unknown = set(rule) - {"min", "max", "step", "sampling"}
            if unknown or "min" not in rule or "max" not in rule:
                raise ConfigError(
                    f"Search space for {name!r} must look like "
                    '{"min": 0.0, "max": 0.5, "step": 0.1, "sampling": "linear"}.'
                )
            low, high = rule["min"], rule["max"]
            if low > high:
                raise ConfigError(
                    f"Search space for {name!r}: min {low} is above max {high}."
                )
            sampling = rule.get("sampling", "linear")
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
                values[name] = hp.Int(
                    name, low, high, step=rule.get("step", 1), sampling=sampling
                )
            else:
                values[name] = hp.Float(
                    name,
                    float(low),
                    float(high),
                    step=rule.get("step"),
                    sampling=sampling,
                )
        else:
            values[name] = hp.Fixed(name, rule)
    return values


def training_space(hp):
    """Batch size is tuned for every family; epochs only when the user asks."""
    return {"batch_size": hp.Choice("batch_size", [32, 64, 128])}


@register_space("mlp")
def mlp_space(hp):
    num_layers = hp.Int("num_layers", 1, 3)
    units = hp.Choice("units", [32, 64, 128, 256])
    return {
        "hidden_units": tuple(units for _ in range(num_layers)),
        "activation": hp.Choice("activation", ["relu", "tanh", "elu"]),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.5, step=0.1),
        "batch_norm": hp.Boolean("batch_norm"),
        "optimizer": hp.Choice("optimizer", ["adam", "rmsprop", "sgd"]),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
    }


@register_space("char_cnn")
def char_cnn_space(hp):
    return {
        "sequence_length": hp.Choice("sequence_length", [256, 512, 1014]),
        "embedding": hp.Choice("embedding", ["one_hot", "learned"]),
        "filters": hp.Choice("filters", [64, 128, 256]),
        "dense_units": hp.Choice("dense_units", [256, 512, 1024]),
        "dropout_rate": hp.Float("dropout_rate", 0.2, 0.5, step=0.1),
        "learning_rate": hp.Float("learning_rate", 1e-3, 5e-2, sampling="log"),
    }


@register_space("lstm")
def lstm_space(hp):
    num_layers = hp.Int("num_layers", 1, 2)
    units = hp.Choice("units", [32, 64, 128])
    return {
        "rnn_type": hp.Choice("rnn_type", ["lstm", "gru"]),
        "rnn_units": tuple(units for _ in range(num_layers)),
        "bidirectional": hp.Boolean("bidirectional"),
        "embedding_dim": hp.Choice("embedding_dim", [50, 100, 200]),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.5, step=0.1),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
    }


@register_space("lstm_forecaster")
def lstm_forecaster_space(hp):
    num_layers = hp.Int("num_layers", 1, 2)
    units = hp.Choice("units", [16, 32, 64])
    return {
        "rnn_type": hp.Choice("rnn_type", ["lstm", "gru"]),
        "rnn_units": tuple(units for _ in range(num_layers)),
        "window": hp.Choice("window", [15, 30, 60]),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.3, step=0.1),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
    }


@register_space("cnn")
def cnn_space(hp):
    # Filters double per block; "same" padding so any depth fits 28x28 digits.
    num_blocks = hp.Int("num_blocks", 1, 3)
    base_filters = hp.Choice("base_filters", [16, 32, 64])
    return {
        "filters": tuple(base_filters * 2**index for index in range(num_blocks)),
        "kernel_sizes": (hp.Choice("kernel_size", [3, 5]),),
        "padding": "same",
        "batch_norm": hp.Boolean("batch_norm"),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.4, step=0.1),
        "dense_units": (hp.Choice("dense_units", [64, 128, 256]),),
        "dense_dropout_rate": hp.Float("dense_dropout_rate", 0.0, 0.5, step=0.25),
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
    }


@register_space("vgg16_transfer")
def vgg16_transfer_space(hp):
    units = hp.Choice("dense_units", [64, 128, 256])
    return {
        "head": hp.Choice("head", ["gap_dense", "conv_block", "conv_as_dense"]),
        "dense_units": (units, units // 2),
        "dropout_rate": hp.Float("dropout_rate", 0.0, 0.5, step=0.25),
        "trainable_blocks": hp.Int("trainable_blocks", 0, 1),
        "learning_rate": hp.Float("learning_rate", 1e-4, 3e-3, sampling="log"),
    }


@register_space("bert_classifier")
def bert_classifier_space(hp):
    # Frozen encoders train only a head, which wants a ~100x larger rate
    # than fine-tuning; each mode gets its own learning-rate range.
    frozen = hp.Boolean("freeze_encoder", default=False)
    values = {
        "freeze_encoder": frozen,
        "head_units": hp.Choice("head_units", [0, 64, 128]),
        "sequence_length": hp.Choice("sequence_length", [32, 64, 128], default=64),
    }
    if frozen:
        with hp.conditional_scope("freeze_encoder", [True]):
            values["learning_rate"] = hp.Float(
                "head_learning_rate", 1e-4, 3e-3, sampling="log", default=1e-3
            )
        values.update(optimizer="adam", warmup_fraction=0.0)
    else:
        with hp.conditional_scope("freeze_encoder", [False]):
            values["learning_rate"] = hp.Choice(
                "learning_rate", [2e-5, 3e-5, 5e-5], default=5e-5
            )
    return values


@register_space("joint_vae")
def joint_vae_space(hp):
    # One gamma for both KL terms, as in the paper's settings; the objective
    # is the validation total loss (val_loss).
    gamma = hp.Choice("gamma", [10.0, 30.0, 100.0], default=30.0)
    return {
        "learning_rate": hp.Float(
            "learning_rate", 1e-4, 2e-3, sampling="log", default=5e-4
        ),
        "gamma_z": gamma,
        "gamma_c": gamma,
        "continuous_dim": hp.Choice("continuous_dim", [4, 6, 10, 16], default=10),
        "discrete_dims": (hp.Choice("discrete_categories", [3, 10, 20], default=10),),
        "temperature": hp.Choice("temperature", [0.5, 0.67, 1.0], default=0.67),
    }

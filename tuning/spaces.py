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

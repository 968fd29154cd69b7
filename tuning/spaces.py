"""Search spaces: the rules families declare as data, as KerasTuner hyperparameters.

A family declares `search_space = {name: rule}` beside its builder (no `hp`
in `zoo/`); a user narrows or extends it with the same rules (`--space`).
`define(hp, rules)` registers the rules; the user's are registered first and
win, because KerasTuner returns an existing hyperparameter's value when the
same name is asked for again.
"""

from zoo.errors import ConfigError

# Keys of a space's result that are training knobs, not config fields.
TRAINING_KEYS = ("batch_size", "epochs")
# Batch size is tuned for every family; epochs only when the user asks.
TRAINING_SPACE = {"batch_size": [32, 64, 128]}


def family_overrides(family, values):
    """Config overrides from the sampled values of a family's space."""
    declared = {k: values[k] for k in family.search_space if k in values}
    if family.space_to_config is None:
        return declared
    return family.space_to_config(declared)


def define(hp, spec):
    """Registers user-given hyperparameters before the family's space runs.

    `spec` maps a hyperparameter (or config field) name to a list of values
    (`hp.Choice`, the first is the default), `{"values": [...], "default":
    ...}` (`hp.Choice` with another default), a dict `{"min", "max",
    "step"?, "sampling"?, "default"?}` (`hp.Int` or `hp.Float`), or a single
    value (`hp.Fixed`). Returns the values they give.
    """
    values = {}
    for name, rule in (spec or {}).items():
        if isinstance(rule, dict) and "values" in rule:
            unknown = set(rule) - {"values", "default"}
            if unknown or not isinstance(rule["values"], list) or not rule["values"]:
                raise ConfigError(
                    f"Search space for {name!r} must look like "
                    '{"values": [32, 64], "default": 64}.'
                )
            values[name] = hp.Choice(name, rule["values"], default=rule.get("default"))
        elif isinstance(rule, list):
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
            unknown = set(rule) - {"min", "max", "step", "sampling", "default"}
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
                    name,
                    low,
                    high,
                    step=rule.get("step", 1),
                    sampling=sampling,
                    default=rule.get("default"),
                )
            else:
                values[name] = hp.Float(
                    name,
                    float(low),
                    float(high),
                    step=rule.get("step"),
                    sampling=sampling,
                    default=rule.get("default"),
                )
        else:
            values[name] = hp.Fixed(name, rule)
    return values

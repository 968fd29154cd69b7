"""Model configs: dataclasses, JSON round-trip and `key=value` overrides."""

import dataclasses
import json
import types
import typing

from zoo.errors import ConfigError, close_matches


@dataclasses.dataclass
class BaseConfig:
    """Fields that every family's config shares: the compile recipe.

    Attributes:
        optimizer: Name of a Keras optimizer ("adam", "adamw", "sgd", "rmsprop").
        learning_rate: Initial learning rate.
        jit_compile: Passed to `model.compile`. On this CPU XLA helps some
            families and slows others, so each family sets its measured default.
        steps_per_execution: Passed to `model.compile`; batches run per call
            into the compiled training function.
        momentum: SGD's momentum (0 is vanilla SGD); used when `optimizer`
            is "sgd", so "SGD vs momentum vs Adam" is one compare file.
        nesterov: Nesterov momentum for SGD.
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    jit_compile: bool = False
    steps_per_execution: int = 1
    momentum: float = 0.0
    nesterov: bool = False

    def validate(self):
        """Raises `ConfigError` for impossible values. Families extend this."""
        if not self.learning_rate > 0:
            raise ConfigError(
                f"learning_rate must be > 0, got {self.learning_rate}. "
                "Use a value such as 1e-3."
            )
        if self.steps_per_execution < 1:
            raise ConfigError(
                f"steps_per_execution must be >= 1, got {self.steps_per_execution}."
            )
        if not 0 <= self.momentum < 1:
            raise ConfigError(
                f"momentum must be in [0, 1), got {self.momentum}; 0.9 is usual."
            )


def field_names(config_class):
    return [f.name for f in dataclasses.fields(config_class)]


def _field_types(config_class):
    return typing.get_type_hints(config_class)


def _coerce(value, annotation, key):
    """Converts `value` (from JSON or a `--set` string) to `annotation`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    is_union = origin in (typing.Union, types.UnionType)
    if value is None and not (is_union and type(None) in args):
        raise ConfigError(f"{key} cannot be none; give a value.")
    if is_union:
        return _coerce_union(value, args, key)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(
                f"{key} must be one of {', '.join(map(repr, args))}, got {value!r}."
                + close_matches(value, args)
            )
        return value
    if origin in (tuple, list):
        return _coerce_sequence(value, origin, args, key)
    for kind, coerce in _SCALARS:
        if annotation is kind:
            return coerce(value, key)
    return value


def _coerce_union(value, args, key):
    """The first member type that takes `value` (None when the union allows it)."""
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(value, arg, key)
        except ConfigError as error:
            errors.append(str(error))
    raise ConfigError(errors[0] if errors else f"Bad value for {key}: {value!r}.")


def _coerce_sequence(value, origin, args, key):
    """A tuple or list from a sequence, one value, or text such as "(32, 64)"."""
    if isinstance(value, str):
        value = [v for v in value.replace("(", "").replace(")", "").split(",")]
        value = [v.strip() for v in value if v.strip()]
    if not isinstance(value, list | tuple):
        value = [value]
    item_type = args[0] if args else str
    items = [_coerce(v, item_type, key) for v in value]
    return tuple(items) if origin is tuple else items


def _coerce_bool(value, key):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {value!r}.")


def _coerce_int(value, key):
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be an integer, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be an integer, got {value!r}.") from None
    # int() of NaN or infinity raises ValueError/OverflowError.
    if number != number or abs(number) == float("inf") or number != int(number):
        raise ConfigError(f"{key} must be an integer, got {value!r}.")
    return int(number)


def _coerce_float(value, key):
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a number, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {value!r}.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{key} must be a finite number, got {value!r}.")
    return number


def _coerce_str(value, key):
    if isinstance(value, dict | list | tuple):
        raise ConfigError(f"{key} must be a string, got {value!r}.")
    return str(value)


# Matched by identity: a `bool` field is not taken for an `int` one.
_SCALARS = (
    (bool, _coerce_bool),
    (int, _coerce_int),
    (float, _coerce_float),
    (str, _coerce_str),
)


def apply_overrides(config, overrides, *, keep_none=False):
    """Returns a copy of `config` with `overrides` applied and validated.

    `None` values are dropped, so unset CLI options never override a model's
    defaults, unless `keep_none` (an explicit `--set seed=none`, or a config
    read back from JSON). Unknown keys and values of the wrong type raise
    `ConfigError`.
    """
    overrides = {
        k: v for k, v in (overrides or {}).items() if keep_none or v is not None
    }
    names = field_names(type(config))
    hints = _field_types(type(config))
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise ConfigError(
                f"Unknown setting {key!r} for {type(config).__name__}."
                f"{close_matches(key, names)} Settings: {', '.join(names)}."
            )
        changes[key] = _coerce(value, hints[key], key)
    config = dataclasses.replace(config, **changes)
    config.validate()
    return config


def config_to_dict(config):
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_from_dict(config_class, values):
    return apply_overrides(config_class(), values, keep_none=True)


def parse_value(text):
    """Parses one `--set` value: JSON when it parses, else the raw string."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


def parse_set(items):
    """Parses `["key=value", ...]` from `--set` into a dict.

    >>> parse_set(["hidden_units=64,32", "dropout_rate=0.2"])
    {'hidden_units': '64,32', 'dropout_rate': 0.2}
    """
    result = {}
    for item in items or ():
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(
                f"Cannot parse --set {item!r}: write it as key=value, "
                "for example --set dropout_rate=0.2."
            )
        key, _, value = item.partition("=")
        key = key.strip()
        if not key.isidentifier():
            raise ConfigError(
                f"Cannot parse --set {item!r}: {key!r} is not a setting name."
            )
        result[key] = parse_value(value)
    return result

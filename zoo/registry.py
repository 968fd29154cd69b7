"""The model registry: families, their registered variants, `create_model`.

A *family* (mlp, cnn, lstm, ...) knows how to build a model from its config
dataclass. A *variant* (mlp_small, cnn_lenet5, ...) is a registered function
that returns a config of its family, as in timm:

    @register_model(family="mlp")
    def mlp_small():
        return MLPConfig(hidden_units=(64, 32))

    model = create_model("mlp_small", input_shape=(30,), num_classes=2)
"""

import dataclasses
import fnmatch
import importlib
import os
import pkgutil
from collections.abc import Callable
from typing import Any

from zoo import catalog
from zoo.config import apply_overrides
from zoo.errors import ConfigError, ZooError, unknown_name


@dataclasses.dataclass(frozen=True)
class Family:
    """How a model family plugs into training and tuning.

    Attributes:
        name: Family name ("mlp").
        config_class: Its config dataclass, a subclass of `BaseConfig`.
        build: `build(config, *, input_shape, num_classes) -> keras.Model`.
        compile: `compile(model, config, *, num_classes, total_steps)`: the
            family's default compile recipe.
        data_kind: Which dataset loader its data goes through: "tabular",
            "image", "text", "timeseries" or "vae_image".
        default_data: Embedded dataset used when the user names none.
        data_options: `data_options(config) -> dict` of loader options that
            the config implies (image size, channels...), or None.
        adapt: `adapt(config, bundle) -> zoo.preprocessing.Preprocessing`:
            fits the preprocessing the model carries (a vocabulary, column
            statistics, a target scale) on the raw training split, or None
            when the network takes the raw inputs as they are.
        adapt_fields: The config fields `adapt` reads, or None when any may
            matter. A search fits the preprocessing once for all trials that
            differ only in other fields (an MLP's trials share one fitted
            feature encoder instead of refitting it per trial).
        fit: `fit(model, config, train, *, validation_data, epochs,
            callbacks, **kwargs) -> dict` for families that train in phases,
            or None for plain `model.fit`.
        evaluate: `evaluate(model, config, bundle) -> Evaluation`, given the
            trained network and the preprocessed `DataBundle` (facts of the
            fitted preprocessing, a forecast's scale, are in `bundle.info`):
            extra test metrics (baselines beside the model's) and the
            pictures and files to write; the runner writes them. None when
            Keras' own test metrics say it all.
        initialize: `initialize(model, config, preprocessing)` sets weights
            that come from the fitted preprocessing (pretrained word vectors
            laid out by the vocabulary), or None.
        tasks: The tasks the family can learn ("binary", "multiclass",
            "regression", "forecast", "reconstruction"); checked against the
            data before a run folder is written.
        search_space: The family's KerasTuner search space as data:
            `{name: rule}` with the rules `zoo tune --space` takes (a list of
            choices, `{"min", "max", "step"?, "sampling"?, "default"?}`,
            `{"values": [...], "default": ...}`, or a fixed value). No `hp`
            here: `zoo.tuning.spaces` turns it into hyperparameters.
        space_to_config: `space_to_config(values) -> overrides`: maps the
            sampled values to config fields (e.g. `num_layers` and `units`
            to `hidden_units`); None when the names already are fields.
        epochs, batch_size: Training defaults when the user gives none.
        epochs_for: `epochs_for(config, steps_per_epoch) -> int`: the epochs
            `zoo train` runs when the user gives none, for families whose
            run length follows the config (JointVAE: until its capacity
            ramps end), or None for `epochs`. A search's trials use `epochs`.
        restore_best: Whether the saved model takes the best validation
            epoch's weights (else the last epoch's). False for families whose
            validation loss is not comparable across epochs (JointVAE's
            rising capacity targets).
    """

    name: str
    config_class: type
    build: Callable
    compile: Callable
    data_kind: str = "tabular"
    default_data: str | None = None
    data_options: Callable | None = None
    adapt: Callable | None = None
    adapt_fields: tuple | None = None
    fit: Callable | None = None
    evaluate: Callable | None = None
    initialize: Callable | None = None
    tasks: tuple = ("binary", "multiclass", "regression")
    search_space: dict = dataclasses.field(default_factory=dict)
    space_to_config: Callable | None = None
    epochs: int = 20
    epochs_for: Callable | None = None
    batch_size: int = 32
    restore_best: bool = True
    description: str = ""


@dataclasses.dataclass
class Evaluation:
    """What a family's `evaluate` hook returns; the runner writes the files.

    Attributes:
        metrics: Extra test metrics (floats), merged into `metrics.json`.
        images: `{file name: uint8 array [H, W] or [H, W, 3]}`, written as PNG
            into the run folder (`traversals.png`).
        figures: `{file name: matplotlib Figure}`, written as PNG under
            `plots/` and closed.
        files: `{file name: str}` text files for the run folder
            (`embeddings.tsv`).
    """

    metrics: dict = dataclasses.field(default_factory=dict)
    images: dict = dataclasses.field(default_factory=dict)
    figures: dict = dataclasses.field(default_factory=dict)
    files: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    make_config: Callable[[], Any]
    tiny: bool = False
    description: str = ""


_FAMILIES: dict[str, Family] = {}
_MODELS: dict[str, ModelEntry] = {}


def register_family(family):
    """Registers a `Family`. Registering a name twice is an error."""
    if family.name in _FAMILIES:
        raise ZooError(f"Model family {family.name!r} is already registered.")
    _FAMILIES[family.name] = family
    return family


def register_model(fn=None, *, family, name=None, tiny=False):
    """Registers a variant: a function returning its family's config.

    Usable as `@register_model(family="mlp")`. The variant's name is the
    function's name unless `name` is given. `tiny=True` marks the small
    variants that the shared tests build.
    """

    def decorator(make_config):
        model_name = name or make_config.__name__
        if model_name in _MODELS:
            raise ZooError(f"Model {model_name!r} is already registered.")
        if family not in _FAMILIES:
            raise ZooError(f"Register family {family!r} before its model variants.")
        doc = (make_config.__doc__ or "").strip().splitlines()
        _MODELS[model_name] = ModelEntry(
            name=model_name,
            family=family,
            make_config=make_config,
            tiny=tiny,
            description=doc[0] if doc else "",
        )
        return make_config

    return decorator(fn) if fn is not None else decorator


# Optional dependencies and the setup.cfg extra that installs them: a family
# needing a missing one is skipped, and naming it says which extra to install.
EXTRAS = {
    "keras_hub": "text",
    "tensorflow_hub": "text",
    "tensorflow_text": "text",
    "faiss": "search",
    "gradio": "demo",
}
_UNAVAILABLE: dict[str, str] = {}


def load_families():
    """Imports every family module so that its models are registered."""
    # Every module in zoo/models registers its family when imported: a new
    # family is one new file, found here without a hand-kept list.
    folder = os.path.join(os.path.dirname(__file__), "models")
    for module in pkgutil.iter_modules([folder]):
        if module.name in _UNAVAILABLE:
            continue
        try:
            importlib.import_module(f"zoo.models.{module.name}")
        except ModuleNotFoundError as error:
            extra = EXTRAS.get((error.name or "").split(".")[0])
            if extra is None:
                raise
            _UNAVAILABLE[module.name] = extra


def _unknown_model(name):
    """`UnknownNameError`, or the extra to install when the family needs one."""
    info = catalog.model_info(name)
    if info is not None and info["family"] in _UNAVAILABLE:
        extra = _UNAVAILABLE[info["family"]]
        return ZooError(
            f"Model {name!r} needs the [{extra}] extra: pip install 'keras-zoo[{extra}]'."
        )
    return unknown_name("model", name, list(_MODELS) + list(_FAMILIES))


def list_models(pattern="*", *, tiny=None):
    """Names of registered models matching a glob pattern, e.g. "vgg*".

    Family names are models too: `create_model("mlp", ...)` builds the
    family's default config.
    """
    load_families()
    names = set(_MODELS) | set(_FAMILIES)
    if tiny is not None:
        names = {n for n in names if n in _MODELS and _MODELS[n].tiny == tiny}
    return sorted(n for n in names if fnmatch.fnmatch(n, pattern))


def list_families():
    load_families()
    return sorted(_FAMILIES)


def get_family(name):
    load_families()
    if name in _FAMILIES:
        return _FAMILIES[name]
    if name in _MODELS:
        return _FAMILIES[_MODELS[name].family]
    raise _unknown_model(name)


def get_entry(name):
    load_families()
    if name not in _MODELS:
        raise _unknown_model(name)
    return _MODELS[name]


def resolve_config(name, explicit=None, /, **overrides):
    """Returns `(family, config)` for a model name with overrides applied.

    Keyword overrides that are None are ignored (unset options); the
    `explicit` dict (from `--set`) may set a field to None on purpose.
    """
    family = get_family(name)
    if name in _MODELS:
        config = _MODELS[name].make_config()
    else:
        config = family.config_class()
    config = apply_overrides(config, overrides)
    if explicit:
        config = apply_overrides(config, explicit, keep_none=True)
    return family, config


def create_model(name, *, input_shape, num_classes, **overrides):
    """Builds a registered model.

    Args:
        name: A variant ("mlp_small") or family ("mlp") name.
        input_shape: Shape of one example as the model receives it.
        num_classes: Number of classes; 2 gives one sigmoid unit, more give a
            softmax, `None` gives a regression output.
        **overrides: Config fields to change; `None` values are ignored.

    Returns:
        An uncompiled `keras.Model`.

    Example:
    >>> model = create_model("mlp_tiny", input_shape=(4,), num_classes=3)
    >>> model.output_shape
    (None, 3)
    """
    family, config = resolve_config(name, **overrides)
    return build_from_config(
        family, config, input_shape=input_shape, num_classes=num_classes
    )


def build_from_config(family, config, *, input_shape, num_classes):
    if num_classes is not None and num_classes < 2:
        raise ConfigError(
            f"num_classes must be >= 2 for classification (got {num_classes}); "
            "use None for regression."
        )
    return family.build(config, input_shape=tuple(input_shape), num_classes=num_classes)


def build_for_bundle(family, config, bundle, preprocessing=None):
    """Builds a model for a preprocessed `DataBundle` and lets the family
    initialise the weights that come from its fitted `Preprocessing`
    (word vectors laid out by the vocabulary)."""
    model = build_from_config(
        family, config, input_shape=bundle.input_shape, num_classes=bundle.num_classes
    )
    if family.initialize is not None and preprocessing is not None:
        family.initialize(model, config, preprocessing)
    return model

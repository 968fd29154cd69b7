"""`ZooHyperModel`: any registered model as a `keras_tuner.HyperModel`.

KerasTuner scripts can use it directly:

    import keras_tuner as kt
    from zoo.tuning.hypermodel import ZooHyperModel

    tuner = kt.RandomSearch(ZooHyperModel("mlp", "iris"), objective="val_accuracy",
                            max_trials=3)
    tuner.search(epochs=5)
"""

import dataclasses
import json
import math

import keras
import keras_tuner as kt

from zoo.config import apply_overrides, config_to_dict
from zoo.errors import ConfigError, close_matches
from zoo.registry import build_for_bundle, resolve_config
from zoo.tuning.spaces import TRAINING_KEYS, TRAINING_SPACE, define, family_overrides
from zoo.tuning.train import cache_settings, fit_inputs, prepare, steps_per_epoch


class ZooHyperModel(kt.HyperModel):
    """Builds and fits any registered model from KerasTuner hyperparameters.

    Args:
        model: Registered model or family name; its config is the base.
        data: Embedded dataset name or path (the family's default if None).
        space: Optional dict narrowing or extending the family's space
            (see `zoo.tuning.spaces.define`); `replace_space=True` uses it alone.
        overrides: Config fields fixed for every trial.
        data_options: Loader options (target, features...).
        epochs: Epochs per trial unless the tuner passes `epochs`.
        seed: Seed of the split and the weights.
        replace_space: Tune only what `space` declares.
    """

    def __init__(
        self,
        model,
        data=None,
        *,
        space=None,
        overrides=None,
        data_options=None,
        epochs=None,
        seed=0,
        replace_space=False,
        name=None,
    ):
        super().__init__(name=name or f"zoo_{model}", tunable=True)
        self.model_name = model
        self.data = data
        self.space = dict(space or {})
        self.overrides = dict(overrides or {})
        self.data_options = dict(data_options or {})
        self.seed = seed
        self.replace_space = replace_space
        self.family, self.base_config = resolve_config(model, self.overrides)
        self.epochs = epochs or self.family.epochs
        self._bundles = {}
        self._current = None
        # Frozen-backbone features shared by the trials (set by `tune`).
        self.feature_cache_dir = None
        if replace_space and not self.space:
            raise ConfigError(
                "--replace-space needs a --space to search; give one or drop --replace-space."
            )

    def config_for(self, hp):
        """The family config that `hp` selects."""
        family_space = {} if self.replace_space else self.family.search_space
        # The user's rules first: they win over the family's for the same name.
        values = define(hp, self.space)
        values = {**define(hp, family_space), **values}
        if not self.replace_space:
            training = {k: r for k, r in TRAINING_SPACE.items() if k not in self.space}
            values.update(define(hp, training))
        fields = {f.name for f in dataclasses.fields(self.base_config)}
        known = fields | set(TRAINING_KEYS) | set(family_space)
        unknown = [k for k in values if k not in known]
        if unknown and unknown[0] in self.family.search_space:
            raise ConfigError(
                f"Search space names {unknown[0]!r}, a hyperparameter of "
                f"{self.family.name}'s built-in space, not a setting: a replaced space "
                "takes config fields only. Drop --replace-space to narrow the built-in "
                "space, or search the config field it sets."
            )
        if unknown:
            raise ConfigError(
                f"Search space names {unknown[0]!r}, which is not a setting of {self.family.name}."
                f"{close_matches(unknown[0], known)}"
            )
        if family_space:
            plain = {k: v for k, v in values.items() if k not in family_space}
            values = {**family_overrides(self.family, values), **plain}
        changes = {
            k: v for k, v in values.items() if k in fields and k not in self.overrides
        }
        return apply_overrides(self.base_config, changes)

    def prepared_for(self, config):
        """The data loaded and preprocessed for `config` (`prepare`, with
        `config` as its config), reused across trials whose config does not
        change the data or its fitting (`Family.adapt_fields`)."""
        options = self.family.data_options(config) if self.family.data_options else {}
        fitted = None
        if self.family.adapt is not None:
            fields = self.family.adapt_fields
            fitted = (
                config_to_dict(config)
                if fields is None
                else {name: getattr(config, name) for name in fields}
            )
        key = json.dumps([options, fitted], sort_keys=True, default=str)
        if key not in self._bundles:
            if len(self._bundles) > 4:
                self._bundles.clear()
            self._bundles[key] = prepare(
                self.model_name,
                self.data,
                overrides={**config_to_dict(config)},
                data_options=self.data_options,
                seed=self.seed,
            )
        # Shared data, this trial's config: no caller sees the config of the
        # trial that happened to prepare it.
        return dataclasses.replace(self._bundles[key], config=config)

    def build(self, hp):
        # Names restart at each build. No garbage collection here: the tuner's
        # `_try_build` has just collected (a full pass costs ~0.2 s).
        keras.backend.clear_session(free_memory=False)
        config = self.config_for(hp)
        prepared = self.prepared_for(config)
        bundle = prepared.bundle
        model = build_for_bundle(self.family, config, bundle, prepared.preprocessing)
        batch_size = self._batch_size(hp)
        steps = steps_per_epoch(bundle, batch_size) * self.epochs
        self.family.compile(
            model, config, num_classes=bundle.num_classes, total_steps=steps
        )
        self._current = (config, bundle)
        return model

    def _batch_size(self, hp):
        if "batch_size" in hp.values:
            return int(hp.get("batch_size"))
        return self.family.batch_size

    def fit(self, hp, model, *args, **kwargs):
        config, bundle = self._current
        batch_size = self._batch_size(hp)
        kwargs.setdefault(
            "epochs", int(hp.get("epochs")) if "epochs" in hp.values else self.epochs
        )
        kwargs.setdefault("verbose", 0)
        if not args and "x" not in kwargs:
            # The same inputs as `zoo train`.
            train, inputs = fit_inputs(model, bundle, batch_size, seed=self.seed)
            args = (train,)
            for key, value in inputs.items():
                kwargs.setdefault(key, value)
        with cache_settings(bundle, self.feature_cache_dir):
            if self.family.fit is not None:
                history = self.family.fit(model, config, *args, **kwargs)
            else:
                history = model.fit(*args, **kwargs).history
        _fail_on_nan(history)
        # A History, not its dict: KerasTuner scores a History by its best
        # epoch, but would average a dict of per-epoch lists over all epochs.
        result = keras.callbacks.History()
        result.history = dict(history)
        return result


def _fail_on_nan(history):
    for name, values in (history or {}).items():
        if (
            name.endswith("loss")
            and values
            and not all(math.isfinite(float(v)) for v in values)
        ):
            raise kt.errors.FailedTrialError(
                f"{name} became NaN or infinite; the trial is failed, not ranked."
            )

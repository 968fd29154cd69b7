import dataclasses

import pytest

from zoo.config import BaseConfig, apply_overrides, parse_set
from zoo.errors import ConfigError, UnknownNameError, ZooError
from zoo.registry import (
    Family,
    create_model,
    get_family,
    list_families,
    list_models,
    register_family,
    register_model,
)


def test_list_models_pattern():
    names = list_models("mlp*")
    assert {"mlp", "mlp_small", "mlp_deep", "mlp_wide", "mlp_tiny"} <= set(names)
    assert all(name.startswith("mlp") for name in names)
    assert "mlp_tiny" in list_models(tiny=True)
    assert "mlp_small" not in list_models(tiny=True)


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownNameError, match="Did you mean 'mlp_small'"):
        create_model("mlp_smal", input_shape=(4,), num_classes=2)


def test_registering_twice_is_an_error():
    with pytest.raises(ZooError, match="already registered"):
        register_family(get_family("mlp"))
    with pytest.raises(ZooError, match="already registered"):

        @register_model(family="mlp")
        def mlp_small():
            return None


def test_register_model_needs_its_family():
    with pytest.raises(ZooError, match="Register family"):

        @register_model(family="no_such_family")
        def orphan():
            return None


def test_family_names_build_their_default_config():
    model = create_model("mlp", input_shape=(5,), num_classes=3)
    assert model.output_shape == (None, 3)
    assert "mlp" in list_families()


def test_none_overrides_keep_defaults():
    model = create_model("mlp_tiny", input_shape=(4,), num_classes=2, hidden_units=None)
    assert [
        layer.units for layer in model.layers if layer.name.startswith("dense_")
    ] == [8]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"dropout": 0.1}, "Did you mean 'dropout_rate'"),
        ({"dropout_rate": 1.5}, "dropout_rate must be in"),
        ({"hidden_units": "64,-3"}, "hidden_units must all be >= 1"),
        ({"activation": "relux"}, "Unknown activation"),
        ({"learning_rate": 0}, "learning_rate must be > 0"),
        ({"learning_rate": "fast"}, "learning_rate must be a number"),
        ({"batch_norm": "maybe"}, "batch_norm must be true or false"),
    ],
)
def test_bad_overrides_raise_config_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_model("mlp_small", input_shape=(4,), num_classes=2, **overrides)


def test_num_classes_below_two_is_an_error():
    with pytest.raises(ConfigError, match="num_classes must be >= 2"):
        create_model("mlp_small", input_shape=(4,), num_classes=1)


def test_parse_set_types_follow_the_config():
    values = parse_set(
        ["hidden_units=16,8", "dropout_rate=0.25", "batch_norm=true", "optimizer=sgd"]
    )
    config = apply_overrides(get_family("mlp").config_class(), values)
    assert config.hidden_units == (16, 8)
    assert config.dropout_rate == 0.25
    assert config.batch_norm is True
    assert config.optimizer == "sgd"


@pytest.mark.parametrize("item", ["dropout_rate", "=3", "bad key=1"])
def test_parse_set_rejects_malformed_items(item):
    with pytest.raises(ConfigError, match="Cannot parse --set"):
        parse_set([item])


def test_custom_family_plugs_in():
    import keras

    @dataclasses.dataclass
    class LinearConfig(BaseConfig):
        pass

    def build(config, *, input_shape, num_classes):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(num_classes or 1)(inputs))

    from zoo import registry

    family = Family(
        name="linear_test",
        config_class=LinearConfig,
        build=build,
        compile=lambda *a, **k: None,
    )
    register_family(family)
    try:
        register_model(
            lambda: LinearConfig(), family="linear_test", name="linear_test_v1"
        )
        assert create_model(
            "linear_test_v1", input_shape=(3,), num_classes=4
        ).output_shape == (None, 4)
    finally:
        registry._MODELS.pop("linear_test_v1", None)
        registry._FAMILIES.pop("linear_test", None)


def test_output_head_takes_dense_options():
    import keras

    from zoo.compile import output_head

    inputs = keras.Input((4,))
    outputs = output_head(
        inputs, 3, kernel_initializer="zeros", kernel_regularizer="l2"
    )
    model = keras.Model(inputs, outputs)
    head = model.get_layer("predictions")
    assert head.units == 3 and head.kernel_regularizer is not None
    assert float(keras.ops.sum(keras.ops.abs(head.kernel))) == 0.0

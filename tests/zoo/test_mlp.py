import keras
import numpy as np
import pytest

from tests.helpers import run_model_test
from zoo.models.mlp import MLPConfig, build_mlp, make_initializer
from zoo.registry import create_model, list_models


@pytest.mark.parametrize("num_classes", [2, 4, None])
def test_tiny_variant_through_the_shared_helper(num_classes, tmp_path):
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    if num_classes is None:
        y = x.sum(axis=1, keepdims=True)
    else:
        y = np.arange(6) % num_classes
    run_model_test(
        "mlp_tiny",
        input_shape=(5,),
        num_classes=num_classes,
        x=x,
        y=y,
        tmp_path=tmp_path,
    )


@pytest.mark.parametrize("name", list_models("mlp*"))
def test_every_variant_builds_and_runs(name):
    model = create_model(name, input_shape=(5,), num_classes=3)
    output = keras.ops.convert_to_numpy(model(np.ones((2, 5), "float32")))
    assert output.shape == (2, 3)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)


def test_heads_by_task():
    config = MLPConfig(hidden_units=(4,))
    assert (
        build_mlp(config, input_shape=(3,), num_classes=2)
        .layers[-1]
        .activation.__name__
        == "sigmoid"
    )
    assert (
        build_mlp(config, input_shape=(3,), num_classes=5)
        .layers[-1]
        .activation.__name__
        == "softmax"
    )
    regression = build_mlp(
        MLPConfig(hidden_units=(4,), output_units=2), input_shape=(3,), num_classes=None
    )
    assert regression.output_shape == (None, 2)
    assert regression.layers[-1].activation.__name__ == "linear"


def test_options_reach_the_layers():
    model = create_model(
        "mlp_small",
        input_shape=(3,),
        num_classes=2,
        hidden_units=(7, 5),
        activation="tanh",
        batch_norm=True,
        dropout_rate=0.3,
        l2=0.01,
        kernel_initializer="he_uniform",
    )
    dense = [layer for layer in model.layers if layer.name.startswith("dense_")]
    assert [layer.units for layer in dense] == [7, 5]
    assert isinstance(dense[0].kernel_initializer, keras.initializers.HeUniform)
    assert dense[0].kernel_regularizer.l2 == pytest.approx(0.01)
    assert any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers
    )
    assert [
        layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)
    ] == [0.3, 0.3]
    assert model.get_layer("activation_0").activation.__name__ == "tanh"


def test_random_uniform_0_1_initializer():
    initializer = make_initializer("random_uniform_0_1", seed=1)
    values = keras.ops.convert_to_numpy(initializer((50, 50)))
    assert (
        values.min() >= 0
        and values.max() <= 1
        and values.mean() == pytest.approx(0.5, abs=0.05)
    )


def test_mlp_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32")
    model = create_model("mlp_small", input_shape=(2,), num_classes=2)
    from zoo.compile import default_compile
    from zoo.registry import resolve_config

    _, config = resolve_config("mlp_small", learning_rate=0.01)
    default_compile(model, config, num_classes=2)
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    accuracy = model.evaluate(x, y, verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.95


def test_column_layer_names_are_unique_and_stable():
    from zoo.layers import layer_names

    names = layer_names(["a_b", "a/b", "a b", "age", "城市", "9lives"])
    assert len(set(names.values())) == 6
    # A name that sanitises uniquely keeps its plain form (old models load).
    assert names["age"] == "age" and names["9lives"] == "_9lives"
    assert sorted(names[c] for c in ("a_b", "a/b", "a b")) == ["a_b", "a_b_2", "a_b_3"]
    assert layer_names(["a b", "a/b", "a_b"]) == layer_names(["a_b", "a b", "a/b"])

"""The shared model test: every registered tiny variant goes through it."""

import keras
import numpy as np
import tensorflow as tf

from zoo.compile import default_compile
from zoo.config import config_from_dict, config_to_dict
from zoo.registry import build_from_config, resolve_config


def run_model_test(
    name, *, input_shape, num_classes, x, y=None, tmp_path, compile_fn=None
):
    """Build, forward on 2 examples, config round-trip, one fit step, save/load.

    Args:
        name: Registered model name.
        input_shape: As for `create_model`.
        num_classes: As for `create_model`.
        x: At least 2 inputs the model takes (array, dict or tf tensor).
        y: Matching targets (None for models trained on x alone).
        tmp_path: pytest's tmp_path.
        compile_fn: Overrides the family's compile recipe.

    Returns:
        The trained model.
    """
    family, config = resolve_config(name)
    # The zoo config survives JSON.
    assert config_from_dict(type(config), config_to_dict(config)) == config
    model = build_from_config(
        family, config, input_shape=input_shape, num_classes=num_classes
    )
    first_two = tf.nest.map_structure(lambda t: t[:2], x)
    outputs = model(first_two, training=False)
    for output in tf.nest.flatten(outputs):
        output = keras.ops.convert_to_numpy(output)
        assert output.shape[0] == 2
        assert np.all(np.isfinite(output))
    # The Keras config survives a round trip.
    assert model.get_config() is not None
    (compile_fn or family.compile)(
        model, config, num_classes=num_classes, total_steps=2
    )
    data = (x, y) if y is not None else (x,)
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(2)
    history = model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0)
    for value in history.history.values():
        assert np.all(np.isfinite(value))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        tf.nest.flatten(
            keras.ops.convert_to_numpy(model.predict(first_two, verbose=0))
        )[0],
        tf.nest.flatten(
            keras.ops.convert_to_numpy(loaded.predict(first_two, verbose=0))
        )[0],
        rtol=1e-4,
        atol=1e-5,
    )
    return model


__all__ = ["run_model_test", "default_compile"]

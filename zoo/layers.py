"""Small preprocessing layers that travel inside saved models, and the one
rule that turns user-given names into Keras names."""

import re

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class FillMissing(keras.layers.Layer):
    """Replaces NaN and +/-inf with a constant (the training median).

    Lets a saved tabular model take raw rows that have gaps.
    """

    def __init__(self, value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        bad = ops.logical_not(ops.isfinite(inputs))
        return ops.where(bad, ops.full_like(inputs, self.value), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "value": self.value}


def layer_name(text):
    """A valid, readable Keras name for a column, class or file name.

    Keras refuses `/`, spaces and most punctuation in names: each run of
    them becomes `_`; a name starting with a digit gets a leading `_`. The
    user's own name stays wherever the user sees it (input dict keys,
    predictions, reports).
    """
    name = re.sub(r"[^0-9A-Za-z_]+", "_", str(text)).strip("_") or "column"
    return f"_{name}" if name[0].isdigit() else name


def layer_names(texts):
    """`{text: layer_name(text)}`, made unique: `a/b`, `a b` and `a_b` all
    sanitise to `a_b`, and Keras refuses a name twice in one model, so later
    ones (in sorted order) get `_2`, `_3`... A name that is already unique
    keeps its plain `layer_name`, so models saved before this still load."""
    names, used = {}, set()
    for text in sorted(texts, key=str):
        base = name = layer_name(text)
        count = 1
        while name in used:
            count += 1
            name = f"{base}_{count}"
        names[text] = name
        used.add(name)
    return names


@keras.saving.register_keras_serializable(package="zoo")
class Rescale(keras.layers.Layer):
    """`outputs * scale + offset`. New models use `keras.layers.Rescaling`;
    this stays registered so that forecasters saved before it still load."""

    def __init__(self, scale=1.0, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, inputs):
        return inputs * self.scale + self.offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}

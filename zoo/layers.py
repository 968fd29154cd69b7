"""Small preprocessing layers that travel inside saved models."""

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

"""Metrics that take the zoo's integer labels directly."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class SparseF1Score(keras.metrics.F1Score):
    """`keras.metrics.F1Score` for integer labels.

    The zoo's datasets give class indices, while `F1Score` wants one-hot
    labels; this one-hots them. A binary model's single sigmoid output is
    turned into two columns, so "macro" averages the F1 of both classes.

    Args:
        num_classes: Number of classes (2 for a binary model).
        average: "macro", "micro", "weighted" or None, as in `F1Score`.
    """

    def __init__(self, num_classes, average="macro", name="f1", dtype=None, **kwargs):
        kwargs.pop("threshold", None)
        super().__init__(average=average, threshold=None, name=name, dtype=dtype)
        self.num_classes = int(num_classes)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        if self.num_classes == 2 and y_pred.shape[-1] == 1:
            y_pred = ops.concatenate([1.0 - y_pred, y_pred], axis=-1)
        y_true = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        y_true = ops.one_hot(y_true, self.num_classes, dtype=self.dtype)
        # Score the arg-max class, as accuracy does.
        y_pred = ops.one_hot(
            ops.argmax(y_pred, axis=-1), self.num_classes, dtype=self.dtype
        )
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = self.num_classes
        return config


def classification_metrics(num_classes):
    """Default metrics by task: accuracy, AUC (binary), macro and micro F1."""
    if num_classes == 2:
        metrics = [
            keras.metrics.BinaryAccuracy(name="accuracy"),
            keras.metrics.AUC(name="auc"),
        ]
    else:
        metrics = [
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        ]
    metrics += [
        SparseF1Score(num_classes, average="macro", name="f1_macro"),
        SparseF1Score(num_classes, average="micro", name="f1_micro"),
    ]
    return metrics


def regression_metrics():
    return [
        keras.metrics.MeanAbsoluteError(name="mae"),
        keras.metrics.RootMeanSquaredError(name="rmse"),
    ]

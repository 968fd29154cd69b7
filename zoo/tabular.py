"""Table rows to one feature vector: the preprocessing a tabular model carries.

The same layers `keras.utils.FeatureSpace` assembles (Normalization of numeric
columns after filling missing values with the training median, StringLookup
one-hot of categorical columns, concatenation), given their statistics
directly: `FeatureSpace.adapt` makes one tf.data pass per column, which took
7 s for 11 columns against milliseconds with NumPy.

The exported model takes a dict of columns, each `(batch, 1)`, under the
table's own column names; layer names are sanitised (`layer_names`) because
Keras refuses characters such as `/` in names, and made unique because
columns such as `a/b` and `a b` sanitise alike.
"""

import keras
import numpy as np
import pandas as pd

from zoo.errors import DataError
from zoo.layers import FillMissing, layer_names
from zoo.preprocessing import Preprocessing


@keras.saving.register_keras_serializable(package="zoo")
class TableModel(keras.Model):
    """The exported tabular model: a Functional model that also takes rows as
    pandas hands them out.

    `model.predict({c: frame[c].to_numpy() for c in frame})` (or the frame
    itself) passes string columns as `object` arrays, with `None` or NaN in
    the gaps, and numbers as float64 or int arrays of shape `(rows,)`. Keras
    refuses an `object` array holding anything but `str` before any layer
    runs, so the columns are cleaned here first, as the loader cleans a
    table: categories as stripped strings (a gap is ""), numbers as float32
    (a gap, or text that is not a number, is NaN, which the model fills with
    the training median). Columns the model was not trained on are ignored.
    Tensors pass through unchanged.
    """

    def predict(self, x, *args, **kwargs):
        return super().predict(self.clean_rows(x), *args, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(self.clean_rows(inputs), *args, **kwargs)

    def clean_rows(self, rows):
        """`rows` (a dict of columns or a DataFrame) as the model's inputs."""
        if isinstance(rows, pd.DataFrame):
            rows = {column: rows[column].to_numpy() for column in rows.columns}
        if not isinstance(rows, dict) or not isinstance(self.input, dict):
            return rows
        missing = [column for column in self.input if column not in rows]
        if missing:
            raise DataError(
                f"The rows lack column(s) {', '.join(map(repr, missing))} that the "
                "model was trained on; add them (empty values are allowed)."
            )
        return {
            column: _clean_column(rows[column], tensor.dtype)
            for column, tensor in self.input.items()
        }


def _clean_column(values, dtype):
    if not isinstance(values, np.ndarray | list | tuple | pd.Series | pd.Index):
        return values  # a tensor, or a scalar Keras reports itself
    flat = pd.Series(np.asarray(values, dtype=object).reshape(-1))
    if dtype == "string":
        flat = flat.map(
            lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        )
        text = flat.astype("string").str.strip().fillna("")
        # A 1-D object array of `str`: Keras's `predict` converts only that
        # to a string tensor (it checks the elements, which in 2-D are rows);
        # the Functional model then adds the column axis.
        return text.to_numpy(dtype=object)
    numbers = pd.to_numeric(flat, errors="coerce").astype("float64")
    return numbers.to_numpy("float32").reshape(-1, 1)


def adapt_table(config, bundle):
    """Fits the feature encoder on the raw training rows of a tabular bundle.

    Args:
        config: The family config (unused: every tabular model encodes rows
            the same way).
        bundle: A tabular `DataBundle` whose `x` is a dict of columns and
            whose `info` names the numeric and categorical columns.

    Returns:
        A `Preprocessing` whose layer maps raw rows to the feature vector.
    """
    del config
    numeric = list(bundle.info.get("numeric_columns", []))
    categorical = list(bundle.info.get("categorical_columns", []))
    if not isinstance(bundle.train.element_spec[0], dict):
        raise DataError("A tabular model needs table rows (a dict of columns).")
    # One batch of the whole split (a huge fixed batch size would make tf.data
    # allocate for it: 7 s for 600 rows).
    rows = int(bundle.info.get("train_size") or bundle.train.cardinality())
    columns = next(iter(bundle.train.map(lambda x, y: x).batch(max(rows, 1))))
    train = {c: np.asarray(v).reshape(-1) for c, v in columns.items()}
    encoder = feature_encoder(numeric, categorical, train)
    return Preprocessing(
        layer=encoder,
        raw_inputs=lambda: raw_inputs(numeric, categorical),
        export_class=TableModel,
        input_shape=(int(encoder.output_shape[-1]),),
        info={"features": int(encoder.output_shape[-1])},
    )


def raw_inputs(numeric, categorical):
    """`{column: keras.Input((1,))}` in sorted column order."""
    names = layer_names([*numeric, *categorical])
    return {
        column: keras.Input(
            shape=(1,),
            name=names[column],
            dtype="float32" if column in numeric else "string",
        )
        for column in sorted([*numeric, *categorical])
    }


def feature_encoder(numeric, categorical, train):
    """A Functional model from raw columns to one float vector.

    Args:
        numeric: Names of numeric columns (missing values are NaN).
        categorical: Names of categorical columns (strings).
        train: `{column: 1-D array}` of the training rows, for the statistics.
    """
    inputs = raw_inputs(numeric, categorical)
    names = layer_names(inputs)
    encoded = []
    for column in sorted(inputs):
        name = names[column]
        if column in numeric:
            values = np.asarray(train[column], "float64")
            finite = values[np.isfinite(values)]
            median = float(np.median(finite)) if finite.size else 0.0
            filled = np.where(np.isfinite(values), values, median)
            x = FillMissing(median, name=f"fill_{name}")(inputs[column])
            encoded.append(
                keras.layers.Normalization(
                    mean=float(filled.mean()),
                    variance=float(filled.var()),
                    name=f"normalize_{name}",
                )(x)
            )
        else:
            vocabulary = sorted({_text(v) for v in train[column]})
            encoded.append(
                keras.layers.StringLookup(
                    vocabulary=vocabulary,
                    num_oov_indices=1,
                    output_mode="one_hot",
                    name=f"lookup_{name}",
                )(inputs[column])
            )
    merged = (
        keras.layers.Concatenate(name="features")(encoded)
        if len(encoded) > 1
        else encoded[0]
    )
    return keras.Model(inputs, merged, name="tabular_preprocessor")


def _text(value):
    return value.decode() if isinstance(value, bytes) else str(value)

"""The fitted preprocessing a model carries, as keras-hub's tasks own theirs.

A family's `adapt(config, bundle)` hook fits its preprocessing on the raw
training split (a vocabulary, column statistics, a scale) and returns a
`Preprocessing`. The runner maps `layer` over the splits in tf.data for
training speed and puts it in front of the network when it exports the
model, so a saved `model.keras` takes raw rows, strings, images or windows
and answers in the user's units. The data layer never builds model layers.
"""

import dataclasses
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Preprocessing:
    """What `Family.adapt` returns.

    Attributes:
        layer: Raw inputs -> network inputs (a Keras layer or model taking
            a batch). None when the network takes raw inputs itself.
        export_front: `front(raw inputs) -> inputs of layer` that only the
            exported model carries, for data the loader already encoded: the
            corpus loader cuts windows from whole token streams, which no
            per-example map can do, so the saved model tokenises raw text
            with the same fitted vocabulary in front. None otherwise.
        raw_inputs: `raw_inputs() -> keras.Input` or a dict of them: the
            inputs of the exported model. Needed with `layer`.
        input_shape: Shape of one network input after `layer`.
        target_layer: `y -> y` for training targets (a forecast's scaling),
            or None.
        postprocessor: Network outputs -> the user's units (a Keras layer),
            appended at export, or None.
        batch_map: `(x, y) -> (x, y)` applied to every batch (the LSTM cuts
            padding no text in the batch reaches), or None.
        lengths: Each example's length from a batch of network inputs; when
            set, shuffled batches gather similar lengths. None otherwise.
        cache: Cache the mapped splits in memory (tokenising once).
        export_class: The `keras.Model` subclass the exported model is
            built as (the tabular model cleans pandas columns before Keras
            sees them), or None for `keras.Model`.
        info: JSON-able facts for `config.json` (vocabulary size...).
        arrays: Values the family's `initialize` hook needs (an embedding
            matrix laid out by the fitted vocabulary).
    """

    layer: Any = None
    export_front: Callable | None = None
    raw_inputs: Callable | None = None
    input_shape: tuple | None = None
    target_layer: Callable | None = None
    postprocessor: Any = None
    batch_map: Callable | None = None
    lengths: Callable | None = None
    cache: bool = True
    export_class: Any = None
    info: dict = dataclasses.field(default_factory=dict)
    arrays: dict = dataclasses.field(default_factory=dict)

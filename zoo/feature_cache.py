"""Frozen backbones computed once: the head trains on cached backbone features.

A frozen backbone on un-augmented inputs gives the same output for an example
at every epoch, yet `fit` recomputes it every time: for VGG16 at 224x224 that
is nearly all of an epoch's cost. `fit_head` splits the model at the
backbone's output into an extractor and a head (two Functional models over the
same layers, so the head's training changes the whole model), runs the
extractor once per split, and fits the head on the features. The whole model
on raw inputs is what the caller keeps, saves and fine-tunes afterwards.

Features stay in memory when they fit under `memory_limit_bytes`; otherwise
they go to `.npy` files in the directory the runner names (`settings`), keyed
by the SHA-256 of the backbone's weights and of the split's examples, so a
later trial or a resumed run on the same data reads them instead of computing
them. The reason is printed either way: "computed once" or why not
(augmentation on, backbone trainable, the caller turned it off).

Families call `fit_head` from their `fit` hook:

    def fit(model, config, train, **kwargs):
        return feature_cache.fit_head(model, train, **kwargs).history

after marking the cut in the builder: `x = feature_cache.mark_features(backbone(x))`.

Features are computed in inference mode (`training=False`): dropout inside a
frozen encoder is off, as the Keras transfer-learning guide runs frozen bases.
"""

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import os
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

DEFAULT_MEMORY_LIMIT = 1 << 30  # 1 GiB of features per split.
FEATURES = "backbone_features"
_CALLBACK_HOOKS = tuple(
    name for name in dir(keras.callbacks.Callback) if name.startswith("on_")
)


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    """What the runner tells the cache about a run.

    Attributes:
        enabled: False turns the cache off (`--set feature_cache=false`...).
        augmented: The training inputs are augmented, so features differ per epoch.
        directory: Where features that do not fit in memory go (the run
            folder's `feature_cache/`); a temporary folder when None.
        memory_limit_bytes: Largest split kept in memory.
    """

    enabled: bool = True
    augmented: bool = False
    directory: str | None = None
    memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT


_SETTINGS = contextvars.ContextVar("zoo_feature_cache", default=None)


@contextlib.contextmanager
def settings(**changes):
    """Sets `CacheSettings` fields for the fits run inside the block.

    Example:
    >>> with settings(directory="runs/vgg/feature_cache", augmented=False):
    ...     pass
    """
    token = _SETTINGS.set(dataclasses.replace(current_settings(), **changes))
    try:
        yield
    finally:
        _SETTINGS.reset(token)


def current_settings():
    """The `CacheSettings` in force (the defaults outside `settings`)."""
    return _SETTINGS.get() or CacheSettings()


# === Splitting the model ===


def mark_features(x, name=FEATURES):
    """Names the backbone's output where the head starts (a no-op layer).

    A nested backbone's own `.output` is a tensor of its inner graph, so the
    family marks the cut in the outer graph with an `Identity` layer.
    """
    return keras.layers.Identity(name=name)(x)


def split_model(model, layer=FEATURES, *, output_key=None):
    """`(extractor, head)`: inputs -> `layer`'s output, and that output -> outputs.

    Both share the model's layers and weights (Keras 3 Functional models can
    start at an intermediate tensor).
    """
    features = model.get_layer(layer).output
    if output_key is not None:
        features = features[output_key]
    extractor = keras.Model(model.inputs, features, name=f"{model.name}_features")
    head = keras.Model(features, model.outputs, name=f"{model.name}_head")
    return extractor, head


def reason_not_cached(model, layer, cache_settings=None):
    """None when the features before `layer`'s output can be cached, else why not."""
    cache_settings = cache_settings or current_settings()
    if not cache_settings.enabled:
        return "the feature cache is turned off"
    if cache_settings.augmented:
        return "the training inputs are augmented, so the backbone's outputs change every epoch"
    try:
        extractor, _ = split_model(model, layer)
    except ValueError as error:
        return f"the model cannot be split at {layer!r} ({error})"
    if extractor.trainable_weights:
        return f"the backbone up to {layer!r} is trainable ({len(extractor.trainable_weights)} trainable weights)"
    return None


# === Computing and keeping the features ===


def _digest_examples(digests, array):
    array = np.asarray(array)
    if array.dtype == object:
        for item in array.reshape(len(array), -1):
            digests.append(hashlib.sha256(b"\0".join(bytes(v) for v in item)).digest())
    else:
        flat = np.ascontiguousarray(array).reshape(len(array), -1)
        digests.extend(hashlib.sha256(row.tobytes()).digest() for row in flat)


def _unpack(batch):
    if isinstance(batch, tuple | list):
        return batch[0], batch[1], (batch[2] if len(batch) > 2 else None)
    return batch, None, None


def _layer_configs(model):
    """Each layer's class and config, names left out (Keras numbers them per
    session), nested models followed: what the weights alone do not say (a
    resize to 64 or to 224 pixels has no weights)."""
    configs = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            configs.append(_layer_configs(layer))
            continue
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
        configs.append([type(layer).__name__, config])
    return configs


def split_key(extractor, dataset, steps=None):
    """SHA-256 of the extractor's layers and weights and of the split's
    examples (order-free)."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(_layer_configs(extractor), sort_keys=True, default=str).encode()
    )
    for weight in extractor.weights:
        digest.update(
            np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes()
        )
    examples = []
    for batch in dataset.take(steps) if steps else dataset:
        x, y, _ = _unpack(batch)
        _digest_examples(examples, x)
        if y is not None:
            _digest_examples(examples, y)
    for item in sorted(examples):
        digest.update(item)
    return digest.hexdigest()


def compute_features(extractor, dataset, steps=None):
    """`(features, labels, sample_weights or None)` over one pass of `dataset`."""
    features, labels, weights = [], [], []
    for batch in dataset.take(steps) if steps else dataset:
        x, y, w = _unpack(batch)
        features.append(np.asarray(extractor.predict_on_batch(x)))
        labels.append(np.asarray(y))
        if w is not None:
            weights.append(np.asarray(w))
    return (
        np.concatenate(features),
        np.concatenate(labels),
        np.concatenate(weights) if weights else None,
    )


def _stored(directory, key):
    paths = [os.path.join(directory, f"{key}_{part}.npy") for part in ("x", "y", "w")]
    if not all(os.path.exists(path) for path in paths[:2]):
        return None
    arrays = [np.load(paths[0], mmap_mode="r"), np.load(paths[1])]
    arrays.append(np.load(paths[2]) if os.path.exists(paths[2]) else None)
    return tuple(arrays)


def _store(directory, key, arrays):
    os.makedirs(directory, exist_ok=True)
    for part, array in zip(("x", "y", "w"), arrays, strict=True):
        if array is None:
            continue
        path = os.path.join(directory, f"{key}_{part}.npy")
        partial = f"{path}.partial.npy"
        np.save(partial, array)
        os.replace(partial, path)  # Never a half-written cache file.
    return _stored(directory, key)


def split_features(extractor, dataset, *, steps=None, cache_settings=None):
    """Features of one split, from the disk cache or computed (and stored
    there when they exceed the memory limit). Returns arrays and where they
    came from ("computed", "disk")."""
    cache_settings = cache_settings or current_settings()
    directory = cache_settings.directory
    key = split_key(extractor, dataset, steps) if directory else None
    if key is not None:
        stored = _stored(directory, key)
        if stored is not None:
            return stored, "disk"
    arrays = compute_features(extractor, dataset, steps)
    if arrays[0].nbytes > cache_settings.memory_limit_bytes:
        directory = directory or tempfile.mkdtemp(prefix="zoo-features-")
        key = key or split_key(extractor, dataset, steps)
        arrays = _store(directory, key, arrays)
    elif key is not None:
        _store(directory, key, arrays)
    return arrays, "computed"


def feature_batches(arrays, batch_size, *, shuffle_seed=None, repeat=False):
    """Batches of cached features; a reshuffled pass per epoch when training."""
    features, labels, weights = arrays
    count = len(labels)
    if isinstance(features, np.memmap):
        # Memory-mapped: shuffle indices, read each batch's rows from the file.
        index = tf.data.Dataset.range(count)
        if shuffle_seed is not None:
            index = index.shuffle(
                count, seed=shuffle_seed, reshuffle_each_iteration=True
            )

        def read(rows):
            rows = np.sort(rows)
            parts = [features[rows], labels[rows]]
            return tuple(parts + ([weights[rows]] if weights is not None else []))

        types = [tf.as_dtype(features.dtype), tf.as_dtype(labels.dtype)]
        types += [tf.as_dtype(weights.dtype)] if weights is not None else []
        dataset = index.batch(batch_size).map(
            lambda rows: tuple(tf.numpy_function(read, [rows], types)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        shapes = [features.shape[1:], labels.shape[1:]]
        shapes += [weights.shape[1:]] if weights is not None else []
        dataset = dataset.map(
            lambda *parts: tuple(
                tf.ensure_shape(part, (None, *shape))
                for part, shape in zip(parts, shapes, strict=True)
            )
        )
    else:
        parts = (features, labels) + ((weights,) if weights is not None else ())
        dataset = tf.data.Dataset.from_tensor_slices(parts)
        if shuffle_seed is not None:
            dataset = dataset.shuffle(
                count, seed=shuffle_seed, reshuffle_each_iteration=True
            )
        dataset = dataset.batch(batch_size)
    if repeat:
        dataset = dataset.repeat()
    return dataset.prefetch(tf.data.AUTOTUNE)


# === Training the head ===


class _OnWholeModel(keras.callbacks.Callback):
    """Runs a callback of the head's `fit` against the whole model.

    Checkpoints, backups and KerasTuner's best-epoch saving must save the
    model the caller keeps, not the head; what they set on it (early
    stopping's `stop_training`, a restored backup's epoch) is passed on to
    the head's loop.
    """

    def __init__(self, callback, model):
        super().__init__()
        self.callback = callback
        self.whole = model
        for name in _CALLBACK_HOOKS:
            setattr(self, name, self._forward(name))

    def _forward(self, name):
        hook = getattr(self.callback, name)

        def forward(*args, **kwargs):
            result = hook(*args, **kwargs)
            head = self.model
            if head is not None and getattr(self.whole, "stop_training", False):
                head.stop_training = True
            if name == "on_train_begin" and head is not None:
                # A resumed run's backup sets Keras' private start epoch on
                # the model it restores (zoo.tuning.internals.set_initial_epoch).
                epoch = getattr(self.whole, "_initial_epoch", None)
                if epoch is not None:
                    head._initial_epoch = epoch
            return result

        return forward

    def set_model(self, model):
        super().set_model(model)
        self.callback.set_model(self.whole)

    def set_params(self, params):
        super().set_params(params)
        self.callback.set_params(params)


def _compile_head(head, model):
    """The head compiled as the model is, sharing its optimizer (and its state)."""
    arguments = keras.saving.deserialize_keras_object(model.get_compile_config())
    arguments["optimizer"] = model.optimizer
    head.compile(**arguments)
    head.steps_per_execution = model.steps_per_execution


def _batch_size_of(dataset):
    for batch in dataset.take(1):
        x, _, _ = _unpack(batch)
        return int(tf.nest.flatten(x)[0].shape[0])
    return 32


def fit_head(
    model,
    train,
    *,
    layer=FEATURES,
    output_key=None,
    validation_data=None,
    steps_per_epoch=None,
    callbacks=None,
    seed=0,
    enabled=True,
    log=print,
    **fit_kwargs,
):
    """`model.fit(train, ...)`, with the frozen backbone before `layer` computed once.

    Args:
        model: The whole model (raw inputs to outputs), compiled.
        train: Training batches (a repeated stream with `steps_per_epoch`
            batches per pass, or a finite dataset).
        layer: Name of the layer whose output feeds the head (`mark_features`).
        output_key: Key of that output when the layer returns a dict.
        validation_data: Validation batches (finite), or None.
        steps_per_epoch: Batches per pass of `train`.
        callbacks: Callbacks; they see the whole model.
        seed: Seed of the per-epoch shuffling of the cached features.
        enabled: The family's switch (a `feature_cache` config field).
        log: Where the one-line reason goes.
        **fit_kwargs: `epochs`, `initial_epoch`, `class_weight`, `verbose`...

    Returns:
        The `History` of the fit.
    """
    reason = reason_not_cached(model, layer) if enabled else "feature_cache=false"
    if reason is not None:
        log(f"Feature cache not used: {reason}.")
        return model.fit(
            train,
            validation_data=validation_data,
            steps_per_epoch=steps_per_epoch,
            callbacks=callbacks,
            **fit_kwargs,
        )
    started = time.perf_counter()
    extractor, head = split_model(model, layer, output_key=output_key)
    batch_size = _batch_size_of(train)
    train_arrays, source = split_features(extractor, train, steps=steps_per_epoch)
    validation = None
    if validation_data is not None:
        validation_arrays, _ = split_features(extractor, validation_data)
        validation = feature_batches(validation_arrays, batch_size)
    log(
        f"Feature cache used: {layer!r} is frozen and the inputs are not augmented; its "
        f"outputs {tuple(train_arrays[0].shape)} were {'read from disk' if source == 'disk' else 'computed once'} "
        f"in {time.perf_counter() - started:.1f} s and the head trains on them."
    )
    steps = -(-len(train_arrays[1]) // batch_size)
    _compile_head(head, model)
    wrapped = [_OnWholeModel(callback, model) for callback in callbacks or []]
    history = head.fit(
        feature_batches(train_arrays, batch_size, shuffle_seed=seed, repeat=True),
        validation_data=validation,
        steps_per_epoch=steps,
        callbacks=wrapped,
        **fit_kwargs,
    )
    model.history = history
    return history

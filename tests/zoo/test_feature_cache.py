"""zoo.feature_cache: a frozen backbone computed once, the head trained on it."""

import keras
import numpy as np
import tensorflow as tf

from zoo import feature_cache


def _model(trainable=False):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    backbone = keras.Sequential([keras.layers.Dense(8, activation="relu")], name="bb")
    backbone.trainable = trainable
    x = feature_cache.mark_features(backbone(inputs, training=False))
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(count=64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(count, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)


class _Seen(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.seen = self.model


def test_head_trains_on_cached_features_and_callbacks_see_the_whole_model(tmp_path):
    model = _model()
    frozen = [w.numpy().copy() for w in model.get_layer("bb").weights]
    before = model.get_layer("predictions").kernel.numpy().copy()
    messages, seen = [], _Seen()
    with feature_cache.settings(directory=str(tmp_path)):
        history = feature_cache.fit_head(
            model,
            _data().repeat(),
            steps_per_epoch=4,
            validation_data=_data(),
            epochs=2,
            callbacks=[seen],
            verbose=0,
            log=messages.append,
        )
    assert messages[0].startswith("Feature cache used")
    assert len(history.history["val_loss"]) == 2
    assert seen.seen is model  # Checkpoints save the whole model.
    assert not np.allclose(model.get_layer("predictions").kernel.numpy(), before)
    for weight, value in zip(model.get_layer("bb").weights, frozen, strict=True):
        np.testing.assert_array_equal(weight.numpy(), value)
    assert any(p.name.endswith("_x.npy") for p in tmp_path.iterdir())
    # A second fit on the same data reads the features from disk.
    with feature_cache.settings(directory=str(tmp_path)):
        feature_cache.fit_head(
            model,
            _data().repeat(),
            steps_per_epoch=4,
            epochs=1,
            verbose=0,
            log=messages.append,
        )
    assert "read from disk" in messages[1]


def test_features_equal_the_backbone_output():
    model = _model()
    extractor, head = feature_cache.split_model(model)
    (features, labels, _), _ = feature_cache.split_features(extractor, _data())
    x = np.concatenate([b[0].numpy() for b in _data()])
    np.testing.assert_allclose(
        head.predict(features, verbose=0), model.predict(x, verbose=0), rtol=1e-5
    )
    assert len(labels) == 64


def test_says_why_not_when_augmented_or_trainable():
    messages = []
    with feature_cache.settings(augmented=True):
        feature_cache.fit_head(
            _model(), _data(), epochs=1, verbose=0, log=messages.append
        )
    feature_cache.fit_head(
        _model(trainable=True), _data(), epochs=1, verbose=0, log=messages.append
    )
    assert "augmented" in messages[0]
    assert "trainable" in messages[1]


def test_the_key_tells_apart_extractors_that_differ_only_in_weightless_layers():
    # A resize to another size has no weights: the same weights and images
    # must not read the other size's features from the disk cache.
    def extractor(size):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Resizing(size, size)(inputs)
        x = keras.layers.Conv2D(2, 3, name="conv")(x)
        return keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))

    images = tf.data.Dataset.from_tensor_slices(np.ones((4, 8, 8, 1), "float32"))
    small, large = extractor(8), extractor(16)
    large.set_weights(small.get_weights())
    keys = {feature_cache.split_key(m, images.batch(2)) for m in (small, large)}
    assert len(keys) == 2
    # Layer names (numbered per session) do not change the key.
    assert feature_cache.split_key(extractor(8), images.batch(2)) in keys

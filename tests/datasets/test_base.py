import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.datasets.base import DataBundle, execution_steps


def _bundle(size=10, **kwargs):
    x = np.arange(size, dtype="float32").reshape(-1, 1)
    y = np.arange(size, dtype="int64")

    def split():
        return tf.data.Dataset.from_tensor_slices((x, y))

    return DataBundle(
        train=split(),
        validation=split(),
        test=split(),
        input_shape=(1,),
        num_classes=size,
        info={"train_size": size},
        **kwargs,
    )


def test_training_stream_epochs_are_whole_reshuffled_passes():
    dataset, steps, _ = _bundle(10).training_stream(4, seed=0)
    assert steps == 3  # 4 + 4 + 2
    batches = iter(dataset)
    orders = []
    for _ in range(3):  # Three epochs of one long-lived iterator.
        labels = np.concatenate([next(batches)[1].numpy() for _ in range(steps)])
        assert sorted(labels) == list(range(10))
        orders.append(labels.tolist())
    assert orders[0] != orders[1] or orders[1] != orders[2]


def test_training_stream_without_a_known_length_is_not_repeated():
    bundle = _bundle(10)
    bundle.train = bundle.train.filter(lambda x, y: y % 2 == 0)
    dataset, steps, _ = bundle.training_stream(4, seed=0)
    assert steps is None
    assert sum(int(tf.shape(y)[0]) for _, y in dataset) == 5


def test_batch_map_runs_on_every_batch_of_every_split():
    bundle = _bundle(10, batch_map=lambda x, y: (x[:, :0], y))
    for split in ("train", "validation", "test"):
        x, _ = next(iter(bundle.batches(split, 4)))
        assert x.shape == (4, 0)
    x, _ = next(iter(bundle.training_stream(4)[0]))
    assert x.shape == (4, 0)


class _CountSamples(keras.layers.Layer):
    """Adds the batch size to a counter at every training step."""

    def build(self, input_shape):
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False)

    def call(self, x, training=False):
        if training:
            self.seen.assign_add(tf.cast(tf.shape(x)[0], "float32"))
        return x


@pytest.mark.parametrize("steps_per_execution", [1, 2, 3, 32])
def test_fit_on_the_stream_sees_each_example_once_per_epoch(steps_per_execution):
    bundle = _bundle(10)  # Batches of 4: three steps a pass.
    counter = _CountSamples()
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(10)(counter(inputs)))
    model.compile(
        "sgd",
        "sparse_categorical_crossentropy",
        steps_per_execution=steps_per_execution,
    )
    dataset, steps, per_execution = bundle.training_stream(
        4, seed=0, steps_per_execution=steps_per_execution
    )
    model.steps_per_execution = per_execution
    model.fit(dataset, steps_per_epoch=steps, epochs=3, verbose=0)
    assert float(counter.seen.numpy()) == 30.0


@pytest.mark.parametrize(
    "steps, wanted, expected",
    [
        (13, 32, 13),
        (100, 32, 25),
        (37, 32, None),
        (12, 1, 1),
        (3, 2, 1),
        (7, 5, None),
        (64, 8, 8),
    ],
)
def test_execution_steps_tile_the_epoch(steps, wanted, expected):
    assert execution_steps(steps, wanted) == expected


def test_group_by_length_keeps_every_example_and_groups_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=300)
    x = np.zeros((300, 40), dtype="int64")
    for row, length in enumerate(lengths):
        x[row, :length] = row + 1  # Row ids as tokens: each row is traceable.
    bundle = DataBundle(
        train=tf.data.Dataset.from_tensor_slices((x, np.zeros(300, "int64"))),
        validation=tf.data.Dataset.from_tensor_slices((x, np.zeros(300, "int64"))),
        test=tf.data.Dataset.from_tensor_slices((x, np.zeros(300, "int64"))),
        input_shape=(40,),
        num_classes=2,
        info={"train_size": 300},
        lengths=lambda tokens: tf.reduce_sum(tf.cast(tokens != 0, tf.int32), -1),
    )
    dataset, steps, _ = bundle.training_stream(16, seed=0)
    assert steps == 19  # ceil(300 / 16): as many batches as plain batching
    batches = iter(dataset)
    for _ in range(2):  # Two passes of one iterator.
        rows, spread = [], []
        for _ in range(steps):
            tokens = next(batches)[0].numpy()
            rows += tokens[:, 0].tolist()
            batch_lengths = (tokens != 0).sum(1)
            spread.append(batch_lengths.max() - batch_lengths.min())
        assert sorted(rows) == list(range(1, 301))
        # Random batches of 16 from 1..39 span ~33 tokens; grouped, a few.
        assert np.median(spread) < 10
    # Validation and test batches keep their order.
    first = next(iter(bundle.batches("validation", 16)))[0].numpy()[:, 0]
    assert first.tolist() == list(range(1, 17))

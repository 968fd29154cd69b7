"""The private KerasTuner and Keras internals the zoo patches are still there."""

import keras
import keras_tuner as kt

from zoo.tuning import internals


def test_pinned_internals_have_not_moved():
    assert kt.__version__ == internals.PINNED["keras_tuner"]
    assert keras.__version__.startswith(internals.PINNED["keras"])
    internals.check_internals()


def test_follows_schedule_sees_through_the_evaluated_rate():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert internals.follows_schedule(keras.optimizers.SGD(schedule))
    assert not internals.follows_schedule(keras.optimizers.SGD(0.1))

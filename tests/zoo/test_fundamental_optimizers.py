"""The NumPy update rules step for step against keras.optimizers."""

import keras
import numpy as np
import pytest

from zoo.errors import ConfigError, UnknownNameError
from zoo.fundamentals.optimizers import make_optimizer

LEARNING_RATE = 0.05


def f32(value):
    # Keras keeps the learning rate in a float32 variable and converts Python
    # floats (momentum, the betas, epsilon) to float32 before casting them to
    # a float64 variable's dtype; our rules get the same rounded constants, so
    # the float64 trajectories must agree to rounding.
    return float(np.float32(value))


HYPER = {
    "sgd": {},
    "momentum": {"momentum": f32(0.9)},
    "nesterov": {"momentum": f32(0.9)},
    "adam": {"beta_1": 0.875, "beta_2": 1 - 2**-10, "epsilon": f32(1e-7)},
}
RTOL, ATOL = 1e-10, 1e-13

CASES = {
    "sgd": lambda lr: keras.optimizers.SGD(lr),
    "momentum": lambda lr: keras.optimizers.SGD(lr, momentum=0.9),
    "nesterov": lambda lr: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
    # Betas whose complements (1 - beta, which Keras also rounds to float32)
    # are exact in float32 too.
    "adam": lambda lr: keras.optimizers.Adam(lr, beta_1=0.875, beta_2=1 - 2**-10),
}


def _quadratic_gradients(w, b, a_matrix):
    # f(w, b) = 0.5 w^T A w + sum(b^2): a problem with an ill-conditioned part.
    return a_matrix @ w, 2 * b


@pytest.mark.parametrize("name", sorted(CASES))
def test_steps_match_keras(name):
    a_matrix = np.array([[10.0, 2.0], [2.0, 1.0]])
    ours_w, ours_b = np.array([1.0, -2.0]), np.array([[0.5, -0.3, 0.1]])
    keras_w = keras.Variable(ours_w.copy(), dtype="float64")
    keras_b = keras.Variable(ours_b.copy(), dtype="float64")
    ours = make_optimizer(name, f32(LEARNING_RATE), **HYPER[name])
    theirs = CASES[name](LEARNING_RATE)
    for _ in range(25):
        grads = _quadratic_gradients(ours_w, ours_b, a_matrix)
        ours.step([ours_w, ours_b], grads)
        keras_grads = _quadratic_gradients(keras_w.numpy(), keras_b.numpy(), a_matrix)
        theirs.apply_gradients(zip(keras_grads, [keras_w, keras_b]))
        np.testing.assert_allclose(ours_w, keras_w.numpy(), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ours_b, keras_b.numpy(), rtol=RTOL, atol=ATOL)
    # The trajectories are not trivially equal: the parameters moved.
    assert not np.allclose(ours_w, [1.0, -2.0])


def test_optimizer_names_and_values_are_checked():
    with pytest.raises(UnknownNameError, match="momentum"):
        make_optimizer("momentun", 0.1)
    with pytest.raises(ConfigError, match="learning_rate"):
        make_optimizer("adam", 0.0)
    with pytest.raises(ConfigError, match="momentum"):
        make_optimizer("sgd", 0.1, momentum=1.5)
    with pytest.raises(ConfigError, match="gradient"):
        make_optimizer("sgd", 0.1).step([np.zeros(2)], [])

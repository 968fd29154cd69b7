"""The NumPy autodiff against tf.GradientTape on the same graphs."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.fundamentals.autodiff import (
    Node,
    binary_crossentropy,
    dense_forward,
    init_dense_network,
    mean_squared_error,
    topological_order,
)


def _tape_gradients(fn, arrays):
    variables = [tf.Variable(a, dtype=tf.float64) for a in arrays]
    with tf.GradientTape() as tape:
        loss = fn(*variables)
    return float(loss), [g.numpy() for g in tape.gradient(loss, variables)]


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_dense_network_gradients_match_gradient_tape(activation):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4))
    y = rng.integers(0, 2, size=(5, 1)).astype(float)
    layers = init_dense_network([4, 6, 3, 1], seed=1)
    arrays = [a for layer in layers for a in (layer["kernel"], layer["bias"])]

    nodes = [Node(a) for a in arrays]
    params = [
        {"kernel": nodes[i], "bias": nodes[i + 1]} for i in range(0, len(nodes), 2)
    ]
    out = dense_forward(params, x, activation=activation, output_activation="sigmoid")
    loss = binary_crossentropy(out, y)
    loss.backward()

    tf_act = {"relu": tf.nn.relu, "sigmoid": tf.sigmoid, "tanh": tf.tanh}[activation]

    def tf_loss(*variables):
        h = tf.constant(x)
        for i in range(0, len(variables), 2):
            h = h @ variables[i] + variables[i + 1]
            h = tf.sigmoid(h) if i == len(variables) - 2 else tf_act(h)
        return tf.reduce_mean(tf.keras.losses.binary_crossentropy(y, h)[:, None])

    tf_value, tf_grads = _tape_gradients(tf_loss, arrays)
    np.testing.assert_allclose(loss.value, tf_value, rtol=1e-6)
    for node, expected in zip(nodes, tf_grads):
        np.testing.assert_allclose(node.grad, expected, rtol=1e-6, atol=1e-12)


def test_elementwise_ops_and_shared_nodes_match_gradient_tape():
    rng = np.random.default_rng(0)
    a_value = rng.uniform(0.5, 2.0, size=(3, 2))
    b_value = rng.uniform(0.5, 2.0, size=(2,))
    a, b = Node(a_value), Node(b_value)
    # `a` is used on three paths, `b` is broadcast over rows: both must sum.
    mixed = (a * b + a / b - a.exp() * 0.1 + a.log() + a.power(3)).sum()
    loss = mixed * mixed.tanh() - (a - b).square().mean()
    loss.backward()

    def tf_fn(ta, tb):
        m = tf.reduce_sum(
            ta * tb + ta / tb - tf.exp(ta) * 0.1 + tf.math.log(ta) + ta**3
        )
        return m * tf.tanh(m) - tf.reduce_mean(tf.square(ta - tb))

    value, (grad_a, grad_b) = _tape_gradients(tf_fn, [a_value, b_value])
    np.testing.assert_allclose(loss.value, value, rtol=1e-10)
    np.testing.assert_allclose(a.grad, grad_a, rtol=1e-8)
    np.testing.assert_allclose(b.grad, grad_b, rtol=1e-8)


def test_mse_gradient_and_topological_order():
    w = Node(np.array([[0.5], [-1.0]]), name="w")
    x = np.array([[1.0, 2.0], [0.0, 1.0]])
    prediction = Node(x) @ w
    loss = mean_squared_error(prediction, np.array([[1.0], [0.0]]))
    order = topological_order(loss)
    assert order[-1] is loss and order.index(w) < order.index(prediction)
    loss.backward()
    # d/dw mean((xw - y)^2) = 2/n x^T (xw - y)
    expected = 2 / 2 * x.T @ (x @ w.value - np.array([[1.0], [0.0]]))
    np.testing.assert_allclose(w.grad, expected)


def test_backward_needs_a_scalar():
    with pytest.raises(ZooError, match="scalar"):
        (Node(np.ones(3)) * 2).backward()

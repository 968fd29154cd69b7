"""Reverse-mode automatic differentiation over a computational graph, in NumPy.

A teaching implementation of what `tf.GradientTape` does: every operation on
`Node`s records its inputs and, for each input, the local gradient rule
(how a change in that input changes the output). `Node.backward()` walks the
graph from the output in reverse topological order and applies the chain
rule, summing the contributions of every path into each node's `grad`.

Hand-written on purpose (the zoo otherwise uses Keras for gradients): the
point is to see the values, the local gradients and the backward pass.

Example:
>>> w = Node(np.array([[0.5], [-1.0]]), name="w")
>>> x = Node(np.array([[1.0, 2.0]]), name="x")
>>> loss = ((x @ w) - 1.0).square().mean()
>>> loss.backward()
>>> w.grad.ravel().tolist()
[-5.0, -10.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from zoo.errors import ZooError

GradientRule = Callable[[np.ndarray], np.ndarray]


def _unbroadcast(gradient: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sums `gradient` over the axes NumPy broadcast to reach it from `shape`.

    A bias of shape (units,) added to a (batch, units) matrix receives the
    sum of the batch's gradients: each example used the same bias.
    """
    while gradient.ndim > len(shape):
        gradient = gradient.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and gradient.shape[axis] != 1:
            gradient = gradient.sum(axis=axis, keepdims=True)
    return gradient


class Node:
    """A value in the computational graph.

    Attributes:
        value: The forward value (a float64 array).
        grad: d(output)/d(this node) after `backward()` on an output; zeros
            before.
        parents: `(parent, rule)` pairs; `rule(upstream)` is this node's
            contribution to the parent's gradient (the local gradient times
            the upstream gradient).
        name: For printing tables and graphs.
    """

    def __init__(self, value, parents=(), name: str = ""):
        self.value = np.asarray(value, dtype=np.float64)
        self.grad = np.zeros_like(self.value)
        self.parents: tuple[tuple[Node, GradientRule], ...] = tuple(parents)
        self.name = name

    def __repr__(self):
        label = f"{self.name}=" if self.name else ""
        return f"Node({label}{self.value!r})"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    # --- Arithmetic: each returns a new node with its local gradient rules ---

    def __add__(self, other) -> Node:
        other = as_node(other)
        return Node(
            self.value + other.value,
            (
                (self, lambda g: _unbroadcast(g, self.shape)),
                (other, lambda g: _unbroadcast(g, other.shape)),
            ),
        )

    __radd__ = __add__

    def __neg__(self) -> Node:
        return Node(-self.value, ((self, lambda g: -g),))

    def __sub__(self, other) -> Node:
        return self + (-as_node(other))

    def __rsub__(self, other) -> Node:
        return as_node(other) + (-self)

    def __mul__(self, other) -> Node:
        other = as_node(other)
        return Node(
            self.value * other.value,
            (
                (self, lambda g: _unbroadcast(g * other.value, self.shape)),
                (other, lambda g: _unbroadcast(g * self.value, other.shape)),
            ),
        )

    __rmul__ = __mul__

    def __truediv__(self, other) -> Node:
        return self * as_node(other).power(-1.0)

    def __matmul__(self, other) -> Node:
        other = as_node(other)
        return Node(
            self.value @ other.value,
            (
                (self, lambda g: g @ other.value.T),
                (other, lambda g: self.value.T @ g),
            ),
        )

    def power(self, exponent: float) -> Node:
        return Node(
            self.value**exponent,
            ((self, lambda g: g * exponent * self.value ** (exponent - 1)),),
        )

    def square(self) -> Node:
        return self.power(2.0)

    # --- Elementwise functions ---

    def exp(self) -> Node:
        out = np.exp(self.value)
        return Node(out, ((self, lambda g: g * out),))

    def log(self) -> Node:
        return Node(np.log(self.value), ((self, lambda g: g / self.value),))

    def tanh(self) -> Node:
        out = np.tanh(self.value)
        return Node(out, ((self, lambda g: g * (1.0 - out**2)),))

    def sigmoid(self) -> Node:
        out = 1.0 / (1.0 + np.exp(-self.value))
        return Node(out, ((self, lambda g: g * out * (1.0 - out)),))

    def relu(self) -> Node:
        return Node(
            np.maximum(self.value, 0.0), ((self, lambda g: g * (self.value > 0)),)
        )

    # --- Reductions ---

    def sum(self) -> Node:
        return Node(
            self.value.sum(), ((self, lambda g: np.broadcast_to(g, self.shape)),)
        )

    def mean(self) -> Node:
        size = self.value.size
        return Node(
            self.value.mean(),
            ((self, lambda g: np.broadcast_to(g / size, self.shape)),),
        )

    # --- The backward pass ---

    def backward(self) -> None:
        """Fills `grad` of every node this one depends on (d self / d node).

        `self` must be a scalar (a loss). Gradients accumulate, as with
        `tf.GradientTape` over a sum: call `zero_grad` on reused leaves
        between steps.
        """
        if self.value.size != 1:
            raise ZooError(
                f"backward() needs a scalar output, got shape {self.shape}; "
                "reduce it first with .sum() or .mean()."
            )
        order = topological_order(self)
        for node in order:
            if node is not self and node.parents:
                node.grad = np.zeros_like(node.value)
        self.grad = np.ones_like(self.value)
        for node in reversed(order):
            for parent, rule in node.parents:
                parent.grad = parent.grad + rule(node.grad)

    def zero_grad(self) -> None:
        self.grad = np.zeros_like(self.value)


def as_node(value) -> Node:
    """`value` itself when it is a `Node`, else a constant leaf."""
    return value if isinstance(value, Node) else Node(value)


def topological_order(output: Node) -> list[Node]:
    """Every node `output` depends on, each after all of its parents.

    Iterative (not recursive) so deep graphs do not hit Python's recursion
    limit.
    """
    order, seen, stack = [], set(), [(output, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((parent, False) for parent, _ in node.parents)
    return order


# --- Losses and a dense network on top of the graph ---


def mean_squared_error(prediction: Node, target) -> Node:
    """Mean over all entries of (prediction - target)^2."""
    return (prediction - as_node(target)).square().mean()


def binary_crossentropy(probability: Node, target, epsilon: float = 1e-7) -> Node:
    """Mean of -[y log p + (1 - y) log(1 - p)], p clipped away from 0 and 1.

    The clip mirrors Keras' `BinaryCrossentropy` (epsilon 1e-7): the
    constants keep log() finite without changing the gradient elsewhere.
    """
    target = as_node(target)
    clipped = Node(
        np.clip(probability.value, epsilon, 1.0 - epsilon),
        (
            (
                probability,
                lambda g: (
                    g
                    * (
                        (probability.value > epsilon)
                        & (probability.value < 1 - epsilon)
                    )
                ),
            ),
        ),
    )
    losses = -(target * clipped.log() + (1.0 - target) * (1.0 - clipped).log())
    return losses.mean()


ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")


def activate(node: Node, activation: str) -> Node:
    if activation == "linear":
        return node
    if activation not in ACTIVATIONS:
        raise ZooError(
            f"Unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}."
        )
    return getattr(node, activation)()


def init_dense_network(
    layer_sizes: Iterable[int], *, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    """Glorot-uniform kernels and zero biases, as `keras.layers.Dense` starts.

    Args:
        layer_sizes: Input width, then the units of each layer.
        seed: NumPy seed.

    Returns:
        One `{"kernel": (in, out), "bias": (out,)}` dict per layer.
    """
    sizes = list(layer_sizes)
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        layers.append(
            {
                "kernel": rng.uniform(-limit, limit, (fan_in, fan_out)),
                "bias": np.zeros(fan_out),
            }
        )
    return layers


def dense_forward(
    layers: list[dict[str, Node]],
    inputs,
    *,
    activation: str = "relu",
    output_activation: str = "linear",
) -> Node:
    """A stack of dense layers on `Node` parameters: act(x @ W + b) each."""
    x = as_node(inputs)
    for index, layer in enumerate(layers):
        x = x @ layer["kernel"] + layer["bias"]
        last = index == len(layers) - 1
        x = activate(x, output_activation if last else activation)
    return x

"""SGD, momentum, Nesterov momentum and Adam written as update rules in NumPy.

Each optimizer keeps its state (velocity, moment estimates) per parameter
and updates the parameter arrays in place from their gradients. The rules
are written in the same form as `keras.optimizers.SGD` and
`keras.optimizers.Adam` (Keras 3.15) so a test can check them step for step
against Keras on the same problem:

- SGD: `w <- w - lr * g`.
- Momentum: `v <- mu * v - lr * g; w <- w + v` (a heavy ball: the velocity
  remembers past gradients, so steps grow along a consistent direction and
  oscillations across a narrow valley cancel).
- Nesterov: the same velocity, but the step looks ahead:
  `w <- w + mu * v - lr * g`.
- Adam: running means of g (m) and g^2 (v), bias-corrected through the step
  size `lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)`; `w <- w - lr_t * m /
  (sqrt(v) + eps)`. Keras adds eps to sqrt(v) before the bias correction of
  v (the paper's "epsilon hat" form), so this does too.

Hand-written on purpose (training uses `keras.optimizers`): the point is to
see the rules.

Example:
>>> w = np.array([1.0])
>>> opt = SGD(learning_rate=0.1, momentum=0.9)
>>> opt.step([w], [np.array([2.0])]); w.tolist()
[0.8]
>>> opt.step([w], [np.array([2.0])]); w.tolist()
[0.42000000000000004]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zoo.errors import ConfigError, unknown_name


class Optimizer:
    """Base class: per-parameter state and the step counter.

    Subclasses implement `update(index, parameter, gradient)`.
    """

    def __init__(self, learning_rate: float):
        if not learning_rate > 0:
            raise ConfigError(
                f"learning_rate must be > 0, got {learning_rate}; use e.g. 0.01."
            )
        self.learning_rate = float(learning_rate)
        self.iterations = 0
        self.state: dict[int, dict[str, np.ndarray]] = {}

    def step(
        self, parameters: Sequence[np.ndarray], gradients: Sequence[np.ndarray]
    ) -> None:
        """Updates every parameter array in place from its gradient."""
        if len(parameters) != len(gradients):
            raise ConfigError(
                f"Got {len(parameters)} parameters but {len(gradients)} gradients; "
                "pass one gradient per parameter, in the same order."
            )
        for index, (parameter, gradient) in enumerate(zip(parameters, gradients)):
            if parameter.shape != np.shape(gradient):
                raise ConfigError(
                    f"Parameter {index} has shape {parameter.shape} but its gradient "
                    f"has shape {np.shape(gradient)}."
                )
            self.update(index, parameter, np.asarray(gradient, parameter.dtype))
        self.iterations += 1

    def slot(self, index: int, name: str, like: np.ndarray) -> np.ndarray:
        """The state array `name` of parameter `index`, zeros at first."""
        slots = self.state.setdefault(index, {})
        if name not in slots:
            slots[name] = np.zeros_like(like)
        return slots[name]

    def update(self, index: int, parameter: np.ndarray, gradient: np.ndarray):
        raise NotImplementedError


class SGD(Optimizer):
    """Vanilla, momentum (`momentum > 0`) or Nesterov (`nesterov=True`) SGD."""

    def __init__(
        self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov=False
    ):
        super().__init__(learning_rate)
        if not 0 <= momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {momentum}.")
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def update(self, index, parameter, gradient):
        if self.momentum == 0:
            parameter -= self.learning_rate * gradient
            return
        velocity = self.slot(index, "velocity", parameter)
        velocity *= self.momentum
        velocity -= self.learning_rate * gradient
        if self.nesterov:
            parameter += self.momentum * velocity - self.learning_rate * gradient
        else:
            parameter += velocity


class Adam(Optimizer):
    """Adam with Keras' defaults (beta_1 0.9, beta_2 0.999, epsilon 1e-7)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
    ):
        super().__init__(learning_rate)
        for name, beta in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0 <= beta < 1:
                raise ConfigError(f"{name} must be in [0, 1), got {beta}.")
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def update(self, index, parameter, gradient):
        t = self.iterations + 1
        m = self.slot(index, "m", parameter)
        v = self.slot(index, "v", parameter)
        m += (gradient - m) * (1 - self.beta_1)
        v += (gradient**2 - v) * (1 - self.beta_2)
        step_size = (
            self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        )
        parameter -= step_size * m / (np.sqrt(v) + self.epsilon)


OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def make_optimizer(name: str, learning_rate: float, **kwargs) -> Optimizer:
    """One of `OPTIMIZERS` by name: "momentum" and "nesterov" use mu=0.9.

    Args:
        name: "sgd", "momentum", "nesterov" or "adam".
        learning_rate: Step size.
        **kwargs: Passed to the class (momentum, beta_1, ...).
    """
    if name == "sgd":
        return SGD(learning_rate, **kwargs)
    if name in ("momentum", "nesterov"):
        kwargs.setdefault("momentum", 0.9)
        return SGD(learning_rate, nesterov=name == "nesterov", **kwargs)
    if name == "adam":
        return Adam(learning_rate, **kwargs)
    raise unknown_name("optimizer", name, OPTIMIZERS)

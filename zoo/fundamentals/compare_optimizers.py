"""SGD, momentum and Adam compared: loss curves and paths on a 2-D problem.

Everything here runs on the from-scratch parts (`autodiff`, `optimizers`),
so the curves show those rules at work:

- `train_network_curves`: the same small network (same data, same start
  weights) trained full-batch with each optimizer; loss per step.
- `surface_paths`: each optimizer's path on an ill-conditioned quadratic
  `f(x, y) = (x^2 + 25 y^2) / 2` (the valley is 25 times steeper across than
  along) or on Rosenbrock's banana `(1 - x)^2 + 100 (y - x^2)^2`.
- `figures` returns matplotlib Figures (nothing written);
  `write_optimizer_comparison` writes them and the tables.

Defaults: SGD and momentum share one learning rate, so the comparison
isolates the velocity; Adam takes its usual kind of step size (its steps
are about `learning_rate` long whatever the gradient's scale).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from zoo.errors import ConfigError, unknown_name
from zoo.fundamentals.autodiff import (
    Node,
    binary_crossentropy,
    dense_forward,
    init_dense_network,
)
from zoo.fundamentals.optimizers import make_optimizer

# name -> learning rate, per problem. Found by hand once: the largest round
# rate at which vanilla SGD is still stable on each problem (the quadratic's
# curvature 25 makes SGD diverge above 2/25 = 0.08).
NETWORK_RATES = {"sgd": 0.5, "momentum": 0.5, "adam": 0.05}
SURFACE_RATES = {
    "quadratic": {"sgd": 0.035, "momentum": 0.035, "adam": 0.3},
    "rosenbrock": {"sgd": 0.001, "momentum": 0.001, "adam": 0.05},
}
TITLES = {
    "quadratic": "ill-conditioned quadratic (x² + 25 y²) / 2",
    "rosenbrock": "Rosenbrock (1 - x)² + 100 (y - x²)²",
}
STARTS = {"quadratic": (-4.5, 1.5), "rosenbrock": (-1.5, 2.0)}
# Rosenbrock's curved valley takes every method hundreds of steps.
SURFACE_STEPS = {"quadratic": 100, "rosenbrock": 1000}


def _two_moons(samples: int, seed: int):
    """Two interleaved half circles with noise: not linearly separable."""
    rng = np.random.default_rng(seed)
    half = samples // 2
    angle = rng.uniform(0, np.pi, samples)
    upper = np.stack([np.cos(angle[:half]), np.sin(angle[:half])], axis=1)
    lower = np.stack([1 - np.cos(angle[half:]), 0.5 - np.sin(angle[half:])], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, 0.1, (samples, 2))
    y = np.concatenate([np.zeros(half), np.ones(samples - half)])[:, None]
    return x, y


def train_network_curves(
    rates: dict[str, float] | None = None,
    *,
    steps: int = 300,
    hidden_units: int = 16,
    samples: int = 200,
    seed: int = 0,
) -> pd.DataFrame:
    """Full-batch training of one 2-H-1 network per optimizer, from the same start.

    Returns:
        Columns `step` and one binary cross-entropy column per optimizer.
    """
    rates = dict(NETWORK_RATES if rates is None else rates)
    x, y = _two_moons(samples, seed)
    start = init_dense_network([2, hidden_units, 1], seed=seed)
    curves = {"step": np.arange(1, steps + 1)}
    for name, rate in rates.items():
        optimizer = make_optimizer(name, rate)
        arrays = [a.copy() for layer in start for a in (layer["kernel"], layer["bias"])]
        losses = []
        for _ in range(steps):
            nodes = [Node(a) for a in arrays]
            layers = [
                {"kernel": nodes[i], "bias": nodes[i + 1]}
                for i in range(0, len(nodes), 2)
            ]
            probability = dense_forward(
                layers, x, activation="tanh", output_activation="sigmoid"
            )
            loss = binary_crossentropy(probability, y)
            loss.backward()
            losses.append(float(loss.value))
            optimizer.step(arrays, [node.grad for node in nodes])
        curves[name] = losses
    return pd.DataFrame(curves)


def _surface(problem: str):
    """`(f, gradient)` of a 2-D problem, both on a point `(x, y)`."""
    if problem == "quadratic":
        return (
            lambda p: 0.5 * (p[0] ** 2 + 25 * p[1] ** 2),
            lambda p: np.array([p[0], 25 * p[1]]),
        )
    if problem == "rosenbrock":
        return (
            lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2,
            lambda p: np.array(
                [
                    -2 * (1 - p[0]) - 400 * p[0] * (p[1] - p[0] ** 2),
                    200 * (p[1] - p[0] ** 2),
                ]
            ),
        )
    raise unknown_name("problem", problem, ("quadratic", "rosenbrock"))


def surface_paths(
    problem: str = "quadratic",
    rates: dict[str, float] | None = None,
    *,
    steps: int | None = None,
    start: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Each optimizer's path on a 2-D problem.

    Returns:
        Long format: `optimizer`, `step` (0 is the start), `x`, `y`, `f`.
    """
    f, gradient = _surface(problem)
    rates = dict(SURFACE_RATES[problem] if rates is None else rates)
    steps = SURFACE_STEPS[problem] if steps is None else steps
    if steps < 1:
        raise ConfigError(f"steps must be >= 1, got {steps}.")
    rows = []
    for name, rate in rates.items():
        optimizer = make_optimizer(name, rate)
        point = np.array(STARTS[problem] if start is None else start, dtype=float)
        for step in range(steps + 1):
            rows.append((name, step, point[0], point[1], float(f(point))))
            optimizer.step([point], [gradient(point)])
    return pd.DataFrame(rows, columns=["optimizer", "step", "x", "y", "f"])


def steps_to_reach(paths: pd.DataFrame, threshold: float) -> dict[str, int | None]:
    """First step at which each optimizer's `f` falls below `threshold`."""
    result = {}
    for name, group in paths.groupby("optimizer", sort=False):
        below = group.loc[group["f"] < threshold, "step"]
        result[name] = int(below.iloc[0]) if len(below) else None
    return result


def curves_figure(curves: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(6, 4), dpi=110)
    axes = figure.subplots()
    for name in curves.columns.drop("step"):
        axes.plot(curves["step"], curves[name], label=name)
    axes.set(xlabel="step (full batch)", ylabel="binary cross-entropy", yscale="log")
    axes.set_title("2-16-1 tanh network on two moons, same start")
    axes.legend()
    figure.tight_layout()
    return figure


def paths_figure(
    paths: pd.DataFrame, problem: str, rates: dict[str, float] | None = None
) -> Figure:
    f, _ = _surface(problem)
    rates = dict(SURFACE_RATES[problem] if rates is None else rates)
    figure = Figure(figsize=(6.5, 4.5), dpi=110)
    axes = figure.subplots()
    xs = np.linspace(min(paths["x"].min(), -2) - 0.5, max(paths["x"].max(), 2) + 0.5)
    ys = np.linspace(min(paths["y"].min(), -1) - 0.5, max(paths["y"].max(), 1) + 0.5)
    grid_x, grid_y = np.meshgrid(xs, ys)
    heights = f(np.stack([grid_x, grid_y]))
    axes.contour(grid_x, grid_y, np.log1p(heights), levels=20, cmap="Greys")
    groups = list(paths.groupby("optimizer", sort=False))
    for order, (name, group) in enumerate(groups):
        final = group["f"].iloc[-1]
        label = f"{name} (lr {rates[name]:g}): f = {final:.1e}"
        # The first (vanilla SGD) on top: the others often cover its short path.
        axes.plot(
            group["x"],
            group["y"],
            marker=".",
            markersize=3,
            label=label,
            zorder=3 + len(groups) - order,
        )
    minimum = (0, 0) if problem == "quadratic" else (1, 1)
    axes.plot(*minimum, "k*", markersize=12, label="minimum")
    axes.set(xlabel="x", ylabel="y")
    axes.set_title(f"{TITLES[problem]}: {paths['step'].max()} steps")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def figures(steps: int = 300, surface_steps: int | None = None) -> dict[str, Figure]:
    """The loss-curve figure and one path figure per 2-D problem."""
    result = {"loss_curves": curves_figure(train_network_curves(steps=steps))}
    for problem in SURFACE_RATES:
        paths = surface_paths(problem, steps=surface_steps)
        result[f"paths_{problem}"] = paths_figure(paths, problem)
    return result


def write_optimizer_comparison(
    out_dir: str, *, steps: int = 300, surface_steps: int | None = None
) -> dict[str, str]:
    """Writes the figures (PNG) and their tables (CSV) into `out_dir`.

    Returns:
        Name -> path of every file written.
    """
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    curves = train_network_curves(steps=steps)
    tables = {"loss_curves": curves}
    pictures = {"loss_curves": curves_figure(curves)}
    for problem in SURFACE_RATES:
        paths = surface_paths(problem, steps=surface_steps)
        tables[f"paths_{problem}"] = paths
        pictures[f"paths_{problem}"] = paths_figure(paths, problem)
    for name, table in tables.items():
        written[f"{name}.csv"] = os.path.join(out_dir, f"{name}.csv")
        table.to_csv(written[f"{name}.csv"], index=False)
    for name, figure in pictures.items():
        written[f"{name}.png"] = os.path.join(out_dir, f"{name}.png")
        figure.savefig(written[f"{name}.png"])
    return written

"""A worked gradient-descent example, computed by the code, not typed.

A 2-2-1 network (two inputs, two sigmoid hidden units, one sigmoid output)
learns from two training examples, one SGD step per example in turn (the
second example sees the weights the first one updated). For each example the
table lists the inputs and target, every forward value (pre-activations z and
activations a), the prediction and the squared-error loss, then for every
weight its value before the step, its gradient dL/dw from the reverse-mode
autodiff in `zoo.fundamentals.autodiff`, and its value after the step.

Example:
>>> table = worked_example()
>>> list(table.columns)
['quantity', 'example 1', 'example 2']
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from zoo.errors import ConfigError
from zoo.fundamentals.autodiff import Node
from zoo.fundamentals.optimizers import SGD

# Start weights and examples in the style of the usual textbook walk-through:
# small distinct values so every number in the table can be followed by hand.
START_WEIGHTS = {
    "w11": 0.15,  # input 1 -> hidden 1
    "w21": 0.20,  # input 2 -> hidden 1
    "w12": 0.25,  # input 1 -> hidden 2
    "w22": 0.30,  # input 2 -> hidden 2
    "b1": 0.35,  # hidden 1 bias
    "b2": 0.35,  # hidden 2 bias
    "v1": 0.40,  # hidden 1 -> output
    "v2": 0.45,  # hidden 2 -> output
    "c": 0.60,  # output bias
}
EXAMPLES = (((0.05, 0.10), 0.01), ((0.60, 0.20), 0.99))


def _forward(weights: dict[str, Node], x: tuple[float, float], target: float):
    """The network on one example; returns every named intermediate node."""
    x1, x2 = x
    z_h1 = weights["w11"] * x1 + weights["w21"] * x2 + weights["b1"]
    z_h2 = weights["w12"] * x1 + weights["w22"] * x2 + weights["b2"]
    a_h1, a_h2 = z_h1.sigmoid(), z_h2.sigmoid()
    z_out = weights["v1"] * a_h1 + weights["v2"] * a_h2 + weights["c"]
    prediction = z_out.sigmoid()
    loss = (prediction - target).square()
    return {
        "z_h1": z_h1,
        "a_h1": a_h1,
        "z_h2": z_h2,
        "a_h2": a_h2,
        "z_out": z_out,
        "prediction": prediction,
        "loss (y - prediction)^2": loss,
    }


def worked_example(
    learning_rate: float = 0.5,
    examples=EXAMPLES,
    start_weights: dict[str, float] | None = None,
) -> pd.DataFrame:
    """The gradient-descent table: one column per training example.

    Args:
        learning_rate: SGD step size.
        examples: `((x1, x2), target)` pairs, trained on in order.
        start_weights: Values for the names in `START_WEIGHTS`.

    Returns:
        A DataFrame with a `quantity` column and one column per example.
    """
    values = dict(START_WEIGHTS if start_weights is None else start_weights)
    if set(values) != set(START_WEIGHTS):
        raise ConfigError(
            f"start_weights must name exactly {', '.join(START_WEIGHTS)}; "
            f"got {', '.join(values)}."
        )
    if not examples:
        raise ConfigError("Give at least one ((x1, x2), target) example.")
    names = list(START_WEIGHTS)
    parameters = [np.array(float(values[name])) for name in names]
    optimizer = SGD(learning_rate)
    columns = {}
    for number, (x, target) in enumerate(examples, start=1):
        nodes = {name: Node(p.copy(), name=name) for name, p in zip(names, parameters)}
        forward = _forward(nodes, x, target)
        forward["loss (y - prediction)^2"].backward()
        rows = {"x1": x[0], "x2": x[1], "target y": target}
        rows.update({name: float(node.value) for name, node in forward.items()})
        before = {name: float(p) for name, p in zip(names, parameters)}
        gradients = [nodes[name].grad for name in names]
        optimizer.step(parameters, gradients)
        for name, gradient, parameter in zip(names, gradients, parameters):
            rows[f"{name} before"] = before[name]
            rows[f"dL/d{name}"] = float(gradient)
            rows[f"{name} after"] = float(parameter)
        columns[f"example {number}"] = rows
    table = pd.DataFrame(columns)
    table.index.name = "quantity"
    return table.reset_index()


def to_markdown(table: pd.DataFrame, digits: int = 6) -> str:
    """A GitHub Markdown table (written here: pandas needs `tabulate` for it)."""
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"

    def cell(value):
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.values]
    return "\n".join([header, rule, *body]) + "\n"


def write_worked_example(out_dir: str, **kwargs) -> dict[str, str]:
    """Writes `worked_example.csv` and `worked_example.md` into `out_dir`.

    Returns:
        `{"csv": path, "markdown": path}`.
    """
    table = worked_example(**kwargs)
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        "csv": os.path.join(out_dir, "worked_example.csv"),
        "markdown": os.path.join(out_dir, "worked_example.md"),
    }
    table.to_csv(paths["csv"], index=False)
    with open(paths["markdown"], "w", encoding="utf-8") as handle:
        handle.write(to_markdown(table))
    return paths

"""Loss and metric curves as PNG files."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tuning.io import atomic_path  # noqa: E402


def metric_names(rows):
    names = []
    for row in rows:
        for key in row:
            base = key.removeprefix("val_")
            if key != "epoch" and key != "learning_rate" and base not in names:
                names.append(base)
    return names


def plot_history(rows, run_dir, *, title=None):
    """Writes `loss.png` and `<metric>.png` (train and validation) from history rows.

    Returns the paths written.
    """
    if not rows:
        return []
    paths = []
    epochs = [int(r["epoch"]) + 1 for r in rows]
    for name in metric_names(rows):
        figure, axis = plt.subplots(figsize=(6, 4))
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            values = [r.get(key) for r in rows]
            if any(v is not None and v == v for v in values):
                axis.plot(epochs, values, marker="o", markersize=3, label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(f"{title}: {name}" if title else name)
        axis.grid(alpha=0.3)
        axis.legend()
        figure.tight_layout()
        path = os.path.join(run_dir, "plots", f"{name}.png")
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=90)
        plt.close(figure)
        paths.append(path)
    return paths

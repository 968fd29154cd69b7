"""SGD vs momentum vs Adam on the from-scratch stack."""

import pytest

from zoo.errors import UnknownNameError
from zoo.fundamentals.compare_optimizers import (
    figures,
    steps_to_reach,
    surface_paths,
    train_network_curves,
    write_optimizer_comparison,
)


def test_momentum_and_adam_are_ahead_of_sgd_on_the_quadratic():
    paths = surface_paths("quadratic")
    final = paths.groupby("optimizer").f.last()
    assert final["momentum"] < final["sgd"] and final["adam"] < final["sgd"]
    reached = steps_to_reach(paths, 1e-3)
    assert reached["sgd"] is None and reached["momentum"] and reached["adam"]
    start = paths[paths.step == 0]
    assert start.f.nunique() == 1  # every optimizer starts at the same point


def test_network_curves_start_equal_and_all_learn():
    curves = train_network_curves(steps=40, hidden_units=4, samples=40)
    first, last = curves.iloc[0], curves.iloc[-1]
    assert first["sgd"] == first["momentum"] == first["adam"]
    for name in ("sgd", "momentum", "adam"):
        assert last[name] < first[name]


def test_figures_and_files(tmp_path):
    pictures = figures(steps=5, surface_steps=5)
    assert set(pictures) == {"loss_curves", "paths_quadratic", "paths_rosenbrock"}
    assert len(pictures["loss_curves"].axes[0].lines) == 3
    written = write_optimizer_comparison(str(tmp_path), steps=5, surface_steps=5)
    assert len(written) == 6
    for path in written.values():
        assert (tmp_path / path.split("/")[-1]).stat().st_size > 100


def test_unknown_problem():
    with pytest.raises(UnknownNameError, match="rosenbrock"):
        surface_paths("rosenbrok")

"""Every registered family can be tuned, with each of the four tuners."""

import pytest

from zoo.registry import get_family, list_families, list_models
from zoo.tuning.search import tune
from zoo.tuning.tuners import TUNERS


def tiny_variant(family):
    names = [n for n in list_models(tiny=True) if get_family(n).name == family]
    return names[0]


def test_every_family_has_a_tiny_variant_and_a_space():
    for family in list_families():
        assert tiny_variant(family)
        assert get_family(family).search_space, family


@pytest.mark.slow
@pytest.mark.parametrize("tuner", TUNERS)
@pytest.mark.parametrize("family", list_families())
def test_every_family_with_every_tuner(family, tuner, tmp_path):
    result = tune(
        tiny_variant(family),
        run_dir=tmp_path / "run",
        tuner=tuner,
        max_trials=2,
        epochs=1,
    )
    assert (result.results["status"] == "COMPLETED").sum() >= 1
    assert (tmp_path / "run" / "best" / "model.keras").is_file()

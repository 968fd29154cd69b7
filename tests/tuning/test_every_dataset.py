"""Every embedded dataset trains with every family that accepts its kind.

Tiny variants, one epoch. The whole matrix is `slow`; the default run keeps
the table whose column names Keras refuses as layer names (wine's
`od280/od315_of_diluted_wines`).
"""

import json

import pytest

from zoo.datasets.base import list_datasets
from zoo.errors import ConfigError, ZooError
from zoo.registry import get_family, list_families, list_models
from zoo.tuning.callbacks import CallbackOptions
from zoo.tuning.train import train

FAST = {("mlp", "tabular", "wine")}
# Words in the one line a loader gives when its data is not on this machine.
NOT_HERE = ("download", "install", "not available", "offline", "cache")


def _tiny(family):
    return next(n for n in list_models(tiny=True) if get_family(n).name == family)


def _pairs():
    for entry in list_datasets():
        for family in list_families():
            if get_family(family).data_kind != entry.kind:
                continue
            key = (family, entry.kind, entry.name)
            marks = [] if key in FAST else [pytest.mark.slow]
            yield pytest.param(*key, id="-".join(key), marks=marks)


def test_the_fast_pairs_exist():
    ids = {tuple(p.values) for p in _pairs()}
    assert ids >= FAST


@pytest.mark.parametrize(("family", "kind", "dataset"), list(_pairs()))
def test_every_dataset_trains(family, kind, dataset, tmp_path):
    callbacks = CallbackOptions(tensorboard=False, early_stopping_patience=0)
    try:
        result = train(
            _tiny(family),
            dataset,
            run_dir=tmp_path / "run",
            epochs=1,
            callbacks=callbacks,
            verbose=0,
        )
    except ConfigError as error:
        if "tasks, but" in str(error):  # The family does not learn this task.
            pytest.skip(str(error))
        raise
    except ZooError as error:
        if any(word in str(error).lower() for word in NOT_HERE):
            pytest.skip(f"{dataset} is not on this machine: {error}")
        raise
    assert result.metrics, result.metrics
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["status"] == "complete" and saved["data"] == dataset
    assert (tmp_path / "run" / "model.keras").is_file()


def test_wine_tunes_from_the_command_line(tmp_path, capsys):
    """`zoo tune mlp --data wine`: the family name, wine's `/` column, a search."""
    from zoo.tuning.cli import main

    run_dir = tmp_path / "t"
    argv = ["tune", "mlp", "--data", "wine", "--run-dir", str(run_dir)]
    argv += ["--max-trials", "1", "--epochs", "1", "--verbose", "0"]
    assert main([*argv, "--no-tensorboard"]) == 0, capsys.readouterr().err
    saved = json.loads((run_dir / "tune.json").read_text())
    assert saved["status"] == "complete" and saved["data"] == "wine"
    assert (run_dir / "best" / "model.keras").is_file()

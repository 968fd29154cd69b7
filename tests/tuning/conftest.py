"""Shared fixtures for the tuning tests: one tiny search reused by many tests."""

import pytest

from zoo.tuning.callbacks import CallbackOptions

# Two grid trials on iris: a sane one and one whose learning rate makes the
# loss NaN, so the same search shows a completed and a failed trial.
NAN_SPACE = {"optimizer": "sgd", "learning_rate": [0.05, 1e9]}


@pytest.fixture(scope="session")
def small_search(tmp_path_factory):
    from zoo.tuning.search import tune

    run_dir = tmp_path_factory.mktemp("search") / "run"
    result = tune(
        "mlp_tiny",
        "iris",
        run_dir=run_dir,
        tuner="grid",
        max_trials=2,
        epochs=2,
        space=NAN_SPACE,
        replace_space=True,
        callbacks=CallbackOptions(histogram_freq=1, early_stopping_patience=0),
    )
    return result

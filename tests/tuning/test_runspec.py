"""The run specification: written once, read back on resume, old folders too."""

import json

import pytest

from zoo.errors import ZooError
from zoo.tuning.io import write_json
from zoo.tuning.runspec import RunSpec, read_spec, record_path

# A config.json exactly as train() wrote it before RunSpec existed.
OLD_TRAIN_RECORD = {
    "status": "running",
    "model": "mlp_tiny",
    "family": "mlp",
    "data": "iris",
    "data_kind": "tabular",
    "overrides": {"dropout_rate": 0.1},
    "data_options": {},
    "seed": 3,
    "epochs": 2,
    "batch_size": 8,
    "callbacks": {"monitor": "val_loss"},
    "config": {},
}


def test_old_train_record_reads_back(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(OLD_TRAIN_RECORD))
    spec = read_spec(tmp_path, "train")
    assert spec.model == "mlp_tiny" and spec.data == "iris"
    assert spec.overrides == {"dropout_rate": 0.1} and spec.seed == 3
    assert (spec.epochs, spec.batch_size) == (2, 8)
    for key, value in spec.record().items():
        assert OLD_TRAIN_RECORD[key] == value


def test_tune_spec_round_trips_with_flat_keys(tmp_path):
    spec = RunSpec(
        kind="tune",
        model="mlp_tiny",
        data="iris",
        seed=1,
        epochs=2,
        search={
            "tuner": "grid",
            "max_trials": 3,
            "objective": "val_accuracy",
            "direction": "max",
            "space": {"units": [4, 8]},
            "replace_space": True,
            "executions_per_trial": 1,
        },
    )
    write_json(record_path(tmp_path, "tune"), spec.record())
    saved = json.loads((tmp_path / "tune.json").read_text())
    assert saved["tuner"] == "grid" and saved["max_trials"] == 3  # keys as before
    assert read_spec(tmp_path, "tune") == spec


def test_different_model_or_data_is_refused():
    spec = RunSpec(kind="train", model="mlp_tiny", data="iris")
    spec.check_same_request("mlp_tiny", None, "run")
    with pytest.raises(ZooError, match="new --run-dir"):
        spec.check_same_request("cnn_tiny", "iris", "run")
    with pytest.raises(ZooError, match="data 'iris', not 'wine'"):
        spec.check_same_request("mlp_tiny", "wine", "run")


def test_resume_uses_saved_spec(tmp_path, monkeypatch):
    """train(resume=True) continues the saved request, not the new arguments."""
    import zoo.tuning.train as train_module

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(OLD_TRAIN_RECORD))
    seen = {}

    def stop(model, data=None, **kwargs):
        seen.update(model=model, data=data, **kwargs)
        raise RuntimeError("stop before loading")

    monkeypatch.setattr(train_module, "prepare", stop)
    with pytest.raises(RuntimeError, match="stop"):
        train_module.train("mlp_tiny", run_dir=run, resume=True, seed=9)
    assert seen["data"] == "iris" and seen["seed"] == 3
    assert seen["overrides"] == {"dropout_rate": 0.1}

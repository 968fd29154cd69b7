import gc
import json
import os

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from zoo.errors import ConfigError, ZooError
from zoo.tuning.cli.main import main
from zoo.tuning.hypermodel import ZooHyperModel
from zoo.tuning.report import leaderboard
from zoo.tuning.results import frame_from_trials
from zoo.tuning.search import tune
from zoo.tuning.tuners import TUNERS, GridSearch, make_tuner, spared_heap


def test_failed_nan_trial_is_recorded_and_never_ranked(small_search):
    frame = pd.read_csv(os.path.join(small_search.run_dir, "results.csv"))
    assert list(frame["status"]) == ["COMPLETED", "FAILED"]
    completed, failed = frame.iloc[0], frame.iloc[1]
    assert completed["learning_rate"] == pytest.approx(0.05)
    assert failed["learning_rate"] == pytest.approx(1e9)
    assert pd.isna(failed["score"])
    assert "NaN" in failed["reason"]
    assert small_search.best_metrics["best_trial_id"] == str(completed["trial_id"])
    assert os.path.exists(os.path.join(small_search.run_dir, "best", "model.keras"))
    # Each trial keeps its own history; none is written over the search's root.
    assert not os.path.exists(os.path.join(small_search.run_dir, "history.csv"))


def test_leaderboard_is_a_dataframe_matching_results(small_search):
    frame = leaderboard(small_search.run_dir)
    assert list(frame.columns[:3]) == ["trial_id", "status", "score"]
    assert frame.iloc[0]["score"] == pytest.approx(
        small_search.results.iloc[0]["score"]
    )


def test_trials_write_history_and_tensorboard_hparams(small_search):
    import tensorflow as tf

    run_dir = small_search.run_dir
    completed = small_search.results.iloc[0]["trial_id"]
    history = pd.read_csv(
        os.path.join(run_dir, "search", f"trial_{completed}", "history.csv")
    )
    assert len(history) == 2 and {"loss", "val_accuracy", "val_f1_macro"} <= set(
        history
    )
    plugins = set()
    for trial_id in small_search.results["trial_id"]:
        folder = os.path.join(run_dir, "logs", str(trial_id), "execution0")
        for path in tf.io.gfile.glob(
            os.path.join(folder, "**", "events.out.tfevents.*")
        ) + tf.io.gfile.glob(os.path.join(folder, "events.out.tfevents.*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    plugins.add(value.metadata.plugin_data.plugin_name)
                    if value.metadata.plugin_data.plugin_name == "hparams":
                        plugins.add(f"hparams:{trial_id}")
    # Every trial, the failed one included, is on the HParams dashboard.
    assert {f"hparams:{t}" for t in small_search.results["trial_id"]} <= plugins
    assert "histograms" in plugins


def test_frame_from_trials_sorts_by_direction_and_drops_nan():
    trials = []
    for trial_id, score, status in (
        ("0", 0.5, "COMPLETED"),
        ("1", float("nan"), "COMPLETED"),
        ("2", 0.9, "COMPLETED"),
        ("3", 0.99, "FAILED"),
    ):
        trial = kt.engine.trial.Trial(
            kt.HyperParameters(), trial_id=trial_id, status=status
        )
        trial.score = score
        trials.append(trial)
    maximum = frame_from_trials(trials, "max")
    assert list(maximum["trial_id"]) == ["2", "0", "1", "3"]
    assert maximum["score"].isna().tolist() == [False, False, True, True]
    assert list(frame_from_trials(trials, "min")["trial_id"][:2]) == ["0", "2"]


def test_build_starts_from_clear_session(monkeypatch):
    calls = []
    original = keras.backend.clear_session
    monkeypatch.setattr(
        keras.backend, "clear_session", lambda *a, **k: (calls.append(1), original())[1]
    )
    hypermodel = ZooHyperModel("mlp_tiny", "iris")
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert calls and model.optimizer is not None
    # The empty HyperParameters give the family space's defaults.
    assert hp.values["num_layers"] == 1 and hp.values["batch_size"] == 32


def test_trials_share_the_data_unless_the_fitted_preprocessing_reads_the_change():
    import dataclasses

    mlp = ZooHyperModel("mlp_tiny", "iris")
    first = mlp.prepared_for(mlp.base_config)
    other = dataclasses.replace(
        mlp.base_config, hidden_units=(64, 64), dropout_rate=0.3
    )
    # The MLP's feature encoder is fitted on the data alone: fitted once,
    # and each trial still sees its own config.
    shared = mlp.prepared_for(other)
    assert shared.bundle is first.bundle
    assert shared.preprocessing is first.preprocessing
    assert shared.config == other and first.config == mlp.base_config
    # The LSTM's vocabulary depends on config fields: a change refits it.
    lstm = ZooHyperModel("lstm_tiny", "rotten_tomatoes")
    base = lstm.prepared_for(lstm.base_config)
    assert lstm.prepared_for(lstm.base_config).bundle is base.bundle
    changed = dataclasses.replace(
        lstm.base_config, max_tokens=lstm.base_config.max_tokens + 7
    )
    assert lstm.prepared_for(changed).bundle is not base.bundle


@pytest.mark.parametrize(
    "space, message",
    [
        ({"dropout_rate": []}, "empty list"),
        ({"dropout_rate": {"min": 0.5, "max": 0.1}}, "above max"),
        ({"dropout_rate": {"low": 0.1}}, "must look like"),
        ({"dropout_rat": [0.1]}, "not a setting of mlp"),
    ],
)
def test_space_mistakes_raise_config_error(space, message):
    hypermodel = ZooHyperModel("mlp_tiny", "iris", space=space)
    with pytest.raises(ConfigError, match=message):
        hypermodel.config_for(kt.HyperParameters())


def test_space_narrows_and_fixes_values():
    hypermodel = ZooHyperModel(
        "mlp_tiny",
        "iris",
        space={
            "activation": ["tanh"],
            "dropout_rate": 0.25,
            "optimizer": ["sgd", "adam"],
        },
    )
    hp = kt.HyperParameters()
    config = hypermodel.config_for(hp)
    assert config.activation == "tanh" and config.dropout_rate == 0.25
    assert hp.values["optimizer"] == "sgd"  # First choice is the default.
    assert "learning_rate" in hp.values  # The rest of the family space stays.
    replaced = ZooHyperModel(
        "mlp_tiny", "iris", space={"activation": ["tanh"]}, replace_space=True
    )
    hp = kt.HyperParameters()
    replaced.config_for(hp)
    assert set(hp.values) == {"activation"}


def test_cli_space_file_and_bad_json(tmp_path, capsys):
    bad = tmp_path / "space.json"
    bad.write_text("{not json")
    code = main(
        [
            "tune",
            "mlp_tiny",
            "--data",
            "iris",
            "--run-dir",
            str(tmp_path / "r"),
            "--space",
            str(bad),
        ]
    )
    assert code == 2
    assert "Cannot read --space" in capsys.readouterr().err


def test_unknown_tuner_and_bad_settings(tmp_path):
    hypermodel = ZooHyperModel("mlp_tiny", "iris")
    common = dict(
        objective="val_accuracy",
        direction=None,
        max_trials=1,
        epochs=1,
        executions_per_trial=1,
        seed=0,
        run_dir=str(tmp_path),
        overwrite=True,
    )
    with pytest.raises(ConfigError, match="Unknown tuner 'grdi'.*grid"):
        make_tuner("grdi", hypermodel, **common)
    with pytest.raises(ConfigError, match="executions_per_trial"):
        make_tuner("random", hypermodel, **{**common, "executions_per_trial": 0})
    with pytest.raises(ZooError, match="no search to resume"):
        tune("mlp_tiny", "iris", run_dir=tmp_path / "none", resume=True)


def _grid_run(tuner_class, directory, max_trials, overwrite):
    hypermodel = ZooHyperModel(
        "mlp_tiny",
        "iris",
        space={"activation": ["relu", "tanh"]},
        replace_space=True,
        epochs=1,
    )
    tuner = tuner_class(
        hypermodel,
        objective="val_accuracy",
        max_trials=max_trials,
        directory=str(directory),
        project_name="search",
        overwrite=overwrite,
    )
    tuner.search(epochs=1, verbose=0)
    return [
        t.hyperparameters.values["activation"] for t in tuner.oracle.trials.values()
    ]


def test_grid_search_resumes_where_it_stopped(tmp_path):
    """keras-tuner issue 1055: a reloaded grid search used to stop at once."""
    assert _grid_run(GridSearch, tmp_path, 1, True) == ["relu"]
    assert sorted(_grid_run(GridSearch, tmp_path, 5, False)) == ["relu", "tanh"]


@pytest.mark.slow
def test_stock_grid_search_does_not_resume(tmp_path):
    """Reproduces issue 1055 in keras-tuner 1.4.8; fails once upstream fixes it."""
    assert _grid_run(kt.GridSearch, tmp_path, 1, True) == ["relu"]
    assert _grid_run(kt.GridSearch, tmp_path, 5, False) == ["relu"]


def test_user_hyperband_script_uses_zoo_hypermodel(tmp_path):
    hypermodel = ZooHyperModel(
        "mlp_tiny", "iris", space={"dropout_rate": [0.0, 0.2]}, replace_space=True
    )
    tuner = kt.Hyperband(
        hypermodel,
        objective="val_accuracy",
        max_epochs=2,
        factor=2,
        directory=str(tmp_path),
        project_name="hb",
    )
    tuner.search(verbose=0)
    assert any(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    best = tuner.get_best_models(1)[0]
    assert best.output_shape == (None, 3)


@pytest.mark.slow
@pytest.mark.parametrize("tuner", TUNERS)
def test_every_tuner_from_the_cli(tuner, tmp_path, capsys):
    run_dir = tmp_path / tuner
    code = main(
        [
            "tune",
            "mlp_tiny",
            "--data",
            "iris",
            "--run-dir",
            str(run_dir),
            "--tuner",
            tuner,
            "--max-trials",
            "2",
            "--epochs",
            "2",
            "--objective",
            "val_loss",
            "--direction",
            "min",
            "--seed",
            "3",
            "--space",
            json.dumps({"dropout_rate": [0.0, 0.1], "activation": ["relu", "tanh"]}),
            "--replace-space",
            "--no-tensorboard",
            "--verbose",
            "0",
        ]
    )
    assert code == 0, capsys.readouterr().err
    frame = pd.read_csv(run_dir / "results.csv")
    assert 1 <= len(frame) <= 2 and (frame["status"] == "COMPLETED").all()
    assert frame["score"].is_monotonic_increasing  # val_loss, min: best first.
    settings = json.loads((run_dir / "tune.json").read_text())
    assert settings["objective"] == "val_loss" and settings["direction"] == "min"
    assert (run_dir / "report.html").exists()


@pytest.mark.slow
def test_executions_per_trial_average(tmp_path):
    result = tune(
        "mlp_tiny",
        "iris",
        run_dir=tmp_path / "r",
        max_trials=1,
        epochs=1,
        executions_per_trial=2,
        space={"activation": ["relu"]},
        replace_space=True,
    )
    assert result.results.iloc[0]["status"] == "COMPLETED"
    assert result.tuner.executions_per_trial == 2


def test_score_is_the_best_epoch_not_the_mean(small_search):
    """KerasTuner scores a History by its best epoch; a dict would be averaged."""
    completed = small_search.results[small_search.results["status"] == "COMPLETED"]
    trial_id = completed.iloc[0]["trial_id"]
    history = pd.read_csv(
        os.path.join(small_search.run_dir, "search", f"trial_{trial_id}", "history.csv")
    )
    assert completed.iloc[0]["score"] == pytest.approx(history["val_accuracy"].max())


def test_space_may_narrow_hyperparameters_that_are_not_config_fields():
    hypermodel = ZooHyperModel(
        "mlp_tiny", "iris", space={"units": [16], "num_layers": 2}
    )
    assert hypermodel.config_for(kt.HyperParameters()).hidden_units == (16, 16)
    with pytest.raises(ConfigError, match="Did you mean 'units'"):
        ZooHyperModel("mlp_tiny", "iris", space={"unitz": [16]}).config_for(
            kt.HyperParameters()
        )
    # A replaced space has no built-in space to turn `units` into layers.
    replaced = ZooHyperModel(
        "mlp_tiny", "iris", space={"units": [16]}, replace_space=True
    )
    with pytest.raises(ConfigError, match="built-in space"):
        replaced.config_for(kt.HyperParameters())


def test_spared_heap_freezes_the_heap_for_the_search_only():
    if gc.get_freeze_count():
        pytest.skip("something else froze the heap")
    with spared_heap():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with spared_heap():  # A frozen heap is left as it is.
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
    assert gc.get_freeze_count() == 0


def test_best_epoch_checkpoint_is_the_backup_copied(tmp_path, monkeypatch):
    """One weights save per epoch (the backup); KerasTuner's checkpoint is a
    copy of the best epoch's backup, and trials run with the heap frozen."""
    saves, epochs, frozen = [], [], []
    original = keras.Model.save_weights

    def counted(self, filepath, *args, **kwargs):
        saves.append(os.path.basename(str(filepath)))
        return original(self, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", counted)

    class Snapshot(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            frozen.append(gc.get_freeze_count())

        def on_epoch_end(self, epoch, logs=None):
            weights = [keras.ops.convert_to_numpy(w) for w in self.model.weights]
            epochs.append((logs["val_loss"], weights))

    hypermodel = ZooHyperModel(
        "mlp_tiny", "iris", space={"learning_rate": [0.05]}, replace_space=True
    )
    tuner = make_tuner(
        "random",
        hypermodel,
        objective="val_loss",
        direction="min",
        max_trials=1,
        epochs=4,
        executions_per_trial=1,
        seed=0,
        run_dir=str(tmp_path),
        overwrite=True,
    )
    tuner.search(epochs=4, callbacks=[Snapshot()], verbose=0)
    assert len(epochs) == 4 and frozen and frozen[0] > 0
    assert gc.get_freeze_count() == 0
    assert all(name.startswith(".epoch-") for name in saves), saves
    assert len(saves) == 4
    trial = tuner.oracle.get_best_trials(1)[0]
    best = min(range(4), key=lambda epoch: epochs[epoch][0])
    model = tuner.load_model(trial)
    for saved, loaded in zip(epochs[best][1], model.weights, strict=True):
        np.testing.assert_array_equal(saved, keras.ops.convert_to_numpy(loaded))

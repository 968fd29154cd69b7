import glob
import math
import os

import keras
import numpy as np
import pytest

from zoo.compile import default_compile
from zoo.errors import ConfigError
from zoo.registry import build_from_config, resolve_config
from zoo.tuning.callbacks import (
    CallbackOptions,
    EpochLearningRateSchedule,
    TerminateOnNaNWeights,
    make_callbacks,
    parse_lr_schedule,
)


def _model(num_classes=2, learning_rate=0.01, optimizer="sgd"):
    family, config = resolve_config(
        "mlp_tiny", learning_rate=learning_rate, optimizer=optimizer
    )
    model = build_from_config(family, config, input_shape=(4,), num_classes=num_classes)
    default_compile(model, config, num_classes=num_classes)
    return model


def _data(n=64, num_classes=2):
    rng = np.random.RandomState(0)
    x = rng.rand(n, 4).astype("float32")
    return x, (x[:, 0] * num_classes).astype("int32").clip(0, num_classes - 1)


def test_per_epoch_f1_and_auc_metrics():
    x, y = _data()
    history = _model().fit(x, y, validation_split=0.25, epochs=1, verbose=0).history
    for name in (
        "auc",
        "f1_macro",
        "f1_micro",
        "val_auc",
        "val_f1_macro",
        "val_f1_micro",
    ):
        assert name in history and 0 <= history[name][0] <= 1


def test_step_schedule_starts_from_the_optimizer_rate():
    x, y = _data()
    model = _model(learning_rate=0.02)
    history = model.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[EpochLearningRateSchedule("step:0.5:2", epochs=4)],
    ).history
    assert history["learning_rate"] == pytest.approx([0.02, 0.02, 0.01, 0.01])


def test_cosine_with_warmup_and_bad_specs():
    schedule = parse_lr_schedule("cosine:2", 1.0, 6)
    values = [schedule(e, None) for e in range(6)]
    assert values[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert values[2] > values[3] > values[4] > values[5] > 0
    assert parse_lr_schedule("step:0.95:3", 1.0, 9)(3, None) == pytest.approx(0.95)
    for spec in ("step:2:3", "cosine:x", "linear"):
        with pytest.raises(ConfigError, match="lr_schedule"):
            parse_lr_schedule(spec, 1.0, 5)


def _frozen_model():
    """A model whose loss cannot improve: its learning rate is ~0."""
    model = _model()
    model.optimizer.learning_rate = 1e-12
    return model


def test_decay_on_plateau_halves_the_rate(tmp_path):
    x, y = _data()
    options = CallbackOptions(
        monitor="loss",
        reduce_lr_patience=1,
        early_stopping_patience=0,
        checkpoint=False,
        tensorboard=False,
        backup=False,
    )
    history = (
        _frozen_model()
        .fit(
            x, y, epochs=3, verbose=0, callbacks=make_callbacks(str(tmp_path), options)
        )
        .history
    )
    assert history["learning_rate"][0] == pytest.approx(1e-12)
    assert history["learning_rate"][-1] == pytest.approx(0.5e-12)


def test_nan_weights_stop_training():
    x, y = _data()
    model = _model()

    class Poison(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            weight = self.model.weights[0]
            weight.assign(np.full(weight.shape, np.nan, dtype="float32"))

    guard = TerminateOnNaNWeights()
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[Poison(), guard]).history
    assert len(history["loss"]) == 1 and "non-finite" in guard.reason


def test_nan_loss_stops_training():
    x, _ = _data()
    y = x.sum(axis=1) * 100  # Regression: MSE diverges without clipping.
    model = _model(num_classes=None, learning_rate=1e9)
    guard = TerminateOnNaNWeights()
    history = model.fit(
        x, y, epochs=5, batch_size=8, verbose=0, callbacks=[guard]
    ).history
    assert len(history["loss"]) < 5
    assert guard.reason and not math.isfinite(history["loss"][-1])


def test_checkpoint_early_stopping_tensorboard_histograms(tmp_path):
    x, y = _data()
    model = _frozen_model()
    options = CallbackOptions(
        monitor="val_loss", early_stopping_patience=1, histogram_freq=1, backup=True
    )
    callbacks = make_callbacks(str(tmp_path), options)
    history = model.fit(
        x, y, validation_split=0.25, epochs=6, verbose=0, callbacks=callbacks
    ).history
    assert len(history["loss"]) < 6  # Early stopping: nothing improves at LR 0.
    assert (tmp_path / "checkpoints" / "best.weights.h5").exists()
    assert (tmp_path / "history.csv").exists()
    import tensorflow as tf

    plugins = set()
    for path in glob.glob(
        os.path.join(tmp_path, "logs", "**", "events.out.tfevents.*"), recursive=True
    ):
        for event in tf.compat.v1.train.summary_iterator(path):
            plugins.update(
                v.metadata.plugin_data.plugin_name for v in event.summary.value
            )
    assert "histograms" in plugins


def test_early_stopping_skips_a_loss_whose_targets_move(tmp_path, capsys):
    from zoo.registry import get_family
    from zoo.tuning.callbacks import options_for_family
    from zoo.tuning.train import train

    joint_vae, mlp = get_family("joint_vae"), get_family("mlp")
    default = CallbackOptions()
    kept, note = options_for_family(default, mlp)
    assert kept.early_stopping_patience == 10 and note is None
    off, note = options_for_family(default, joint_vae)
    assert off.early_stopping_patience == 0 and "joint_vae's loss" in note
    # Another metric keeps it: the user chose what "better" means.
    other = CallbackOptions(monitor="val_reconstruction_loss")
    assert options_for_family(other, joint_vae) == (other, None)

    result = train(
        "joint_vae_tiny",
        run_dir=tmp_path / "run",
        epochs=3,
        callbacks=CallbackOptions(early_stopping_patience=1),
        verbose=1,
    )
    assert "Early stopping is off" in capsys.readouterr().out
    assert len(result.history) == 3
    # Without backups the history is still written (it was empty).
    again = train(
        "joint_vae_tiny",
        run_dir=tmp_path / "no_backup",
        epochs=2,
        callbacks=CallbackOptions(backup=False),
    )
    assert [row["epoch"] for row in again.history] == [0, 1]


def test_work_before_fit_is_kept_beside_the_backups_with_its_optimizer_state(tmp_path):
    from zoo.tuning.callbacks import AtomicBackupAndRestore

    x, y = _data()
    trained = _model(optimizer="adam")
    trained.fit(x, y, epochs=2, batch_size=16, verbose=0)
    keeper = AtomicBackupAndRestore(str(tmp_path))
    assert keeper.load_before_fit("starts") is None
    keeper.save_before_fit("starts", {"losses": [2.0]}, model=trained)
    # A record without a model keeps the weights it named before.
    keeper.save_before_fit("starts", {"losses": [2.0, 3.0]})
    fresh = _model(optimizer="adam")
    record = keeper.load_before_fit("starts", fresh)
    assert record["losses"] == [2.0, 3.0]
    for mine, theirs in zip(fresh.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(fresh.optimizer.variables, trained.optimizer.variables):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(mine), keras.ops.convert_to_numpy(theirs)
        )
    # A newer model replaces the older file: one weights file at a time.
    keeper.save_before_fit("starts", {"losses": [2.0, 3.0, 1.0]}, model=fresh)
    assert len(glob.glob(os.path.join(tmp_path, "starts-*.weights.h5"))) == 1

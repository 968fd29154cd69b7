"""Every private KerasTuner and Keras internal the zoo touches, in one place.

Pinned to keras-tuner 1.4.8 and Keras 3.15 (setup.cfg). Each patch says
which upstream bug or gap it works around. `check_internals()` fails loudly
when an upgrade moves what a patch relies on; tests/tuning/test_internals.py
runs it.
"""

import keras
import keras_tuner as kt
from keras_tuner.src.engine import tuner_utils
from keras_tuner.src.tuners.gridsearch import LinkedList

from zoo.tuning.io import copy_file

PINNED = {"keras_tuner": "1.4.8", "keras": "3.15"}


def check_internals():
    """Raises `RuntimeError` naming each private attribute that moved."""
    missing = []
    if not hasattr(tuner_utils.SaveBestEpoch, "_save_model"):
        missing.append("keras_tuner SaveBestEpoch._save_model")
    if not hasattr(kt.Tuner, "_build_and_fit_model"):
        missing.append("keras_tuner Tuner._build_and_fit_model")
    oracle = kt.oracles.GridSearchOracle(max_trials=1)
    for name in ("_ordered_ids", "_populate_next"):
        if not hasattr(oracle, name):
            missing.append(f"keras_tuner GridSearchOracle.{name}")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    if not hasattr(model, "_initial_epoch"):
        missing.append("keras Model._initial_epoch")
    if not hasattr(model.optimizer, "_learning_rate"):
        missing.append("keras Optimizer._learning_rate")
    if missing:
        raise RuntimeError(
            "Private internals the zoo patches have moved (pinned "
            f"{PINNED}): {', '.join(missing)}; update zoo/tuning/internals.py."
        )


def set_initial_epoch(model, epoch):
    """Makes `fit` start at `epoch` after a restore from backup.

    Keras' own `BackupAndRestore` sets this private field; `fit` takes
    `initial_epoch` only as an argument, which a callback cannot change once
    the run has started (a resumed run restores inside `on_train_begin`).
    """
    model._initial_epoch = int(epoch)


def follows_schedule(optimizer):
    """Whether the optimizer's learning rate is a `LearningRateSchedule`.

    `optimizer.learning_rate` evaluates the schedule to a number; only the
    private `_learning_rate` still holds the schedule object (Keras 3.15).
    """
    return isinstance(
        optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule
    )


class BestEpochFromBackup(tuner_utils.SaveBestEpoch):
    """KerasTuner's best-epoch checkpoint, copied from the epoch's backup.

    KerasTuner saves the weights again on every improving epoch, just after
    `AtomicBackupAndRestore` (earlier in the callback list) saved the same
    weights and optimizer state: a second `save_weights`, ~20 ms for a small
    MLP and more for a large model. Copying the backup's file is cheaper and,
    unlike KerasTuner's write in place, atomic. Without a backup of this
    epoch it saves as KerasTuner does.

    Args:
        checkpoint: The `SaveBestEpoch` it replaces (objective, path, best).
        backup: The trial's `AtomicBackupAndRestore`.
    """

    def __init__(self, checkpoint, backup):
        super().__init__(checkpoint.objective, checkpoint.filepath)
        self.best_value = checkpoint.best_value
        self.backup = backup
        self._epoch = None

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch
        super().on_epoch_end(epoch, logs)

    def _save_model(self):
        weights = self.backup.weights_after(self._epoch + 1)
        if weights is None:
            super()._save_model()
        else:
            copy_file(weights, self.filepath)


def checkpoint_from_backup(callbacks):
    """`callbacks` with KerasTuner's checkpoint copying the backup that precedes it."""
    callbacks = list(callbacks)
    backup = None
    for index, callback in enumerate(callbacks):
        if hasattr(callback, "weights_after"):  # The trial's AtomicBackupAndRestore.
            backup = callback
        elif backup is not None and type(callback) is tuner_utils.SaveBestEpoch:
            callbacks[index] = BestEpochFromBackup(callback, backup)
    return callbacks


class ResumableGridSearchOracle(kt.oracles.GridSearchOracle):
    """`GridSearchOracle` that resumes (keras-tuner issue 1055).

    The stock oracle keeps its walk through the grid (`_ordered_ids`, a linked
    list of trials in grid order, and `_populate_next`, the trials whose
    successor is still to be generated) only in memory. After a reload both
    are empty, so `populate_space` finds nothing to extend and the resumed
    search stops at once. Both are rebuilt here from the saved trials: grid
    order is a total order on values, and re-queueing every ended trial is
    safe because the oracle skips a successor that already exists.
    """

    def set_state(self, state):
        super().set_state(state)
        space = self.get_space().space

        def position(trial_id):
            values = self.trials[trial_id].hyperparameters.values
            key = []
            for hp in space:
                ordered = [hp.default] + [v for v in hp.values if v != hp.default]
                value = values.get(hp.name, hp.default)
                key.append(ordered.index(value) if value in ordered else -1)
            return key

        self._ordered_ids = LinkedList()
        known = [t for t in self.start_order if t in self.trials]
        for trial_id in sorted(known, key=position):
            self._ordered_ids.insert(trial_id)
        self._populate_next = [t for t in self.end_order if t in self.trials]


class CheckpointFromBackupMixin:
    """Tuner mixin: KerasTuner's best-epoch checkpoint copies the backup.

    `Tuner._build_and_fit_model` is where KerasTuner adds its `SaveBestEpoch`
    callback; overriding it is the only way to swap that callback (no public
    hook in 1.4.8).
    """

    def _build_and_fit_model(self, trial, *args, **kwargs):
        kwargs["callbacks"] = checkpoint_from_backup(kwargs.get("callbacks", []))
        return super()._build_and_fit_model(trial, *args, **kwargs)

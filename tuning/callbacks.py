"""The callback suite: fresh, deep-copyable callback lists for runs and trials.

`make_callbacks(run_dir, CallbackOptions(...))` returns TensorBoard, the
best-model checkpoint, early stopping, learning-rate control, NaN guards and
`AtomicBackupAndRestore`, which also keeps `history.csv` whole across kills.
"""

import csv
import dataclasses
import io
import math
import os

import keras
import numpy as np

from zoo.errors import ConfigError, ZooError
from zoo.tuning.internals import follows_schedule, set_initial_epoch
from zoo.tuning.io import atomic_path, read_json, write_json, write_text


@dataclasses.dataclass
class CallbackOptions:
    """Which callbacks a run gets. Every field is a `zoo train` option.

    Attributes:
        monitor: Metric that drives checkpoints, early stopping and LR decay.
        mode: "min", "max" or "auto" (max for accuracy/auc/f1, else min).
        early_stopping_patience: Epochs without improvement before stopping;
            0 turns early stopping off.
        reduce_lr_patience: Epochs without improvement before the learning
            rate is halved; 0 turns it off.
        lr_schedule: None, "step:FACTOR:EVERY" (e.g. "step:0.95:3" is -5%
            every 3 epochs) or "cosine:WARMUP" (cosine decay after WARMUP
            linear warm-up epochs).
        tensorboard: Write TensorBoard logs into `run_dir/logs`.
        histogram_freq: Weight histograms every N epochs (0: none).
        checkpoint: Keep the best model in `run_dir/checkpoints/best.keras`.
        backup: Back up every epoch so `--resume` continues a killed run.
        terminate_on_nan: Stop when the loss or any weight becomes NaN/inf.
    """

    monitor: str = "val_loss"
    mode: str = "auto"
    early_stopping_patience: int = 10
    reduce_lr_patience: int = 0
    lr_schedule: str | None = None
    tensorboard: bool = True
    histogram_freq: int = 0
    checkpoint: bool = True
    backup: bool = True
    terminate_on_nan: bool = True


def options_for_family(options, family):
    """`(options, note)`: `options` without early stopping on the loss for a
    family whose validation loss is not comparable across epochs
    (`Family.restore_best` False: JointVAE's loss targets rise with its
    capacity schedule, so the loss "worsens" while the model improves and
    patience 10 ended runs at 44 of 100 epochs). `note` says so, or is None
    when nothing changed. Another `monitor` keeps early stopping."""
    if (
        family.restore_best
        or not options.early_stopping_patience
        or options.monitor.removeprefix("val_") != "loss"
    ):
        return options, None
    note = (
        f"Early stopping is off: {family.name}'s loss is not comparable across "
        "epochs (its targets change during training); --monitor another metric "
        "to stop early."
    )
    return dataclasses.replace(options, early_stopping_patience=0), note


def monitor_mode(monitor, mode="auto"):
    if mode in ("min", "max"):
        return mode
    name = monitor.removeprefix("val_").removeprefix("test_")
    if any(key in name for key in ("acc", "auc", "f1", "precision", "recall")):
        return "max"
    return "min"


class TerminateOnNaNWeights(keras.callbacks.Callback):
    """Stops training when the loss or any weight is NaN or infinite.

    `keras.callbacks.TerminateOnNaN` only looks at the loss; a diverging
    model can carry NaN weights a batch before its loss shows it.
    """

    def __init__(self, check_weights_every=1):
        super().__init__()
        self.check_weights_every = check_weights_every
        self.reason = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.reason = f"loss became {float(loss)} at batch {batch}"
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if self.check_weights_every and (epoch + 1) % self.check_weights_every == 0:
            for weight in self.model.weights:
                value = keras.ops.convert_to_numpy(weight.value)
                if np.issubdtype(value.dtype, np.floating) and not np.all(
                    np.isfinite(value)
                ):
                    self.reason = (
                        f"weight {weight.path} became non-finite at epoch {epoch}"
                    )
                    self.model.stop_training = True
                    return


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the best epoch's weights, written atomically, best value on disk.

    Like `ModelCheckpoint(save_best_only=True, save_weights_only=True)`, but
    a kill never leaves a torn file, and the best score so far is kept in a
    JSON beside the weights, so a resumed run does not overwrite a better
    checkpoint with a worse one.
    """

    def __init__(self, filepath, monitor="val_loss", mode="auto"):
        super().__init__()
        self.filepath = filepath
        self.monitor = monitor
        self.mode = monitor_mode(monitor, mode)
        self._record_path = filepath + ".json"

    def _better(self, value, best):
        if best is None:
            return True
        return value < best if self.mode == "min" else value > best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        record = read_json(self._record_path, default={}) or {}
        if self._better(float(value), record.get("best")):
            with atomic_path(self.filepath) as temporary:
                self.model.save_weights(temporary)
            write_json(
                self._record_path,
                {"best": float(value), "epoch": epoch, "monitor": self.monitor},
            )


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backups survive a kill at any instant.

    Keras's version rewrites `training_metadata.json` in place, so a kill
    during that write leaves a file that breaks the next start, and the
    weights and metadata can disagree. Here each epoch's weights (with the
    optimizer state) go to a new file, then one small JSON record naming that
    file, the epoch and the history so far is renamed into place: the commit.
    The history is rewritten from that record, so `history.csv` never counts
    an epoch twice.

    Args:
        backup_dir: Folder for the backups.
        history_path: Where to write the history CSV, or None.
    """

    def __init__(self, backup_dir, history_path=None):
        super().__init__(
            backup_dir,
            save_freq="epoch",
            delete_checkpoint=False,
            double_checkpoint=False,
        )
        self.history_path = history_path
        self._state_path = os.path.join(backup_dir, "state.json")
        self._rows = []
        self._saved = None  # (epochs done, weights file) of this fit's last backup.

    @property
    def state(self):
        return read_json(self._state_path, default=None)

    def weights_after(self, epochs):
        """The committed weights file (optimizer state included) holding the
        model after `epochs` epochs, if this fit wrote it; else None."""
        if self._saved and self._saved[0] == epochs:
            return self._saved[1]
        return None

    def on_train_begin(self, logs=None):
        state = self.state
        self._rows = []
        self._saved = None
        if state is None:
            return
        weights = os.path.join(self.backup_dir, state["weights"])
        if not self.model.built:
            raise ValueError("Build the model before fit() when resuming.")
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(weights)
        except (OSError, ValueError) as error:
            raise ZooError(
                f"The backup in {self.backup_dir} cannot be restored ({type(error).__name__}); "
                "delete that folder to restart this run from its first epoch."
            ) from None
        set_initial_epoch(self.model, state["epoch"])
        self._current_epoch = int(state["epoch"])
        self._rows = list(state.get("history", []))
        self._write_history()

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._rows.append(epoch_row(self.model, epoch, logs))
        self._save_model()

    def on_train_end(self, logs=None):
        pass  # Keep the backup: the runner removes it once outputs are written.

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        name = f"epoch-{self._current_epoch:05d}.weights.h5"
        with atomic_path(os.path.join(self.backup_dir, name)) as temporary:
            self.model.save_weights(temporary)
        previous = self.state
        write_json(
            self._state_path,
            {"epoch": self._current_epoch, "weights": name, "history": self._rows},
        )
        self._saved = (self._current_epoch, os.path.join(self.backup_dir, name))
        if previous and previous.get("weights") != name:
            try:
                os.remove(os.path.join(self.backup_dir, previous["weights"]))
            except FileNotFoundError:
                pass
        self._write_history()

    def save_before_fit(self, name, record, model=None):
        """Keeps work a family does before `fit` (JointVAE's starts) beside
        the backups: `model`'s weights with its optimizer state, if given,
        then the JSON `record` naming them, the commit. A kill between the
        two leaves the previous record and the weights it names."""
        previous = self.load_before_fit(name) or {}
        record = {**record, "weights": previous.get("weights")}
        if model is not None:
            record["weights"] = f"{name}-{previous.get('saves', 0) + 1:05d}.weights.h5"
            with atomic_path(os.path.join(self.backup_dir, record["weights"])) as path:
                model.save_weights(path)
        record["saves"] = previous.get("saves", 0) + 1
        write_json(os.path.join(self.backup_dir, f"{name}.json"), record)
        if previous.get("weights") not in (None, record["weights"]):
            try:
                os.remove(os.path.join(self.backup_dir, previous["weights"]))
            except FileNotFoundError:
                pass

    def load_before_fit(self, name, model=None):
        """The record `save_before_fit` kept under `name`, or None; loads the
        weights it names into `model`, if given."""
        record = read_json(os.path.join(self.backup_dir, f"{name}.json"), default=None)
        if record and model is not None and record.get("weights"):
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(os.path.join(self.backup_dir, record["weights"]))
        return record

    def _write_history(self):
        if self.history_path:
            write_text(self.history_path, history_to_csv(self._rows))


def epoch_row(model, epoch, logs):
    """One `history.csv` row: the epoch, its numeric logs and the learning rate."""
    row = {"epoch": epoch}
    for key, value in (logs or {}).items():
        try:
            row[key] = float(value)
        except (TypeError, ValueError):
            continue
    if "learning_rate" not in row and model.optimizer is not None:
        try:
            row["learning_rate"] = float(
                keras.ops.convert_to_numpy(model.optimizer.learning_rate)
            )
        except (TypeError, ValueError, AttributeError):
            pass
    return row


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites `history.csv` whole (atomically) after every epoch: the
    history of a run without backups (`--no-backup`), which
    `AtomicBackupAndRestore` writes otherwise. Not `keras.callbacks.CSVLogger`:
    it appends to an open file (a kill can leave half a row) and fixes its
    columns at the first epoch; this writes the same rows as the backup's."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self._rows = []

    def on_epoch_end(self, epoch, logs=None):
        self._rows.append(epoch_row(self.model, epoch, logs))
        write_text(self.path, history_to_csv(self._rows))


def history_to_csv(rows):
    keys = ["epoch"]
    for row in rows:
        keys += [k for k in row if k not in keys]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()


def parse_lr_schedule(spec, base_learning_rate, epochs):
    """A `LearningRateScheduler` function from "step:F:N" or "cosine:W".

    The curves are Keras' schedules, indexed by epoch: "step" is
    `ExponentialDecay(staircase=True)`, "cosine" is `CosineDecay` after a
    linear warm-up of W epochs.
    """
    if not spec:
        return None
    kind, _, rest = str(spec).partition(":")
    parts = [p for p in rest.split(":") if p]
    schedules = keras.optimizers.schedules
    try:
        if kind == "step":
            factor = float(parts[0]) if parts else 0.95
            every = int(parts[1]) if len(parts) > 1 else 3
            if not 0 < factor <= 1 or every < 1:
                raise ValueError
            step = schedules.ExponentialDecay(
                base_learning_rate, every, factor, staircase=True
            )
            return lambda epoch, lr=None: float(step(epoch))
        if kind == "cosine":
            warmup = int(parts[0]) if parts else 0
            if warmup < 0:
                raise ValueError
            decay_epochs = max(int(epochs), warmup + 1) - warmup
            if not warmup:
                cosine = schedules.CosineDecay(base_learning_rate, decay_epochs)
                return lambda epoch, lr=None: float(cosine(epoch))
            cosine = schedules.CosineDecay(
                0.0,
                decay_epochs,
                warmup_target=base_learning_rate,
                warmup_steps=warmup,
            )
            # Keras' warm-up starts from 0 at step 0; an epoch at rate 0 would
            # be wasted, so each warm-up epoch takes the rate of its end.
            return lambda epoch, lr=None: float(
                cosine(epoch + 1 if epoch < warmup else epoch)
            )
    except (ValueError, IndexError):
        pass
    raise ConfigError(
        f"Cannot read lr_schedule {spec!r}: use 'step:0.95:3' (x0.95 every 3 epochs) "
        "or 'cosine:2' (cosine decay after 2 warm-up epochs)."
    )


class EpochLearningRateSchedule(keras.callbacks.Callback):
    """Sets the learning rate at each epoch from an `lr_schedule` spec.

    Unlike `LearningRateScheduler` with a fixed base, the base learning rate
    defaults to the optimizer's own at the start of training, so each tuner
    trial keeps its tuned learning rate as the base. The rate is also logged
    as `learning_rate` in the epoch logs (and so in `history.csv`).

    Args:
        spec: "step:FACTOR:EVERY" or "cosine:WARMUP" (see `parse_lr_schedule`).
        epochs: Planned epochs (for the cosine schedule).
        base_learning_rate: The base rate, or None for the optimizer's.
    """

    def __init__(self, spec, *, epochs, base_learning_rate=None):
        super().__init__()
        self.spec = spec
        self.epochs = epochs
        self.base_learning_rate = base_learning_rate
        self._schedule = None

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if follows_schedule(optimizer):
            raise ConfigError(
                "This model's optimizer already follows a learning-rate schedule; "
                "drop lr_schedule (--lr-schedule)."
            )
        base = self.base_learning_rate
        if base is None:
            base = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        self._schedule = parse_lr_schedule(self.spec, base, self.epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = float(self._schedule(epoch, None))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
            )


def make_callbacks(
    run_dir,
    options=None,
    *,
    learning_rate=None,
    epochs=None,
    has_validation=True,
    history=True,
):
    """A fresh list of callbacks for one run or trial.

    Args:
        run_dir: The run folder; logs go to `logs/`, checkpoints to
            `checkpoints/`, backups to `backup/`, history to `history.csv`.
        options: A `CallbackOptions`.
        learning_rate: The base learning rate, for `lr_schedule`.
        epochs: Planned epochs, for the cosine schedule.
        has_validation: Whether `val_*` metrics exist.
        history: Write `history.csv` when there are no backups (a search's
            trials write their own, under their trial folders).
    """
    options = options or CallbackOptions()
    monitor = options.monitor
    if not has_validation and monitor.startswith("val_"):
        monitor = monitor.removeprefix("val_")
    mode = monitor_mode(monitor, options.mode)
    callbacks = []
    if options.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
        callbacks.append(TerminateOnNaNWeights())
    if options.lr_schedule:
        parse_lr_schedule(options.lr_schedule, 1.0, epochs or 1)  # Fails early.
        callbacks.append(
            EpochLearningRateSchedule(
                options.lr_schedule,
                epochs=epochs or 1,
                base_learning_rate=learning_rate,
            )
        )
    if options.reduce_lr_patience:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                mode=mode,
                factor=0.5,
                patience=options.reduce_lr_patience,
            )
        )
    if options.early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor,
                mode=mode,
                patience=options.early_stopping_patience,
                restore_best_weights=False,
            )
        )
    if options.checkpoint:
        callbacks.append(
            BestCheckpoint(
                os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor, mode
            )
        )
    if options.tensorboard:
        callbacks.append(
            keras.callbacks.TensorBoard(
                log_dir=os.path.join(run_dir, "logs"),
                histogram_freq=options.histogram_freq,
                write_graph=False,
            )
        )
    history_path = os.path.join(run_dir, "history.csv")
    if options.backup:
        # Last, so the epoch it commits has been seen by every other callback.
        callbacks.append(
            AtomicBackupAndRestore(
                os.path.join(run_dir, "backup"), history_path=history_path
            )
        )
    elif history:
        callbacks.append(HistoryWriter(history_path))
    return callbacks

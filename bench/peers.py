"""The zoo's `tune` beside a plain KerasTuner script and AutoKeras 3 (issue 18).

One run, one machine, the same data and splits, the same budget (trials x
epochs per trial) for each tool:

- zoo: `zoo.tuning.search.tune(model, data, tuner="random")`, the model and
  data named as on the command line;
- KerasTuner: a script written as KerasTuner's documentation shows it, a
  `build_model(hp)` function and `kt.RandomSearch`, NumPy arrays (prepared in
  NumPy and pandas) into `tuner.search(x, y, validation_data=...)`;
- AutoKeras 3.0.0: `StructuredDataClassifier`, `TextClassifier`, and for
  images `AutoModel` with the vanilla `ImageBlock` (see `peers_autokeras.py`),
  in its own environment (`bench/autokeras_env.sh`) as a subprocess.

The splits come from the zoo's loaders (`load_data(name, kind=..., seed=0)`):
the other two tools get the very arrays of the zoo's train, validation and
test splits. Every tool's trials log the end of each epoch with its
validation accuracy, so the table can say when the best-so-far model first
passed a stated threshold, and how the wall time splits into time in `fit`,
before the first trial, between trials and after the last.

    python -m bench.peers [--quick] [--trials 4] [--epochs 5] [--datasets titanic]
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.common import argument_parser, write_results
from bench.tuner_overhead import clocked_trials

NAME = "peers"
AUTOKERAS_PYTHON = "/work/venv-autokeras/bin/python"
AUTOKERAS_SCRIPT = os.path.join(os.path.dirname(__file__), "peers_autokeras.py")
SUBPROCESS_TIMEOUT_S = 900


@dataclasses.dataclass(frozen=True)
class PeerCase:
    """One dataset of the comparison.

    Attributes:
        data: Embedded dataset name.
        kind: The data kind it is loaded as.
        model: The zoo model searched on it.
        threshold: Validation accuracy for "time to threshold", set before
            the runs: about what a small tuned model of each kind reaches.
    """

    data: str
    kind: str
    model: str
    threshold: float


CASES = (
    PeerCase("titanic", "tabular", "mlp", 0.78),
    PeerCase("digits", "image", "cnn", 0.95),
    PeerCase("rotten_tomatoes", "text", "lstm", 0.70),
)

COLUMNS = [
    ("data", "data"),
    ("tool", "tool"),
    ("trials", "trials"),
    ("test_accuracy", "test acc"),
    ("baseline_accuracy", "zoo baseline acc"),
    ("best_val_accuracy", "best val acc"),
    ("wall_s", "wall s"),
    ("time_to_threshold_s", "s to threshold"),
    ("fit_s", "in fit s"),
    ("fit_per_trial_s", "fit s / trial"),
    ("setup_s", "before 1st trial s"),
    ("between_trials_s", "between trials s (mean)"),
    ("wrap_up_s", "after last trial s"),
]


# The shared splits ------------------------------------------------------------


def load_splits(case):
    """`{split: (x, y)}` of the zoo's raw splits as NumPy, plus the facts.

    `x` is a dict of columns for tables, an array of strings for texts and
    an array of 0-255 images for images.
    """
    from zoo.baselines import split_arrays
    from zoo.datasets.base import load_data

    bundle = load_data(case.data, kind=case.kind, seed=0)
    splits = {}
    for split in ("train", "validation", "test"):
        x, y = split_arrays(getattr(bundle, split))
        if isinstance(x, list):
            x = np.asarray(x, dtype=str)
        elif isinstance(x, dict):
            x = {c: v.astype(str) if v.dtype == object else v for c, v in x.items()}
        splits[split] = (x, np.asarray(y))
    facts = {
        "num_classes": bundle.num_classes,
        "task": bundle.task,
        "sizes": {s: len(splits[s][1]) for s in splits},
        "numeric_columns": bundle.info.get("numeric_columns", []),
    }
    return splits, facts


def write_npz(path, splits):
    """The splits as an `.npz` without pickles (`peers_autokeras.py` reads it)."""
    arrays = {}
    for split, (x, y) in splits.items():
        arrays[f"{split}__y"] = y
        if isinstance(x, dict):
            arrays["columns"] = np.asarray(list(x), dtype=str)
            arrays.update({f"{split}__{c}": v for c, v in x.items()})
        else:
            arrays[f"{split}__x"] = x
    np.savez(path, **arrays)


# Timelines ----------------------------------------------------------------------


def timeline(events, *, wall_s, trials, threshold):
    """Splits a tool's wall time by its fit stamps and finds the time to threshold.

    Args:
        events: `(kind, seconds since the tool started, value)` with kinds
            "begin" (a fit starts), "epoch" (value: its val_accuracy) and
            "end"; fits after the first `trials` (AutoKeras refits the best
            model) count as wrap-up.
        wall_s: The tool's wall time.
        trials: Trials the search ran.
        threshold: Validation accuracy to reach.

    Returns:
        A dict of the table's timing columns.
    """
    begins = [t for kind, t, _ in events if kind == "begin"][:trials]
    ends = [t for kind, t, _ in events if kind == "end"][:trials]
    best, reached = None, None
    for kind, t, value in events:
        if not ends or t > ends[-1]:
            break  # AutoKeras's refit of the best model is no trial.
        if kind == "epoch" and value is not None:
            best = max(best or 0.0, float(value))
        # float32 accuracies: 475/500 logs as 0.94999999.
        if kind == "end" and reached is None and (best or 0.0) >= threshold - 1e-6:
            reached = t
    fit = sum(end - begin for begin, end in zip(begins, ends))
    gaps = [begin - end for begin, end in zip(begins[1:], ends[:-1])]
    return {
        "best_val_accuracy": best,
        "time_to_threshold_s": reached,
        "fit_s": fit,
        "fit_per_trial_s": fit / len(ends) if ends else None,
        "setup_s": begins[0] if begins else None,
        "between_trials_s": sum(gaps) / len(gaps) if gaps else None,
        "wrap_up_s": wall_s - ends[-1] if ends else None,
    }


# The zoo ------------------------------------------------------------------------


def run_zoo(case, *, trials, epochs, work_dir):
    from zoo.tuning.search import tune

    with clocked_trials() as stamps:
        stamps.clear()
        started = time.perf_counter()
        result = tune(
            case.model,
            case.data,
            run_dir=os.path.join(work_dir, "zoo"),
            tuner="random",
            max_trials=trials,
            epochs=epochs,
            objective="val_accuracy",
            seed=0,
            verbose=0,
        )
        wall = time.perf_counter() - started
        events = [(kind, t - started, value) for kind, t, value in stamps]
    metrics = result.best_metrics
    return {
        "tool": f"zoo tune ({case.model}, random)",
        "trials": int((result.results["status"] == "COMPLETED").sum()),
        "test_accuracy": metrics.get("test_accuracy"),
        "baseline_accuracy": metrics.get("baseline_accuracy"),
        "baseline_name": metrics.get("baseline_name"),
        "wall_s": wall,
        "events": events,
    }


# KerasTuner, as its documentation shows it ---------------------------------------


def tabular_arrays(splits, numeric):
    """Tables as a plain script prepares them: median-filled, standardised
    numbers and one-hot categories (pandas), fitted on the training rows."""
    import pandas as pd

    frames = {s: pd.DataFrame(x) for s, (x, _) in splits.items()}
    train = frames["train"]
    numeric = [c for c in train if c in numeric or train[c].dtype.kind == "f"]
    medians = train[numeric].median()
    means = train[numeric].fillna(medians).mean()
    stds = train[numeric].fillna(medians).std().replace(0, 1)
    encoded_train = pd.get_dummies(train.drop(columns=numeric)).columns
    arrays = {}
    for split, frame in frames.items():
        numbers = (frame[numeric].fillna(medians) - means) / stds
        dummies = pd.get_dummies(frame.drop(columns=numeric)).reindex(
            columns=encoded_train, fill_value=0
        )
        x = pd.concat([numbers, dummies], axis=1).to_numpy(dtype="float32")
        arrays[split] = (x, splits[split][1])
    return arrays


def text_arrays(splits, *, max_tokens=20_000, length=64):
    """Texts as token ids from a `TextVectorization` adapted on the training texts."""
    import keras

    vectorize = keras.layers.TextVectorization(
        max_tokens=max_tokens, output_sequence_length=length
    )
    vectorize.adapt(splits["train"][0])
    return {
        s: (np.asarray(vectorize(x)), y) for s, (x, y) in splits.items()
    }, max_tokens


def build_model_for(kind, num_classes, *, width=None, vocabulary=None):
    """The `build_model(hp)` a KerasTuner user writes for this kind of data:
    a table's `width` features, images of 28x28x1 pixels (0-255) or token ids
    of a `vocabulary`; one or two dense layers, dropout or not, a learning
    rate on a log scale."""
    import keras
    from keras import layers

    binary = num_classes == 2

    def head_and_compile(hp, inputs, features):
        if hp.Boolean("dropout"):
            features = layers.Dropout(rate=0.25)(features)
        if binary:
            outputs = layers.Dense(1, activation="sigmoid")(features)
            loss = "binary_crossentropy"
        else:
            outputs = layers.Dense(num_classes, activation="softmax")(features)
            loss = "sparse_categorical_crossentropy"
        model = keras.Model(inputs, outputs)
        learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
            loss=loss,
            metrics=["accuracy"],
        )
        return model

    def build_model(hp):
        if kind == "image":
            inputs = keras.Input((28, 28, 1))
            x = layers.Rescaling(1.0 / 255)(inputs)
            for index in range(hp.Int("conv_layers", 1, 2)):
                x = layers.Conv2D(
                    hp.Int(f"filters_{index}", 16, 64, step=16), 3, activation="relu"
                )(x)
                x = layers.MaxPooling2D()(x)
            features = layers.Flatten()(x)
        elif kind == "text":
            inputs = keras.Input((None,), dtype="int32")
            x = layers.Embedding(vocabulary, hp.Int("embedding", 32, 128, step=32))(
                inputs
            )
            features = layers.GlobalAveragePooling1D()(x)
        else:
            inputs = keras.Input((width,))
            features = inputs
        for index in range(hp.Int("dense_layers", 1, 2)):
            features = layers.Dense(
                hp.Int(f"units_{index}", 32, 256, step=32), activation="relu"
            )(features)
        return head_and_compile(hp, inputs, features)

    return build_model


def run_keras_tuner(case, splits, facts, *, trials, epochs, work_dir):
    import keras
    import keras_tuner as kt

    events = []

    class EpochLog(keras.callbacks.Callback):
        # KerasTuner deep-copies callbacks; the list is shared by reference.
        log = events

        def on_train_begin(self, logs=None):
            self.log.append(("begin", time.perf_counter(), None))

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get("val_accuracy")
            self.log.append(("epoch", time.perf_counter(), value))

        def on_train_end(self, logs=None):
            self.log.append(("end", time.perf_counter(), None))

    keras.utils.set_random_seed(0)
    started = time.perf_counter()
    vocabulary = None
    if case.kind == "tabular":
        arrays = tabular_arrays(splits, facts["numeric_columns"])
    elif case.kind == "text":
        arrays, vocabulary = text_arrays(splits)
    else:
        arrays = splits
    build_model = build_model_for(
        case.kind,
        facts["num_classes"],
        width=arrays["train"][0].shape[-1],
        vocabulary=vocabulary,
    )
    tuner = kt.RandomSearch(
        build_model,
        objective="val_accuracy",
        max_trials=trials,
        seed=0,
        directory=work_dir,
        project_name="keras_tuner",
        overwrite=True,
    )
    (x, y), (x_val, y_val) = arrays["train"], arrays["validation"]
    tuner.search(
        x,
        y,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=[EpochLog()],
        verbose=0,
    )
    best = tuner.get_best_models(num_models=1)[0]
    _, test_accuracy = best.evaluate(*arrays["test"], verbose=0)
    wall = time.perf_counter() - started
    return {
        "tool": "KerasTuner script (RandomSearch)",
        "trials": len(tuner.oracle.trials),
        "test_accuracy": float(test_accuracy),
        "wall_s": wall,
        "events": [(kind, t - started, value) for kind, t, value in events],
    }


# AutoKeras, in its own environment ----------------------------------------------


def run_autokeras(case, splits, *, trials, epochs, work_dir, python):
    """AutoKeras's search in a subprocess of its environment's `python`."""
    if not os.path.exists(python):
        return {
            "tool": "AutoKeras",
            "error": f"{python} not found; build it with "
            "`bash bench/autokeras_env.sh /work/venv /work/venv-autokeras`",
        }
    data = os.path.join(work_dir, "splits.npz")
    result_path = os.path.join(work_dir, "autokeras.json")
    write_npz(data, splits)
    command = [
        python,
        AUTOKERAS_SCRIPT,
        data,
        result_path,
        f"--kind={case.kind}",
        f"--trials={trials}",
        f"--epochs={epochs}",
        f"--workdir={os.path.join(work_dir, 'autokeras')}",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    try:
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {
            "tool": "AutoKeras",
            "error": f"timed out after {SUBPROCESS_TIMEOUT_S} s",
        }
    if not os.path.exists(result_path):
        tail = (finished.stderr or "").strip().splitlines()[-1:] or ["no output"]
        return {"tool": "AutoKeras", "error": f"exit {finished.returncode}: {tail[0]}"}
    with open(result_path, encoding="utf-8") as handle:
        record = json.load(handle)
    record["tool"] = (
        f"AutoKeras {record.get('autokeras', '')} ({record.get('api', '')})"
    )
    record["events"] = [tuple(event) for event in record.get("events", [])]
    return record


# The run --------------------------------------------------------------------------


def measure_case(case, args, *, trials, epochs):
    """The rows of one dataset: zoo, KerasTuner, AutoKeras (unless skipped)."""
    splits, facts = load_splits(case)
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"peers-{case.data}-") as work_dir:
        runners = [
            (
                "zoo",
                lambda: run_zoo(case, trials=trials, epochs=epochs, work_dir=work_dir),
            ),
            (
                "keras_tuner",
                lambda: run_keras_tuner(
                    case, splits, facts, trials=trials, epochs=epochs, work_dir=work_dir
                ),
            ),
        ]
        if not args.no_autokeras:
            runners.append(
                (
                    "autokeras",
                    lambda: run_autokeras(
                        case,
                        splits,
                        trials=trials,
                        epochs=epochs,
                        work_dir=work_dir,
                        python=args.autokeras_python,
                    ),
                )
            )
        for name, runner in runners:
            started = time.perf_counter()
            try:
                record = runner()
            except Exception as error:
                message = str(error).splitlines()[0][:200] if str(error) else ""
                record = {"tool": name, "error": f"{type(error).__name__}: {message}"}
            print(
                f"[bench] peers {case.data} {name}: {time.perf_counter() - started:.0f} s"
                + (f" ({record['error']})" if "error" in record else ""),
                flush=True,
            )
            rows.append(_row(case, facts, record, trials=trials))
    baseline = next(
        (r["baseline_accuracy"] for r in rows if r.get("baseline_accuracy")), None
    )
    for row in rows:
        row["baseline_accuracy"] = baseline
    return rows


def _row(case, facts, record, *, trials):
    row = {
        "data": case.data,
        "kind": case.kind,
        "threshold": case.threshold,
        "sizes": facts["sizes"],
        **{k: v for k, v in record.items() if k not in ("events", "traceback")},
    }
    if "error" in record:
        return row
    row.update(
        timeline(
            record["events"],
            wall_s=record["wall_s"],
            trials=record.get("trials") or trials,
            threshold=case.threshold,
        )
    )
    row["events"] = [[kind, round(t, 3), value] for kind, t, value in record["events"]]
    return row


def run(args):
    trials = args.trials or (1 if args.quick else 4)
    epochs = args.epochs or (1 if args.quick else 5)
    wanted = set(args.datasets or [case.data for case in CASES])
    rows = []
    started = time.perf_counter()
    for case in CASES:
        if case.data in wanted:
            rows += measure_case(case, args, trials=trials, epochs=epochs)
    total = time.perf_counter() - started
    print(f"[bench] peers: {total:.0f} s", flush=True)
    notes = _notes(rows, trials=trials, epochs=epochs, total=total)
    command = "python -m bench.peers" + (" --quick" if args.quick else "")
    write_results(
        NAME,
        title=f"The zoo's tune beside KerasTuner and AutoKeras ({trials} trials x {epochs} epochs)",
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        command=command,
        results_dir=args.results_dir,
        extra={"trials": trials, "epochs": epochs, "total_s": total},
    )
    return rows


def _notes(rows, *, trials, epochs, total):
    notes = [
        f"Budget: {trials} trials x {epochs} epochs per tool and dataset; whole bench {total:.0f} s.",
        "Thresholds (validation accuracy, set before the run): "
        + ", ".join(f"{case.data} {case.threshold}" for case in CASES)
        + ". 's to threshold' is the end of the first trial after which the best-so-far "
        "model's validation accuracy (its best epoch) is at or above it; '-' when never.",
    ]
    autokeras = next((r for r in rows if r.get("autokeras")), None)
    if autokeras:
        notes.append(
            f"AutoKeras {autokeras['autokeras']} ran with Keras {autokeras['keras']} in its own "
            "environment (bench/autokeras_env.sh; it refuses Keras >= 3.13), as a subprocess: "
            "its wall time starts at the model's construction (TensorFlow's import and the "
            "process start are left out) and includes its refit of the best model and predict."
        )
    for row in rows:
        if "error" in row:
            notes.append(f"{row['data']}, {row['tool']}: failed, {row['error']}.")
    return notes


def make_parser():
    """`bench.common`'s options and the comparison's own."""
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument(
        "--datasets",
        nargs="*",
        default=None,
        help="Only these (titanic, digits, rotten_tomatoes).",
    )
    parser.add_argument(
        "--no-autokeras", action="store_true", help="Only the zoo and KerasTuner."
    )
    parser.add_argument("--autokeras-python", default=AUTOKERAS_PYTHON)
    return parser


def main(argv=None):
    run(make_parser().parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])

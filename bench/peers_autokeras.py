"""The AutoKeras side of `bench.peers`, run in AutoKeras's own environment.

AutoKeras 3.0.0 runs only with Keras <= 3.12.4 (`bench/autokeras_env.sh`
builds that environment), so `bench.peers` starts this script with that
environment's Python. It imports nothing from the zoo: it reads the splits
`bench.peers` wrote to an `.npz`, searches, and writes a JSON result.

    python bench/peers_autokeras.py DATA.npz RESULT.json --kind image \
        --trials 4 --epochs 5 --workdir DIR
"""

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

# KerasTuner deep-copies the callbacks of every trial; a module-level list is
# shared by all the copies.
EVENTS = []


def _epoch_log():
    import keras

    class EpochLog(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            EVENTS.append(("begin", time.perf_counter(), None))

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get("val_accuracy")
            EVENTS.append(("epoch", time.perf_counter(), value))

        def on_train_end(self, logs=None):
            EVENTS.append(("end", time.perf_counter(), None))

    return EpochLog()


def _table(columns, split, data):
    return np.stack([data[f"{split}__{c}"].astype(str) for c in columns], axis=1)


def _splits(data, kind):
    if kind == "tabular":
        columns = [str(c) for c in data["columns"]]
        xs = {s: _table(columns, s, data) for s in ("train", "validation", "test")}
    elif kind == "text":
        xs = {s: data[f"{s}__x"].astype(str) for s in ("train", "validation", "test")}
    else:
        xs = {s: data[f"{s}__x"] for s in ("train", "validation", "test")}
    ys = {s: data[f"{s}__y"] for s in ("train", "validation", "test")}
    return xs, ys


def _image_model(trials, workdir, seed):
    import autokeras as ak

    inputs = ak.ImageInput()
    outputs = ak.ClassificationHead()(ak.ImageBlock(block_type="vanilla")(inputs))
    return ak.AutoModel(
        inputs=inputs,
        outputs=outputs,
        max_trials=trials,
        directory=workdir,
        overwrite=True,
        seed=seed,
    )


def run(data_path, kind, *, trials, epochs, workdir, seed=0):
    import autokeras as ak
    import keras

    keras.utils.set_random_seed(seed)
    data = np.load(data_path, allow_pickle=False)
    xs, ys = _splits(data, kind)
    started = time.perf_counter()
    if kind == "image":
        model = _image_model(trials, workdir, seed)
        api = "AutoModel(ImageInput -> ImageBlock(block_type='vanilla') -> ClassificationHead)"
    elif kind == "tabular":
        model = ak.StructuredDataClassifier(
            max_trials=trials, directory=workdir, overwrite=True, seed=seed
        )
        api = "StructuredDataClassifier"
    else:
        model = ak.TextClassifier(
            max_trials=trials, directory=workdir, overwrite=True, seed=seed
        )
        api = "TextClassifier"
    model.fit(
        xs["train"],
        ys["train"],
        validation_data=(xs["validation"], ys["validation"]),
        epochs=epochs,
        callbacks=[_epoch_log()],
        verbose=0,
    )
    searched = time.perf_counter()
    predictions = np.asarray(model.predict(xs["test"], verbose=0))
    predicted = predictions.reshape(len(ys["test"]), -1)[:, 0].astype(float)
    test_accuracy = float(np.mean(predicted.round().astype(int) == ys["test"]))
    finished = time.perf_counter()
    trial_count = len(model.tuner.oracle.trials)
    return {
        "api": api,
        "autokeras": ak.__version__,
        "keras": keras.__version__,
        "test_accuracy": test_accuracy,
        "wall_s": finished - started,
        "search_s": searched - started,
        "trials": trial_count,
        "events": [(name, t - started, value) for name, t, value in EVENTS],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("result")
    parser.add_argument("--kind", choices=("tabular", "image", "text"), required=True)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    try:
        result = run(
            args.data,
            args.kind,
            trials=args.trials,
            epochs=args.epochs,
            workdir=args.workdir,
        )
    except Exception as error:
        result = {
            "error": f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
            if str(error)
            else type(error).__name__,
            "traceback": traceback.format_exc()[-2000:],
            "events": [e for e in EVENTS],
        }
    temporary = args.result + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2, default=float)
    os.replace(temporary, args.result)
    return 0 if "error" not in result else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Pretrained frozen EfficientNet-Lite0 vs random weights vs the small CNN, same wall time.

The issue-16 check: on a user's own folder of images unlike ImageNet (grey
Fashion-MNIST clothing, 10 classes, a few thousand PNGs), does ImageNet
pretraining help? Each model trains for the same wall-clock budget (a
callback stops it mid-epoch when the budget is spent) on the same split,
then is scored on the same test split, beside the majority-class baseline.

The images come from the Debian package `dataset-fashion-mnist`
(`apt-get install dataset-fashion-mnist`: IDX files under
/usr/share/datasets/fashion-mnist); the first PER_CLASS of each class of its
training set are written as PNGs, one folder per class.

    nice -n 10 python -m bench.transfer_fashion --budget 300 --out runs/fashion
"""

import argparse
import gzip
import json
import os
import time

import keras
import numpy as np

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = (
    "t-shirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)
CASES = {
    "efficientnet_lite0_frozen (ImageNet)": ("efficientnet_lite0_frozen", {}),
    "efficientnet_lite0_random (all trained)": ("efficientnet_lite0_random", {}),
    "cnn_lenet5 (small CNN)": ("cnn_lenet5", {}),
}


def read_idx(path):
    """An IDX file (MNIST's format) as a uint8 array."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_folder(root, per_class):
    """Writes `per_class` PNGs of each Fashion-MNIST class under `root/<class>/`."""
    from PIL import Image

    images = read_idx(os.path.join(FASHION_DIR, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FASHION_DIR, "train-labels-idx1-ubyte.gz"))
    for index, name in enumerate(CLASS_NAMES):
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for count, row in enumerate(np.flatnonzero(labels == index)[:per_class]):
            Image.fromarray(images[row]).save(os.path.join(folder, f"{count:05d}.png"))
    return root


class WallClockBudget(keras.callbacks.Callback):
    """Stops training once `seconds` of wall time have passed (checked per batch)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds, self.start, self.steps = seconds, None, 0

    def on_train_begin(self, logs=None):
        self.start = self.start or time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.perf_counter() - self.start > self.seconds:
            self.model.stop_training = True


def run_case(name, overrides, bundle, *, budget, batch_size, input_size, seed):
    from zoo.registry import build_for_bundle, resolve_config
    from zoo.tuning.train import fit_inputs

    keras.utils.set_random_seed(seed)
    family, config = resolve_config(name, **overrides)
    if family.name == "image_transfer":
        config = resolve_config(name, input_size=input_size, **overrides)[1]
    model = build_for_bundle(family, config, bundle)
    family.compile(model, config, num_classes=bundle.num_classes, total_steps=None)
    budget_callback = WallClockBudget(budget)
    train, kwargs = fit_inputs(model, bundle, batch_size, seed=seed)
    kwargs.update(epochs=1000, callbacks=[budget_callback], verbose=0)
    started = time.perf_counter()
    if family.fit is not None:
        history = family.fit(model, config, train, **kwargs)
    else:
        history = model.fit(train, **kwargs).history
    seconds = time.perf_counter() - started
    test = model.evaluate(bundle.batches("test", 64), return_dict=True, verbose=0)
    return {
        "test_accuracy": round(float(test["accuracy"]), 4),
        "train_seconds": round(seconds, 1),
        "epochs": len(history.get("loss", [])),
        "steps": budget_callback.steps,
        "val_accuracy_last": round(float(history.get("val_accuracy", [0])[-1]), 4),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/transfer_fashion")
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--budget", type=float, default=300, help="Seconds per model.")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="Run only the cases whose name contains this.")
    args = parser.parse_args(argv)
    from zoo.datasets.base import load_data

    folder = os.path.join(args.out, "images")
    if not os.path.isdir(folder):
        write_folder(folder, args.per_class)
    bundle = load_data(folder, kind="image", seed=args.seed)
    counts = np.bincount(np.concatenate([y for _, y in bundle.test.batch(512)]))
    results = {
        "data": f"{folder}: {bundle.info.get('train_size')} train / "
        f"{bundle.info.get('validation_size')} validation / {bundle.info.get('test_size')} test",
        "majority_baseline_test_accuracy": round(float(counts.max() / counts.sum()), 4),
        "budget_seconds": args.budget,
        "input_size": args.input_size,
    }
    for label, (name, overrides) in CASES.items():
        if args.only and args.only not in label:
            continue
        results[label] = run_case(
            name,
            overrides,
            bundle,
            budget=args.budget,
            batch_size=args.batch_size,
            input_size=args.input_size,
            seed=args.seed,
        )
        print(label, results[label], flush=True)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"results{'_' + args.only if args.only else ''}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

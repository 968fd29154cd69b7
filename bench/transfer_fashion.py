"""Pretrained frozen EfficientNet-Lite0 vs random weights vs the small CNN, same budget.

The issue-16 check: on a user's own folder of images unlike ImageNet (grey
Fashion-MNIST clothing, 10 classes, a few thousand PNGs), does ImageNet
pretraining help? Each model goes through the zoo's training path
(`zoo.tuning.train.prepare`, `build_for_bundle`, the family's compile and
`fit_model`: its fit hook under the runner's feature-cache settings, so a
frozen backbone runs once per split) for the same budget of this process's
CPU seconds (a callback stops it mid-epoch; the clock starts before any
feature extraction). As `zoo train` does, the best validation epoch's weights
are kept, then the model is scored on the same test split beside the
majority-class baseline. CPU time, not wall time, is the budget because the
machine is shared: the wall time each model got is reported beside it.

The images come from the Debian package `dataset-fashion-mnist`
(`apt-get install dataset-fashion-mnist`: IDX files under
/usr/share/datasets/fashion-mnist); the first PER_CLASS of each class of its
training set are written as PNGs, one folder per class.

    nice -n 10 python -m bench.transfer_fashion --budget 300 --out runs/fashion
    nice -n 10 python -m bench.transfer_fashion --sweep 64,96,112,160,224 --out runs/fashion
"""

import argparse
import gzip
import json
import os
import tempfile
import time

import keras
import numpy as np

from bench.common import RESULTS_DIR, machine_info

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
# label: (model, config overrides, epochs). Every model trains until the
# budget is spent; the fine-tuned one's 20 epochs are head epochs on cached
# features, then its top 3 blocks train at learning rate 1e-4.
CASES = {
    "efficientnet_lite0_frozen (ImageNet)": ("efficientnet_lite0_frozen", {}, 1000),
    "efficientnet_lite0 head, then top 3 blocks (ImageNet)": (
        "efficientnet_lite0_fine_tune",
        {"fine_tune_epochs": 1000, "fine_tune_blocks": 3},
        20,
    ),
    "efficientnet_lite0_random (all trained)": ("efficientnet_lite0_random", {}, 1000),
    "cnn_lenet5 (small CNN)": ("cnn_lenet5", {}, 1000),
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


class Budget(keras.callbacks.Callback):
    """Stops training once `seconds` of this process's CPU time (or wall time)
    have passed since it was made, checked after every batch.

    Made just before `fit_model`, so the frozen backbone's feature extraction
    counts. `expired` tells the family's fit hook to skip a later phase;
    `first_fit_at` is the clock when the first `fit` began (after the
    features were computed).
    """

    def __init__(self, seconds, clock="cpu"):
        super().__init__()
        self.seconds = seconds
        self.clock = time.process_time if clock == "cpu" else time.perf_counter
        self.start = self.clock()
        self.steps, self.expired, self.first_fit_at = 0, False, None

    def used(self):
        return self.clock() - self.start

    def on_train_begin(self, logs=None):
        if self.first_fit_at is None:
            self.first_fit_at = self.used()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.used() > self.seconds:
            self.expired = True
            self.model.stop_training = True


def run_case(
    name, overrides, folder, *, epochs, budget, clock, batch_size, seed, cache_dir
):
    """Trains one model as `zoo train` does, within the budget; its figures."""
    from zoo.registry import build_for_bundle
    from zoo.tuning.callbacks import BestCheckpoint
    from zoo.tuning.io import read_json
    from zoo.tuning.train import fit_model, prepare

    keras.backend.clear_session()
    prepared = prepare(name, folder, overrides=overrides, seed=seed)
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    keras.utils.set_random_seed(seed)
    model = build_for_bundle(family, config, bundle, prepared.preprocessing)
    family.compile(model, config, num_classes=bundle.num_classes, total_steps=None)
    best_path = os.path.join(tempfile.mkdtemp(prefix="bench-best-"), "best.weights.h5")
    wall, cpu = time.perf_counter(), time.process_time()
    limit = Budget(budget, clock)
    history = fit_model(
        model,
        family,
        config,
        bundle,
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[limit, BestCheckpoint(best_path)],
        seed=seed,
        verbose=0,
        cache_dir=cache_dir,
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if os.path.exists(best_path):
        model.load_weights(best_path)
    best_epoch = read_json(best_path + ".json")["epoch"]
    test = model.evaluate(bundle.batches("test", 64), return_dict=True, verbose=0)
    phases = history.get("phase", [1] * len(history.get("loss", [])))
    return {
        "test_accuracy": round(float(test["accuracy"]), 4),
        "train_cpu_seconds": round(cpu, 1),
        "train_wall_seconds": round(wall, 1),
        "before_first_epoch_cpu_seconds": round(limit.first_fit_at or 0, 1),
        "epochs": len(phases),
        "fine_tune_epochs": phases.count(2),
        "best_epoch": best_epoch + 1,
        "steps": limit.steps,
        "best_val_accuracy": round(max(history.get("val_accuracy", [0])), 4),
        "overrides": overrides,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/transfer_fashion")
    parser.add_argument("--per-class", type=int, default=300)
    parser.add_argument("--budget", type=float, default=300, help="Seconds per model.")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="Run only the cases whose label contains this.")
    parser.add_argument(
        "--sweep",
        help="Comma-separated input sizes: the frozen model alone at each size, "
        "head epochs only (--head-epochs), no fine-tuning.",
    )
    parser.add_argument("--head-epochs", type=int, default=40)
    parser.add_argument(
        "--input-size",
        type=int,
        help="Input size of the Lite0 models (default: the zoo's, 160 for 28x28).",
    )
    args = parser.parse_args(argv)

    folder = os.path.join(args.out, "images")
    if not os.path.isdir(folder):
        write_folder(folder, args.per_class)
    from zoo.datasets.base import load_data

    bundle = load_data(folder, kind="image", seed=args.seed)
    counts = np.bincount(np.concatenate([y for _, y in bundle.test.batch(512)]))
    results = {
        "data": f"{bundle.info.get('train_size')} train / {bundle.info.get('validation_size')} "
        f"validation / {bundle.info.get('test_size')} test PNGs (28x28 grey), "
        f"{args.per_class} per class",
        "majority_baseline_test_accuracy": round(float(counts.max() / counts.sum()), 4),
        "budget_seconds": args.budget,
        "clock": args.clock,
        "machine": machine_info(),
    }
    if args.sweep:
        cases = {
            f"efficientnet_lite0_frozen input_size={size}": (
                "efficientnet_lite0_frozen",
                {"input_size": int(size)},
                args.head_epochs,
            )
            for size in args.sweep.split(",")
        }
    else:
        lite = {"input_size": args.input_size} if args.input_size else {}
        cases = {
            label: (
                name,
                {**lite, **overrides} if "lite0" in name else overrides,
                epochs,
            )
            for label, (name, overrides, epochs) in CASES.items()
        }
    for label, (name, overrides, epochs) in cases.items():
        if args.only and args.only not in label:
            continue
        results[label] = run_case(
            name,
            overrides,
            folder,
            epochs=epochs,
            budget=args.budget,
            clock=args.clock,
            batch_size=args.batch_size,
            seed=args.seed,
            # In memory, so no case reads features another case paid for.
            cache_dir=None,
        )
        print(label, results[label], flush=True)
    from zoo.tuning.io import write_json

    stem = "transfer_fashion_sizes" if args.sweep else "transfer_fashion"
    stem += f"_{args.only.replace(' ', '_')}" if args.only else ""
    write_json(os.path.join(args.out, f"{stem}.json"), results)
    print(json.dumps(results, indent=2))
    print(f"Copy to {RESULTS_DIR} to keep it.")


if __name__ == "__main__":
    main()

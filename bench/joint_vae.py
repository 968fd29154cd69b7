"""JointVAE on the embedded digits: schedules, seeds, and what the discrete code learns.

Each setting trains `joint_vae_mnist` with some config changes for a number
of steps on the embedded 5,000 digits (4,000 train) exactly as `zoo train`
feeds it (the family's compile recipe and `DataBundle.training_stream`),
and scores the test split along the way: discrete-code accuracy (Hungarian
matching), reconstruction, KL terms, the code's marginal entropy (how many
categories the test digits use) and wall time.

    python -m bench.joint_vae --settings paper_init small_init --seeds 0 1 2 --steps 2000
"""

import argparse
import dataclasses
import functools
import json
import os
import sys
import time

import numpy as np

from bench.common import RESULTS_DIR, machine_info, machine_line

# Config changes over joint_vae_mnist (the paper's MNIST settings). Steps
# given as fractions are scaled by --steps.
SETTINGS = {
    "paper": {},
    "small_init": {"alpha_init_scale": 0.01},
    "discrete_first": {"alpha_init_scale": 0.01, "capacity_z_start": 0.3},
    "marginal": {"alpha_init_scale": 0.01, "marginal_entropy_weight": 30.0},
    "glorot_marginal": {"marginal_entropy_weight": 30.0},
    "temperature_1": {"temperature": 1.0},
    "continuous_first": {"capacity_c_start": 0.3},
    "paper_speed": {"capacity_z_steps": 25000, "capacity_c_steps": 25000},
    "lr_1e-3": {"learning_rate": 1e-3},
    "lr_2e-3": {"learning_rate": 2e-3},
    "marginal_lr_2e-3": {"learning_rate": 2e-3, "marginal_entropy_weight": 30.0},
    "marginal_slow_c": {"marginal_entropy_weight": 30.0, "capacity_c_max": 2.3026},
    "marginal_z_first": {"marginal_entropy_weight": 30.0, "capacity_c_start": 0.3},
    "marginal_c_first": {"marginal_entropy_weight": 30.0, "capacity_z_start": 0.3},
    # The discrete capacity reaches log(10) at the end of the ramp, not at
    # 46% of it: the code stays soft while the encoder learns.
    "slow_c_lr_2e-3": {"learning_rate": 2e-3, "capacity_c_max": 2.3026},
    "slow_c": {"capacity_c_max": 2.3026},
    "lr_3e-3": {"learning_rate": 3e-3},
    "temperature_1_lr_2e-3": {"learning_rate": 2e-3, "temperature": 1.0},
    # Less room in the continuous code leaves more of the picture to the
    # discrete one.
    "cz_2.5_lr_2e-3": {"learning_rate": 2e-3, "capacity_z_max": 2.5},
    "cz_3.5_lr_2e-3": {"learning_rate": 2e-3, "capacity_z_max": 3.5},
}
FRACTION_FIELDS = (
    "capacity_z_start",
    "capacity_c_start",
    "capacity_z_steps",
    "capacity_c_steps",
)


def resolve(setting, steps):
    """Config overrides of a setting for a run of `steps` (fractions scaled)."""
    overrides = {"capacity_z_steps": 1.0, "capacity_c_steps": 1.0}
    overrides.update(SETTINGS.get(setting, {}) if isinstance(setting, str) else setting)
    return {
        key: int(round(value * steps))
        if key in FRACTION_FIELDS and isinstance(value, float) and value <= 1.0
        else value
        for key, value in overrides.items()
    }


def code_report(model, images, labels, train_images=None, train_labels=None):
    from zoo.joint_vae_analysis import encode, unsupervised_accuracy

    codes = encode(model, images)
    alpha = codes["alphas"][0]
    marginal = alpha.mean(0)
    categories = codes["categories"][:, 0]
    extra = {}
    if train_images is not None:
        # The same score on training digits: a gap to the test digits says
        # the encoder overfits the 4,000 images rather than misclusters.
        train_codes = encode(model, train_images)["categories"][:, 0]
        extra["train_accuracy"] = unsupervised_accuracy(train_codes, train_labels)
    return {
        "discrete_accuracy": unsupervised_accuracy(categories, labels),
        **extra,
        "categories_used": int(len(np.unique(categories))),
        "marginal_entropy": float(-(marginal * np.log(marginal + 1e-12)).sum()),
        "mean_entropy": float(-(alpha * np.log(alpha + 1e-12)).sum(-1).mean()),
    }


def run_one(
    model_name, setting, seed, steps, *, eval_every, batch_size, data, train_limit=None
):
    import keras

    from zoo.registry import build_for_bundle
    from zoo.tuning.train import prepare

    overrides = resolve(setting, steps)
    keras.utils.set_random_seed(seed)
    prepared = prepare(model_name, data, overrides=overrides, seed=0)
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    if train_limit:
        # The first `train_limit` training images (the split is already a
        # random permutation): how accuracy depends on the amount of data.
        bundle = dataclasses.replace(bundle, train=bundle.train.take(train_limit))
    config = dataclasses.replace(config, seed=seed)
    keras.utils.set_random_seed(seed)
    model = build_for_bundle(family, config, bundle)
    family.compile(model, config, num_classes=None, total_steps=steps)
    images, labels = [], []
    for x, y in bundle.test.batch(1024).as_numpy_iterator():
        images.append(x)
        labels.append(y)
    images, labels = np.concatenate(images), np.concatenate(labels)
    train_images, train_labels = next(bundle.train.batch(1000).as_numpy_iterator())
    stream, _, per = bundle.training_stream(
        batch_size, seed=seed, steps_per_execution=config.steps_per_execution
    )
    model.steps_per_execution = per
    validation = bundle.batches("validation", 256)

    def report():
        # Validation loss terms beside the code scores: whether an
        # unsupervised figure ranks seeds the way the accuracy does.
        scores = code_report(model, images, labels, train_images, train_labels)
        val = model.evaluate(validation, verbose=0, return_dict=True)
        scores.update({f"val_{k}": round(float(v), 3) for k, v in val.items()})
        return scores

    curve = [{"step": 0, **report()}]
    started = time.perf_counter()
    done = 0
    while done < steps:
        chunk = min(eval_every, steps - done)
        model.fit(stream, epochs=1, steps_per_epoch=chunk, verbose=0)
        done += chunk
        point = {"step": done, "seconds": round(time.perf_counter() - started, 1)}
        point.update(report())
        curve.append(point)
        print(f"[jv] {setting} seed {seed} {json.dumps(point)}", flush=True)
    train_seconds = time.perf_counter() - started
    test = model.evaluate(bundle.batches("test", 256), verbose=0, return_dict=True)
    return {
        "setting": setting if isinstance(setting, str) else json.dumps(setting),
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "train_limit": train_limit,
        "overrides": overrides,
        "train_seconds": round(train_seconds, 1),
        **{f"test_{k}": float(v) for k, v in test.items()},
        **curve[-1],
        "initial_categories_used": curve[0]["categories_used"],
        "initial_marginal_entropy": curve[0]["marginal_entropy"],
        "curve": curve,
    }


def measure_speed(model_name, *, steps, repeats, batch_size=64):
    """Training steps per second of each speed lever, interleaved `repeats`
    times (the median is kept), as ratios to NumPy arrays into `fit`."""
    import keras

    from zoo.registry import build_for_bundle
    from zoo.tuning.train import prepare

    prepared = prepare(model_name, seed=0)
    family, config, bundle = prepared.family, prepared.config, prepared.bundle
    images = np.stack([x for x, _ in bundle.train.as_numpy_iterator()])
    levers = {
        "NumPy arrays into fit": (False, 1, False),
        "zoo stream (tf.data, one iterator)": (False, 1, True),
        "stream, steps_per_execution=8": (False, 8, True),
        "stream, steps_per_execution=32": (False, 32, True),
        "stream, jit_compile=True": (True, 1, True),
        "stream, jit_compile=True, steps_per_execution=32": (True, 32, True),
    }
    fits = {}
    for name, (jit, per_execution, stream) in levers.items():
        keras.utils.set_random_seed(0)
        changed = dataclasses.replace(
            config, jit_compile=jit, steps_per_execution=per_execution
        )
        model = build_for_bundle(family, changed, bundle)
        family.compile(model, changed, num_classes=None, total_steps=steps)
        if stream:
            data, _, _ = bundle.training_stream(
                batch_size, seed=0, steps_per_execution=per_execution
            )
            fit = functools.partial(_fit_stream, model, data)
        else:
            fit = functools.partial(_fit_arrays, model, images, batch_size)
        warm = time.perf_counter()
        fit(max(2 * per_execution, 2))  # traces (and compiles) the step
        fits[name] = (fit, time.perf_counter() - warm)
    times = {name: [] for name in levers}
    for _ in range(repeats):
        for name, (fit, _) in fits.items():
            started = time.perf_counter()
            fit(steps)
            times[name].append(time.perf_counter() - started)
    base = steps / float(np.median(times["NumPy arrays into fit"]))
    rows = []
    for name, (jit, per_execution, _) in levers.items():
        rate = steps / float(np.median(times[name]))
        rows.append(
            {
                "variant": name,
                "jit_compile": jit,
                "steps_per_execution": per_execution,
                "steps_per_s": round(rate, 2),
                "vs_numpy": round(rate / base, 2),
                "warmup_s": round(fits[name][1], 1),
            }
        )
        print(f"[jv] speed {json.dumps(rows[-1])}", flush=True)
    return rows


def _fit_stream(model, data, steps):
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)


def _fit_arrays(model, images, batch_size, steps):
    # `steps` batches even when they are more than one pass over the images.
    repeats = -(-steps * batch_size // len(images))
    images = np.concatenate([images] * repeats)[: steps * batch_size]
    model.fit(images, batch_size=batch_size, epochs=1, verbose=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="joint_vae_mnist")
    parser.add_argument("--data", default=None)
    parser.add_argument("--settings", nargs="+", default=["paper"])
    parser.add_argument(
        "--set", default=None, help="JSON overrides as one extra setting."
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--train-limit", type=int, default=None, help="Train on this many images."
    )
    parser.add_argument(
        "--out", default=os.path.join(RESULTS_DIR, "joint_vae_runs.jsonl")
    )
    parser.add_argument(
        "--speed", action="store_true", help="Measure the speed levers instead."
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.speed:
        rows = measure_speed(args.model, steps=args.steps, repeats=args.repeats)
        with open(args.out, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps({"speed": row, **machine_info()}) + "\n")
        return
    settings = list(args.settings)
    if args.set:
        settings = [json.loads(args.set)]
    print(f"[jv] {machine_line(machine_info())}", flush=True)
    for setting in settings:
        for seed in args.seeds:
            row = run_one(
                args.model,
                setting,
                seed,
                args.steps,
                eval_every=args.eval_every,
                batch_size=args.batch_size,
                data=args.data,
                train_limit=args.train_limit,
            )
            row["model"] = args.model
            row["data"] = args.data or "digits"
            summary = {k: v for k, v in row.items() if k != "curve"}
            print(f"[jv] result {json.dumps(summary)}", flush=True)
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Training and inference samples/s: each family's default vs a naive reference.

The *zoo* side is what `zoo train` runs: the family's default config and
compile recipe (its `jit_compile` and `steps_per_execution`), fed by
`DataBundle.batches` (tf.data, shuffled, prefetched). The *naive* side is the
same architecture, loss, optimizer and metrics written the way tutorials do:
NumPy arrays straight into `fit`/`predict` at the same batch size, no
`jit_compile`, `steps_per_execution=1`. Both run in the same process on the
same samples; the first epoch (tracing, buffers filling) is not timed.

The levers behind each default (XLA, steps per execution, batch size,
bfloat16, threads) are timed by `bench.levers`.

    python -m bench.throughput [--quick] [--families mlp cnn]
"""

import sys
import time

from bench.common import (
    argument_parser,
    build_compiled,
    load_case,
    measure_cases,
    seconds_for,
    steps_for,
    take_arrays,
    time_call,
    time_fit,
    write_results,
)

NAME = "throughput"
COLUMNS = [
    ("family", "family"),
    ("model", "model"),
    ("variant", "variant"),
    ("batch_size", "batch"),
    ("jit_compile", "jit"),
    ("steps_per_execution", "spe"),
    ("train_samples_per_s", "train samples/s"),
    ("train_ratio", "train vs naive"),
    ("predict_samples_per_s", "predict samples/s"),
    ("predict_ratio", "predict vs naive"),
]


def zoo_training_data(bundle, batch_size, steps, steps_per_execution=1):
    """`(dataset, fit kwargs, samples per epoch, steps per execution)` as
    `zoo.tuning.train` feeds `fit`.

    When the whole training split fits in `steps` batches, epochs are real
    epochs over `bundle.training_stream` (a pass each); otherwise the
    batches repeat and an epoch is `steps` batches (a multiple of the steps
    per execution) of a steady stream.
    """
    size = int(bundle.info.get("train_size") or 0)
    if size and size <= steps * batch_size + batch_size - 1:
        dataset, per_epoch, per_execution = bundle.training_stream(
            batch_size, seed=0, steps_per_execution=steps_per_execution
        )
        kwargs = {"steps_per_epoch": per_epoch} if per_epoch else {}
        return dataset, kwargs, size, per_execution
    steps = max(steps // steps_per_execution, 1) * steps_per_execution
    dataset = bundle.batches("train", batch_size, seed=0).repeat()
    return (
        dataset,
        {"steps_per_epoch": steps},
        steps * batch_size,
        steps_per_execution,
    )


def naive_arrays(bundle, samples):
    return take_arrays(bundle.train, samples)


def measure_zoo(
    family, config, bundle, *, batch_size, steps, seconds, changes=None, min_epochs=3
):
    """Train and predict samples/s of the zoo path with config `changes`."""
    model, used = build_compiled(family, config, bundle, **(changes or {}))
    data, fit_kwargs, samples, per_execution = zoo_training_data(
        bundle, batch_size, steps, model.steps_per_execution
    )
    model.steps_per_execution = per_execution
    train_rate = time_fit(
        model,
        data,
        samples_per_epoch=samples,
        seconds=seconds,
        fit_kwargs=fit_kwargs,
        min_epochs=min_epochs,
    )
    predict_data = bundle.batches("train", batch_size, shuffle=False).take(steps)
    predict_samples = min(samples, steps * batch_size)
    per_call = time_call(
        lambda: model.predict(predict_data, verbose=0), seconds=seconds / 2
    )
    return {
        "train_samples_per_s": train_rate,
        "predict_samples_per_s": predict_samples / per_call,
        "jit_compile": used.jit_compile,
        "steps_per_execution": per_execution,
        "batch_size": batch_size,
    }


def measure_naive(family, config, bundle, *, batch_size, steps, seconds, min_epochs=3):
    """The tutorial way: NumPy arrays into fit/predict, default compile levers."""
    _, _, samples, _ = zoo_training_data(bundle, batch_size, steps)
    arrays = naive_arrays(bundle, samples)
    samples = len(arrays[0])
    model, used = build_compiled(
        family, config, bundle, jit_compile=False, steps_per_execution=1
    )
    train_rate = time_fit(
        model,
        arrays,
        samples_per_epoch=samples,
        seconds=seconds,
        fit_kwargs={"batch_size": batch_size, "shuffle": True},
        min_epochs=min_epochs,
    )
    x = arrays[0]
    per_call = time_call(
        lambda: model.predict(x, batch_size=batch_size, verbose=0),
        seconds=seconds / 2,
    )
    return {
        "train_samples_per_s": train_rate,
        "predict_samples_per_s": samples / per_call,
        "jit_compile": False,
        "steps_per_execution": 1,
        "batch_size": batch_size,
    }


def measure_case(case, *, quick, seconds):
    """Rows for one case: the naive reference and the zoo default."""
    family, config, bundle, name = load_case(case, quick=quick)
    batch_size = family.batch_size
    steps = steps_for(case, bundle, batch_size, quick=quick)
    # Big models: one timed epoch; small ones: at least two and `seconds`.
    seconds_here = seconds if case.bound == "overhead" else min(seconds, 0.1)
    min_epochs = 3 if case.bound == "overhead" else 1
    base = {"family": case.family, "model": name}
    started = time.perf_counter()
    sizes = {
        "batch_size": batch_size,
        "steps": steps,
        "seconds": seconds_here,
        "min_epochs": min_epochs,
    }
    zoo = measure_zoo(family, config, bundle, **sizes)
    naive = measure_naive(family, config, bundle, **sizes)
    rows = [
        {
            **base,
            "variant": "naive (NumPy into fit)",
            **naive,
            "train_ratio": 1.0,
            "predict_ratio": 1.0,
        },
        {
            **base,
            "variant": "zoo default",
            **zoo,
            "train_ratio": zoo["train_samples_per_s"] / naive["train_samples_per_s"],
            "predict_ratio": zoo["predict_samples_per_s"]
            / naive["predict_samples_per_s"],
        },
    ]
    for row in rows:
        row["bound"] = case.bound
    print(f"[bench] {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def run(args):
    seconds = seconds_for(args, full=1.0, quick=0.2)
    rows, skipped = measure_cases(
        args.families,
        lambda case: measure_case(case, quick=args.quick, seconds=seconds),
    )
    notes = [
        "Ratios are against the naive reference of the same architecture, loss, optimizer and metrics, "
        "in the same process: NumPy arrays into fit/predict at the same batch size, jit_compile=False, "
        "steps_per_execution=1. The first epoch (tracing) is not timed.",
        "Overhead-bound families time whole epochs for at least the clock's seconds; compute-bound and "
        "other big models time one epoch of a few batches.",
        *skipped,
    ]
    write_results(
        NAME,
        title="Training and inference throughput vs a naive reference",
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        command="python -m bench.throughput" + (" --quick" if args.quick else ""),
        results_dir=args.results_dir,
    )
    return rows


def main(argv=None):
    args = argument_parser(__doc__.splitlines()[0]).parse_args(argv)
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Each input pipeline alone (no model) against what its model consumes.

The pipeline is `DataBundle.training_stream` as `zoo train` feeds `fit`
(shuffle, batch, prefetch, after the loader's and the family's maps),
drained inside TensorFlow (no Python per batch), one epoch per timing after
a warm-up epoch. A repeated stream is drained as `fit` drains it: one
long-lived iterator, an epoch's batches at a time. A finite one gets a fresh
iterator each epoch (shuffle buffer fill included). Levers timed beside it:
a fresh iterator every epoch (what `fit` did before the stream), without
`prefetch`, and with the preprocessed training split cached in memory.

The model's consumption is the zoo default's training samples/s, from
`bench.throughput` in the same run when `bench.all` passes it, else timed.

    python -m bench.pipelines [--full] [--quick] [--families mlp char_cnn]
"""

import sys
import time

from bench.common import (
    AUTOTUNE_NOTE,
    argument_parser,
    load_case,
    measure_cases,
    seconds_for,
    steps_for,
    time_call,
    write_results,
)

NAME = "pipelines"
COLUMNS = [
    ("family", "family"),
    ("model", "model"),
    ("variant", "pipeline"),
    ("batch_size", "batch"),
    ("batches_per_s", "batches/s"),
    ("samples_per_s", "samples/s"),
    ("model_samples_per_s", "model consumes samples/s"),
    ("headroom", "pipeline / model"),
]


def _drainer(dataset):
    """A traced-once function running one full pass (a fresh iterator each call)."""
    import tensorflow as tf

    @tf.function
    def drain():
        return dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)

    return drain


def _stream_drainer(dataset, steps):
    """A traced-once function pulling `steps` batches from one long-lived iterator."""
    import tensorflow as tf

    iterator = iter(dataset)

    @tf.function
    def drain():
        for _ in tf.range(steps):
            next(iterator)
        return tf.constant(steps, tf.int64)

    return drain


def epoch_rate(dataset, seconds, steps=None):
    """`(batches per epoch, batches/s)` of epochs after a warm-up one.

    With `steps`, `dataset` repeats and an epoch is `steps` batches of one
    iterator; otherwise an epoch is a full pass with a fresh iterator.
    """
    drain = _stream_drainer(dataset, steps) if steps else _drainer(dataset)
    batches = int(drain())
    per_epoch = time_call(lambda: drain().numpy(), seconds=seconds, min_repeats=3)
    return batches, batches / per_epoch


def pipeline_variants(bundle, batch_size, steps_per_execution, *, full=False):
    """`(name, dataset, steps of a repeated epoch or None)` to time.

    The prefetch and cache levers only with `full`.
    """
    from zoo.datasets.base import AUTOTUNE

    size = int(bundle.info.get("train_size") or 10_000)
    buffer = min(size, 50_000)
    stream, steps, _ = bundle.training_stream(
        batch_size, seed=0, steps_per_execution=steps_per_execution
    )
    repeated = steps if stream.cardinality() < 0 else None
    per_pass = bundle.batches("train", batch_size, seed=0)
    by_example = bundle.train.shuffle(buffer, seed=0).batch(batch_size)
    cached = (
        bundle.train.cache()
        .shuffle(buffer, seed=0)
        .batch(batch_size)
        .prefetch(AUTOTUNE)
    )
    variants = [("as fed (DataBundle.training_stream)", stream, repeated)]
    if repeated:
        variants.append(("fresh iterator every epoch", per_pass, None))
    if not full:
        return variants
    return variants + [
        ("no prefetch", by_example, None),
        ("cached after preprocessing", cached, None),
    ]


def measure_case(case, *, quick, seconds, consumption=None, full=False):
    family, config, bundle, name = load_case(case, quick=quick)
    batch_size = family.batch_size
    if consumption is None:
        from bench.throughput import measure_zoo

        overhead = case.bound == "overhead"
        consumption = measure_zoo(
            family,
            config,
            bundle,
            batch_size=batch_size,
            steps=steps_for(case, bundle, batch_size, quick=quick),
            seconds=seconds if overhead else 0.1,
            min_epochs=3 if overhead else 1,
        )["train_samples_per_s"]
    rows = []
    variants = pipeline_variants(
        bundle, batch_size, config.steps_per_execution, full=full
    )
    for variant, dataset, steps in variants:
        batches, rate = epoch_rate(dataset, seconds, steps)
        samples = (
            rate * int(bundle.info.get("train_size") or batches * batch_size) / batches
        )
        rows.append(
            {
                "family": case.family,
                "model": name,
                "variant": variant,
                "batch_size": batch_size,
                "batches_per_s": rate,
                "samples_per_s": samples,
                "model_samples_per_s": consumption,
                "headroom": samples / consumption,
            }
        )
    return rows


def run(args, rates=None):
    """Writes the table; `rates` maps family -> zoo training samples/s."""
    seconds = seconds_for(args, full=1.0, quick=0.1)
    started = time.perf_counter()
    rows, notes = measure_cases(
        args.families,
        lambda case: measure_case(
            case,
            quick=args.quick,
            seconds=seconds,
            consumption=(rates or {}).get(case.family),
            full=getattr(args, "full", False),
        ),
    )
    notes.insert(0, AUTOTUNE_NOTE)
    print(f"[bench] pipelines: {time.perf_counter() - started:.0f} s", flush=True)
    write_results(
        NAME,
        title="Input pipelines alone vs model consumption",
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        command="python -m bench.pipelines" + (" --quick" if args.quick else ""),
        results_dir=args.results_dir,
    )
    return rows


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--full", action="store_true", help="Also without prefetch and cached."
    )
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])

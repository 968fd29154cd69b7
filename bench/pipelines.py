"""Each input pipeline alone (no model) against what its model consumes.

The pipeline is `DataBundle.batches("train", batch_size)` as `zoo train`
builds it (shuffle, batch, prefetch, after the loader's and the family's
maps), drained inside TensorFlow (`Dataset.reduce`, so no Python per
batch): one full epoch, a fresh iterator, shuffle buffer fill included, after
a warm-up epoch. Two levers are timed beside it: without `prefetch`, and
with the preprocessed training split cached in memory.

The model's consumption is the zoo default's training samples/s, from
`bench.throughput` in the same run when `bench.all` passes it, else timed.

    python -m bench.pipelines [--quick] [--families mlp char_cnn]
"""

import sys
import time

from bench.common import (
    AUTOTUNE_NOTE,
    Skip,
    argument_parser,
    load_case,
    print_skip,
    seconds_for,
    select_cases,
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


def epoch_rate(dataset, seconds):
    """`(batches per epoch, batches/s)` of full passes after a warm-up one."""
    drain = _drainer(dataset)
    batches = int(drain())
    per_epoch = time_call(lambda: drain().numpy(), seconds=seconds, min_repeats=3)
    return batches, batches / per_epoch


def pipeline_variants(bundle, batch_size):
    """`(name, dataset)`: as fed, without prefetch, with the split cached."""
    from datasets.base import AUTOTUNE

    size = int(bundle.info.get("train_size") or 10_000)
    buffer = min(size, 50_000)
    as_fed = bundle.batches("train", batch_size, seed=0)
    no_prefetch = bundle.train.shuffle(buffer, seed=0).batch(batch_size)
    cached = (
        bundle.train.cache()
        .shuffle(buffer, seed=0)
        .batch(batch_size)
        .prefetch(AUTOTUNE)
    )
    return [
        ("as fed (DataBundle.batches)", as_fed),
        ("no prefetch", no_prefetch),
        ("cached after preprocessing", cached),
    ]


def measure_case(case, *, quick, seconds, consumption=None):
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
    for variant, dataset in pipeline_variants(bundle, batch_size):
        batches, rate = epoch_rate(dataset, seconds)
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
    rows, notes = [], []
    started = time.perf_counter()
    for case in select_cases(args.families):
        try:
            rows += measure_case(
                case,
                quick=args.quick,
                seconds=seconds,
                consumption=(rates or {}).get(case.family),
            )
        except Skip as reason:
            print_skip(case.family, reason)
            notes.append(f"{case.family}: skipped, {reason}.")
        except Exception as error:  # One broken family must not sink the run.
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
            print_skip(case.family, reason)
            notes.append(f"{case.family}: failed, {reason}.")
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
    args = argument_parser(__doc__.splitlines()[0]).parse_args(argv)
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])

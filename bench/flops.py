"""Achieved FLOP/s of the compute-bound families against a measured matmul peak.

The peak is a large square `tf.matmul` in float32 (and bfloat16, to show
whether mixed precision can pay on this CPU), measured in the same run just
before each family. Training FLOPs per sample are counted analytically from
the built model: every Dense and Conv layer costs `2 * MACs` forward, as much
again for its weight gradient when it is trainable, and as much again for
its input gradient when a trainable layer lies before it (frozen VGG16
convolutions cost only their forward pass). Pooling, activations, batch
norm and the optimizer's update are left out, so the fraction is a slight
under-estimate.

    python -m bench.flops [--quick] [--families char_cnn cnn]
"""

import sys
import time

import numpy as np

from bench.common import (
    COMPUTE_BOUND,
    argument_parser,
    load_case,
    measure_cases,
    seconds_for,
    steps_for,
    time_call,
    write_results,
)

NAME = "flops"
COLUMNS = [
    ("family", "family"),
    ("model", "model"),
    ("variant", "variant"),
    ("train_gflop_per_sample", "train GFLOP/sample"),
    ("train_samples_per_s", "train samples/s"),
    ("achieved_gflops", "achieved GFLOP/s"),
    ("peak_gflops", "matmul peak GFLOP/s"),
    ("fraction_of_peak", "fraction of peak"),
]


def matmul_peak(size=1024, dtype="float32", seconds=1.0):
    """GFLOP/s of a `size`-square `tf.matmul` in `dtype` (median of repeats)."""
    import tensorflow as tf

    a = tf.random.normal((size, size), dtype=tf.float32)
    b = tf.random.normal((size, size), dtype=tf.float32)
    if dtype != "float32":
        a, b = tf.cast(a, dtype), tf.cast(b, dtype)

    @tf.function
    def product(x, y):
        # Four products per call so that the call overhead is negligible.
        total = tf.matmul(x, y)
        for _ in range(3):
            total = total + tf.matmul(x, y)
        return tf.reduce_sum(tf.cast(total[:1, :1], tf.float32))

    per_call = time_call(lambda: product(a, b).numpy(), seconds=seconds)
    return 4 * 2 * size**3 / per_call / 1e9


def _flat_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


def layer_macs(layer):
    """Multiply-accumulates per sample of a Dense or Conv layer, else 0."""
    import keras

    kinds = (
        keras.layers.Dense,
        keras.layers.Conv1D,
        keras.layers.Conv2D,
        keras.layers.Conv3D,
    )
    if not isinstance(layer, kinds):
        return 0
    try:
        output_shape = layer.output.shape
    except (AttributeError, ValueError):
        return 0
    kernel = layer.kernel.shape
    return int(np.prod(output_shape[1:])) * int(np.prod(kernel[:-1]))


def training_flops_per_sample(model):
    """`(forward, training)` FLOPs per sample, counted as the module says."""
    forward = training = 0
    gradient_flows = False
    for layer in _flat_layers(model):
        flops = 2 * layer_macs(layer)
        trainable = bool(layer.trainable and layer.trainable_weights)
        forward += flops
        training += flops * (1 + int(trainable) + int(gradient_flows))
        gradient_flows = gradient_flows or trainable
    return forward, training


def measure_case(case, *, quick, seconds, rate=None):
    """Rows for one compute-bound case: its achieved and peak GFLOP/s.

    `rate` is the zoo default's training samples/s measured elsewhere in
    the same run (bench.all passes bench.throughput's); else it is timed here.
    """
    from bench.common import build_compiled
    from bench.throughput import measure_zoo

    family, config, bundle, name = load_case(case, quick=quick)
    model, _ = build_compiled(family, config, bundle)
    _, training = training_flops_per_sample(model)
    peak = matmul_peak(256 if quick else 1024, seconds=seconds)
    if rate is None:
        batch_size = family.batch_size
        rate = measure_zoo(
            family,
            config,
            bundle,
            batch_size=batch_size,
            steps=steps_for(case, bundle, batch_size, quick=quick),
            seconds=0.1,
            min_epochs=1,
        )["train_samples_per_s"]
    achieved = rate * training / 1e9
    return {
        "family": case.family,
        "model": name,
        "variant": "zoo default",
        "train_gflop_per_sample": training / 1e9,
        "train_samples_per_s": rate,
        "achieved_gflops": achieved,
        "peak_gflops": peak,
        "fraction_of_peak": achieved / peak,
    }


def run(args, rates=None):
    """Writes the table; `rates` maps family -> zoo training samples/s."""
    seconds = seconds_for(args, full=2.0, quick=0.2)
    rows, notes = [], []
    started = time.perf_counter()
    peak32 = matmul_peak(256 if args.quick else 2048, seconds=seconds)
    peak16 = matmul_peak(256 if args.quick else 2048, "bfloat16", seconds=seconds)
    rows.append(
        {
            "family": "-",
            "model": "tf.matmul 2048^2 float32",
            "variant": "peak",
            "peak_gflops": peak32,
        }
    )
    rows.append(
        {
            "family": "-",
            "model": "tf.matmul 2048^2 bfloat16",
            "variant": "peak",
            "peak_gflops": peak16,
            "fraction_of_peak": peak16 / peak32,
        }
    )

    def measure(case):
        row = measure_case(
            case,
            quick=args.quick,
            seconds=seconds,
            rate=(rates or {}).get(case.family),
        )
        # Against the best peak seen in this run: load from other processes
        # lowers both, and the best is the machine's real capacity.
        row["peak_gflops"] = max(row["peak_gflops"], peak32)
        row["fraction_of_peak"] = row["achieved_gflops"] / row["peak_gflops"]
        return [row]

    measured, notes = measure_cases(args.families or list(COMPUTE_BOUND), measure)
    rows += measured
    notes.insert(
        0,
        "Peak: median of repeated 4-product tf.matmul calls; each family's fraction is against the "
        "highest float32 peak measured in this run. The bfloat16 row's fraction is its speed relative "
        "to float32: below 1 means bf16 is emulated (no AVX512-BF16/AMX on this CPU).",
    )
    print(f"[bench] flops: {time.perf_counter() - started:.0f} s", flush=True)
    write_results(
        NAME,
        title="Achieved FLOP/s of compute-bound families vs matmul peak",
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        command="python -m bench.flops" + (" --quick" if args.quick else ""),
        results_dir=args.results_dir,
    )
    return rows


def main(argv=None):
    args = argument_parser(__doc__.splitlines()[0]).parse_args(argv)
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])

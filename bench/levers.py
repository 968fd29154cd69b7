"""Levers: each family's zoo default re-timed with one setting changed.

Why each default is what it is. Every row is a ratio to the naive reference
(NumPy arrays into `fit`, `jit_compile=False`, `steps_per_execution=1`) of
the same family, measured in the same process just before. Levers:

- `jit_compile` flipped, `steps_per_execution` 1/8/32, and XLA with 8 steps
  per execution (the overhead-bound families; by default);
- with `--full`: batch size x4, bfloat16 mixed precision, `jit_compile`
  flipped for every family, and thread settings (`intra_op`/`inter_op`
  parallelism, which TensorFlow fixes at start-up, so one subprocess each).

    python -m bench.levers [--full] [--quick] [--families mlp cnn]
"""

import json
import os
import subprocess
import sys
import time

from bench.common import (
    argument_parser,
    build_compiled,
    load_case,
    measure_cases,
    seconds_for,
    select_cases,
    steps_for,
    time_fit,
    write_results,
)
from bench.throughput import COLUMNS as throughput_columns
from bench.throughput import measure_naive, measure_zoo

NAME = "levers"
COLUMNS = throughput_columns  # The same table, one row per lever.
# `(intra_op, inter_op)` threads; 0 lets TensorFlow choose (all cores).
THREADS = ((0, 0), (1, 1), (2, 1), (1, 2))
THREAD_FAMILIES = ("mlp", "cnn", "lstm")


def lever_changes(case, config, batch_size, *, full, quick):
    """`(variant name, config changes, batch size, mixed precision)` to try."""
    flip = (
        f"jit_compile={not config.jit_compile}",
        {"jit_compile": not config.jit_compile},
        batch_size,
        False,
    )
    if quick:
        return [flip]
    levers = []
    if case.bound == "overhead" or full:
        levers.append(flip)
    if case.bound == "overhead":
        for spe in (1, 8, 32):
            if spe != config.steps_per_execution:
                levers.append(
                    (
                        f"steps_per_execution={spe}",
                        {"steps_per_execution": spe},
                        batch_size,
                        False,
                    )
                )
        if not (config.jit_compile and config.steps_per_execution == 8):
            levers.append(
                (
                    "jit_compile=True, steps_per_execution=8",
                    {"jit_compile": True, "steps_per_execution": 8},
                    batch_size,
                    False,
                )
            )
    if full:
        if case.bound == "overhead":
            levers.append((f"batch_size={batch_size * 4}", {}, batch_size * 4, False))
        if case.bound in ("overhead", "compute"):
            levers.append(("mixed_bfloat16", {}, batch_size, True))
    return levers


def _ratios(result, naive):
    return {
        "train_ratio": result["train_samples_per_s"] / naive["train_samples_per_s"],
        "predict_ratio": result["predict_samples_per_s"]
        / naive["predict_samples_per_s"],
    }


def measure_ceiling(family, config, bundle, *, batch_size, steps, seconds, min_epochs):
    """Training samples/s with no input work and little dispatch: the zoo
    default's model on `steps` batches cached in memory after the warm-up
    epoch, 32 steps per execution. Its ratio to the naive reference is the
    most any pipeline or per-step lever can give; the rest is the model's
    own arithmetic."""
    per_execution = 32
    steps = max(steps // per_execution, 1) * per_execution
    model, used = build_compiled(
        family, config, bundle, steps_per_execution=per_execution
    )
    # `time_fit`'s untimed warm-up epoch fills the cache; the timed ones
    # read the same batches from memory.
    cached = bundle.batches("train", batch_size, seed=0).take(steps).cache()
    rate = time_fit(
        model,
        cached.repeat(),
        samples_per_epoch=steps * batch_size,
        seconds=seconds,
        fit_kwargs={"steps_per_epoch": steps},
        min_epochs=min_epochs,
    )
    return {
        "train_samples_per_s": rate,
        "predict_samples_per_s": None,
        "jit_compile": used.jit_compile,
        "steps_per_execution": per_execution,
        "batch_size": batch_size,
    }


def _bundle_for(case, name, family, bundle, change):
    """The data as `zoo train` would adapt it with `change` (e.g. the LSTM
    stops trimming its batches under XLA), or `bundle` when nothing adapts."""
    if not change or family.adapt is None:
        return bundle
    from zoo.tuning.train import prepare

    overrides = {**dict(case.overrides), **change}
    return prepare(name, case.data, overrides=overrides, seed=0).bundle


def measure_case(case, *, quick, full, seconds):
    import keras

    family, config, bundle, name = load_case(case, quick=quick)
    changes = lever_changes(case, config, family.batch_size, full=full, quick=quick)
    if not changes:
        return []
    batch_size = family.batch_size
    steps = steps_for(case, bundle, batch_size, quick=quick)
    overhead = case.bound == "overhead"
    sizes = {
        "seconds": seconds if overhead else min(seconds, 0.1),
        "min_epochs": 3 if overhead else 1,
    }
    base = {"family": case.family, "model": name}
    started = time.perf_counter()
    naive = measure_naive(
        family, config, bundle, batch_size=batch_size, steps=steps, **sizes
    )
    zoo = measure_zoo(
        family, config, bundle, batch_size=batch_size, steps=steps, **sizes
    )
    rows = [
        {**base, "variant": "naive (NumPy into fit)", **naive, **_ratios(naive, naive)},
        {**base, "variant": "zoo default", **zoo, **_ratios(zoo, naive)},
    ]
    if full:
        ceiling = measure_ceiling(
            family, config, bundle, batch_size=batch_size, steps=steps, **sizes
        )
        rows.append(
            {
                **base,
                "variant": "ceiling (cached batches, steps_per_execution=32)",
                **ceiling,
                "train_ratio": ceiling["train_samples_per_s"]
                / naive["train_samples_per_s"],
            }
        )
    for variant, change, lever_batch, mixed in changes:
        policy = keras.mixed_precision.global_policy().name
        try:
            if mixed:
                keras.mixed_precision.set_global_policy("mixed_bfloat16")
            result = measure_zoo(
                family,
                config,
                _bundle_for(case, name, family, bundle, change),
                batch_size=lever_batch,
                steps=max(1, steps * batch_size // lever_batch),
                changes=change,
                **sizes,
            )
        except Exception as error:  # A lever a model cannot take is a finding.
            reason = f"{type(error).__name__}: {str(error).splitlines()[0][:80]}"
            rows.append({**base, "variant": f"{variant}: failed ({reason})"})
            continue
        finally:
            keras.mixed_precision.set_global_policy(policy)
        rows.append({**base, "variant": variant, **result, **_ratios(result, naive)})
    print(f"[bench] levers {name}: {time.perf_counter() - started:.0f} s", flush=True)
    return rows


# Thread settings: one subprocess per setting ----------------------------------


def thread_child(family_name, intra, inter, quick, seconds):
    """Runs in the subprocess: prints one JSON line with the training rate."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    case = next(case for case in select_cases([family_name]))
    family, config, bundle, name = load_case(case, quick=quick)
    result = measure_zoo(
        family,
        config,
        bundle,
        batch_size=family.batch_size,
        steps=steps_for(case, bundle, family.batch_size, quick=quick),
        seconds=seconds,
        min_epochs=3,
    )
    print(json.dumps({"model": name, **result}), flush=True)


def measure_threads(family_name, *, quick, seconds, timeout=600):
    """Rows of one family's zoo default under each thread setting."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    rows, default = [], None
    for intra, inter in THREADS:
        command = [
            sys.executable,
            "-m",
            "bench.levers",
            "--thread-child",
            family_name,
            str(intra),
            str(inter),
            "--seconds",
            str(seconds),
        ] + (["--quick"] if quick else [])
        label = (
            "threads: TensorFlow's default"
            if intra == inter == 0
            else f"threads: intra_op={intra}, inter_op={inter}"
        )
        try:
            process = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=root,
                env=env,
            )
            line = [
                text for text in process.stdout.splitlines() if text.startswith("{")
            ][-1]
            result = json.loads(line)
        except (subprocess.TimeoutExpired, IndexError, json.JSONDecodeError):
            rows.append({"family": family_name, "variant": f"{label}: failed"})
            continue
        default = default or result
        rows.append(
            {
                "family": family_name,
                "model": result.pop("model"),
                "variant": label,
                **result,
                # Against TensorFlow's default threads (the first setting).
                "train_ratio": result["train_samples_per_s"]
                / default["train_samples_per_s"],
                "predict_ratio": result["predict_samples_per_s"]
                / default["predict_samples_per_s"],
            }
        )
    return rows


def run(args):
    full = getattr(args, "full", False)
    seconds = seconds_for(args, full=1.0, quick=0.2)
    rows, notes = measure_cases(
        args.families,
        lambda case: measure_case(case, quick=args.quick, full=full, seconds=seconds),
    )
    if full:
        for family_name in THREAD_FAMILIES:
            if not args.families or family_name in args.families:
                rows += measure_threads(family_name, quick=args.quick, seconds=seconds)
    notes = [
        "Lever rows: the zoo default with one change, as a ratio to the naive reference "
        "measured just before in the same process. Thread rows: one subprocess per "
        "setting, as a ratio to TensorFlow's default threads (the first thread row).",
        *notes,
    ]
    write_results(
        NAME,
        title="Levers: the zoo default with one setting changed",
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        command="python -m bench.levers"
        + (" --full" if full else "")
        + (" --quick" if args.quick else ""),
        results_dir=args.results_dir,
    )
    return rows


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="Also batch size, bfloat16, XLA on every family and thread settings.",
    )
    parser.add_argument(
        "--thread-child", nargs=3, metavar=("FAMILY", "INTRA", "INTER"), default=None
    )
    args = parser.parse_args(argv)
    if args.thread_child:
        family_name, intra, inter = args.thread_child
        thread_child(
            family_name,
            int(intra),
            int(inter),
            args.quick,
            seconds_for(args, full=1.0, quick=0.2),
        )
        return
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Peak resident memory of a short training run, one subprocess per family.

Each child imports TensorFlow, loads the family's default data through the
registry, builds and compiles the default variant and trains a few batches,
then reports `resource.getrusage(RUSAGE_SELF).ru_maxrss` at each stage. A
child that only imports TensorFlow and Keras gives the baseline that every
run pays.

    python -m bench.memory [--quick] [--families mlp cnn]
"""

import concurrent.futures
import json
import os
import resource
import subprocess
import sys
import time

from bench.common import (
    Skip,
    argument_parser,
    load_case,
    select_cases,
    steps_for,
    write_results,
)

NAME = "memory"
COLUMNS = [
    ("family", "family"),
    ("model", "model"),
    ("import_mb", "peak importing MiB"),
    ("import_rss_mb", "RSS after import MiB"),
    ("data_mb", "peak loading data MiB"),
    ("peak_mb", "peak training MiB"),
    ("training_mb", "training adds MiB"),
    ("status", "status"),
]


def _status_mb(field):
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_mb(reset=True):
    """Peak RSS (MiB) since the last reset, then resets the peak.

    Linux keeps the high-water mark in VmHWM and resets it when "5" is written
    to /proc/self/clear_refs, so each stage gets its own peak; elsewhere this
    falls back to the whole process's `ru_maxrss`.
    """
    peak = _status_mb("VmHWM")
    if peak is None:
        # Linux reports kilobytes.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if reset:
        try:
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
        except OSError:
            pass
    return peak


def child(family_name, quick):
    """Runs in the subprocess: prints one JSON line of peaks."""
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    from bench.common import build_compiled

    result = {"import_mb": _peak_mb(), "import_rss_mb": _status_mb("VmRSS")}
    if family_name != "baseline":
        case = select_cases([family_name])[0]
        try:
            family, config, bundle, name = load_case(case, quick=quick)
        except Skip as reason:
            result["status"] = f"skipped: {reason}"
            print(json.dumps(result), flush=True)
            return
        result["model"] = name
        result["data_mb"] = _peak_mb()
        _status_mb_before = _status_mb("VmRSS")
        model, _ = build_compiled(family, config, bundle)
        batch_size = family.batch_size
        steps = min(steps_for(case, bundle, batch_size, quick=quick), 4)
        model.fit(
            bundle.batches("train", batch_size, seed=0).repeat(),
            steps_per_epoch=steps,
            epochs=2,
            verbose=0,
        )
        result["peak_mb"] = _peak_mb()
        result["training_mb"] = result["peak_mb"] - _status_mb_before

    result["status"] = "ok"
    print(json.dumps(result), flush=True)


def measure(family_name, quick, timeout=900):
    command = [sys.executable, "-m", "bench.memory", "--child", family_name]
    if quick:
        command.append("--quick")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(
        os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", "")
    )
    try:
        process = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=root, env=env
        )
    except subprocess.TimeoutExpired:
        return {"family": family_name, "status": f"timed out after {timeout} s"}
    for line in reversed(process.stdout.strip().splitlines()):
        if line.startswith("{"):
            return {"family": family_name, **json.loads(line)}
    error = (process.stderr.strip().splitlines() or ["no output"])[-1]
    return {"family": family_name, "status": f"failed: {error[:120]}"}


def run(args):
    started = time.perf_counter()
    names = ["baseline"] + [case.family for case in select_cases(args.families)]
    # Two children at a time: a process's peak resident memory does not
    # depend on its neighbour, and the wall time halves on two cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        rows = list(pool.map(lambda name: measure(name, args.quick), names))
    rows[0]["model"] = "import tensorflow, keras"
    for row in rows[1:]:
        print(f"[bench] memory {row['family']}: {row.get('status')}", flush=True)
    print(f"[bench] memory: {time.perf_counter() - started:.0f} s", flush=True)
    notes = [
        "A fresh Python process per family (two at a time). Peaks are Linux's VmHWM per stage (reset between "
        "stages through /proc/self/clear_refs): importing TensorFlow and Keras; loading and "
        "preprocessing the default dataset; building, compiling and two short epochs of training "
        "(a few batches at the family's batch size). 'training adds' is the training peak minus "
        "the resident size before it. The peak of a whole run is the largest of the three.",
    ]
    write_results(
        NAME,
        title="Peak memory of a training run per family",
        columns=COLUMNS,
        rows=rows,
        notes=notes,
        command="python -m bench.memory" + (" --quick" if args.quick else ""),
        results_dir=args.results_dir,
    )
    return rows


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--child", default=None, help=argparse_hidden())
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.quick)
        return
    run(args)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main(sys.argv[1:])

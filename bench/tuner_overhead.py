"""Tuner overhead: wall time of a `zoo.tuning.search.tune` search minus time in `fit`.

A small random search over `mlp_small` on breast_cancer runs through the real
`tune()`. A callback added to every trial's callback list stamps the start
and end of each `fit`, so the wall time splits into: time inside `fit`
(training and validation), set-up before the first trial (data, tuner),
the gaps between trials (oracle, build, compile, trial checkpoints) and the
wrap-up after the last (evaluating and exporting the best model).

    python -m bench.tuner_overhead [--quick] [--trials 4] [--epochs 20]
"""

import contextlib
import sys
import tempfile
import time

from bench.common import argument_parser, write_results

NAME = "tuner_overhead"
COLUMNS = [
    ("model", "model"),
    ("trials", "trials"),
    ("epochs", "epochs/trial"),
    ("wall_s", "wall s"),
    ("fit_s", "inside fit s"),
    ("setup_s", "before 1st trial s"),
    ("between_trials_s", "between trials s (mean)"),
    ("wrap_up_s", "after last trial s"),
    ("overhead_percent", "overhead % of wall"),
    ("search_overhead_percent", "overhead % of search loop"),
]

# Stamps land here: KerasTuner deep-copies callbacks for every trial, and a
# class attribute is shared by all the copies.
_STAMPS = []


def _fit_clock():
    """Stamps `(kind, perf_counter, value)`: each fit's begin and end, and
    each epoch's end with its `val_accuracy` (None when not logged)."""
    import keras

    class FitClock(keras.callbacks.Callback):
        stamps = _STAMPS

        def on_train_begin(self, logs=None):
            self.stamps.append(("begin", time.perf_counter(), None))

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get("val_accuracy")
            self.stamps.append(("epoch", time.perf_counter(), value))

        def on_train_end(self, logs=None):
            self.stamps.append(("end", time.perf_counter(), None))

    return FitClock()


@contextlib.contextmanager
def clocked_trials():
    """Adds a `FitClock` to the callbacks `tune()` gives every trial."""
    import zoo.tuning.search as search

    original = search.make_callbacks

    def with_clock(*args, **kwargs):
        return [*original(*args, **kwargs), _fit_clock()]

    search.make_callbacks = with_clock
    try:
        yield _STAMPS
    finally:
        search.make_callbacks = original


def measure(model="mlp_small", data="breast_cancer", *, trials=4, epochs=20):
    from zoo.tuning.search import tune

    _STAMPS.clear()
    with tempfile.TemporaryDirectory() as run_dir, clocked_trials() as stamps:
        started = time.perf_counter()
        tune(
            model,
            data,
            run_dir=run_dir,
            tuner="random",
            max_trials=trials,
            epochs=epochs,
            seed=0,
            verbose=0,
        )
        finished = time.perf_counter()
    begins = [t for kind, t, _ in stamps if kind == "begin"]
    ends = [t for kind, t, _ in stamps if kind == "end"]
    if not begins or len(begins) != len(ends):
        raise RuntimeError(
            "The fit clock saw no complete trial; tune() no longer takes its "
            "callbacks from zoo.tuning.search.make_callbacks."
        )
    fit = sum(end - begin for begin, end in zip(begins, ends))
    wall = finished - started
    gaps = [begin - end for begin, end in zip(begins[1:], ends[:-1])]
    search_loop = ends[-1] - begins[0]
    return {
        "model": model,
        "trials": len(begins),
        "epochs": epochs,
        "wall_s": wall,
        "fit_s": fit,
        "setup_s": begins[0] - started,
        "between_trials_s": sum(gaps) / len(gaps) if gaps else 0.0,
        "wrap_up_s": finished - ends[-1],
        "overhead_percent": 100 * (wall - fit) / wall,
        "search_overhead_percent": 100 * (search_loop - fit) / search_loop,
    }


def run(args):
    trials = args.trials or (2 if args.quick else 4)
    epochs = args.epochs or (2 if args.quick else 20)
    started = time.perf_counter()
    row = measure(trials=trials, epochs=epochs)
    print(f"[bench] tuner_overhead: {time.perf_counter() - started:.0f} s", flush=True)
    notes = [
        "Overhead = wall time of tune() minus time inside fit (training + validation) of every "
        "trial. 'of search loop' counts only from the first trial's fit to the last one's end, "
        "so it leaves out the one-off data loading before and best-model export after.",
        f"{epochs} epochs per trial (mlp's default): {row['fit_s'] / row['trials']:.1f} s of fit "
        "per trial; the shorter the trials, the larger the relative overhead.",
    ]
    write_results(
        NAME,
        title="Tuner overhead: search wall time minus time in fit",
        columns=COLUMNS,
        rows=[row],
        notes=notes,
        command="python -m bench.tuner_overhead" + (" --quick" if args.quick else ""),
        results_dir=args.results_dir,
    )
    return [row]


def main(argv=None):
    parser = argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    run(args)


if __name__ == "__main__":
    main(sys.argv[1:])

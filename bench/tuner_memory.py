"""Resident memory over a tiny search: does each trial leak?

    python bench/tuner_memory.py [--trials 30] [--run-dir /tmp/tuner_memory]
    python bench/tuner_memory.py --trials 200 --recycle 25

With `--recycle N` the search runs as `zoo tune --distributed local
--workers 1 --trials-per-worker N` and the resident memory of the whole
process tree (launcher, chief, current worker) is sampled as trials finish;
the growth per trial is the least-squares slope over the second half.

Runs `zoo.tuning.search.tune` on mlp_tiny / iris (1 epoch per trial) and reads
VmRSS from /proc/self/status at the start of every trial's build (which
begins with `keras.backend.clear_session()`). Prints the RSS after the first
trial, at the end, and the growth per trial over the second half (after
warm-up), in MiB.
"""

import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_mib():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--run-dir", default="/tmp/tuner_memory")
    parser.add_argument("--recycle", type=int, metavar="N")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.recycle:
        return recycled(args.trials, args.recycle, args.run_dir)

    from zoo.tuning import hypermodel, search
    from zoo.tuning.callbacks import CallbackOptions

    samples = []
    build = hypermodel.ZooHyperModel.build

    def measured_build(self, hp):
        model = build(self, hp)  # clear_session() runs first inside.
        samples.append(rss_mib())
        return model

    hypermodel.ZooHyperModel.build = measured_build
    shutil.rmtree(args.run_dir, ignore_errors=True)
    space = {
        "units": [4, 8, 16, 32, 64],
        "activation": ["relu", "tanh", "elu"],
        "dropout_rate": [0.0, 0.1, 0.2],
    }
    started = time.perf_counter()
    result = search.tune(
        "mlp_tiny",
        "iris",
        run_dir=args.run_dir,
        max_trials=args.trials,
        epochs=1,
        space=space,
        callbacks=CallbackOptions(tensorboard=False, early_stopping_patience=0),
        report=False,
    )
    seconds = time.perf_counter() - started
    completed = int((result.results["status"] == "COMPLETED").sum())
    # samples[0] is the tuner's initial space-populating build.
    trials = samples[1:]
    half = len(trials) // 2
    per_trial = (trials[-1] - trials[half]) / max(1, len(trials) - 1 - half)
    print(f"trials completed: {completed} in {seconds:.0f} s")
    print(
        f"RSS after trial 1: {trials[0]:.0f} MiB; at trial {len(trials)}: {trials[-1]:.0f} MiB"
    )
    print(
        f"growth over all trials: {trials[-1] - trials[0]:.1f} MiB; "
        f"second half: {per_trial:.2f} MiB per trial"
    )
    print("RSS per trial (MiB): " + " ".join(f"{v:.0f}" for v in trials))


def _tree_rss_mib(root_pid):
    """Resident MiB of `root_pid` and every process below it (from /proc)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as handle:
                    parents[int(name)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    total = 0.0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def _finished_trials(search_dir):
    import glob
    import json

    done = 0
    for path in glob.glob(os.path.join(search_dir, "trial_*", "trial.json")):
        try:
            with open(path) as handle:
                done += json.load(handle).get("status") == "COMPLETED"
        except (OSError, ValueError):
            continue
    return done


def recycled(trials, per_worker, run_dir):
    import json
    import subprocess

    import numpy as np

    shutil.rmtree(run_dir, ignore_errors=True)
    space = {"units": [4, 8, 16, 32, 64], "activation": ["relu", "tanh", "elu"]}
    command = [
        sys.executable,
        *("-m", "zoo", "tune", "mlp_tiny", "--data", "iris", "--run-dir", run_dir),
        *("--max-trials", str(trials), "--epochs", "1", "--space", json.dumps(space)),
        *("--no-tensorboard", "--no-report", "--early-stopping", "0"),
        *("--distributed", "local", "--workers", "1"),
        *("--trials-per-worker", str(per_worker)),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    at_trial = {}  # finished trials -> largest tree RSS seen with that many
    while process.poll() is None:
        done = _finished_trials(os.path.join(run_dir, "search"))
        rss = _tree_rss_mib(process.pid)
        at_trial[done] = max(at_trial.get(done, 0.0), rss)
        time.sleep(0.25)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"the search failed with exit status {process.returncode}")
    counts = sorted(k for k in at_trial if k >= 1)
    half = [k for k in counts if k > trials // 2]
    slope = np.polyfit(half, [at_trial[k] for k in half], 1)[0]
    print(
        f"trials completed: {_finished_trials(os.path.join(run_dir, 'search'))} "
        f"in {seconds:.0f} s, a fresh worker every {per_worker} trials"
    )
    print(
        f"tree RSS at trial 1: {at_trial[counts[0]]:.0f} MiB; "
        f"peak {max(at_trial.values()):.0f} MiB; at trial {counts[-1]}: "
        f"{at_trial[counts[-1]]:.0f} MiB"
    )
    # Memory saws up and down with each worker; compare like with like: the
    # peak of each worker's generation of trials.
    peaks = [
        max(v for k, v in at_trial.items() if start < k <= start + per_worker)
        for start in range(0, counts[-1], per_worker)
        if any(start < k <= start + per_worker for k in at_trial)
    ]
    between = per_worker * (len(peaks) - 2)
    print("peak per worker generation (MiB): " + " ".join(f"{p:.0f}" for p in peaks))
    if between > 0:
        print(
            f"growth, second to last generation's peak: "
            f"{(peaks[-1] - peaks[1]) / between:.3f} MiB per trial"
        )
    print(
        f"growth, second half (least squares, saw phase included): {slope:.3f} MiB per trial"
    )
    print(
        "tree RSS every 10 trials (MiB): "
        + " ".join(f"{at_trial[k]:.0f}" for k in counts if k % 10 == 0)
    )


if __name__ == "__main__":
    main()

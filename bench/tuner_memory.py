"""Resident memory over a 30-trial tiny search: does each trial leak?

    python bench/tuner_memory.py [--trials 30] [--run-dir /tmp/tuner_memory]

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
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

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


if __name__ == "__main__":
    main()

import glob
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_TRIALS = 3
EPOCHS = 3


def _command(run_dir, *extra):
    return [
        sys.executable,
        "-m",
        "zoo",
        "tune",
        "mlp_tiny",
        "--data",
        "iris",
        "--run-dir",
        str(run_dir),
        "--tuner",
        "random",
        "--max-trials",
        str(MAX_TRIALS),
        "--epochs",
        str(EPOCHS),
        "--early-stopping",
        "0",
        "--no-tensorboard",
        "--verbose",
        "0",
        "--space",
        json.dumps({"dropout_rate": [0.0, 0.1, 0.2], "activation": ["relu", "tanh"]}),
        "--replace-space",
        *extra,
    ]


def _completed(run_dir):
    count = 0
    for path in glob.glob(os.path.join(run_dir, "search", "trial_*", "trial.json")):
        try:
            with open(path) as handle:
                count += json.load(handle).get("status") == "COMPLETED"
        except (OSError, ValueError):
            pass
    return count


def _kill_after(run_dir, completed, extra=(), timeout=400):
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        _command(run_dir, *extra),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while _completed(run_dir) < completed:
            assert process.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "no trial completed in time"
            time.sleep(0.2)
        # Kill in the middle of the next trial, once it has an epoch backed up.
        while not glob.glob(
            os.path.join(run_dir, "search", "trial_*", "backup", "state.json")
        ):
            if process.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_search_killed_twice_with_sigkill_resumes_to_the_same_trial_count(tmp_path):
    run_dir = tmp_path / "run"
    _kill_after(run_dir, 1)
    _kill_after(run_dir, 2, extra=("--resume",))
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    finished = subprocess.run(
        _command(run_dir, "--resume"),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    frame = pd.read_csv(run_dir / "results.csv", dtype={"trial_id": str})
    assert len(frame) == MAX_TRIALS and (frame["status"] == "COMPLETED").all()
    assert frame["trial_id"].is_unique
    assert frame[["dropout_rate", "activation"]].apply(tuple, axis=1).is_unique
    interrupted = 0
    for trial_id in frame["trial_id"]:
        folder = run_dir / "search" / f"trial_{trial_id}"
        history = pd.read_csv(folder / "history.csv")
        # Every epoch once: a resumed trial continued, it did not start over
        # in history, and a finished trial never ran again.
        assert list(history["epoch"]) == list(range(EPOCHS))
        runs = json.loads((folder / "worker.json").read_text())["runs"]
        assert 1 <= len(runs) <= 3
        interrupted += len(runs) > 1
    # The kills landed inside trials, which resumed rather than restarted.
    assert interrupted >= 1
    assert (run_dir / "best" / "model.keras").exists()
    assert (run_dir / "report.html").exists()

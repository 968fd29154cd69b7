"""A search you can watch: one line per trial, while the search runs."""

import json
import os
import re
import subprocess
import sys

import pytest

from zoo.tuning.tuners import _clock, short_values

TRIAL_LINE = re.compile(
    r"^trial \d+ \((\d+)/(\d+)\)\s+.*val_accuracy=\d\.\d{4}\s+best val_accuracy=\d\.\d{4} "
    r"\(trial \d+\)\s+elapsed \d+:\d\d\s+left ~\d+:\d\d$"
)


def _tune(run_dir, *extra):
    command = [
        sys.executable,
        "-m",
        "zoo",
        "tune",
        "mlp_tiny",
        "--data",
        "iris",
        "--run-dir",
        str(run_dir),
        "--epochs",
        "1",
        "--no-tensorboard",
        "--no-report",
        "--space",
        json.dumps({"activation": ["relu", "tanh"], "dropout_rate": [0.0, 0.1, 0.2]}),
        "--replace-space",
        *extra,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _lines_until_exit(process):
    """Every output line, with whether the process was still running then."""
    seen = []
    for line in process.stdout:
        seen.append((line.rstrip("\n"), process.poll() is None))
    process.wait(timeout=300)
    return seen


def test_short_values_and_clock():
    text = short_values({"learning_rate": 0.000123456, "units": 64, "act": "relu"})
    assert text == "learning_rate=0.000123 units=64 act=relu"
    assert short_values({"name": "x" * 200}, width=20).endswith("...")
    assert _clock(75) == "1:15" and _clock(3725) == "1:02:05"


@pytest.mark.timeout(600)
def test_trial_lines_stream_while_the_search_runs_and_resume_extends(tmp_path):
    run_dir = tmp_path / "search"
    seen = _lines_until_exit(_tune(run_dir, "--max-trials", "2"))
    trial_lines = [(line, alive) for line, alive in seen if TRIAL_LINE.match(line)]
    assert [TRIAL_LINE.match(line).group(1, 2) for line, _ in trial_lines] == [
        ("1", "2"),
        ("2", "2"),
    ], seen
    # The first trial's line was read while the search was still running.
    assert trial_lines[0][1]
    assert "activation=" in trial_lines[0][0]

    # A larger --max-trials on resume runs the extra trial and says so.
    seen = [
        line
        for line, _ in _lines_until_exit(
            _tune(run_dir, "--resume", "--max-trials", "3")
        )
    ]
    assert any("max_trials raised from 2 to 3" in line for line in seen), seen
    assert [
        TRIAL_LINE.match(line).group(1, 2) for line in seen if TRIAL_LINE.match(line)
    ] == [("3", "3")]

    # Resuming the finished search trains nothing and says it is complete.
    seen = [line for line, _ in _lines_until_exit(_tune(run_dir, "--resume"))]
    assert any("already complete (3 trials)" in line for line in seen), seen
    assert not any(TRIAL_LINE.match(line) for line in seen)

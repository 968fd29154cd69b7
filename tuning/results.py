"""Reading run folders: what kind of run, its leaderboard, its histories.

Knows the files `zoo train`, `zoo tune` and `zoo compare` write, and
nothing of how they were made, so the search and the report both read
through it.
"""

import glob
import math
import os

import keras_tuner as kt
import pandas as pd

from zoo.errors import ZooError
from zoo.tuning.io import read_json


def results_frame(tuner):
    """One row per trial: id, status, score, every hyperparameter; best first.

    Only COMPLETED trials with a finite score have a score; failed trials
    keep the last line of their error in `reason` and sort last.
    """
    direction = tuner.oracle.objective.direction
    return frame_from_trials(tuner.oracle.trials.values(), direction)


def frame_from_trials(trials, direction):
    rows = []
    for trial in trials:
        score = trial.score
        status = str(trial.status)
        if status != "COMPLETED" or score is None or not math.isfinite(score):
            score = None
        row = {"trial_id": trial.trial_id, "status": status, "score": score}
        row.update(trial.hyperparameters.values)
        row["best_step"] = getattr(trial, "best_step", None)
        message = getattr(trial, "message", None)
        row["reason"] = _reason(message) if status != "COMPLETED" else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame.sort_values(
        ["score", "trial_id"],
        ascending=[direction == "min", True],
        na_position="last",
        kind="stable",
    )
    return frame.reset_index(drop=True)


def _reason(message):
    lines = [line.strip() for line in (message or "").strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    last = lines[-1]
    # "keras_tuner.src.errors.FailedTrialError: loss became NaN..." -> the text.
    head, sep, tail = last.partition(": ")
    return tail if sep and "." in head and " " not in head else last


def run_kind(run_dir):
    """ "tune", "compare" or "train"; `ZooError` for anything else."""
    run_dir = os.fspath(run_dir)
    if os.path.exists(os.path.join(run_dir, "tune.json")):
        return "tune"
    if os.path.exists(os.path.join(run_dir, "compare.json")):
        return "compare"
    if os.path.exists(os.path.join(run_dir, "config.json")):
        return "train"
    raise ZooError(
        f"{run_dir} holds no zoo run (tune.json, compare.json or config.json); "
        "give the --run-dir of a `zoo tune`, `zoo compare` or `zoo train`."
    )


def leaderboard(run_dir):
    """The run folder's leaderboard as a DataFrame, best first.

    A tune folder gives one row per trial (`results.csv`, or the trial files
    while a search still runs): trial_id, status, score, each hyperparameter,
    best_step, reason (why a trial failed). Failed and NaN trials have no
    score and come last. A compare folder gives `comparison.csv`; a train
    folder one row of its test metrics.
    """
    run_dir = os.fspath(run_dir)
    kind = run_kind(run_dir)
    if kind == "tune":
        path = os.path.join(run_dir, "results.csv")
        if os.path.exists(path):
            return pd.read_csv(path, dtype={"trial_id": str}, keep_default_na=True)
        return trials_frame(run_dir)
    if kind == "compare":
        path = os.path.join(run_dir, "comparison.csv")
        if not os.path.exists(path):
            raise ZooError(
                f"{run_dir} has no comparison.csv yet; rerun `zoo compare` to finish it."
            )
        return pd.read_csv(path)
    record = read_json(os.path.join(run_dir, "config.json"))
    metrics = read_json(os.path.join(run_dir, "metrics.json"), default={}) or {}
    row = {
        "model": record.get("model"),
        "status": record.get("status"),
        "epochs_run": record.get("epochs_run"),
    }
    row.update({k: v for k, v in metrics.items() if not isinstance(v, dict | list)})
    return pd.DataFrame([row])


def trials_frame(run_dir):
    """The leaderboard of a search from its trial files (while it runs)."""
    settings = read_json(os.path.join(run_dir, "tune.json"), default={}) or {}
    trials = []
    for path in sorted(
        glob.glob(os.path.join(run_dir, "search", "trial_*", "trial.json"))
    ):
        trials.append(kt.engine.trial.Trial.load(path))
    return frame_from_trials(trials, settings.get("direction", "max"))


def histories(run_dir):
    """`{label: DataFrame}` of the per-epoch history of every trial or run."""
    run_dir = os.fspath(run_dir)
    kind = run_kind(run_dir)
    found = {}
    if kind == "tune":
        pattern = os.path.join(run_dir, "search", "trial_*", "history.csv")
        for path in sorted(glob.glob(pattern)):
            trial_id = os.path.basename(os.path.dirname(path)).removeprefix("trial_")
            found[f"trial {trial_id}"] = path
    elif kind == "compare":
        settings = read_json(os.path.join(run_dir, "compare.json"))
        for entry in settings.get("entries", []):
            found[entry["name"]] = os.path.join(run_dir, entry["name"], "history.csv")
    else:
        record = read_json(os.path.join(run_dir, "config.json"))
        found[str(record.get("model", "run"))] = os.path.join(run_dir, "history.csv")
    frames = {}
    for label, path in found.items():
        if os.path.exists(path) and os.path.getsize(path):
            frame = pd.read_csv(path)
            if not frame.empty:
                frames[label] = frame
    return frames

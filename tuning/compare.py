"""`compare()`: train a list of named variations and compare them side by side.

The classic "try five variations" experiment as one call (or `zoo compare`):

    [
      {"name": "small_relu", "model": "mlp_small", "epochs": 20},
      {"name": "deep_tanh", "model": "mlp_deep", "set": {"activation": "tanh"}},
      {"name": "sgd_fast", "model": "mlp_small",
       "set": {"optimizer": "sgd", "learning_rate": 0.05}, "epochs": 40}
    ]

Each entry is trained by `zoo.tuning.train.train` into `run_dir/<name>/` (a
normal train run folder); `comparison.csv` holds one row per entry (its
settings and test metrics, best first) and `report.html` overlays the curves.
Rerunning the same command skips finished entries and resumes a killed one.
See examples/five_mlps.json.
"""

import dataclasses
import json
import os
import re

import pandas as pd

from zoo.errors import ConfigError, ZooError
from zoo.tuning.callbacks import CallbackOptions
from zoo.tuning.io import read_json, write_frame_csv, write_json
from zoo.tuning.report import write_report
from zoo.tuning.runspec import RunSpec, read_spec, record_path
from zoo.tuning.train import check_run_dir, train

ENTRY_KEYS = ("name", "model", "set", "epochs", "batch_size", "data", "description")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass
class CompareResult:
    """What `compare()` returns: the folder and the comparison table."""

    run_dir: str
    table: pd.DataFrame


def load_configs(source):
    """Reads and checks a list of entries from a JSON file, JSON text or a list."""
    entries, where = _read_entries(source)
    if isinstance(entries, dict) and "entries" in entries:
        entries = entries["entries"]
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{where} must hold a non-empty list of entries like "
            '{"name": "small", "model": "mlp_small", "set": {"dropout_rate": 0.2}}.'
        )
    names = set()
    checked = []
    for position, entry in enumerate(entries):
        _check_entry(entry, position, where, names)
        names.add(entry["name"])
        checked.append({"set": {}, **entry})
    return checked


def _read_entries(source):
    """`(the parsed JSON or list, how to name it in messages)`."""
    if isinstance(source, list | tuple):
        return list(source), "the configs"
    where = os.fspath(source)
    try:
        if os.path.exists(where):
            with open(where, encoding="utf-8") as handle:
                return json.load(handle), where
        return json.loads(where), where
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"Cannot read {where!r} as JSON ({getattr(error, 'msg', error)}); "
            'give a file holding a list of {"name": ..., "model": ...} entries.'
        ) from None


def _check_entry(entry, position, where, names):
    """Raises `ConfigError` for an entry that cannot run; `names` are those before it."""
    if not isinstance(entry, dict):
        raise ConfigError(f"Entry {position} of {where} is not a JSON object.")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise ConfigError(
            f"Entry {position} of {where} has unknown key {unknown[0]!r}; "
            f"allowed keys: {', '.join(ENTRY_KEYS)}."
        )
    name = entry.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f'Entry {position} of {where} needs a "name" usable as a folder name '
            f"(letters, digits, _ . -), got {name!r}."
        )
    if name in names:
        raise ConfigError(
            f"Two entries of {where} are named {name!r}; names must differ."
        )
    if not isinstance(entry.get("model"), str):
        raise ConfigError(
            f'Entry {name!r} of {where} needs a "model" (see `zoo list`).'
        )
    if not isinstance(entry.get("set", {}), dict):
        raise ConfigError(f'Entry {name!r}: "set" must be an object of model settings.')
    for key in ("epochs", "batch_size"):
        value = entry.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ConfigError(
                f"Entry {name!r}: {key} must be a positive integer, got {value!r}."
            )


def compare(
    configs,
    data=None,
    *,
    run_dir,
    data_options=None,
    callbacks=None,
    seed=0,
    verbose=0,
    report=True,
):
    """Trains each entry of `configs` and writes `comparison.csv` and `report.html`.

    Args:
        configs: A list of entries (see the module docstring), a JSON file
            path or JSON text.
        data: Dataset for every entry (an entry's own "data" wins).
        run_dir: Output folder; entry `name` trains into `run_dir/name`.
        data_options: Loader options for every entry.
        callbacks: `CallbackOptions` for every entry.
        seed: Seed of every run (same split for all).
        verbose: Keras verbosity.
        report: Write `report.html`.

    Returns:
        A `CompareResult`; `table` is `comparison.csv` as a DataFrame.

    Example:
    >>> result = compare("examples/five_mlps.json", "breast_cancer", run_dir="runs/five")
    >>> result.table[["name", "test_accuracy"]]  # doctest: +SKIP
    """

    entries = load_configs(configs)
    run_dir = os.fspath(run_dir)
    check_run_dir(run_dir)
    spec = RunSpec(
        kind="compare",
        data=data,
        data_options=data_options or {},
        seed=seed,
        callbacks=dataclasses.asdict(callbacks) if callbacks else None,
        entries=entries,
    )
    previous = _saved_comparison(run_dir, spec)
    if previous is not None:
        # A rerun finishes the saved comparison as it was asked.
        spec = dataclasses.replace(previous, entries=entries)
        data_options, seed = spec.data_options, spec.seed
        if spec.callbacks is not None:
            callbacks = CallbackOptions(**spec.callbacks)
    write_json(record_path(run_dir, "compare"), spec.record())
    rows = [
        _entry_row(
            entry,
            run_dir,
            data,
            data_options=data_options,
            callbacks=callbacks,
            seed=seed,
            verbose=verbose,
        )
        for entry in entries
    ]
    table = _rank(pd.DataFrame(rows))
    write_frame_csv(os.path.join(run_dir, "comparison.csv"), table)
    if report:
        write_report(run_dir)
    return CompareResult(run_dir, table)


def _saved_comparison(run_dir, spec):
    """The comparison saved in `run_dir`, or None; a different one is refused."""
    previous = read_spec(run_dir, "compare")
    if previous is not None and (
        previous.entries != spec.entries or previous.data != spec.data
    ):
        raise ZooError(
            f"{run_dir} holds a different comparison; choose a new --run-dir "
            "(or rerun with the same configs to finish that one)."
        )
    return previous


def _entry_row(entry, run_dir, data, *, data_options, callbacks, seed, verbose):
    """Trains one entry into `run_dir/<name>` (skipped when complete); its table row."""
    folder = os.path.join(run_dir, entry["name"])
    saved = read_json(os.path.join(folder, "config.json"))
    if saved is not None and saved.get("status") == "complete":
        metrics = read_json(os.path.join(folder, "metrics.json"), default={}) or {}
        epochs_run = saved.get("epochs_run")
    else:
        result = train(
            entry["model"],
            entry.get("data") or data,
            run_dir=folder,
            epochs=entry.get("epochs"),
            batch_size=entry.get("batch_size"),
            overrides=entry.get("set") or {},
            data_options=data_options,
            callbacks=callbacks,
            resume=saved is not None,
            seed=seed,
            verbose=verbose,
        )
        metrics = result.metrics
        epochs_run = len(result.history)
        saved = read_json(os.path.join(folder, "config.json"))
    row = {"name": entry["name"], "model": entry["model"]}
    row.update({k: _cell(v) for k, v in (entry.get("set") or {}).items()})
    row["epochs"] = saved.get("epochs")
    row["epochs_run"] = epochs_run
    row["batch_size"] = saved.get("batch_size")
    row.update(
        {
            k: v
            for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
    )
    return row


def _cell(value):
    return json.dumps(value) if isinstance(value, list | tuple | dict) else value


def _rank(table):
    """Best first: by test accuracy, else by test loss."""
    for column, ascending in (("test_accuracy", False), ("test_loss", True)):
        if column in table:
            return table.sort_values(
                column, ascending=ascending, na_position="last", kind="stable"
            ).reset_index(drop=True)
    return table

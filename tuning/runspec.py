"""`RunSpec`: what the user asked for, written once into the run folder.

`train`, `tune` and `compare` each describe their run with one `RunSpec`,
write it atomically when the run starts and read it back on `--resume`, so a
resumed run continues exactly what was asked the first time. The file names
and keys are the ones runs have always had (`config.json`, `tune.json`,
`compare.json`), so folders written before this module still resume.
"""

import dataclasses
import os

from zoo.errors import ZooError
from zoo.tuning.io import read_json

RECORD_FILES = {"train": "config.json", "tune": "tune.json", "compare": "compare.json"}
# Keys a tune record holds beside the common ones.
SEARCH_KEYS = (
    "tuner",
    "max_trials",
    "objective",
    "direction",
    "space",
    "replace_space",
    "executions_per_trial",
)
_COMMON = (
    "model",
    "data",
    "overrides",
    "data_options",
    "seed",
    "epochs",
    "batch_size",
    "callbacks",
)


@dataclasses.dataclass
class RunSpec:
    """The request behind a run folder.

    Attributes:
        kind: "train", "tune" or "compare".
        model: Registered model name (None for compare).
        data: Dataset name or path as given (None: the family's default).
        overrides: Config fields set by the user (`--set`).
        data_options: Loader options.
        seed: The run's seed.
        epochs: Epochs (per trial for tune); None: the family's default.
        batch_size: Batch size; None: the family's default.
        callbacks: `CallbackOptions` as a dict; None: the defaults.
        search: For tune: tuner, max_trials, objective, direction, space,
            replace_space, executions_per_trial.
        entries: For compare: the checked list of entries.
    """

    kind: str
    model: str | None = None
    data: str | None = None
    overrides: dict = dataclasses.field(default_factory=dict)
    data_options: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    epochs: int | None = None
    batch_size: int | None = None
    callbacks: dict | None = None
    search: dict = dataclasses.field(default_factory=dict)
    entries: list | None = None

    def record(self):
        """The keys this spec writes into its record file (flat, as before)."""
        record = {key: getattr(self, key) for key in _COMMON}
        record["overrides"] = record["overrides"] or {}
        record["data_options"] = record["data_options"] or {}
        if self.kind == "tune":
            record.update({key: self.search.get(key) for key in SEARCH_KEYS})
        if self.kind == "compare":
            record["entries"] = self.entries
        return record

    @classmethod
    def from_record(cls, kind, record):
        """The spec saved in `record` (a record file's dict)."""
        common = {key: record.get(key) for key in _COMMON}
        common["overrides"] = common["overrides"] or {}
        common["data_options"] = common["data_options"] or {}
        common["seed"] = common["seed"] or 0
        search = {key: record.get(key) for key in SEARCH_KEYS} if kind == "tune" else {}
        return cls(kind=kind, search=search, entries=record.get("entries"), **common)

    def check_same_request(self, model, data, run_dir):
        """Raises `ZooError` when `model` or `data` differ from this spec's.

        None means "not given" and matches anything.
        """
        for name, asked, saved in (
            ("model", model, self.model),
            ("data", data, self.data),
        ):
            if asked is None or saved is None or _same(asked, saved):
                continue
            raise ZooError(
                f"{run_dir} holds a {self.kind} run of {name} {saved!r}, not {asked!r}; "
                "drop --resume and choose a new --run-dir to start a new run."
            )


def _same(asked, saved):
    if asked == saved:
        return True
    # A path given relative once and absolute the next time is the same data.
    return os.path.exists(asked) and os.path.abspath(asked) == os.path.abspath(saved)


def record_path(run_dir, kind):
    """The record file of a `kind` run in `run_dir`."""
    return os.path.join(os.fspath(run_dir), RECORD_FILES[kind])


def read_record(run_dir, kind):
    """The record dict of the `kind` run in `run_dir`, or None when none."""
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        return None
    return read_json(record_path(run_dir, kind))


def check_kind(run_dir, kind):
    """Raises `ZooError` when `run_dir` holds a run of another kind: a search
    resumed (or trained) in a train run's folder would mix two runs' files."""
    for other, name in RECORD_FILES.items():
        if other != kind and os.path.isfile(record_path(run_dir, other)):
            raise ZooError(
                f"{run_dir} holds a `zoo {other}` run ({name}), not a {kind} run; "
                f"choose a new --run-dir (or continue it with `zoo {other} --resume`)."
            )


def read_spec(run_dir, kind):
    """The `RunSpec` saved in `run_dir`, or None when it holds no such run."""
    record = read_record(run_dir, kind)
    return None if record is None else RunSpec.from_record(kind, record)

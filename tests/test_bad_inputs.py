"""Malformed inputs, table-driven: each ends in one `ZooError`, never a crash.

Every row of `CASES` makes one bad input (a CSV, a text file, an image
folder, a config or a command line) and names what must happen:

- "error": one `ZooError` whose one-line message matches `match`;
- "exit2": `zoo.tuning.cli.main(argv)` returns (or exits with) 2 and writes one
  line to stderr matching `match`, without training;
- "ok": odd but valid input that must load, and `check(bundle)` says the
  result is right (not a silent wrong answer).

Loaders of other engineers (text, images) are driven through the public
`load_data` and the CLI only; a case that still ends in a raw exception is
marked `xfail(strict=True)` with the reason.
"""

import dataclasses
import gzip
import io
import json
import os
from collections.abc import Callable

import numpy as np
import pytest

from zoo.datasets.base import load_data
from zoo.errors import ZooError


@pytest.fixture(autouse=True)
def seeded():
    """Overrides conftest's fixture: seeds without `clear_session()`.

    Clearing the Keras session costs seconds per case on a busy machine and
    none of these inputs may reach a model.
    """
    import keras

    keras.utils.set_random_seed(1337)
    yield


@dataclasses.dataclass
class Case:
    id: str
    make: Callable  # make(tmp_path) -> callable that runs the input
    expect: str = "error"  # "error", "exit2" or "ok"
    match: str = ""
    check: Callable | None = None
    xfail: str = ""


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return str(path)


def _rows(n=12, classes=2, header="a,b,y"):
    lines = [header]
    for i in range(n):
        lines.append(f"{i * 0.5},{(i * 7) % 5},{i % classes}")
    return "\n".join(lines) + "\n"


def csv_case(
    id, data, *, name="t.csv", expect="error", match="", check=None, **options
):
    options.setdefault("target", "y")

    def make(tmp_path):
        path = _write(tmp_path, name, data)
        return lambda: load_data(path, kind="tabular", **options)

    return Case(id, make, expect, match, check)


def _numeric(*columns):
    def check(bundle):
        assert set(columns) <= set(bundle.info["numeric_columns"]), bundle.info

    return check


def _categorical(*columns):
    def check(bundle):
        assert set(columns) <= set(bundle.info["categorical_columns"]), bundle.info

    return check


LATIN1 = (
    "a,b,y\n" + "".join(f"{i},caf\xe9{i % 3},{i % 2}\n" for i in range(12))
).encode("latin-1")
MIXED = "a,b,y\n" + "".join(
    f"{i if i % 2 else 'word' + str(i)},{i},{i % 2}\n" for i in range(14)
)

CSV_CASES = [
    csv_case("csv_empty", b"", match="empty"),
    csv_case("csv_blank_lines", "\n \n\t\n", match="no data"),
    csv_case("csv_header_only", "a,b,y\n", match="no data rows"),
    csv_case("csv_header_blank_lines", "a,b,y\n\n\n", match="no data rows"),
    csv_case("csv_single_column", "y\n" + "1\n" * 12, match="single column"),
    csv_case(
        "csv_space_delimited",
        _rows().replace(",", " "),
        match="single column",
    ),
    csv_case("csv_missing_target", _rows(), target="label", match="no column 'label'"),
    csv_case("csv_no_target_given", _rows(), target=None, match="--target"),
    csv_case("csv_one_class", _rows(classes=1), match="single class"),
    csv_case(
        "csv_all_nan_target",
        "a,b,y\n" + "1,2,\n" * 12,
        match="0 rows with a target",
    ),
    csv_case(
        "csv_all_nan_only_feature",
        "a,y\n" + "".join(f",{i % 2}\n" for i in range(12)),
        match="no usable feature",
    ),
    csv_case(
        "csv_all_nan_column_dropped",
        "a,b,y\n" + "".join(f"{i},,{i % 2}\n" for i in range(12)),
        expect="ok",
        check=lambda b: b.info["dropped_columns"] == {"b": "all values missing"},
    ),
    csv_case(
        "csv_huge_values",
        "a,b,y\n" + "".join(f"{i}e300,{i},{i % 2}\n" for i in range(12)),
        match="rescale",
    ),
    csv_case(
        "csv_infinities_become_missing",
        "a,b,y\n"
        + "".join(f"{'inf' if i == 3 else i},{i},{i % 2}\n" for i in range(12)),
        expect="ok",
        check=_numeric("a", "b"),
    ),
    csv_case("csv_mixed_types", MIXED, expect="ok", check=_categorical("a")),
    csv_case(
        "csv_utf8_bom",
        "\ufeff" + _rows(),
        expect="ok",
        check=_numeric("a", "b"),
    ),
    csv_case("csv_latin1_bytes", LATIN1, expect="ok", check=_categorical("b")),
    csv_case("csv_binary_nul", b"a,b,y\n\x00\x01\x02" * 20, match="binary"),
    csv_case(
        "csv_duplicated_columns",
        "a,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(12)),
        match="duplicated column",
    ),
    csv_case("csv_too_few_rows", _rows(n=5), match="at least 10"),
    csv_case(
        "csv_ragged_rows",
        _rows() + "1,2,3,4,5,6\n",
        match="Cannot parse",
    ),
    csv_case(
        "csv_unclosed_quote",
        'a,b,y\n"1,2,0\n' + _rows().split("\n", 1)[1],
        match="Cannot parse|rows",
    ),
    csv_case(
        "csv_regression_on_text_target",
        "a,y\n" + "".join(f"{i},cat{i % 2}\n" for i in range(12)),
        task="regression",
        match="not numeric",
    ),
    csv_case("csv_bad_task", _rows(), task="clustering", match="task must be one of"),
    csv_case(
        "csv_binary_task_three_classes",
        _rows(classes=3),
        task="binary",
        match="3 classes",
    ),
    csv_case(
        "csv_validation_split_above_1",
        _rows(),
        validation_split=1.5,
        match="between 0 and 1",
    ),
    csv_case(
        "csv_splits_too_large",
        _rows(),
        validation_split=0.5,
        test_split=0.45,
        match="too little",
    ),
    csv_case("csv_unknown_feature", _rows(), features="a,zz", match="no column 'zz'"),
    csv_case(
        "csv_target_in_features",
        _rows(),
        features="a,y",
        match="cannot also be a feature",
    ),
    csv_case("csv_excel_extension", b"PK\x03\x04", name="t.xlsx", match="not tables"),
    csv_case("csv_garbage_parquet", _rows(), name="t.parquet", match="Parquet"),
    csv_case(
        "csv_gzip", gzip.compress(_rows().encode()), name="t.csv.gz", match="not tables"
    ),
    csv_case(
        "csv_too_many_classes",
        "a,y\n" + "".join(f"{i},c{i}\n" for i in range(1100)),
        match="1100 classes",
    ),
    csv_case(
        "csv_bad_class_weight", _rows(), class_weight="heavy", match="class_weight"
    ),
    csv_case("csv_unknown_option", _rows(), delimiter=";", match="do not apply"),
]


def _path_case(id, path_fn, match, kind="tabular", xfail="", **options):
    def make(tmp_path):
        path = path_fn(tmp_path)
        return lambda: load_data(path, kind=kind, **options)

    return Case(id, make, "error", match, xfail=xfail)


OTHER_TABULAR = [
    _path_case("csv_folder_not_file", lambda t: str(t), "is a folder", target="y"),
    _path_case("csv_missing_file", lambda t: str(t / "nope.csv"), "does not exist"),
    _path_case("dataset_unknown_name", lambda t: "irsi", "Did you mean 'iris'"),
    _path_case(
        "series_empty_value_column",
        lambda t: _write(
            t,
            "s.csv",
            "date,value\n" + "".join(f"2020-01-{d:02d},\n" for d in range(1, 29)),
        ),
        "^(?!.*several).*no numeric value column",
        kind="timeseries",
    ),
]


# Text files, through load_data(kind="text").


def text_case(
    id, data, *, name="t.csv", expect="error", match="", check=None, xfail="", **options
):
    def make(tmp_path):
        path = _write(tmp_path, name, data)
        return lambda: load_data(path, kind="text", **options)

    return Case(id, make, expect, match, check, xfail)


def _sentences(n=30, classes=2):
    words = ["good", "bad", "fine", "awful", "great", "poor"]
    return [f"this film is {words[i % len(words)]} number {i}" for i in range(n)], [
        i % classes for i in range(n)
    ]


def _text_csv(n=30, classes=2):
    texts, labels = _sentences(n, classes)
    return "text,label\n" + "".join(f"{t},{y}\n" for t, y in zip(texts, labels))


TEXT_CASES = [
    text_case("text_empty", b"", match="empty|no rows|holds no"),
    text_case("text_blank_lines_only", "\n\n\n  \n", match="empty|no rows|holds no"),
    text_case(
        "text_empty_lines_between_rows",
        _text_csv().replace("\n", "\n\n"),
        expect="ok",
        check=lambda b: b.num_classes == 2,
    ),
    text_case(
        "text_non_utf8",
        _text_csv().encode() + "caf\xe9,1\n".encode("latin-1"),
        match="UTF-8",
    ),
    text_case(
        "text_binary_nul", b"\x00\x01\x02text\x00" * 50, match="binary|UTF-8|text"
    ),
    text_case(
        "text_labels_missing",
        "".join(f"{t}\n" for t in _sentences()[0]),
        name="t.txt",
        match="label",
    ),
    text_case(
        "text_label_column_empty",
        "text,label\n" + "".join(f"{t},\n" for t in _sentences()[0]),
        match="label|class|target",
    ),
    text_case("text_one_class", _text_csv(classes=1), match="class"),
    text_case(
        "text_unknown_target", _text_csv(), target="sentiment", match="sentiment"
    ),
    text_case(
        "text_unknown_text_column", _text_csv(), text_column="body", match="body"
    ),
    text_case(
        "text_header_only",
        "text,label\n",
        match="no rows|holds no|rows",
    ),
    text_case("text_too_few_rows", _text_csv(n=3), match="rows|few|at least"),
    text_case("text_unknown_option", _text_csv(), image_size=3, match="do not apply"),
]


def _text_folder(tmp_path, classes):
    root = tmp_path / "texts"
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(6):
            (root / name / f"{i}.txt").write_text(f"a {name} text number {i}")
    return str(root)


TEXT_CASES += [
    _path_case(
        "text_folder_one_class",
        lambda t: _text_folder(t, ["pos"]),
        "class",
        kind="text",
    ),
    _path_case(
        "text_folder_empty",
        lambda t: str((t / "e").mkdir() or t / "e"),
        "empty|no |class",
        kind="text",
    ),
]


# Image folders, through load_data(kind="image").


def _png(size=(8, 8), mode="RGB", color=(200, 30, 30)):
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.new(mode, size, color if mode != "I;16" else 40000)
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(mode="RGB", size=(8, 8)):
    from PIL import Image

    buffer = io.BytesIO()
    color = (0, 200, 200, 0) if mode == "CMYK" else (30, 30, 200)
    Image.new(mode, size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


def _image_folder(tmp_path, extra=None, classes=("cat", "dog")):
    root = tmp_path / "images"
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(5):
            color = (40 * i, 100 * k, 30)
            (root / name / f"{i}.png").write_bytes(_png(color=color))
    for relative, data in (extra or {}).items():
        (root / relative).write_bytes(data)
    return str(root)


def image_case(
    id,
    extra=None,
    *,
    expect="error",
    match="",
    check=None,
    classes=("cat", "dog"),
    xfail="",
    **options,
):
    def make(tmp_path):
        root = _image_folder(tmp_path, extra, classes)
        return lambda: load_data(root, kind="image", **options)

    return Case(id, make, expect, match, check, xfail)


def _pixels_in_range(low, high):
    def check(bundle):
        x, _ = next(iter(bundle.train.batch(64)))
        x = np.asarray(x)
        assert np.isfinite(x).all() and x.min() >= low and x.max() <= high, (
            x.min(),
            x.max(),
        )

    return check


IMAGE_CASES = [
    image_case("image_corrupt_file", {"cat/bad.png": os.urandom(64)}, match="bad.png"),
    image_case("image_zero_bytes", {"dog/empty.png": b""}, match="empty.png"),
    image_case(
        "image_text_as_jpg", {"dog/notes.jpg": b"hello, not a jpeg"}, match="notes.jpg"
    ),
    image_case(
        "image_truncated_png",
        {"cat/cut.png": _png(size=(64, 64))[:40]},
        match="cut.png",
    ),
    image_case(
        "image_png_named_jpg",
        {"cat/real.jpg": _png()},
        expect="ok",
        check=lambda b: b.num_classes == 2 and b.info.get("train_size", 1) > 0,
    ),
    image_case(
        "image_1x1",
        {"cat/tiny.png": _png(size=(1, 1))},
        expect="ok",
        check=lambda b: tuple(b.input_shape[:2]) == (8, 8),
    ),
    image_case(
        "image_16_bit_png",
        {"cat/deep.png": _png(mode="I;16")},
        expect="ok",
        check=_pixels_in_range(0, 255),
    ),
    image_case(
        "image_cmyk_jpeg",
        {"dog/cmyk.jpg": _jpeg("CMYK")},
        expect="ok",
        check=_pixels_in_range(0, 255),
    ),
    image_case("image_one_class", classes=("cat",), match="at least 2|class"),
    image_case("image_bad_size", image_size=0, match="image_size"),
    image_case("image_bad_channels", channels=2, match="channels"),
    image_case("image_bad_files_mode", bad_files="ignore", match="bad_files"),
    _path_case(
        "image_empty_folder",
        lambda t: str((t / "none").mkdir() or t / "none"),
        "class|image|empty",
        kind="image",
    ),
    _path_case(
        "image_npz_garbage",
        lambda t: _write(t, "x.npz", b"not a zip"),
        "npz",
        kind="image",
    ),
]


def _pickled_npz(tmp_path):
    path = str(tmp_path / "objects.npz")
    np.savez(path, x=np.array([object(), {"a": 1}], dtype=object), y=np.array([0, 1]))
    return path


IMAGE_CASES.append(
    _path_case(
        "image_npz_with_pickled_objects",
        _pickled_npz,
        "pickle|npz|object",
        kind="image",
    )
)


# Configs, through the Python API.


def _api(fn):
    return lambda tmp_path: fn


def _overrides(name, **overrides):
    def run():
        from zoo.registry import resolve_config

        resolve_config(name, **overrides)

    return run


CONFIG_CASES = [
    Case(
        "config_unknown_key",
        _api(_overrides("mlp_small", hiden_units=(8,))),
        match="Did you mean 'hidden_units'",
    ),
    Case(
        "config_wrong_type",
        _api(_overrides("mlp_small", dropout_rate="lots")),
        match="dropout_rate must be a number",
    ),
    Case(
        "config_negative_units",
        _api(_overrides("mlp_small", hidden_units=(8, -2))),
        match="hidden_units",
    ),
    Case(
        "config_zero_learning_rate",
        _api(_overrides("mlp_small", learning_rate=0)),
        match="learning_rate",
    ),
    Case(
        "config_nan_learning_rate",
        _api(_overrides("mlp_small", learning_rate=float("nan"))),
        match="finite",
    ),
    Case(
        "config_bool_for_int",
        _api(_overrides("mlp_small", steps_per_execution=True)),
        match="integer",
    ),
    Case(
        "config_fractional_int",
        _api(_overrides("mlp_small", steps_per_execution=1.5)),
        match="integer",
    ),
    Case("config_unknown_model", _api(_overrides("mlp_smal")), match="Did you mean"),
    Case(
        "config_vgg16_input_too_small",
        _api(_overrides("vgg16_frozen", input_size=16)),
        match="32",
    ),
]


def _train(**kwargs):
    def make(tmp_path):
        from zoo.tuning.train import train

        kwargs.setdefault("run_dir", tmp_path / "run")
        return lambda: train("mlp_tiny", "iris", **kwargs)

    return make


CONFIG_CASES += [
    Case("train_zero_epochs", _train(epochs=0), match="epochs must be a positive"),
    Case(
        "train_negative_batch",
        _train(batch_size=-4),
        match="batch_size must be a positive",
    ),
    Case("train_float_epochs", _train(epochs=2.5), match="epochs must be a positive"),
]


# The command line, in-process.


def cli_case(id, argv, match, xfail=""):
    def make(tmp_path):
        def fill(item):
            return item.replace("{tmp}", str(tmp_path))

        return [fill(a) for a in argv]

    return Case(id, make, "exit2", match, xfail=xfail)


def _complete_run(tmp_path):
    run = tmp_path / "done"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"status": "complete"}))
    return run


TRAIN = ["train", "mlp_tiny", "--data", "iris", "--run-dir", "{tmp}/run"]
CLI_CASES = [
    cli_case("cli_unknown_verb", ["fly"], "invalid choice"),
    cli_case("cli_no_arguments", [], "required"),
    cli_case("cli_missing_run_dir", ["train", "mlp_tiny"], "--run-dir"),
    cli_case("cli_epochs_not_int", [*TRAIN, "--epochs", "two"], "invalid int"),
    cli_case("cli_epochs_zero", [*TRAIN, "--epochs", "0"], "epochs must be a positive"),
    cli_case(
        "cli_batch_negative",
        [*TRAIN, "--batch-size", "-1"],
        "batch_size must be a positive",
    ),
    cli_case(
        "cli_unknown_model",
        ["train", "mpl_tiny", "--run-dir", "{tmp}/r"],
        "Did you mean",
    ),
    cli_case("cli_set_no_equals", [*TRAIN, "--set", "dropout_rate"], "key=value"),
    cli_case("cli_set_bad_key", [*TRAIN, "--set", "1x=2"], "not a setting name"),
    cli_case(
        "cli_set_unknown_key",
        [*TRAIN, "--set", "dropout=0.1"],
        "Unknown setting 'dropout'",
    ),
    cli_case("cli_set_wrong_type", [*TRAIN, "--set", "hidden_units=abc"], "integer"),
    cli_case("cli_set_nan_int", [*TRAIN, "--set", "hidden_units=nan"], "integer"),
    cli_case(
        "cli_set_negative_size", [*TRAIN, "--set", "hidden_units=-8"], "hidden_units"
    ),
    cli_case(
        "cli_vgg16_input_too_small",
        ["train", "vgg16_tiny", "--run-dir", "{tmp}/v", "--set", "input_size=16"],
        "32",
    ),
    cli_case(
        "cli_data_option_no_equals",
        [*TRAIN, "--data-option", "target"],
        "--data-option",
    ),
    cli_case(
        "cli_data_option_unknown", [*TRAIN, "--data-option", "sheet=2"], "do not apply"
    ),
    cli_case(
        "cli_data_missing_file",
        ["train", "mlp_tiny", "--data", "{tmp}/no.csv", "--run-dir", "{tmp}/r"],
        "does not exist",
    ),
    cli_case(
        "cli_data_unknown_name",
        ["train", "mlp_tiny", "--data", "irsi", "--run-dir", "{tmp}/r"],
        "Did you mean 'iris'",
    ),
    cli_case("cli_bad_lr_schedule", [*TRAIN, "--lr-schedule", "zigzag"], "lr_schedule"),
    cli_case(
        "cli_run_dir_is_file",
        ["train", "mlp_tiny", "--data", "iris", "--run-dir", "{tmp}/f/x"],
        "Cannot write",
    ),
    cli_case(
        "cli_complete_run_again",
        ["train", "mlp_tiny", "--data", "iris", "--run-dir", "{tmp}/done"],
        "already holds a run",
    ),
    cli_case(
        "cli_resume_complete_run",
        ["train", "mlp_tiny", "--data", "iris", "--run-dir", "{tmp}/done", "--resume"],
        "already complete",
    ),
    cli_case("cli_predict_not_a_run", ["predict", "{tmp}", "x=1"], "no finished run"),
    cli_case(
        "cli_tune_bad_space_json",
        [
            "tune",
            "mlp_tiny",
            "--data",
            "iris",
            "--run-dir",
            "{tmp}/t",
            "--space",
            "{not json",
        ],
        "--space",
    ),
    cli_case(
        "cli_tune_unknown_tuner",
        [
            "tune",
            "mlp_tiny",
            "--data",
            "iris",
            "--run-dir",
            "{tmp}/t",
            "--tuner",
            "genetic",
        ],
        "genetic",
    ),
    cli_case(
        "cli_tune_zero_trials",
        [
            "tune",
            "mlp_tiny",
            "--data",
            "iris",
            "--run-dir",
            "{tmp}/t",
            "--max-trials",
            "0",
        ],
        "max_trials",
    ),
    cli_case(
        "cli_csv_without_target",
        ["train", "mlp_tiny", "--data", "{tmp}/table.csv", "--run-dir", "{tmp}/r"],
        "--target",
    ),
    cli_case(
        "cli_csv_missing_target",
        [
            "train",
            "mlp_tiny",
            "--data",
            "{tmp}/table.csv",
            "--target",
            "z",
            "--run-dir",
            "{tmp}/r",
        ],
        "no column 'z'",
    ),
]


def _saved_runs(tmp_path):
    """A killed train run and a killed and a finished search of mlp_tiny on iris."""
    spec = {
        "model": "mlp_tiny",
        "data": "iris",
        "overrides": {},
        "data_options": {},
        "seed": 0,
        "epochs": 1,
        "batch_size": 8,
        "callbacks": None,
    }
    (tmp_path / "killed").mkdir()
    (tmp_path / "killed" / "config.json").write_text(
        json.dumps({"status": "running", **spec})
    )
    search = {
        **spec,
        "tuner": "random",
        "max_trials": 2,
        "objective": "val_loss",
        "direction": "min",
        "space": {},
        "replace_space": False,
        "executions_per_trial": 1,
    }
    for name, status in (("searching", "running"), ("searched", "complete")):
        (tmp_path / name / "search").mkdir(parents=True)
        (tmp_path / name / "tune.json").write_text(
            json.dumps({"status": status, **search})
        )


RESUME = ["--run-dir", "{tmp}/killed", "--resume"]
CLI_CASES += [
    cli_case(
        "cli_resume_other_model",
        ["train", "mlp_small", "--data", "iris", *RESUME],
        "model 'mlp_tiny', not 'mlp_small'.*new --run-dir",
    ),
    cli_case(
        "cli_resume_other_data",
        ["train", "mlp_tiny", "--data", "wine", *RESUME],
        "data 'iris', not 'wine'.*new --run-dir",
    ),
    cli_case(
        "cli_tune_resume_other_model",
        ["tune", "mlp_small", "--run-dir", "{tmp}/searching", "--resume"],
        "model 'mlp_tiny', not 'mlp_small'",
    ),
    cli_case(
        "cli_tune_resume_other_data",
        ["tune", "mlp_tiny", "--data", "wine", "--run-dir", "{tmp}/searching"]
        + ["--resume"],
        "data 'iris', not 'wine'.*new --run-dir",
    ),
    cli_case(
        "cli_train_resume_in_a_search_folder",
        ["train", "mlp_tiny", "--data", "iris", "--run-dir", "{tmp}/searching"]
        + ["--resume"],
        "holds a `zoo tune` run.*new --run-dir",
    ),
    cli_case(
        "cli_tune_resume_in_a_train_folder",
        ["tune", "mlp_tiny", "--data", "iris", *RESUME],
        "holds a `zoo train` run.*new --run-dir",
    ),
    cli_case(
        "cli_tune_resume_complete",
        ["tune", "mlp_tiny", "--run-dir", "{tmp}/searched", "--resume"],
        "already complete",
    ),
]

TUNE_WINE = ["tune", "mlp_tiny", "--data", "wine", "--run-dir", "{tmp}/t"]
CLI_CASES += [
    cli_case(
        "cli_seed_negative", [*TRAIN, "--seed", "-1"], "seed must be an integer >= 0"
    ),
    cli_case(
        "cli_early_stopping_negative",
        [*TRAIN, "--early-stopping", "-1"],
        "--early-stopping must be an integer >= 0",
    ),
    cli_case(
        "cli_validation_split_word",
        [*TRAIN, "--data-option", "validation_split=half"],
        "validation_split must be a number",
    ),
    cli_case(
        "cli_monitor_bogus",
        [*TRAIN, "--monitor", "val_bogus"],
        "--monitor 'val_bogus' is not a metric.*Did you mean 'val_",
    ),
    cli_case("cli_monitor_val_acc", [*TRAIN, "--monitor", "val_acc"], "val_accuracy"),
    # wine's columns cannot be Keras names: the arguments are checked first.
    cli_case("cli_tune_annealing", [*TUNE_WINE, "--tuner", "annealing"], "annealing"),
    cli_case(
        "cli_tune_zero_trials_wine", [*TUNE_WINE, "--max-trials", "0"], "max_trials"
    ),
    cli_case("cli_tune_space_list", [*TUNE_WINE, "--space", "[1, 2]"], "JSON object"),
    cli_case(
        "cli_tune_objective_val_acc",
        [*TUNE_WINE, "--objective", "val_acc"],
        "--objective 'val_acc'.*val_accuracy",
    ),
    cli_case(
        "cli_tune_objective_unknown",
        [*TUNE_WINE, "--objective", "val_happiness"],
        "--objective 'val_happiness' is not a metric.*Did you mean 'val_",
    ),
]


def _embeddings_case(id, data, match):
    def make(tmp_path):
        path = _write(tmp_path, "vectors.txt", data)
        return _overrides("lstm_tiny", pretrained_embeddings=path)

    return Case(id, make, match=match)


def _reader_case(id, kind, inputs, match, record=None, expect="error", check=None):
    """One `zoo predict` input reader on `inputs` ({tmp} filled in)."""

    def make(tmp_path):
        from zoo.tuning.predict import INPUT_READERS

        (tmp_path / "cat.png").write_bytes(_png())
        items = [item.replace("{tmp}", str(tmp_path)) for item in inputs]
        return lambda: INPUT_READERS[kind](items, record or {})

    return Case(id, make, expect, match, check)


TABLE_RECORD = {
    "data_info": {"numeric_columns": ["age"], "categorical_columns": ["name"]}
}


def _one_row_with_comma(inputs):
    assert inputs["name"].numpy()[0, 0].decode() == "Smith, J"
    assert inputs["age"].numpy().tolist() == [[3.0]]


def _corrupt_run(tmp_path):
    run = tmp_path / "corrupt"
    run.mkdir()
    (run / "config.json").write_text(
        json.dumps({"status": "complete", "data_kind": "tabular"})
    )
    (run / "model.keras").write_bytes(b"PK\x03\x04 half a zip file")


CONFIG_CASES += [
    _embeddings_case("embeddings_binary_file", b"\x00\x01\x02GLOVE\xff" * 50, "binary"),
    _embeddings_case("embeddings_not_glove", "hello world\n", "not `word v1 v2"),
    _embeddings_case(
        "embeddings_wrong_dim", "the 0.1 0.2 0.3\n", "set embedding_dim=3"
    ),
    csv_case(
        "csv_identifier_target",
        "a,y\n" + "".join(f"{i},user{i:03d}\n" for i in range(60)),
        match="60 distinct values in 60 rows.*identifier",
    ),
    _reader_case(
        "predict_image_path_to_text_model",
        "text",
        ["{tmp}/cat.png"],
        "is a file, but this is a text model",
    ),
    _reader_case(
        "predict_word_for_number",
        "tabular",
        ["name=Ann,age=old"],
        "'age' holds numbers, got 'old'",
        TABLE_RECORD,
    ),
    _reader_case(
        "predict_pairs_as_separate_rows",
        "tabular",
        ["name=Ann", "age=3"],
        "lacks column.*one argument",
        TABLE_RECORD,
    ),
    _reader_case(
        "predict_row_with_quoted_comma",
        "tabular",
        ['name="Smith, J",age=3'],
        "",
        TABLE_RECORD,
        expect="ok",
        check=_one_row_with_comma,
    ),
    _reader_case(
        "predict_unclosed_quote",
        "tabular",
        ['name="Smith,age=3'],
        "Cannot read row",
        TABLE_RECORD,
    ),
]
CLI_CASES += [
    cli_case(
        "cli_predict_corrupt_model", ["predict", "{tmp}/corrupt", "age=1"], "corrupt"
    ),
    cli_case(
        "cli_predict_run_dir_is_file", ["predict", "{tmp}/f", "age=1"], "is a file"
    ),
]

CASES = CSV_CASES + OTHER_TABULAR + TEXT_CASES + IMAGE_CASES + CONFIG_CASES + CLI_CASES


def _params():
    for case in CASES:
        marks = (
            [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        )
        yield pytest.param(case, id=case.id, marks=marks)


def test_table_is_large_and_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 50


def _run_cli(argv, capsys):
    from zoo.tuning.cli import main

    try:
        code = main(argv)
    except SystemExit as exit:  # argparse
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.err.strip()


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case, tmp_path, capsys, monkeypatch):
    import keras

    import zoo.tuning.train

    # Nothing in this table may start training: fitting is a test failure.
    def no_training(*args, **kwargs):
        raise AssertionError("a malformed input reached training")

    monkeypatch.setattr(zoo.tuning.train, "fit_model", no_training)
    # Search trials fit through KerasTuner, not `fit_model`.
    monkeypatch.setattr(keras.Model, "fit", no_training)
    (tmp_path / "f").write_text("a file, not a folder")
    (tmp_path / "table.csv").write_text(_rows())
    _complete_run(tmp_path)
    _saved_runs(tmp_path)
    _corrupt_run(tmp_path)
    run = case.make(tmp_path)
    if case.expect == "exit2":
        code, err = _run_cli(run, capsys)
        assert code == 2, (code, err)
        assert len(err.splitlines()) == 1, err
        assert err.startswith("zoo: error:"), err
        assert "Traceback" not in err
        import re

        assert re.search(case.match, err), err
        return
    if case.expect == "ok":
        bundle = run()
        case.check(bundle)
        return
    with pytest.raises(ZooError, match=case.match) as caught:
        run()
    message = str(caught.value)
    assert message and "\n" not in message.strip(), message


def test_lambda_model_is_refused_by_default(tmp_path, capsys):
    """A `.keras` file with a Lambda layer never runs code unless asked."""
    import keras

    from zoo.tuning.predict import load_run

    inputs = keras.Input(shape=(2,))
    outputs = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "model.keras")
    (tmp_path / "config.json").write_text(
        json.dumps({"status": "complete", "data_kind": "tabular"})
    )
    with pytest.raises(ZooError, match="safe") as caught:
        load_run(tmp_path)
    assert "--unsafe" in str(caught.value) and "safe_mode=False" in str(caught.value)
    code, err = _run_cli(["predict", str(tmp_path), "a=1"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "--unsafe" in err
    # The explicit opt-in loads it.
    record, loaded = load_run(tmp_path, safe_mode=False)
    np.testing.assert_allclose(loaded.predict(np.ones((1, 2)), verbose=0), [[2.0, 2.0]])

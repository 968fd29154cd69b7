import json
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from zoo.tuning.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_list_and_datasets(capsys):
    code, out, _ = run_cli(capsys, "list", "mlp*")
    assert code == 0 and "mlp_small" in out and "cnn" not in out
    code, out, _ = run_cli(capsys, "datasets", "--kind", "tabular")
    assert code == 0 and "breast_cancer" in out and "titanic" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "mlp_smal", "--data", "iris", "--run-dir", "{tmp}/a"],
            "Did you mean 'mlp_small'",
        ),
        (
            ["train", "mlp_small", "--data", "irs", "--run-dir", "{tmp}/a"],
            "Unknown tabular dataset 'irs'",
        ),
        (
            [
                "train",
                "mlp_small",
                "--data",
                "{tmp}/missing.csv",
                "--target",
                "y",
                "--run-dir",
                "{tmp}/a",
            ],
            "does not exist",
        ),
        (
            [
                "train",
                "mlp_small",
                "--data",
                "titanic",
                "--target",
                "survive",
                "--run-dir",
                "{tmp}/a",
            ],
            "Did you mean 'survived'",
        ),
        (
            [
                "train",
                "mlp_small",
                "--data",
                "iris",
                "--set",
                "dropout_rate",
                "--run-dir",
                "{tmp}/a",
            ],
            "key=value",
        ),
        (
            [
                "train",
                "mlp_small",
                "--data",
                "iris",
                "--set",
                "units=3",
                "--run-dir",
                "{tmp}/a",
            ],
            "Unknown setting 'units'",
        ),
        (
            [
                "train",
                "mlp_small",
                "--data",
                "iris",
                "--epochs",
                "0",
                "--run-dir",
                "{tmp}/a",
            ],
            "epochs must be a positive",
        ),
        (
            [
                "train",
                "mlp_small",
                "--data",
                "iris",
                "--data-option",
                "nope=1",
                "--run-dir",
                "{tmp}/a",
            ],
            "do not apply",
        ),
        (
            [
                "tune",
                "mlp_small",
                "--data",
                "iris",
                "--tuner",
                "grdi",
                "--run-dir",
                "{tmp}/b",
            ],
            "Did you mean 'grid'",
        ),
        (["predict", "{tmp}/nothing", "x"], "holds no finished run"),
        (
            ["train", "mlp_small", "--epochs", "two", "--run-dir", "{tmp}/a"],
            "invalid int value",
        ),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(capsys, tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1, err


def test_empty_csv_from_the_cli(capsys, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    code, _, err = run_cli(
        capsys,
        "train",
        "mlp_small",
        "--data",
        str(path),
        "--target",
        "y",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert code == 2 and "is empty" in err


def test_one_class_target_from_the_cli(capsys, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("a,b,y\n" + "1,2,yes\n" * 30)
    code, _, err = run_cli(
        capsys,
        "train",
        "mlp_small",
        "--data",
        str(path),
        "--target",
        "y",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert code == 2 and "single class" in err


def test_train_shows_the_baseline_beside_the_test_metrics(capsys, tmp_path):
    code, out, _ = run_cli(
        capsys,
        "train",
        "mlp_tiny",
        "--data",
        "titanic",
        "--epochs",
        "1",
        "--run-dir",
        str(tmp_path / "run"),
        "--verbose",
        "0",
    )
    assert code == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert 0.6 <= metrics["baseline_accuracy"] <= 0.9
    line = next(row for row in out.splitlines() if row.startswith("test:"))
    assert (
        f"test_accuracy={metrics['test_accuracy']:.3f} "
        f"(baseline logistic regression {metrics['baseline_accuracy']:.3f})"
    ) in line
    assert "majority class" in line


def test_train_then_predict_in_a_subprocess(tmp_path):
    """The installed entry point, as a user runs it."""
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "zoo",
        "train",
        "mlp_tiny",
        "--data",
        "iris",
        "--epochs",
        "2",
        "--run-dir",
        str(run_dir),
        "--verbose",
        "0",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test_accuracy" in done.stdout and "tensorboard --logdir" in done.stdout
    assert json.loads((run_dir / "metrics.json").read_text())["test_accuracy"] >= 0
    predicted = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "predict",
            str(run_dir),
            "sepal length (cm)=5.1,sepal width (cm)=3.5,petal length (cm)=1.4,petal width (cm)=0.2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    assert any(
        name in predicted.stdout for name in ("setosa", "versicolor", "virginica")
    )


def test_a_reader_that_leaves_early_gets_no_traceback():
    # `zoo list | head -1`: the pipe closes after one line.
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.readline()
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""


def test_commands_that_train_keep_tensorflow_retracing_warnings_off_the_console():
    import logging

    import tensorflow as tf

    from zoo.tuning.cli.main import _quiet

    tf.get_logger().setLevel("WARNING")
    _quiet()
    assert tf.get_logger().level == logging.ERROR


def _co2_with_season(path, rows=260):
    """The embedded weekly CO2 series and a covariate derived from its dates."""
    frame = pd.read_csv(
        pathlib.Path(__file__).parents[1] / "datasets" / "data" / "co2.csv"
    ).head(rows)
    week = pd.to_datetime(frame["date"]).dt.isocalendar().week.astype(float)
    frame["season"] = np.sin(2 * np.pi * week / 52).round(4)
    frame.to_csv(path, index=False)
    return frame


def test_forecaster_takes_covariates_from_training_to_predict(capsys, tmp_path):
    frame = _co2_with_season(tmp_path / "co2.csv")
    run_dir = tmp_path / "run"
    common = ["--data", str(tmp_path / "co2.csv"), "--target", "co2"]
    code, _, err = run_cli(
        capsys,
        "train",
        "lstm_forecaster_tiny",
        *common,
        "--features",
        "seasn",
        "--run-dir",
        str(run_dir),
    )
    assert code == 2 and "Did you mean 'season'" in err and "--features" in err
    assert not (run_dir / "config.json").exists()  # refused before training
    code, out, _ = run_cli(
        capsys,
        "train",
        "lstm_forecaster_tiny",
        *common,
        "--features",
        "season",
        "--epochs",
        "1",
        "--set",
        "jit_compile=false",
        "--run-dir",
        str(run_dir),
        "--verbose",
        "0",
    )
    assert code == 0
    assert "covariates: season (inputs beside the past co2 values" in out
    record = json.loads((run_dir / "config.json").read_text())
    assert record["data_info"]["covariates"] == ["season"]
    assert record["input_shape"] == [6, 2]
    from zoo.tuning.predict import predict

    recent = tmp_path / "recent.csv"
    frame.tail(10).to_csv(recent, index=False)
    shifted = tmp_path / "shifted.csv"
    frame.tail(10).assign(season=frame["season"].tail(10) + 1).to_csv(
        shifted, index=False
    )
    forecasts = predict(run_dir, [str(recent), str(shifted)])
    values = forecasts[["prediction_0", "prediction_1"]].to_numpy()
    assert np.all(np.abs(values - frame["co2"].iloc[-1]) < 10)  # in ppm
    assert not np.allclose(values[0], values[1])  # the covariate is an input
    frame.tail(10).drop(columns="season").to_csv(recent, index=False)
    code, _, err = run_cli(capsys, "predict", str(run_dir), str(recent))
    assert code == 2 and "season" in err

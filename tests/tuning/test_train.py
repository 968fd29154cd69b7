import csv
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.errors import ZooError
from zoo.tuning.callbacks import CallbackOptions
from zoo.tuning.predict import predict
from zoo.tuning.train import fit_inputs, train


@pytest.fixture(scope="module")
def titanic_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "titanic"
    result = train(
        "mlp_tiny", "titanic", run_dir=run_dir, epochs=3, batch_size=64, verbose=0
    )
    return run_dir, result


def test_run_folder_holds_every_output(titanic_run):
    run_dir, result = titanic_run
    for name in ("config.json", "history.csv", "metrics.json", "model.keras"):
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "logs").rglob("events.out.tfevents*"))
    assert (run_dir / "plots" / "loss.png").is_file()
    assert not (run_dir / "backup").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("test_loss", "test_accuracy", "test_auc", "test_f1_macro"):
        assert 0 <= metrics[key] <= 10 and np.isfinite(metrics[key]), key
    # Logistic regression on the same split, beside the network's metrics.
    assert metrics["baseline_name"] == "logistic regression"
    assert 0.6 <= metrics["baseline_accuracy"] <= 0.9
    assert 0.5 < metrics["baseline_auc"] <= 1
    assert metrics["baseline_majority_accuracy"] < metrics["baseline_accuracy"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["status"] == "complete" and config["class_names"] == ["no", "yes"]
    with open(run_dir / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(float(r["epoch"])) for r in rows] == [0, 1, 2]
    assert {"loss", "val_loss", "val_accuracy"} <= set(rows[0])


def test_saved_model_takes_raw_rows(titanic_run, tmp_path):
    run_dir, result = titanic_run
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert set(model.input) == {"age", "passengerClass", "sex"}
    rows = tmp_path / "rows.csv"
    rows.write_text("name,sex,age,passengerClass\nA,female,,1st\nB,male,40,3rd\n")
    frame = predict(run_dir, [str(rows)])
    assert list(frame["class"].isin(["no", "yes"])) == [True, True]
    assert frame["probability"].between(0.5, 1).all()
    inline = predict(run_dir, ["sex=female,age=29,passengerClass=1st"])
    assert len(inline) == 1


# Rows as pandas hands them out: strings as `object` arrays with None and NaN
# in the gaps, numbers as float64 with NaN, an extra column, shape `(rows,)`.
_PANDAS_ROWS = textwrap.dedent(
    """
    import json, sys
    import zoo  # The only zoo import a user needs before loading.
    import keras, numpy as np, pandas as pd
    model = keras.saving.load_model(sys.argv[1], safe_mode=True)
    frame = pd.DataFrame({
        "name": ["A", "B", "C", "D"],
        "sex": ["female", None, "male", np.nan],
        "age": [29.0, np.nan, 40.0, 3.0],
        "passengerClass": ["1st", "3rd", None, " 2nd "],
    })
    columns = model.predict({c: frame[c].to_numpy() for c in frame}, verbose=0)
    whole = model.predict(frame, verbose=0)
    print(json.dumps([columns.ravel().tolist(), whole.ravel().tolist()]))
    """
)


def test_saved_model_takes_pandas_columns_in_a_fresh_process(titanic_run):
    run_dir, result = titanic_run
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _PANDAS_ROWS, str(run_dir / "model.keras")],
        capture_output=True,
        text=True,
        timeout=240,
        env=environment,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    columns, whole = json.loads(done.stdout.strip().splitlines()[-1])
    # The same rows as the loader encodes them: a gap is "" or NaN.
    expected = result.model.predict(
        {
            "sex": tf.constant([["female"], [""], ["male"], [""]]),
            "age": np.array([[29.0], [np.nan], [40.0], [3.0]], "float32"),
            "passengerClass": tf.constant([["1st"], ["3rd"], [""], ["2nd"]]),
        },
        verbose=0,
    ).ravel()
    np.testing.assert_allclose(columns, expected, rtol=1e-5)
    np.testing.assert_allclose(whole, expected, rtol=1e-5)
    with pytest.raises(ZooError, match="'age'"):
        result.model.predict({"sex": np.array(["male"], dtype=object)}, verbose=0)


def test_existing_run_needs_resume(titanic_run):
    run_dir, _ = titanic_run
    with pytest.raises(ZooError, match="--resume"):
        train("mlp_tiny", "titanic", run_dir=run_dir, epochs=1)
    with pytest.raises(ZooError, match="already complete"):
        train("mlp_tiny", "titanic", run_dir=run_dir, epochs=1, resume=True)


def test_resume_continues_from_the_last_epoch(tmp_path):
    run_dir = tmp_path / "run"
    options = CallbackOptions(tensorboard=False, early_stopping_patience=0)
    # Simulate a run killed after epoch 2 of 4: train 2 epochs, then mark it running.
    train("mlp_tiny", "iris", run_dir=run_dir, epochs=2, callbacks=options, verbose=0)
    config = json.loads((run_dir / "config.json").read_text())
    first_weights = keras.saving.load_model(run_dir / "model.keras").get_weights()
    # Re-create the state a kill would leave: status running, a committed backup.
    from zoo.tuning.callbacks import AtomicBackupAndRestore

    backup = AtomicBackupAndRestore(
        str(run_dir / "backup"), history_path=str(run_dir / "history.csv")
    )
    network = keras.saving.load_model(run_dir / "model.keras")
    inner = [
        layer
        for layer in network.layers
        if isinstance(layer, keras.Model) and layer.name == "mlp"
    ][0]
    from zoo.compile import default_compile
    from zoo.registry import resolve_config

    _, mlp_config = resolve_config("mlp_tiny")
    default_compile(inner, mlp_config, num_classes=3)
    inner.optimizer.build(inner.trainable_variables)
    backup.set_model(inner)
    with open(run_dir / "history.csv") as handle:
        backup._rows = [
            {k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)
        ][:2]
    backup._current_epoch = 2
    backup._save_model()
    config["status"] = "running"
    config["epochs"] = 4
    (run_dir / "config.json").write_text(json.dumps(config))

    result = train("mlp_tiny", run_dir=run_dir, resume=True, verbose=0)
    epochs = [int(row["epoch"]) for row in result.history]
    assert epochs == [0, 1, 2, 3]
    assert not np.allclose(first_weights[-2], result.model.get_weights()[-2])


def test_unwritable_run_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ZooError, match="Cannot write to run folder"):
        train("mlp_tiny", "iris", run_dir=blocker / "run", epochs=1)


def test_regression_run(tmp_path):
    result = train(
        "mlp_tiny", "diabetes", run_dir=tmp_path / "reg", epochs=2, verbose=0
    )
    assert {"test_loss", "test_mae", "test_rmse"} <= set(result.metrics)
    assert result.metrics["baseline_name"] == "linear regression"
    # Ridge regression on diabetes: RMSE near 55, in the target's units.
    assert 40 < result.metrics["baseline_rmse"] < 80
    assert result.metrics["baseline_mae"] < result.metrics["baseline_rmse"]
    frame = predict(
        tmp_path / "reg",
        ["age=0.01,sex=0.05,bmi=0.06,bp=0.02,s1=0,s2=0,s3=0,s4=0,s5=0,s6=0"],
    )
    assert "prediction" in frame and np.isfinite(frame["prediction"]).all()
    assert os.path.exists(tmp_path / "reg" / "plots" / "mae.png")


def test_text_run_has_a_tfidf_baseline(tmp_path):
    rows = ["text,label"] + [
        f"{word} film number {i},{label}"
        for i in range(40)
        for word, label in (("good", "pos"), ("bad", "neg"))
    ]
    (tmp_path / "reviews.csv").write_text("\n".join(rows) + "\n")
    result = train(
        "lstm_tiny",
        str(tmp_path / "reviews.csv"),
        run_dir=tmp_path / "run",
        epochs=1,
        verbose=0,
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["baseline_name"] == "TF-IDF + logistic regression"
    assert metrics["baseline_accuracy"] == 1.0 == result.metrics["baseline_accuracy"]


# `a/b`, `a b` and `a_b` sanitise to one Keras name; Keras refuses a name
# twice in one model. The user's names stay in config.json and `zoo predict`.
ODD_COLUMNS = ["a/b", "a b", "a_b", "température (°C)", "城市", "y"]


def test_odd_column_names_train_and_keep_their_names(tmp_path, capsys):
    from zoo.tuning.cli import main

    rows = [",".join(ODD_COLUMNS)]
    for i in range(60):
        city = ["北京", "上海"][i % 2]
        rows.append(f"{i * 0.1:.1f},{i % 7},{(i * 3) % 5},{i % 30},{city},{i % 2}")
    table = tmp_path / "odd.csv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    argv = ["train", "mlp_tiny", "--data", str(table), "--target", "y"]
    argv += ["--epochs", "1", "--run-dir", str(run_dir), "--verbose", "0"]
    assert main([*argv, "--no-tensorboard"]) == 0, capsys.readouterr().err
    info = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))[
        "data_info"
    ]
    assert set(info["numeric_columns"]) == set(ODD_COLUMNS[:4])
    assert info["categorical_columns"] == ["城市"]
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert set(model.input) == set(ODD_COLUMNS[:5])
    row = "a/b=0.5,a b=1,a_b=2,température (°C)=20,城市=北京"
    frame = predict(run_dir, [row])
    assert frame["input"].tolist() == [row]
    assert frame["class"].isin([0, 1, "0", "1"]).all()


def test_mirrored_strategy_run(tmp_path):
    result = train(
        "mlp_tiny",
        "iris",
        run_dir=tmp_path / "mirrored",
        epochs=2,
        strategy="mirrored",
        verbose=0,
    )
    assert len(result.history) == 2 and np.isfinite(result.metrics["test_loss"])


@pytest.mark.slow
def test_multiworker_cli_run(tmp_path):
    """Two local workers train one model; worker 0 writes the run folder."""

    from zoo.tuning.distributed import free_port

    ports = [free_port(), free_port()]
    cluster = [f"127.0.0.1:{port}" for port in ports]
    processes = []
    try:
        for index in range(2):
            env = dict(
                os.environ,
                TF_CONFIG=json.dumps(
                    {
                        "cluster": {"worker": cluster},
                        "task": {"type": "worker", "index": index},
                    }
                ),
            )
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
                "--strategy",
                "multiworker",
                "--run-dir",
                str(tmp_path / "run"),
                "--verbose",
                "0",
            ]
            processes.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        codes = [process.wait(timeout=400) for process in processes]
    finally:
        for process in processes:
            process.kill()
    assert codes == [0, 0]
    assert (
        json.loads((tmp_path / "run" / "metrics.json").read_text())["test_accuracy"]
        >= 0
    )
    assert keras.saving.load_model(tmp_path / "run" / "model.keras", safe_mode=True)


def test_fit_inputs_stream_one_pass_per_epoch():
    from tests.datasets.test_base import _bundle

    bundle = _bundle(10)
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(10)(inputs))
    model.compile("sgd", "sparse_categorical_crossentropy", steps_per_execution=32)
    train_batches, kwargs = fit_inputs(model, bundle, 4)
    assert kwargs["steps_per_epoch"] == 3  # 4 + 4 + 2
    assert model.steps_per_execution == 3  # one execution a pass
    assert int(train_batches.cardinality()) < 0  # repeated: one iterator a run
    assert kwargs["shuffle"] is False
    history = model.fit(train_batches, epochs=2, verbose=0, **kwargs)
    assert len(history.history["val_loss"]) == 2

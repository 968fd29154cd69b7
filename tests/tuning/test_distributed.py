import glob
import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from zoo.errors import ConfigError, ZooError
from zoo.tuning import distributed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env():
    return {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}


def test_search_environment_and_role(monkeypatch):
    env = distributed.search_environment("chief", "127.0.0.1:9123")
    assert env == {
        "KERASTUNER_TUNER_ID": "chief",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": "9123",
    }
    worker = distributed.search_environment("worker", None, "w1")
    assert worker["KERASTUNER_ORACLE_IP"] == "127.0.0.1"  # Loopback by default.
    for name in (
        "KERASTUNER_TUNER_ID",
        "KERASTUNER_ORACLE_IP",
        "KERASTUNER_ORACLE_PORT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert distributed.search_role() is None
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(ConfigError, match="KERASTUNER_ORACLE_PORT"):
        distributed.search_role()
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "w1")
    assert distributed.search_role() == "worker"
    with pytest.raises(ConfigError, match="HOST:PORT"):
        distributed.parse_address("localhost")
    with pytest.raises(ConfigError, match="must not contain 'chief'"):
        distributed.search_environment("worker", None, "chief2")


def test_mirrored_strategy_trains_in_scope():
    from zoo.compile import default_compile
    from zoo.registry import build_from_config, resolve_config

    with distributed.strategy_scope("mirrored") as strategy:
        family, config = resolve_config("mlp_tiny")
        model = build_from_config(family, config, input_shape=(4,), num_classes=3)
        default_compile(model, config, num_classes=3)
    assert strategy.num_replicas_in_sync >= 1
    x = np.random.RandomState(0).rand(32, 4).astype("float32")
    history = model.fit(x, np.arange(32) % 3, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ConfigError, match="Unknown strategy"):
        distributed.get_strategy("mirored")


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        distributed.get_strategy("multiworker")


_WORKER = textwrap.dedent(
    """
    import json, os, sys
    from zoo.tuning.distributed import fit_multiworker, get_strategy, shard_by_data
    strategy = get_strategy("multiworker")  # Before any other TF op.
    import numpy as np
    import tensorflow as tf
    from zoo.compile import default_compile
    from zoo.registry import build_from_config, resolve_config
    with strategy.scope():
        family, config = resolve_config("mlp_tiny", seed=1)
        model = build_from_config(family, config, input_shape=(4,), num_classes=3)
        default_compile(model, config, num_classes=3)
    rng = np.random.RandomState(0)
    x = rng.rand(64, 4).astype("float32")
    y = (np.arange(64) % 3).astype("int32")
    data = shard_by_data(tf.data.Dataset.from_tensor_slices((x, y)).batch(16))
    # Keras 3's fit() fails under this strategy (keras-team/keras#20585).
    losses = fit_multiworker(model, data, epochs=2, global_batch_size=16)
    total = float(sum(np.abs(w).sum() for w in model.get_weights()))
    print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync, "weights": total, "losses": losses}))
    """
)


@pytest.mark.slow
def test_multiworker_mirrored_strategy_with_two_local_workers(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    ports = [distributed.free_port(), distributed.free_port()]
    addresses = [f"127.0.0.1:{p}" for p in ports]
    processes = []
    try:
        for index in range(2):
            env = {**_env(), "TF_CONFIG": distributed.tf_config(addresses, index)}
            processes.append(
                subprocess.Popen(
                    [sys.executable, str(script)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [p.communicate(timeout=300) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    results = []
    for (out, err), process in zip(outputs, processes, strict=True):
        assert process.returncode == 0, err[-2000:]
        line = [t for t in out.splitlines() if t.startswith("RESULT ")][-1]
        results.append(json.loads(line.removeprefix("RESULT ")))
    assert [r["replicas"] for r in results] == [2, 2]
    assert all(np.isfinite(r["losses"]).all() for r in results)
    # Gradients were all-reduced: both workers end with the same weights.
    assert results[0]["weights"] == pytest.approx(results[1]["weights"], rel=1e-6)


@pytest.mark.slow
def test_chief_and_two_workers_share_the_trials(tmp_path):
    run_dir = tmp_path / "dist"
    args = [
        "mlp_tiny",
        "--data",
        "iris",
        "--run-dir",
        str(run_dir),
        "--max-trials",
        "4",
        "--epochs",
        "1",
        "--space",
        json.dumps({"dropout_rate": [0.0, 0.1], "activation": ["relu", "tanh"]}),
        "--replace-space",
        "--no-tensorboard",
        "--verbose",
        "0",
        "--no-report",
    ]
    code = distributed.launch_local(
        args,
        workers=2,
        timeout=500,
        env={"PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert code == 0
    frame = pd.read_csv(run_dir / "results.csv", dtype={"trial_id": str})
    assert len(frame) == 4 and (frame["status"] == "COMPLETED").all()
    assert frame["trial_id"].is_unique
    combos = frame[["dropout_rate", "activation"]].apply(tuple, axis=1)
    assert combos.is_unique  # No hyperparameter set was handed out twice.
    runs = []
    for path in glob.glob(str(run_dir / "search" / "trial_*" / "worker.json")):
        with open(path) as handle:
            runs.append(json.load(handle)["runs"])
    assert len(runs) == 4 and all(len(r) == 1 for r in runs)  # None ran twice.
    assert {r[0]["tuner_id"] for r in runs} == {"worker0", "worker1"}
    assert (run_dir / "best" / "model.keras").exists()


def test_local_launch_passes_everything_but_the_role():
    from zoo.tuning.cli.tune import _tune_argv_without_distribution

    argv = [
        "mlp_tiny",
        "--distributed",
        "local",
        "--workers=3",
        "--run-dir",
        "r",
        "--oracle-address",
        "127.0.0.1:1",
        "--epochs",
        "1",
    ]
    assert _tune_argv_without_distribution(argv) == [
        "mlp_tiny",
        "--run-dir",
        "r",
        "--epochs",
        "1",
    ]


def test_trials_per_worker_is_checked_before_anything_runs():
    with pytest.raises(ConfigError, match="add --distributed local"):
        distributed.check_trials_per_worker(5, None)
    with pytest.raises(ConfigError, match="must be >= 1"):
        distributed.check_trials_per_worker(0, "worker")
    with pytest.raises(ConfigError, match="whole number"):
        distributed.check_trials_per_worker("3", "worker")
    distributed.check_trials_per_worker(None, None)
    distributed.check_trials_per_worker(3, "chief")


@pytest.mark.slow
def test_recycled_worker_processes_share_out_the_trials(tmp_path):
    run_dir = tmp_path / "recycled"
    args = [
        "mlp_tiny",
        *("--data", "iris", "--run-dir", str(run_dir)),
        *("--max-trials", "5", "--epochs", "1", "--trials-per-worker", "2"),
        *("--no-tensorboard", "--verbose", "0", "--no-report"),
    ]
    code = distributed.launch_local(
        args,
        workers=1,
        timeout=500,
        env={"PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert code == 0
    frame = pd.read_csv(run_dir / "results.csv", dtype={"trial_id": str})
    assert len(frame) == 5 and (frame["status"] == "COMPLETED").all()
    pids = {}
    for path in glob.glob(str(run_dir / "search" / "trial_*" / "worker.json")):
        with open(path) as handle:
            runs = json.load(handle)["runs"]
        assert len(runs) == 1  # No trial ran twice.
        pids[os.path.basename(os.path.dirname(path))] = runs[0]["pid"]
    # Two trials a process: three processes for five trials, in order.
    ordered = [pids[name] for name in sorted(pids)]
    assert len(set(ordered)) == 3
    assert ordered[0] == ordered[1] and ordered[2] == ordered[3] != ordered[0]
    assert (run_dir / "best" / "model.keras").exists()


def test_the_help_says_the_oracle_is_unauthenticated(capsys):
    """Exposing the chief's port lets anyone steer the search: the flags say so,
    as docs/design.md (Safety) does."""
    import re

    from zoo.tuning.cli import main

    try:
        main(["tune", "--help"])
    except SystemExit:  # argparse, when main does not catch it
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"--distributed .*no authentication.*trusted network", text)
    with open(os.path.join(os.path.dirname(__file__), "../../docs/design.md")) as f:
        safety = f.read().split("## Safety", 1)[1].split("\n## ", 1)[0]
    assert "no authentication" in safety and "127.0.0.1" in safety


def _refused_local_search(tmp_path):
    """A local search whose chief and worker both refuse `--trials-per-worker 0`."""
    return distributed.launch_local(
        ["mlp_tiny", "--data", "iris", "--run-dir", str(tmp_path / "r")]
        + ["--trials-per-worker", "0"],
        workers=1,
        timeout=120,
        env={"PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def test_a_chief_that_refuses_its_arguments_ends_the_local_search_at_once(tmp_path):
    # The chief exits 2 with its one line; its workers would otherwise wait
    # --chief-timeout (300 s) for an oracle that never listens.
    started = time.monotonic()
    code = _refused_local_search(tmp_path)
    assert code == 2
    assert time.monotonic() - started < 100


def test_a_chief_slower_to_refuse_than_its_workers_still_gives_its_code(
    tmp_path, monkeypatch
):
    # The race CI met: the worker refuses the shared arguments first, and the
    # chief, two seconds late here, refuses them after; its exit code wins.
    popen = subprocess.Popen

    def late_chief(args, **kwargs):
        if "chief" in args:
            args = ["sh", "-c", 'sleep 2; exec "$@"', "sh", *args]
        return popen(args, **kwargs)

    monkeypatch.setattr(distributed.subprocess, "Popen", late_chief)
    code = _refused_local_search(tmp_path)
    assert code == 2


def test_workers_that_all_fail_beside_a_live_chief_end_the_search(monkeypatch):
    # A chief still running after the grace is waiting for workers that are
    # gone: the search ends with one message instead of hanging.
    popen = subprocess.Popen

    def processes(args, **kwargs):
        role = "chief" if "chief" in args else "worker"
        return popen(["sleep", "60"] if role == "chief" else ["false"], **kwargs)

    monkeypatch.setattr(distributed.subprocess, "Popen", processes)
    monkeypatch.setattr(distributed, "CHIEF_GRACE_S", 1)
    started = time.monotonic()
    with pytest.raises(ZooError, match="Every worker of the distributed search failed"):
        distributed.launch_local(["mlp_tiny"], workers=2, timeout=60)
    assert time.monotonic() - started < 30

"""Faults: a `zoo train` killed with SIGKILL resumes whole; bad run folders fail early.

The SIGKILL tests run the real CLI in a child process. A small driver (below)
wraps the runner's file writes and callbacks so that the child kills itself
at an exact point: mid-epoch, right after an epoch's backup commit, while the
backup weights or `state.json` are half written, while the best checkpoint
is being written, and while the final `model.keras` is half written. After
each kill the run is resumed with `--resume` and the next fault is injected,
so one chain of processes covers every point. The end state must be a whole
run: `model.keras` loads with `safe_mode=True` and `history.csv` holds epochs
0..N-1 once each, with the rows of epochs finished before a kill untouched.
"""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The child: `python -c DRIVER zoo-argv...`, with ZOO_FAULT naming the fault.
#   batch:EPOCH:BATCH     SIGKILL at the end of that training batch
#   after-commit:K        SIGKILL right after backup/state.json records K epochs
#   torn:SUBSTRING:NTH    on the NTH atomic write whose target contains
#                         SUBSTRING, truncate the temporary file to half its
#                         size and SIGKILL before the rename
# ZOO_FAULT_LOG gets one line per epoch begun ("begin E"), so the test sees
# where a resumed run really started.
DRIVER = textwrap.dedent(
    """
    import contextlib, os, signal, sys
    import keras
    import zoo.tuning.callbacks, zoo.tuning.io, zoo.tuning.train
    from zoo.tuning.cli import main

    fault = os.environ.get("ZOO_FAULT", "")
    log = os.environ["ZOO_FAULT_LOG"]
    kind, _, rest = fault.partition(":")
    args = rest.split(":") if rest else []

    def die():
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    class Probe(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            with open(log, "a") as handle:
                handle.write(f"begin {epoch}\\n")

        def on_train_batch_end(self, batch, logs=None):
            if kind == "batch" and (self.epoch, batch) == (int(args[0]), int(args[1])):
                die()

    make_callbacks = zoo.tuning.train.make_callbacks

    def patched_make_callbacks(*a, **k):
        return [Probe()] + make_callbacks(*a, **k)

    zoo.tuning.train.make_callbacks = patched_make_callbacks

    write_json = zoo.tuning.callbacks.write_json

    def patched_write_json(path, data):
        write_json(path, data)
        if (kind == "after-commit" and path.endswith("state.json")
                and data.get("epoch") == int(args[0])):
            die()

    zoo.tuning.callbacks.write_json = patched_write_json

    atomic_path = zoo.tuning.io.atomic_path
    seen = [0]

    @contextlib.contextmanager
    def patched_atomic_path(path):
        with atomic_path(path) as temporary:
            yield temporary
            if kind == "torn" and args[0] in os.fspath(path):
                seen[0] += 1
                if seen[0] == int(args[1]):
                    size = os.path.getsize(temporary)
                    with open(temporary, "r+b") as handle:
                        handle.truncate(size // 2)
                    die()

    zoo.tuning.io.atomic_path = patched_atomic_path
    zoo.tuning.callbacks.atomic_path = patched_atomic_path
    sys.exit(main(sys.argv[1:]))
    """
)

EPOCHS = 8


def _train_argv(run_dir, resume=False):
    argv = [
        "train",
        "mlp_small",
        "--data",
        "iris",
        "--epochs",
        str(EPOCHS),
        "--batch-size",
        "16",
        "--run-dir",
        str(run_dir),
        "--no-tensorboard",
        "--monitor",
        "loss",
        # One batch per call, so the probe can kill between any two batches.
        "--set",
        "steps_per_execution=1",
        "--verbose",
        "0",
    ]
    return argv + (["--resume"] if resume else [])


def _child(run_dir, log, fault=None, resume=False):
    env = dict(os.environ, ZOO_FAULT=fault or "", ZOO_FAULT_LOG=str(log))
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, *_train_argv(run_dir, resume)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_child(run_dir, log, fault=None, resume=False, timeout=240):
    process = _child(run_dir, log, fault, resume)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _state(run_dir):
    path = os.path.join(run_dir, "backup", "state.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def _begins(log):
    if not os.path.exists(log):
        return []
    with open(log) as handle:
        return [int(line.split()[1]) for line in handle if line.startswith("begin")]


def _history(run_dir):
    with open(os.path.join(run_dir, "history.csv"), newline="") as handle:
        return list(csv.DictReader(handle))


def _check_complete(run_dir):
    import keras

    # zoo.layers (FillMissing) registers only when a dataset module is
    # imported, as the CLI does; load_run alone misses it (tested by
    # test_load_run_in_a_fresh_process).
    from zoo.datasets.base import load_datasets

    load_datasets()
    from zoo.tuning.predict import load_run, predict

    history = _history(run_dir)
    assert [int(row["epoch"]) for row in history] == list(range(EPOCHS))
    record, model = load_run(run_dir, safe_mode=True)
    assert record["status"] == "complete"
    assert record["epochs_run"] == EPOCHS
    assert isinstance(model, keras.Model)
    frame = predict(
        run_dir,
        [
            "sepal length (cm)=5.1,sepal width (cm)=3.5,"
            "petal length (cm)=1.4,petal width (cm)=0.2"
        ],
    )
    assert len(frame) == 1
    assert not os.path.exists(os.path.join(run_dir, "backup"))
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        assert "test_accuracy" in json.load(handle)


# Each step: (fault for a run that starts with `c` epochs committed, the
# commits expected when it dies (None: any), where the torn file lies).
CHAIN = [
    (lambda c: f"batch:{c + 1}:3", lambda c: c + 1, None),  # mid-epoch
    # The best checkpoint is written on improvement only; early in the run
    # the training loss (--monitor loss) improves every epoch.
    (lambda c: "torn:best.weights.h5:1", None, "checkpoints/.best."),
    (lambda c: f"after-commit:{c + 1}", lambda c: c + 1, None),
    (lambda c: f"torn:epoch-{c + 1:05d}:1", lambda c: c, "backup/.epoch-"),
    (lambda c: "torn:state.json:2", lambda c: c + 1, "backup/.state."),
    (lambda c: "torn:model.keras:1", lambda c: EPOCHS, ".model."),
]


def _torn_left(run_dir, prefix):
    folder, _, stem = prefix.rpartition("/")
    folder = os.path.join(run_dir, folder)
    return [n for n in os.listdir(folder) if n.startswith(stem) and ".tmp" in n]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sigkill_chain_resumes_whole(tmp_path):
    """Six SIGKILLs at six points, six resumes: one whole run at the end."""
    run_dir = tmp_path / "run"
    committed_rows = {}
    committed = 0
    for number, (fault_at, expect_at, torn) in enumerate(CHAIN):
        fault = fault_at(committed)
        log = tmp_path / f"log{number}.txt"
        code, out, err = _run_child(run_dir, log, fault, resume=number > 0)
        assert code == -signal.SIGKILL, (fault, code, err[-2000:])
        begins = _begins(log)
        # A resumed run starts at the first epoch not yet committed.
        assert begins[:1] == ([committed] if committed < EPOCHS else []), (
            fault,
            begins,
        )
        state = _state(run_dir)
        assert state is not None, fault
        if expect_at is not None:
            assert state["epoch"] == expect_at(committed), (fault, state["epoch"])
        assert state["epoch"] >= committed
        if torn:
            # The kill really hit that write: its half file is still there...
            assert _torn_left(str(run_dir), torn), (fault, torn)
        # ...but never under a name a later run trusts.
        assert os.path.exists(os.path.join(run_dir, "backup", state["weights"]))
        for row in state["history"]:
            # A committed epoch is never trained again.
            committed_rows.setdefault(row["epoch"], row)
            assert committed_rows[row["epoch"]] == row
        committed = state["epoch"]
        assert [row["epoch"] for row in state["history"]] == list(range(committed))
    assert committed == EPOCHS
    # Garbage that a kill might leave lying around must not break resume.
    (run_dir / "backup" / ".epoch-00099.tmp.weights.h5").write_bytes(b"\0garbage")
    (run_dir / "backup" / "notes.txt").write_text("not ours")
    log = tmp_path / "final.txt"
    code, out, err = _run_child(run_dir, log, None, resume=True)
    assert code == 0, err[-3000:]
    assert _begins(log) == []  # all epochs were already committed
    _check_complete(str(run_dir))
    history = _history(str(run_dir))
    for row in history:
        kept = committed_rows[int(row["epoch"])]
        assert float(row["loss"]) == pytest.approx(kept["loss"], rel=1e-6)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sigkill_at_random_times_then_resume(tmp_path):
    """Kills at a random instant after the first commit; resume finishes the run."""
    run_dir = tmp_path / "run"
    log = tmp_path / "log.txt"
    rng = random.Random(9)
    process = _child(run_dir, log)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        state_path = run_dir / "backup" / "state.json"
        if state_path.exists():
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed"
    time.sleep(rng.uniform(0.0, 0.3))
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    state = _state(run_dir)
    assert state is not None and 1 <= state["epoch"] <= EPOCHS
    code, out, err = _run_child(run_dir, tmp_path / "log2.txt", resume=True)
    assert code == 0, err[-3000:]
    begins = _begins(tmp_path / "log2.txt")
    assert begins == list(range(state["epoch"], EPOCHS))
    _check_complete(str(run_dir))


@pytest.mark.slow
def test_load_run_in_a_fresh_process(tmp_path):
    """A finished tabular run loads from Python with nothing else imported."""
    from zoo.tuning.train import train

    run_dir = tmp_path / "run"
    train("mlp_tiny", "iris", run_dir=run_dir, epochs=1, verbose=0)
    code = (
        "import sys; from zoo.tuning.predict import load_run; "
        f"load_run({str(run_dir)!r}); print('loaded')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-300:]


# In-process checks: fast, no kill needed.


def test_unwritable_run_dir_fails_before_training(tmp_path, monkeypatch):
    import zoo.tuning.train
    from zoo.errors import ZooError

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    called = []
    monkeypatch.setattr(
        zoo.tuning.train, "prepare", lambda *a, **k: called.append(1) or None
    )
    with pytest.raises(ZooError, match="Cannot write to run folder"):
        zoo.tuning.train.train("mlp_small", "iris", run_dir=blocker / "sub", epochs=1)
    assert called == []


def test_full_disk_fails_before_training(tmp_path, monkeypatch):
    import collections
    import shutil

    import zoo.tuning.train
    from zoo.errors import ZooError

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1024))
    called = []
    monkeypatch.setattr(
        zoo.tuning.train, "prepare", lambda *a, **k: called.append(1) or None
    )
    with pytest.raises(ZooError, match="MiB free"):
        zoo.tuning.train.train("mlp_small", "iris", run_dir=tmp_path / "run", epochs=1)
    assert called == []


def test_cli_unwritable_run_dir_is_one_line(tmp_path, capsys):
    from zoo.tuning.cli import main

    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code = main(
        ["train", "mlp_small", "--data", "iris", "--run-dir", str(blocker / "x")]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Cannot write to run folder" in err


def _interrupted_run(tmp_path):
    """A run folder as a kill after epoch 1's commit leaves it (in-process)."""
    import keras

    import zoo.tuning.train

    class Stop(Exception):
        pass

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise Stop

    make_callbacks = zoo.tuning.train.make_callbacks

    def patched(*a, **k):
        return make_callbacks(*a, **k) + [StopAfter()]

    run_dir = tmp_path / "run"
    zoo.tuning.train.make_callbacks = patched
    try:
        with pytest.raises(Stop):
            zoo.tuning.train.train(
                "mlp_tiny", "iris", run_dir=run_dir, epochs=3, verbose=0
            )
    finally:
        zoo.tuning.train.make_callbacks = make_callbacks
    assert _state(run_dir)["epoch"] == 2
    return run_dir


# Slow (6 s); CI runs this file's slow tests after the default run.
@pytest.mark.slow
def test_garbage_in_backup_and_torn_commit_record(tmp_path):
    """Stray files in backup/ are ignored; a corrupt state.json is one ZooError."""
    import zoo.tuning.train
    from zoo.errors import ZooError

    run_dir = _interrupted_run(tmp_path)
    backup = run_dir / "backup"
    (backup / ".state.abc.tmp.json").write_text('{"epoch": 9, "weig')
    (backup / "epoch-00007.weights.h5").write_bytes(os.urandom(512))
    result = zoo.tuning.train.train("mlp_tiny", run_dir=run_dir, resume=True, verbose=0)
    assert [int(row["epoch"]) for row in result.history] == [0, 1, 2]
    assert [int(r["epoch"]) for r in _history(str(run_dir))] == [0, 1, 2]

    # A commit record corrupted behind the zoo's back (disk fault, manual edit).
    run_dir = _interrupted_run(tmp_path / "second")
    (run_dir / "backup" / "state.json").write_text('{"epoch": 2, "weig')
    with pytest.raises(ZooError, match="state.json"):
        zoo.tuning.train.train("mlp_tiny", run_dir=run_dir, resume=True, verbose=0)


def test_corrupt_config_json_is_zoo_error(tmp_path):
    import zoo.tuning.train
    from zoo.errors import ZooError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_bytes(b"\x00\xff{not json")
    with pytest.raises(ZooError, match="config.json"):
        zoo.tuning.train.train("mlp_tiny", "iris", run_dir=run_dir, resume=True)


# SIGKILL at seeded random moments: train, tune and index each die a few
# times wherever the delay lands (mid-batch, mid-write, between trials or
# chunks), resume, and must end whole.

KILL_SEED = 2121


def _zoo(argv):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "zoo", *argv],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _written_since(folder, since):
    """Whether this process has written anything under `folder` yet: the
    delay counts from there, not from a start-up that load makes slow."""
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                if os.stat(os.path.join(root, name)).st_mtime >= since:
                    return True
            except FileNotFoundError:  # renamed away meanwhile
                pass
    return False


def _kill_at_random_then_finish(spawn, folder, kills, delays, rng, timeout=300):
    """Runs `spawn(resume)` `kills` times, each SIGKILLed `rng.uniform(*delays)`
    seconds after its first write, then once more to the end.

    Returns:
        How many kills landed (a run may finish before its delay is up).
    """
    landed = 0
    for number in range(kills):
        since = time.time() - 1  # mtimes may be coarse
        process = spawn(number > 0)
        deadline = time.monotonic() + timeout
        while process.poll() is None and not _written_since(folder, since):
            assert time.monotonic() < deadline, "the command wrote nothing"
            time.sleep(0.02)
        time.sleep(rng.uniform(*delays))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            landed += 1
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            break
        assert process.returncode == -signal.SIGKILL, err[-2000:]
    process = spawn(True)
    _, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    print(f"{landed} of {kills} kills landed")  # shown by pytest -rP
    assert not [
        name for _, _, files in os.walk(folder) for name in files if ".tmp" in name
    ], "a killed write's temporary outlived the resume"
    return landed


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_train_killed_at_random_moments_resumes_whole(tmp_path):
    run_dir = tmp_path / "run"
    rng = random.Random(KILL_SEED)

    def spawn(resume):
        return _zoo(_train_argv(run_dir, resume))

    landed = _kill_at_random_then_finish(spawn, run_dir, 3, (0.0, 1.5), rng)
    assert landed >= 1, landed
    _check_complete(str(run_dir))  # each epoch once, a safe-loading model


TUNE_TRIALS, TUNE_EPOCHS = 3, 3


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_tune_killed_at_random_moments_resumes_whole(tmp_path):
    import keras
    import pandas as pd

    from zoo.datasets.base import load_datasets

    run_dir = tmp_path / "run"
    rng = random.Random(KILL_SEED + 1)
    argv = ["tune", "mlp_tiny", "--data", "iris", "--run-dir", str(run_dir)]
    argv += ["--tuner", "random", "--max-trials", str(TUNE_TRIALS)]
    argv += ["--epochs", str(TUNE_EPOCHS), "--early-stopping", "0"]
    argv += ["--no-tensorboard", "--verbose", "0", "--replace-space", "--space"]
    argv += [
        json.dumps({"dropout_rate": [0.0, 0.1, 0.2], "activation": ["relu", "tanh"]})
    ]

    def spawn(resume):
        return _zoo([*argv, "--resume"] if resume else argv)

    landed = _kill_at_random_then_finish(spawn, run_dir, 2, (0.0, 4.0), rng)
    assert landed >= 1, landed
    results = pd.read_csv(run_dir / "results.csv", dtype={"trial_id": str})
    assert len(results) == TUNE_TRIALS and (results["status"] == "COMPLETED").all()
    assert results["trial_id"].is_unique
    for trial_id in results["trial_id"]:
        history = _history(str(run_dir / "search" / f"trial_{trial_id}"))
        # Each epoch once: a resumed trial continued, a finished one stayed.
        assert [int(row["epoch"]) for row in history] == list(range(TUNE_EPOCHS))
    assert json.loads((run_dir / "tune.json").read_text())["status"] == "complete"
    load_datasets()
    best = keras.saving.load_model(run_dir / "best" / "model.keras", safe_mode=True)
    assert isinstance(best, keras.Model)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_index_killed_at_random_moments_resumes_whole(tmp_path):
    import numpy as np

    from zoo.minilm import SentenceEncoder
    from zoo.tuning.indexing import SemanticIndex

    words = ["cat", "dog", "river", "bank", "stock", "film", "apple", "garden"]
    rng = random.Random(KILL_SEED + 2)
    texts = [
        f"document {i}: " + " ".join(rng.choice(words) for _ in range(6))
        for i in range(64)
    ]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n")
    out = tmp_path / "index"
    argv = ["index", str(corpus), "--out", str(out), "--encoder", "random"]
    argv += ["--chunk-size", "4"]

    def spawn(resume):
        return _zoo([*argv, "--resume"] if resume else argv)

    landed = _kill_at_random_then_finish(spawn, out, 3, (0.0, 1.0), rng)
    assert landed >= 1, landed
    index = SemanticIndex(str(out))  # complete, and its files agree on the count
    assert index.manifest["complete"] and index.index.ntotal == len(texts)
    # Every document once, in order, with its own vector.
    assert index.documents["text"].tolist() == texts
    vectors = np.load(out / "vectors.npy")
    expected = SentenceEncoder("random").encode(texts)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    top = index.search(texts[::8], k=1)
    assert top["doc_id"].tolist() == list(range(0, len(texts), 8))
    assert not (out / "chunks").exists()

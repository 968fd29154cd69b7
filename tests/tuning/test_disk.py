"""Writes: disk full ends in one line and resumes; kills leave no temporaries;
the atomic writer never touches the process umask."""

import errno
import os

import keras
import pytest

from zoo.tuning.io import (
    DiskFullError,
    atomic_path,
    clean_temporaries,
    write_json,
    write_text,
)


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_atomic_writer_leaves_the_umask_alone(tmp_path, monkeypatch):
    umask = os.umask(0o022)
    os.umask(umask)

    def no_umask(*args):
        raise AssertionError("the process umask was changed")

    monkeypatch.setattr(os, "umask", no_umask)
    write_json(tmp_path / "a.json", {"x": 1})
    mode = os.stat(tmp_path / "a.json").st_mode & 0o777
    assert mode == 0o666 & ~umask


def test_disk_full_in_a_write_names_the_file(tmp_path):
    target = tmp_path / "results.csv"
    with (
        pytest.raises(DiskFullError, match="results.csv.*--resume") as caught,
        atomic_path(target),
    ):
        _disk_full()
    assert "\n" not in str(caught.value)
    assert not target.exists() and os.listdir(tmp_path) == []


def test_temporaries_of_a_kill_are_cleaned(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "backup").mkdir()
    left = [
        tmp_path / "checkpoints" / ".best.k2j4_9xq.tmp.weights.h5",  # mkstemp's
        tmp_path / "backup" / ".epoch_3.0a1b2c3d.tmp.weights.h5",
        tmp_path / ".config.0a1b2c3d.tmp.json",
    ]
    kept = [tmp_path / "config.json", tmp_path / "checkpoints" / "best.weights.h5"]
    for path in left + kept:
        path.write_text("x")
    assert sorted(clean_temporaries(tmp_path)) == sorted(map(str, left))
    assert all(path.exists() for path in kept)


def test_train_cleans_temporaries_when_it_starts(tmp_path, monkeypatch):
    import zoo.tuning.train as train_module

    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    write_json(
        run / "config.json", {"status": "running", "model": "mlp_tiny", "data": "iris"}
    )
    left = run / "backup" / ".epoch_1.0a1b2c3d.tmp.weights.h5"
    left.write_text("half")

    def stop(*args, **kwargs):
        raise RuntimeError("stop")

    monkeypatch.setattr(train_module, "prepare", stop)
    with pytest.raises(RuntimeError):
        train_module.train("mlp_tiny", run_dir=run, resume=True, epochs=1)
    assert not left.exists()


@pytest.mark.slow
def test_disk_full_while_training_is_one_line_and_resumes(
    tmp_path, monkeypatch, capsys
):
    from zoo.tuning.cli import main

    run = str(tmp_path / "run")
    argv = ["train", "mlp_tiny", "--data", "iris", "--epochs", "2", "--run-dir", run]
    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save_weights", _disk_full)
        assert main([*argv, "--verbose", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left to write" in err, err
    assert "weights.h5" in err and "--resume" in err
    assert main([*argv, "--verbose", "0", "--resume"]) == 0
    assert os.path.exists(os.path.join(run, "model.keras"))


def _full_for(stem):
    """An `_fsync` stand-in: the disk is full for temporaries of `stem`
    (`atomic_path` names them `.<stem>.<hex>.tmp<ext>` beside the target)."""
    import zoo.tuning.io

    fsync = zoo.tuning.io._fsync

    def fsync_or_full(temporary):
        if os.path.basename(temporary).startswith(f".{stem}."):
            _disk_full()
        fsync(temporary)

    return fsync_or_full


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stem", "named"),
    [
        ("best", "checkpoints/best.weights.h5"),  # the checkpoint
        ("epoch-00001", "backup/epoch-00001.weights.h5"),  # the backup
        ("history", "history.csv"),  # results
        ("metrics", "metrics.json"),
        ("loss", "plots/loss.png"),  # the report's pictures
    ],
)
def test_disk_full_at_each_train_write_is_one_line(
    stem, named, tmp_path, monkeypatch, capsys
):
    import zoo.tuning.io
    from zoo.tuning.cli import main

    run = str(tmp_path / "run")
    argv = ["train", "mlp_tiny", "--data", "iris", "--epochs", "2", "--run-dir", run]
    argv += ["--verbose", "0", "--no-tensorboard", "--monitor", "loss"]
    with monkeypatch.context() as patch:
        patch.setattr(zoo.tuning.io, "_fsync", _full_for(stem))
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left to write" in err, err
    assert os.path.join(run, named) in err and "--resume" in err, err
    assert clean_temporaries(run) == []  # the failed write left nothing
    assert main([*argv, "--resume"]) == 0, capsys.readouterr().err
    assert os.path.exists(os.path.join(run, "model.keras"))
    assert os.path.exists(os.path.join(run, named)) or named.startswith("backup")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stem", "again"),
    [
        ("results", ["--resume"]),  # results.csv, after the trial
        # The first tune.json: no search on disk yet, and --resume would be
        # refused ("holds no search to resume"): the line says to rerun.
        ("tune", []),
    ],
)
def test_disk_full_at_a_search_write_is_one_line(
    stem, again, tmp_path, monkeypatch, capsys
):
    import zoo.tuning.io
    from zoo.tuning.cli import main

    run = str(tmp_path / "t")
    argv = ["tune", "mlp_tiny", "--data", "iris", "--run-dir", run, "--epochs", "1"]
    argv += ["--max-trials", "1", "--verbose", "0", "--no-tensorboard"]
    with monkeypatch.context() as patch:
        patch.setattr(zoo.tuning.io, "_fsync", _full_for(stem))
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left to write" in err, err
    assert os.path.join(run, f"{stem}.") in err, err
    assert ("--resume" in err) == bool(again), err
    assert main([*argv, *again]) == 0, capsys.readouterr().err
    assert os.path.exists(os.path.join(run, "results.csv"))
    assert os.path.exists(os.path.join(run, "best", "model.keras"))


@pytest.mark.slow
def test_disk_full_stops_a_search_in_one_line(tmp_path, monkeypatch):
    from zoo.tuning.search import tune

    monkeypatch.setattr(keras.Model, "save_weights", _disk_full)
    with pytest.raises(DiskFullError, match="--resume"):
        tune("mlp_tiny", "iris", run_dir=tmp_path / "t", max_trials=2, epochs=1)


def test_write_text_refuses_nothing_else(tmp_path):
    write_text(tmp_path / "r.txt", "ok")
    assert (tmp_path / "r.txt").read_text() == "ok"

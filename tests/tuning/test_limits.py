"""Limits: no image is decoded past its pixel budget; no worker waits forever."""

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from zoo.datasets.base import load_data
from zoo.datasets.image_ops import check_pixel_budget, load_image_files
from zoo.errors import DataError, ZooError


def _png_claiming(width, height):
    """A small PNG whose header claims `width` x `height` (a decompression bomb)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    # IHDR: length(4) type(4) width(4) height(4) ... crc(4), starting at byte 8.
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    return bytes(data)


def _folder(tmp_path, bomb=True):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i * 40, 9, 9)).save(tmp_path / name / f"{i}.png")
    if bomb:
        (tmp_path / "cat" / "bomb.png").write_bytes(_png_claiming(20000, 20000))
    return str(tmp_path)


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    root = _folder(tmp_path)
    started = time.perf_counter()
    with pytest.raises(
        DataError, match="bomb.png is 400000000 pixels, over the budget"
    ):
        load_data(root, kind="image")
    assert time.perf_counter() - started < 30
    with pytest.raises(DataError, match="400000000 pixels"):
        load_image_files([tmp_path / "cat" / "bomb.png"], 8, 1)


def test_the_pixel_budget_is_an_option(tmp_path):
    root = _folder(tmp_path, bomb=False)
    with pytest.raises(
        DataError, match="8x8, over the budget of 10 pixels.*max_pixels"
    ):
        load_data(root, kind="image", max_pixels=10)
    bundle = load_data(root, kind="image", max_pixels=64)
    assert bundle.num_classes == 2
    with pytest.raises(DataError, match="max_pixels must be a positive integer"):
        check_pixel_budget([], max_pixels="many")


def test_a_worker_without_a_chief_gives_up(monkeypatch):
    from zoo.tuning import distributed

    port = distributed.free_port()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    started = time.perf_counter()
    with pytest.raises(
        ZooError, match=f"No chief answered at 127.0.0.1:{port} within 1 s"
    ):
        distributed.wait_for_chief(1)
    assert time.perf_counter() - started < 10


def test_zoo_tune_worker_alone_is_one_line(tmp_path, capsys):
    from zoo.tuning import distributed
    from zoo.tuning.cli import main

    address = f"127.0.0.1:{distributed.free_port()}"
    argv = ["tune", "mlp_tiny", "--data", "iris", "--run-dir", str(tmp_path / "t")]
    argv += ["--distributed", "worker", "--oracle-address", address]
    try:
        assert main([*argv, "--chief-timeout", "1"]) == 2
    finally:
        for name in (
            "KERASTUNER_TUNER_ID",
            "KERASTUNER_ORACLE_IP",
            "KERASTUNER_ORACLE_PORT",
        ):
            import os

            os.environ.pop(name, None)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No chief answered" in err, err

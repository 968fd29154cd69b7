"""PyTorch checkpoints written by hand (pickle opcodes, no PyTorch), for tests.

`write_checkpoint` writes a state dict the way `torch.save` does, in the zip
format or the legacy one, so the reader is tested on both layouts; `extra`
slips any pickled object in beside the tensors (a refused class).
"""

import hashlib
import struct
import zipfile

import numpy as np

_STORAGES = {
    "float32": "FloatStorage",
    "int64": "LongStorage",
    "float16": "HalfStorage",
}


def op_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_str(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def op_int(value):
    return b"J" + struct.pack("<i", value)


def op_tuple(*items):
    return b"(" + b"".join(items) + b"t"


def op_call(module, name, *args):
    """`module.name(*args)`: GLOBAL, an argument tuple, REDUCE."""
    return op_global(module, name) + op_tuple(*args) + b"R"


def _tensor(key, array, numel, legacy):
    pid = [op_str("storage"), op_global("torch", _STORAGES[array.dtype.name])]
    pid += [op_str(key), op_str("cpu"), op_int(numel)]
    if legacy:
        pid.append(b"N")  # No view.
    hooks = op_global("collections", "OrderedDict") + b")R"
    return op_call(
        "torch._utils",
        "_rebuild_tensor_v2",
        op_tuple(*pid) + b"Q",
        op_int(0),
        op_tuple(*(op_int(n) for n in array.shape)),
        op_tuple(*(op_int(s // array.itemsize) for s in array.strides)),
        b"\x89",
        hooks,
    )


def state_dict_pickle(tensors, *, extra=b"", legacy=False, numel=None):
    """The pickle of an `OrderedDict` of tensors, storage keys "0", "1", ...

    `numel` overrides every storage's declared size (a corrupt file).
    """
    body = b"\x80\x02" + op_global("collections", "OrderedDict") + b")R("
    for index, (name, array) in enumerate(tensors.items()):
        size = array.size if numel is None else numel
        body += op_str(name) + _tensor(str(index), array, size, legacy)
    if extra:
        body += op_str("extra") + extra
    return body + b"u."


def write_checkpoint(path, tensors, *, extra=b"", legacy=False):
    """Writes `{name: array}` as `torch.save` would; returns the SHA-256."""
    tensors = {name: np.asarray(array) for name, array in tensors.items()}
    # A storage holds a dense array's elements in memory order, so a
    # transposed array keeps its strides (in elements) over the same bytes.
    buffers = [array.ravel(order="K") for array in tensors.values()]
    pickled = state_dict_pickle(tensors, extra=extra, legacy=legacy)
    if legacy:
        with open(path, "wb") as handle:
            magic = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
            handle.write(b"\x80\x02\x8a\x0a" + magic + b".")
            handle.write(b"\x80\x02M\xe9\x03.")  # Protocol 1001.
            handle.write(b"\x80\x02}.")  # System info.
            handle.write(pickled)
            keys = b"".join(op_str(str(i)) for i in range(len(buffers)))
            handle.write(b"\x80\x02(" + keys + b"l.")
            for buffer in buffers:
                handle.write(struct.pack("<q", buffer.size) + buffer.tobytes())
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", pickled)
            for index, buffer in enumerate(buffers):
                archive.writestr(f"archive/data/{index}", buffer.tobytes())
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()

"""Atomic file writes: a kill never leaves a half-written file behind."""

import contextlib
import json
import os
import shutil
import tempfile

from zoo.errors import ZooError


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; renames it over `path` on success."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    stem, extension = os.path.splitext(base)
    if base.endswith(".weights.h5"):
        stem, extension = base[: -len(".weights.h5")], ".weights.h5"
    handle, temporary = tempfile.mkstemp(
        prefix=f".{stem}.", suffix=f".tmp{extension}", dir=directory
    )
    os.close(handle)
    try:
        yield temporary
        _fsync(temporary)
        # mkstemp makes 0600 files; give results the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _fsync(path):
    try:
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    except OSError:
        pass


def copy_file(source, path):
    """Copies the file `source` to `path` atomically."""
    with atomic_path(path) as temporary:
        shutil.copyfile(source, temporary)


def write_text(path, text):
    with (
        atomic_path(path) as temporary,
        open(temporary, "w", encoding="utf-8") as handle,
    ):
        handle.write(text)


def write_json(path, data):
    write_text(
        path, json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n"
    )


def read_json(path, default=None):
    """The JSON in `path`, `default` if it is missing, `ZooError` if corrupt."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        # Our own writes are atomic, so this is damage from outside the zoo.
        raise ZooError(
            f"{path} is corrupt ({getattr(error, 'msg', error)}); delete it "
            "(or its run folder) and run again."
        ) from None


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | tuple):
        return list(value)
    return str(value)


def write_frame_csv(path, frame):
    """Writes a pandas DataFrame as CSV atomically."""
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)


def save_model(model, path):
    """Saves a Keras model (`.keras`) atomically."""
    with atomic_path(path) as temporary:
        model.save(temporary)

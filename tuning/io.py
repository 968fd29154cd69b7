"""Atomic file writes: a kill never leaves a half-written file behind."""

import contextlib
import errno
import json
import os
import re
import secrets
import shutil

from zoo.errors import ZooError


class DiskFullError(ZooError):
    """A write failed for want of space; the run resumes once space is freed."""

    def __init__(self, path, resume=True):
        self.path = path
        then = " with --resume to continue from the last saved epoch" if resume else ""
        super().__init__(
            f"No space left to write {path}; free some space there and rerun the "
            f"same command{then}."
        )


def is_disk_full(error):
    """Whether `error` says the disk (or a quota) is full: the errno, or the
    message where a library (h5py) drops it."""
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "No space left on device" in str(error) or "Disk quota exceeded" in str(
        error
    )


@contextlib.contextmanager
def disk_full_as_error(where):
    """Turns a disk-full `OSError` in its body (a write outside `atomic_path`:
    TensorBoard, KerasTuner's state) into a `DiskFullError` naming `where`."""
    try:
        yield
    except DiskFullError:
        raise
    except OSError as error:
        if not is_disk_full(error):
            raise
        raise DiskFullError(where) from None


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
    temporary = _create_temporary(directory, f".{stem}.", f".tmp{extension}")
    try:
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
    except OSError as error:
        if is_disk_full(error):
            raise DiskFullError(path) from None
        raise
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _create_temporary(directory, prefix, suffix):
    """Creates an empty, new file; its mode is 0666 less the umask.

    Not `tempfile.mkstemp`: its 0600 files needed the umask read back to
    widen them, and `os.umask` can only be read by setting it, which changes
    it for every thread of the process for a moment.
    """
    for _ in range(100):
        name = f"{prefix}{secrets.token_hex(4)}{suffix}"
        temporary = os.path.join(directory, name)
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(handle)
        return temporary
    raise FileExistsError(f"No free temporary name in {directory}.")


# What `atomic_path` names its temporaries: `.<stem>.<8 chars>.tmp<ext>`
# (mkstemp's 8 characters in folders written before, hex now).
_TEMPORARY = re.compile(r"^\..+\.[0-9A-Za-z_]{8}\.tmp(\.[A-Za-z0-9.]+)?$")


def clean_temporaries(run_dir):
    """Removes the temporaries a killed writer left anywhere under `run_dir`.

    Call it when a run or search starts, before anything writes there.

    Returns:
        The paths removed.
    """
    removed = []
    for root, _, files in os.walk(os.fspath(run_dir)):
        for name in files:
            if _TEMPORARY.match(name):
                path = os.path.join(root, name)
                with contextlib.suppress(OSError):
                    os.remove(path)
                    removed.append(path)
    return removed


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

"""Downloads that are checked before use: SHA-256 first, safe extraction.

`fetch(url, sha256=...)` downloads to a temporary name in the cache folder,
hashes the bytes as they arrive, and only renames the file into place when
the hash matches, so neither a tampered file nor a half-finished download is
ever used. Archives are extracted with `tarfile`'s "data" filter (no absolute
paths, no `..`, no links out of the folder, no device files) and with the
same checks on every zip member, into a temporary folder renamed at the end.

Example:
>>> path = fetch(  # doctest: +SKIP
...     "https://example.org/data.tar.gz",
...     sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
...     extract=True,
... )
"""

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from zoo.errors import DataError

CHUNK = 1 << 20
TIMEOUT_SECONDS = 60

# Monkeypatched by tests; `urlopen` also serves file:// URLs.
_urlopen = urllib.request.urlopen


def default_cache_dir():
    """`$KERAS_HOME/zoo`, or `~/.keras/zoo` when KERAS_HOME is unset."""
    home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(home, "zoo")


def file_sha256(path):
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_hash_text(sha256):
    text = str(sha256 or "").strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise DataError(
            f"sha256 must be the 64 hex digits of the file's SHA-256, got {sha256!r}; "
            "compute it with `sha256sum FILE`."
        )
    return text


def _file_name(url, file_name):
    name = file_name or os.path.basename(urllib.parse.urlparse(url).path)
    if not name or name in (".", "..") or os.path.basename(name) != name:
        raise DataError(
            f"Cannot tell a file name from {url!r}; pass file_name='data.tar.gz'."
        )
    return name


def fetch(url, *, sha256, cache_dir=None, extract=False, file_name=None):
    """Downloads `url` into the cache (once) and checks its SHA-256.

    Args:
        url: An http(s):// or file:// URL.
        sha256: The expected hex SHA-256 of the file. Required: nothing is
            used unchecked.
        cache_dir: Folder of the cache; `default_cache_dir()` when None.
        extract: Extract a .tar(.gz/.bz2/.xz) or .zip archive beside it and
            return the folder.
        file_name: Name to store the file under (default: the URL's).

    Returns:
        The path of the verified file, or of the extracted folder.

    Raises:
        DataError: The download failed, the hash differs (both are named) or
            the archive holds unsafe or unreadable members.
    """
    expected = _check_hash_text(sha256)
    cache_dir = os.fspath(cache_dir or default_cache_dir())
    name = _file_name(url, file_name)
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"Cannot create cache folder {cache_dir} ({error.strerror}); set KERAS_HOME "
            "to a writable folder."
        ) from None
    path = os.path.join(cache_dir, name)
    if not (os.path.isfile(path) and file_sha256(path) == expected):
        _download(url, path, expected)
    if not extract:
        return path
    destination = path + ".extracted"
    marker = os.path.join(destination, ".sha256")
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as handle:
            if handle.read().strip() == expected:
                return destination
    safe_extract(path, destination)
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(expected)
    return destination


def _download(url, path, expected):
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".part", dir=directory
    )
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with _urlopen(url, timeout=TIMEOUT_SECONDS) as response:
                    for chunk in iter(lambda: response.read(CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as error:
                reason = getattr(error, "reason", None) or error
                raise DataError(
                    f"Cannot download {url} ({reason}); check the address and the "
                    f"connection, or put the file at {path}."
                ) from None
        actual = digest.hexdigest()
        if actual != expected:
            raise DataError(
                f"{url} has SHA-256 {actual} but {expected} was expected; the file "
                "is corrupt or has been changed, so it was not used."
            )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _unsafe_member_reason(name):
    """Why a zip member name is unsafe, or None."""
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return "an absolute path"
    if ".." in normalized.split("/"):
        return "a '..' component"
    if "\x00" in normalized:
        return "a NUL byte"
    return None


def safe_extract(archive, destination):
    """Extracts a tar or zip archive into `destination` without escaping it.

    Extraction goes to a temporary folder that is renamed to `destination`
    once complete, so a kill never leaves a half-extracted folder behind a
    trusted name.
    """
    archive = os.fspath(archive)
    destination = os.fspath(destination)
    parent = os.path.dirname(os.path.abspath(destination))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(
        prefix=f".{os.path.basename(destination)}.", dir=parent
    )
    try:
        try:
            is_tar = not zipfile.is_zipfile(archive) and tarfile.is_tarfile(archive)
        except (tarfile.TarError, EOFError, OSError, ValueError) as error:
            raise DataError(f"Cannot extract {archive} ({error}).") from None
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, temporary)
        elif is_tar:
            _extract_tar(archive, temporary)
        else:
            raise DataError(
                f"{archive} is neither a tar nor a zip archive; pass extract=False."
            )
        if os.path.isdir(destination):
            shutil.rmtree(destination)
        os.replace(temporary, destination)
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary, ignore_errors=True)
    return destination


def _extract_tar(archive, destination):
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                # The data filter would quietly strip a leading "/"; refuse.
                reason = _unsafe_member_reason(member.name)
                if reason:
                    raise DataError(
                        f"{archive} holds an unsafe member {member.name!r} "
                        f"({reason}); it was not extracted."
                    )
            tar.extractall(destination, filter="data")
    except tarfile.FilterError as error:
        raise DataError(
            f"{archive} holds an unsafe member ({error}); it was not extracted."
        ) from None
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DataError(f"Cannot extract {archive} ({error}).") from None


def _extract_zip(archive, destination):
    root = os.path.realpath(destination)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            for member in members:
                reason = _unsafe_member_reason(member.filename)
                mode = member.external_attr >> 16
                if reason is None and stat.S_ISLNK(mode):
                    reason = "a symbolic link"
                target = os.path.realpath(os.path.join(root, member.filename))
                if reason is None and os.path.commonpath([root, target]) != root:
                    reason = "a path outside the folder"
                if reason:
                    raise DataError(
                        f"{archive} holds an unsafe member {member.filename!r} "
                        f"({reason}); it was not extracted."
                    )
            zipped.extractall(destination, members)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise DataError(f"Cannot extract {archive} ({error}).") from None

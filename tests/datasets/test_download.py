"""`zoo.datasets.download`: hash checked before use, archives extracted safely. Offline."""

import hashlib
import io
import os
import pathlib
import tarfile
import zipfile

import pytest

from zoo.datasets import download
from zoo.datasets.download import fetch, safe_extract
from zoo.errors import DataError, ZooError


@pytest.fixture(autouse=True)
def seeded():
    """Overrides the Keras seeding fixture: nothing here touches Keras."""
    yield


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _serve(tmp_path, name, data):
    """A file:// URL serving `data`."""
    source = tmp_path / "server" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return source.as_uri()


def _tar_bytes(members, mode="w:gz"):
    """`members`: (TarInfo fields, data or None) pairs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for fields, data in members:
            info = tarfile.TarInfo(fields["name"])
            for key, value in fields.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in members:
            zipped.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def test_fetch_verifies_and_caches(tmp_path):
    data = b"a,b\n1,2\n"
    url = _serve(tmp_path, "table.csv", data)
    cache = tmp_path / "cache"
    path = fetch(url, sha256=_sha(data), cache_dir=cache)
    assert pathlib.Path(path).read_bytes() == data
    assert os.path.dirname(path) == str(cache)
    # Cached: a second fetch does not read the URL again.
    os.remove(tmp_path / "server" / "table.csv")
    assert fetch(url, sha256=_sha(data).upper(), cache_dir=cache) == path
    # No temporary files left in the cache.
    assert os.listdir(cache) == ["table.csv"]


def test_hash_mismatch_names_both_hashes_and_keeps_nothing(tmp_path):
    data = b"tampered"
    url = _serve(tmp_path, "weights.h5", data)
    expected = _sha(b"original")
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        fetch(url, sha256=expected, cache_dir=cache)
    message = str(caught.value)
    assert expected in message and _sha(data) in message
    assert "\n" not in message
    assert os.listdir(cache) == []


def test_cached_file_with_wrong_hash_is_downloaded_again(tmp_path):
    data = b"good bytes"
    url = _serve(tmp_path, "f.bin", data)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.bin").write_bytes(b"corrupted on disk")
    path = fetch(url, sha256=_sha(data), cache_dir=cache)
    assert pathlib.Path(path).read_bytes() == data


def test_default_cache_dir_follows_keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    data = b"x"
    path = fetch(_serve(tmp_path, "x.txt", data), sha256=_sha(data))
    assert path == str(tmp_path / "kh" / "zoo" / "x.txt")
    monkeypatch.delenv("KERAS_HOME")
    assert download.default_cache_dir() == os.path.join(
        os.path.expanduser("~"), ".keras", "zoo"
    )


@pytest.mark.parametrize(
    "sha256", [None, "", "abc", "g" * 64, "0" * 63, 12345], ids=repr
)
def test_bad_hash_argument(tmp_path, sha256):
    with pytest.raises(DataError, match="64 hex digits"):
        fetch(_serve(tmp_path, "a.txt", b"a"), sha256=sha256, cache_dir=tmp_path)


def test_unreachable_url_is_data_error(tmp_path, monkeypatch):
    import urllib.error

    def refuse(url, timeout):
        raise urllib.error.URLError("network is off in tests")

    monkeypatch.setattr(download, "_urlopen", refuse)
    with pytest.raises(DataError, match="Cannot download .*network is off"):
        fetch("https://example.org/a.zip", sha256="0" * 64, cache_dir=tmp_path)
    assert os.listdir(tmp_path) == []
    with pytest.raises(DataError, match="Cannot download"):
        fetch((tmp_path / "missing.bin").as_uri(), sha256="0" * 64, cache_dir=tmp_path)


def test_download_cut_off_midway_leaves_nothing(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 10:
                raise ConnectionResetError("connection reset")
            return super().read(11)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(download, "_urlopen", lambda url, timeout: Broken(b"x" * 100))
    with pytest.raises(DataError, match="connection reset"):
        fetch("https://example.org/f.bin", sha256="0" * 64, cache_dir=tmp_path)
    assert os.listdir(tmp_path) == []


def test_url_without_file_name(tmp_path):
    with pytest.raises(DataError, match="file_name"):
        fetch("https://example.org/", sha256="0" * 64, cache_dir=tmp_path)


def test_extract_tar_and_zip(tmp_path):
    tar = _tar_bytes([({"name": "data/a.txt"}, b"A"), ({"name": "b.txt"}, b"B")])
    folder = fetch(
        _serve(tmp_path, "d.tar.gz", tar),
        sha256=_sha(tar),
        cache_dir=tmp_path / "c",
        extract=True,
    )
    assert pathlib.Path(os.path.join(folder, "data", "a.txt")).read_text() == "A"
    assert pathlib.Path(os.path.join(folder, "b.txt")).read_text() == "B"
    zipped = _zip_bytes([("z/c.txt", b"C")])
    folder = fetch(
        _serve(tmp_path, "d.zip", zipped),
        sha256=_sha(zipped),
        cache_dir=tmp_path / "c",
        extract=True,
    )
    assert pathlib.Path(os.path.join(folder, "z", "c.txt")).read_text() == "C"
    # Extracted once: a second call reuses the folder.
    os.remove(os.path.join(folder, "z", "c.txt"))
    again = fetch(
        _serve(tmp_path, "d.zip", zipped),
        sha256=_sha(zipped),
        cache_dir=tmp_path / "c",
        extract=True,
    )
    assert again == folder


UNSAFE_TARS = {
    "absolute": [({"name": "/tmp/zoo-evil.txt"}, b"x")],
    "dotdot": [({"name": "../evil.txt"}, b"x")],
    "nested_dotdot": [({"name": "ok/../../evil.txt"}, b"x")],
    "symlink_out": [
        ({"name": "link", "type": tarfile.SYMTYPE, "linkname": "/etc"}, None)
    ],
    "hardlink_out": [
        (
            {"name": "hard", "type": tarfile.LNKTYPE, "linkname": "../../etc/passwd"},
            None,
        )
    ],
    "device": [({"name": "dev", "type": tarfile.CHRTYPE}, None)],
}


@pytest.mark.parametrize("case", sorted(UNSAFE_TARS))
def test_unsafe_tar_members_are_refused(tmp_path, case):
    archive = tmp_path / "evil.tar"
    archive.write_bytes(_tar_bytes(UNSAFE_TARS[case], mode="w"))
    destination = tmp_path / "out" / "dest"
    with pytest.raises(ZooError, match="unsafe member|Cannot extract"):
        safe_extract(archive, destination)
    assert not destination.exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "evil.txt").exists()
    # No half-extracted temporary folder left behind.
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize(
    "name",
    ["/abs/evil.txt", "../evil.txt", "a/../../evil.txt", "..\\evil.txt", "C:/evil.txt"],
)
def test_unsafe_zip_members_are_refused(tmp_path, name):
    archive = tmp_path / "evil.zip"
    archive.write_bytes(_zip_bytes([("fine.txt", b"ok"), (name, b"x")]))
    destination = tmp_path / "out" / "dest"
    with pytest.raises(DataError, match="unsafe member"):
        safe_extract(archive, destination)
    assert not destination.exists()
    assert not (tmp_path / "evil.txt").exists()
    assert os.listdir(tmp_path / "out") == []


def test_zip_symlink_member_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777) << 16
        zipped.writestr(info, "/etc/passwd")
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="symbolic link"):
        safe_extract(archive, tmp_path / "dest")


@pytest.mark.parametrize("data", [b"", b"not an archive at all", b"PK\x03\x04junk"])
def test_not_an_archive(tmp_path, data):
    archive = tmp_path / "x.bin"
    archive.write_bytes(data)
    with pytest.raises(DataError):
        safe_extract(archive, tmp_path / "dest")


def test_truncated_tar_is_data_error(tmp_path):
    data = _tar_bytes([({"name": "a.txt"}, b"A" * 5000)])
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError):
        safe_extract(archive, tmp_path / "dest")

"""sparkeo.storage against a local folder and a real S3 server (moto in server mode)."""
from __future__ import annotations

import hashlib
import os
import stat

import pytest

from sparkeo import storage
from sparkeo.errors import NotFoundInStorage, RunError, StorageError, UserError
from tests.fixtures.fault_proxy import FaultPlan
from tests.fixtures.umask import umask  # noqa: F401


@pytest.fixture(params=["local", "s3"])
def root(request, tmp_path) -> str:
    """A results-like location: a temp folder, or a prefix in a fresh moto bucket."""
    if request.param == "local":
        return str(tmp_path / "store")
    bucket = request.getfixturevalue("s3")
    return bucket.uri("some/prefix")


def test_write_read_stat_roundtrip(root):
    uri = storage.join(root, "a", "b.json")
    storage.write_bytes(uri, b'{"x": 1}', content_type="application/json")
    assert storage.read_text(uri) == '{"x": 1}'
    info = storage.stat(uri)
    assert (info.uri, info.size) == (uri, 8)
    assert info.fingerprint
    assert storage.exists(uri)
    storage.write_bytes(uri, b"changed")
    assert storage.read_bytes(uri) == b"changed"
    assert storage.stat(uri).fingerprint != info.fingerprint


def test_missing_object_is_user_error_naming_the_uri(root):
    uri = storage.join(root, "nope.json")
    with pytest.raises(NotFoundInStorage) as err:
        storage.read_bytes(uri)
    assert isinstance(err.value, UserError) and uri in str(err.value)
    assert not storage.exists(uri)
    with pytest.raises(NotFoundInStorage):
        storage.stat(uri)


def test_list_prefix_is_sorted_and_stays_below_the_prefix(root):
    for name in ("j1/b.tif", "j1/a.tif", "j1/sub/c.json", "j10/x.tif"):
        storage.write_bytes(storage.join(root, name), name.encode())
    listed = storage.list_prefix(storage.join(root, "j1"))
    assert [o.uri for o in listed] == [storage.join(root, n) for n in ("j1/a.tif", "j1/b.tif", "j1/sub/c.json")]
    assert [o.size for o in listed] == [len(n) for n in ("j1/a.tif", "j1/b.tif", "j1/sub/c.json")]
    assert storage.list_prefix(storage.join(root, "nothing-here")) == []


def test_delete_and_delete_prefix_with_keep(root):
    names = ("job/a.tif", "job/b.tif", "job/collection.json", "other/z.tif")
    for name in names:
        storage.write_bytes(storage.join(root, name), b"x")
    storage.delete(storage.join(root, "job/collection.json"))
    storage.delete(storage.join(root, "job/collection.json"))  # already gone: fine
    keep = {storage.join(root, "job/b.tif")}
    assert storage.delete_prefix(storage.join(root, "job"), keep=keep) == 1
    assert [o.uri for o in storage.list_prefix(storage.join(root, "job"))] == sorted(keep)
    assert storage.exists(storage.join(root, "other/z.tif"))


def test_delete_prefix_refuses_a_whole_bucket(s3):
    storage.write_bytes(s3.uri("keep/me.txt"), b"x")
    with pytest.raises(StorageError) as err:
        storage.delete_prefix(f"s3://{s3.name}/")
    assert "refusing" in str(err.value) and f"s3://{s3.name}/" in str(err.value)
    assert storage.exists(s3.uri("keep/me.txt"))


def test_upload_and_download_roundtrip(root, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    src.write_bytes(data)
    uri = storage.join(root, "big.bin")
    storage.upload_file(str(src), uri, content_type="image/tiff")
    assert storage.stat(uri).size == len(data)
    out = tmp_path / "dl" / "big.bin"
    storage.download(uri, str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_local_files_and_folders_get_the_process_umask(root, tmp_path, umask):  # noqa: F811
    """Not mkstemp's 0600: written and downloaded files are as readable as the user's umask says."""
    uri = storage.join(root, "a", "b.json")
    storage.write_bytes(uri, b"{}")
    downloaded = tmp_path / "downloads" / "b.json"
    storage.download(uri, str(downloaded))
    files = [downloaded] if storage.is_s3(root) else [downloaded, uri]
    assert {oct(stat.S_IMODE(os.stat(f).st_mode)) for f in files} == {oct(0o666 & ~umask)}
    assert oct(stat.S_IMODE(os.stat(downloaded.parent).st_mode)) == oct(0o777 & ~umask)


def test_large_s3_upload_is_multipart(s3, tmp_path):
    src = tmp_path / "big.bin"
    data = os.urandom(11 * 1024 * 1024)
    src.write_bytes(data)
    storage.upload_file(str(src), s3.uri("cog/big.bin"), part_size=5 * 1024 * 1024)
    storage.upload_file(str(src), s3.uri("cog/single.bin"))  # below the 16 MiB default threshold
    objects = s3.objects("cog/")
    # An S3 ETag of a multipart upload is "<md5 of part md5s>-<number of parts>".
    assert objects["cog/big.bin"]["ETag"].strip('"').endswith("-3")
    assert "-" not in objects["cog/single.bin"]["ETag"]
    assert storage.read_bytes(s3.uri("cog/big.bin")) == data


def test_local_write_is_atomic(tmp_path):
    target = tmp_path / "out" / "file.bin"

    def fail_halfway(fh):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError) as err:
        storage._write_local(str(target), fail_halfway)
    assert str(target) in str(err.value) and "No space left" in str(err.value)
    assert list(target.parent.iterdir()) == []  # no partial file, no temp file


def test_s3_refused_write_is_run_error_naming_the_uri(s3, fault_proxy, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)
    fault_proxy.set_plan(FaultPlan(fail_writes_after=0))
    uri = s3.uri("denied/x.json")
    with pytest.raises(StorageError) as err:
        storage.write_bytes(uri, b"{}")
    assert isinstance(err.value, RunError) and uri in str(err.value) and "AccessDenied" in str(err.value)
    assert fault_proxy.stats["writes_refused"] == 1  # 403 is final: boto3 does not retry it
    assert "denied/x.json" not in s3.objects()


@pytest.mark.parametrize("base,href,expected", [
    ("s3://b/cat/catalog.json", "items/a.json", "s3://b/cat/items/a.json"),
    ("s3://b/cat/sub/collection.json", "../items/a.json", "s3://b/cat/items/a.json"),
    ("s3://b/cat/catalog.json", "s3://other/x.tif", "s3://other/x.tif"),
    ("/data/cat/catalog.json", "./items/a.json", "/data/cat/items/a.json"),
    ("/data/cat/catalog.json", "/abs/x.tif", "/abs/x.tif"),
], ids=["s3-child", "s3-parent", "s3-absolute", "local-child", "local-absolute"])
def test_resolve(base, href, expected):
    assert storage.resolve(base, href) == expected


def test_client_follows_the_endpoint_variable(s3, fault_proxy, monkeypatch):
    storage.write_bytes(s3.uri("k.txt"), b"direct")
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)
    assert storage.read_bytes(s3.uri("k.txt")) == b"direct"
    assert [r.method for r in fault_proxy.log] == ["GET"]

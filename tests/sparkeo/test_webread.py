"""sparkeo.storage reading ``http://`` documents (sparkeo.webread) from a real local HTTP server."""
from __future__ import annotations

import os
import time

import pytest

from sparkeo import storage
from sparkeo.errors import NotFoundInStorage, StorageError
from sparkeo.testing.webserver import serve_folder


def test_read_stat_and_resolve_over_http(tmp_path):
    (tmp_path / "stac").mkdir()
    doc = tmp_path / "stac" / "collection.json"
    doc.write_text('{"id": "c"}')
    with serve_folder(str(tmp_path)) as web:
        url = web.url_of("stac/collection.json")
        assert storage.read_bytes(url) == b'{"id": "c"}'
        before = storage.stat(url)
        assert before.size == 11
        os.utime(doc, (time.time() + 10, time.time() + 10))       # Last-Modified moves: the fingerprint too
        assert storage.stat(url).fingerprint != before.fingerprint
        assert storage.resolve(url, "./items/a.json") == f"{web.url}/stac/items/a.json"
        assert storage.resolve(url, "../catalog.json") == f"{web.url}/catalog.json"
        # an absolute path stays a path (a STAC API over a FUSE-mounted archive), not one on the host
        assert storage.resolve(url, "/eodata/b.tif") == "/eodata/b.tif"
        assert storage.resolve(url, "s3://bucket/c.tif") == "s3://bucket/c.tif"
        with pytest.raises(NotFoundInStorage, match="missing.json"):
            storage.read_bytes(web.url_of("missing.json"))
        gone = web.url
    with pytest.raises(StorageError, match="127.0.0.1"):
        storage.read_bytes(f"{gone}/stac/collection.json")

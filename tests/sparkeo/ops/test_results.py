"""``list_results`` and ``download_results`` called directly, on results written by hand."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jobs.results.reader import NotAResultsDocument, ResultsNotFound
from sparkeo.contracts import COLLECTION_FILE, METADATA_FILE
from sparkeo.errors import RunError
from sparkeo.ops.results import download_results, list_results


def results_at(root: Path, with_sizes: bool = True) -> Path:
    """A results location: two assets (one without ``file:size``), job metadata, the document last."""
    root.mkdir(parents=True)
    assets = {}
    for key, data in (("a", b"first asset"), ("b", b"the second asset")):
        (root / f"{key}.tif").write_bytes(data)
        assets[key] = {"href": f"./{key}.tif", "type": "image/tiff",
                       "file:checksum": "1220" + hashlib.sha256(data).hexdigest(), "datetime": "2023-05-01T00:00:00Z"}
        if with_sizes or key == "a":
            assets[key]["file:size"] = len(data)
    (root / METADATA_FILE).write_text(json.dumps({"job_id": "j-res"}))
    (root / COLLECTION_FILE).write_text(json.dumps({
        "type": "Collection", "id": "j-res", "openeo:status": "finished", "assets": assets,
        "links": [{"rel": "related", "href": f"./{METADATA_FILE}"}]}))
    return root


def test_listing_gives_every_asset_a_size(tmp_path):
    location = results_at(tmp_path / "res", with_sizes=False)
    listing = list_results(str(location))
    assert (listing.uri, listing.job_id, listing.status) == (str(location / COLLECTION_FILE), "j-res", "finished")
    assert [(a.key, a.size) for a in listing.assets] == [("a", 11), ("b", 16)]     # b's size asked of storage
    assert listing.total_size == 27 and listing.to_json()["total_size"] == 27
    assert list_results(str(location / COLLECTION_FILE)).assets == listing.assets


def test_download_copies_the_set_and_verifies_it(tmp_path):
    listing = list_results(str(results_at(tmp_path / "res")))
    paths = download_results(listing, str(tmp_path / "copy"))
    assert [Path(p).name for p in paths][-1] == COLLECTION_FILE
    assert (tmp_path / "copy" / "b.tif").read_bytes() == b"the second asset"
    assert (tmp_path / "copy" / METADATA_FILE).exists()


def test_a_tampered_asset_fails_the_download(tmp_path):
    location = results_at(tmp_path / "res")
    listing = list_results(str(location))
    (location / "a.tif").write_bytes(b"FIRST ASSET")                  # same size, other bytes
    with pytest.raises(RunError, match="checksum mismatch"):
        download_results(listing, str(tmp_path / "copy"))


def test_no_results_document_is_the_callers_error(tmp_path):
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "a.tif").write_bytes(b"half")
    with pytest.raises(ResultsNotFound, match="has not finished") as info:
        list_results(str(tmp_path / "partial"))
    assert info.value.exit_code == 2


def test_a_document_that_is_not_results_is_a_run_error(tmp_path):
    (tmp_path / COLLECTION_FILE).write_text(json.dumps({"type": "Collection"}))
    with pytest.raises(NotAResultsDocument, match="no 'assets' object") as info:
        list_results(str(tmp_path))
    assert info.value.exit_code == 1

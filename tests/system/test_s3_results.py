"""Results written to a real S3 server (moto) through the fault proxy, which logs every request.

A re-run deletes the earlier run's document and its objects the new run does not replace (never a
foreign object), then uploads job_metadata.json, the COGs (multipart when large) and their items,
and collection.json last; asset hrefs are the S3 URLs; a failed upload leaves no collection.json and
a location the next run may still replace.
"""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.plan.planner import TileTask
from jobs.results.writer import ResultsWriter
from sparkeo import storage
from sparkeo.errors import RunError, StorageError, UserError
from tests.fixtures.fault_proxy import FaultPlan

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0), (96, 128))


def write_results(output: str, labels: tuple[str, ...], seed: int = 0, grid: TileGrid = GRID,
                  job_id: str = "s3-job") -> list[str]:
    """A float32 time series (one band) written tile by tile and published; returns the URIs."""
    meta = CubeMeta(dims=("t", "bands", "y", "x"), labels={"t": labels, "bands": ("ndvi",)}, grid=grid,
                    dtype="float32", nodata=math.nan)
    values = np.random.default_rng(seed).random((len(labels), 1, *grid.shape), dtype=np.float32)
    writer = ResultsWriter(output, meta, grid)
    try:
        for index, window, tile_grid in grid.tiles(64):
            rows, cols = window.slices
            writer.write_tile(TileTask(index, window, tile_grid, 1), values[..., rows, cols])
        return writer.finish({"job_id": job_id, "graph_sha256": "00"}, None)
    except BaseException:
        writer.abort()
        raise


@pytest.fixture
def via_proxy(s3, fault_proxy, monkeypatch):
    """boto3 (sparkeo.storage) talks to moto through the proxy, so every request is logged."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)
    return fault_proxy


def writes(proxy) -> list[tuple[str, str]]:
    """(method, key path without query) of every mutating request, in order."""
    return [(r.method, r.path.split("?")[0]) for r in proxy.log if r.method in ("PUT", "POST", "DELETE")]


def test_results_go_to_s3_with_collection_json_last(s3, via_proxy):
    output = s3.uri("jobs/j1")
    files = write_results(output, ("2021-06-01", "2021-06-11"))
    assert files == [f"{output}/{n}" for n in ("2021-06-01.tif", "2021-06-11.tif", "job_metadata.json",
                                                  "collection.json")]
    # The metadata (the record of what sparkeo owns there), COGs, their STAC items, collection.json last.
    names = ["job_metadata.json", "2021-06-01.tif", "2021-06-11.tif", "2021-06-01.json", "2021-06-11.json",
             "collection.json"]
    order = [path.rsplit("/", 1)[-1] for method, path in writes(via_proxy) if method == "PUT"]
    assert order == names
    doc = json.loads(storage.read_text(f"{output}/collection.json"))
    objects = s3.objects("jobs/j1/")
    for key, asset in doc["assets"].items():
        assert asset["href"] == f"{output}/{key}.tif"
        body = storage.read_bytes(asset["href"])
        assert asset["file:size"] == len(body) == objects[f"jobs/j1/{key}.tif"]["Size"]
        assert asset["file:checksum"] == "1220" + hashlib.sha256(body).hexdigest()
        item = json.loads(storage.read_text(f"{output}/{key}.json"))
        assert item["assets"]["data"]["href"] == asset["href"]
    assert doc["links"][0] == {"rel": "self", "href": f"{output}/collection.json", "type": "application/json"}
    assert sorted(objects) == sorted(f"jobs/j1/{n}" for n in names)


def test_rerun_replaces_its_own_objects_first_and_leaves_foreign_ones(s3, via_proxy):
    output = s3.uri("jobs/j2")
    write_results(output, ("2021-06-01", "2021-06-11", "2021-06-21"), seed=1)
    storage.write_bytes(f"{output}/notes.txt", b"the team's own object")
    via_proxy.set_plan(FaultPlan())  # fresh log for the re-run
    write_results(output, ("2021-07-01", "2021-07-11"), seed=2)
    log = writes(via_proxy)
    # the old document goes first, then (one bulk delete) the old COGs and items, collection.json last
    assert log[0] == ("DELETE", f"/{s3.name}/jobs/j2/collection.json")
    assert log[1] == ("POST", f"/{s3.name}") and log[-1] == ("PUT", f"/{s3.name}/jobs/j2/collection.json")
    assert sorted(s3.objects("jobs/j2/")) == [f"jobs/j2/{n}" for n in
                                              ("2021-07-01.json", "2021-07-01.tif", "2021-07-11.json",
                                               "2021-07-11.tif", "collection.json", "job_metadata.json",
                                               "notes.txt")]
    assert storage.read_bytes(f"{output}/notes.txt") == b"the team's own object"
    doc = json.loads(storage.read_text(f"{output}/collection.json"))
    assert sorted(doc["assets"]) == ["2021-07-01", "2021-07-11"]


def test_upload_failure_mid_write_leaves_no_collection_json_and_a_replaceable_location(s3, via_proxy):
    output = s3.uri("jobs/j3")
    write_results(output, ("2021-06-01",), seed=3)  # a complete earlier run
    # allowed: the bulk delete of the old COG and item, job_metadata.json, the first new COG
    via_proxy.set_plan(FaultPlan(fail_writes_after=3))
    with pytest.raises(StorageError) as err:
        write_results(output, ("2021-07-01", "2021-07-11"), seed=4)
    assert isinstance(err.value, RunError) and f"{output}/2021-07-11.tif" in str(err.value)
    assert "AccessDenied" in str(err.value)
    assert sorted(s3.objects("jobs/j3/")) == ["jobs/j3/2021-07-01.tif", "jobs/j3/job_metadata.json"]
    assert via_proxy.stats["writes_refused"] == 1
    via_proxy.set_plan(FaultPlan())
    write_results(output, ("2021-07-01", "2021-07-11"), seed=4)   # the half-written location is still sparkeo's
    assert "jobs/j3/collection.json" in s3.objects("jobs/j3/")


def test_large_cog_is_uploaded_multipart(s3, via_proxy, monkeypatch):
    monkeypatch.setattr(storage, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)  # S3's smallest part size
    grid = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0), (1408, 1408))
    output = s3.uri("jobs/big")
    write_results(output, ("2021-06-01",), seed=5, grid=grid)  # random float32: ~7.5 MiB compressed
    cog = s3.objects("jobs/big/")["jobs/big/2021-06-01.tif"]
    assert cog["Size"] > 5 * 1024 * 1024
    assert cog["ETag"].strip('"').endswith("-2")  # multipart ETag: <md5 of parts>-<parts>
    parts = [r for r in via_proxy.log if r.method == "PUT" and "partNumber=" in r.path]
    assert len(parts) == 2
    doc = json.loads(storage.read_text(f"{output}/collection.json"))
    body = storage.read_bytes(f"{output}/2021-06-01.tif")
    assert doc["assets"]["2021-06-01"]["file:checksum"] == "1220" + hashlib.sha256(body).hexdigest()


def test_bucket_root_output_is_refused_before_anything_is_written(s3):
    with pytest.raises(UserError) as err:
        write_results(f"s3://{s3.name}", ("2021-06-01",))
    assert f"s3://{s3.name}" in str(err.value) and "needs a prefix" in str(err.value)
    assert s3.objects() == {}

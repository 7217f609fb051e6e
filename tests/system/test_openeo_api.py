"""``sparkeo serve`` driven by the official ``openeo`` client over real HTTP (tests.fixtures.api): local
mode, the session's ZooKeeper, the shared Spark session, the small sample catalog.

Spark runs three jobs here (a batch NDVI composite, a second batch job, one synchronous request);
the failed job fails in planning, the canceled one never starts.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import openeo
import pytest
import rasterio
import requests
from openeo.rest import OpenEoApiError

from tests.fixtures.api import PRIVATE, USERS
from tests.shared_location import SHARED

COLLECTION = "sample-s2"
SPRING = ["2023-03-01", "2023-05-01"]          # the sample's first two dates


def connect(api_server, user: str | None = None) -> openeo.Connection:
    conn = openeo.connect(api_server.url)
    if user:
        conn.authenticate_basic(user, USERS[user])
    return conn


@pytest.fixture(scope="module")
def alice(api_server):
    return connect(api_server, "alice")


@pytest.fixture(scope="module")
def bob(api_server):
    return connect(api_server, "bob")


def ndvi_max(conn: openeo.Connection, interval=SPRING) -> openeo.DataCube:
    cube = conn.load_collection(COLLECTION, temporal_extent=interval, bands=["B04", "B08"])
    return cube.ndvi().max_time()


def numpy_ndvi_max(catalog: str, interval=SPRING) -> np.ndarray:
    """The same composite from the sample's GeoTIFFs (B04/B08 nodata 0), independently of sparkeo."""
    root = Path(catalog).parent
    stack = []
    for item_path in sorted(root.glob(f"{COLLECTION}/*/*.json")):
        item = json.loads(item_path.read_text())
        if not interval[0] <= item["properties"]["datetime"][:10] < interval[1]:
            continue
        with rasterio.open(item_path.parent / "B04.tif") as r, rasterio.open(item_path.parent / "B08.tif") as n:
            red, nir = r.read(1).astype(np.float64), n.read(1).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            ndvi = (nir - red) / (nir + red)
        ndvi[(red == 0) | (nir == 0)] = np.nan
        stack.append(ndvi)
    assert len(stack) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(np.stack(stack), axis=0)


def read(path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


# -- discovery and authentication ---------------------------------------------------------------------
def test_capabilities_list_every_endpoint_and_the_well_known_document(api_server):
    conn = connect(api_server)
    caps = conn.capabilities()
    assert caps.api_version() == "1.2.0"
    endpoints = {(e["path"], m) for e in caps.capabilities["endpoints"] for m in e["methods"]}
    assert {("/jobs", "POST"), ("/jobs/{job_id}/results", "DELETE"), ("/result", "POST"),
            ("/jobs/{job_id}/logs", "GET"), ("/credentials/basic", "GET")} <= endpoints
    well_known = requests.get(f"{api_server.url}/.well-known/openeo").json()
    assert well_known["versions"][0]["api_version"] == "1.2.0"
    assert "https://api.openeo.org/1.2.0" in requests.get(f"{api_server.url}/conformance").json()["conformsTo"]
    formats = conn.list_output_formats()
    assert {name: f["gis_data_types"] for name, f in formats.items()} == {
        "GTiff": ["raster"], "netCDF": ["raster", "vector"], "JSON": ["vector"], "CSV": ["vector"],
        "GeoParquet": ["vector"]}
    assert set(formats["GTiff"]["parameters"]) == {"tile_grid"} and formats["GTiff"]["parameters"]["tile_grid"]["description"]
    assert all(f["title"] for f in formats.values())


def test_collections_follow_the_access_groups_of_the_authenticated_user(api_server, alice, bob):
    assert {c["id"] for c in connect(api_server).list_collections()} == {COLLECTION}
    assert {c["id"] for c in bob.list_collections()} == {COLLECTION}
    assert {c["id"] for c in alice.list_collections()} == {COLLECTION, PRIVATE}
    described = alice.describe_collection(PRIVATE)
    assert [b["name"] for b in described["summaries"]["eo:bands"]][:2] == ["B02", "B03"]
    assert "_sparkeo" not in described
    with pytest.raises(OpenEoApiError) as err:
        bob.describe_collection(PRIVATE)
    assert err.value.http_status_code == 404 and err.value.code == "CollectionNotFound"
    # the same answer as for an id that does not exist: nothing reveals the private collection
    with pytest.raises(OpenEoApiError) as unknown:
        bob.describe_collection("no-such-collection")
    assert unknown.value.message.replace("no-such-collection", PRIVATE) == err.value.message


def test_processes_are_the_implemented_ones(alice):
    ids = {p["id"] for p in alice.list_processes()}
    assert {"load_collection", "ndvi", "reduce_dimension", "save_result", "max"} <= ids
    # with their openEO specifications (the 1.2.0 documents sparkeo follows), read independently here
    spec = json.loads((SHARED / "spec" / "openeo-processes" / "v1.2.0" / "ndvi.json").read_text())
    ndvi = alice.describe_process("ndvi")
    assert ndvi["parameters"] == spec["parameters"] and ndvi["returns"] == spec["returns"]
    assert ndvi["categories"] == spec["categories"] and ndvi["links"] == spec["links"]
    assert ndvi["description"].startswith(spec["description"])
    # sparkeo's differences are said: load_collection's extents may be left out
    load = {p["name"]: p for p in alice.describe_process("load_collection")["parameters"]}
    assert load["spatial_extent"]["optional"] and load["spatial_extent"]["schema"]


def test_authentication(api_server, alice):
    assert alice.describe_account()["user_id"] == "alice"
    assert alice.describe_account()["info"]["groups"] == ["team-a"]
    with pytest.raises(OpenEoApiError) as wrong:
        connect(api_server).authenticate_basic("alice", "not-her-password")
    assert wrong.value.http_status_code == 403 and wrong.value.code == "CredentialsInvalid"
    for path in ("/me", "/jobs", "/jobs/j-1/results"):
        answer = requests.get(f"{api_server.url}{path}")
        assert answer.status_code == 401 and answer.json()["code"] == "AuthenticationRequired", path
    forged = requests.get(f"{api_server.url}/me", headers={"Authorization": "Bearer basic//YWxpY2UKOTk5OTk5OTk5OQ.x"})
    assert forged.status_code == 403 and forged.json()["code"] == "TokenInvalid"


def test_tokens_expire(api_server):
    auth = api_server.backend.auth
    token = auth.login("bob", USERS["bob"], now=0.0)     # issued long ago: expired
    answer = requests.get(f"{api_server.url}/me", headers={"Authorization": f"Bearer basic//{token}"})
    assert answer.status_code == 403 and answer.json()["code"] == "TokenInvalid"


# -- batch jobs ---------------------------------------------------------------------------------------
def test_execute_batch_writes_the_composite_numpy_computes(api_server, alice, sample_small, tmp_path):
    out = tmp_path / "ndvi.tif"
    job = ndvi_max(alice).execute_batch(out, title="ndvi max", out_format="GTiff")
    assert job.status() == "finished"
    np.testing.assert_allclose(read(out), numpy_ndvi_max(sample_small), rtol=1e-5, equal_nan=True)
    record = api_server.registry.get(job.job_id, "alice")      # the tracker's record, in ZooKeeper
    assert record.status.value == "finished" and record.title == "ndvi max" and record.usage["input_pixels"] > 0
    assert any("finished" in e["message"] for e in job.logs())
    estimate = alice.get(f"/jobs/{job.job_id}/estimate").json()
    assert estimate["sparkeo:input_pixels"] == record.usage["input_pixels"]


def test_job_lifecycle_results_download_and_cancel(api_server, alice, bob, tmp_path):
    job = ndvi_max(alice).create_job(title="lifecycle")
    assert job.status() == "created"
    with pytest.raises(OpenEoApiError) as not_yet:      # not started: no results yet, not a failure
        job.get_results().get_metadata()
    assert not_yet.value.http_status_code == 400 and not_yet.value.code == "JobNotFinished"
    queued_behind = ndvi_max(alice, ["2023-03-01", "2023-04-01"]).create_job(title="to cancel")
    job.start()
    queued_behind.start()
    queued_behind.stop()        # still queued behind the first job: canceled before it runs
    job.start_and_wait()
    assert queued_behind.status() == "canceled"
    results = job.get_results()
    files = results.download_files(tmp_path / "dl")
    tifs = [f for f in files if f.suffix in (".tif", ".tiff")]
    assert len(tifs) == 1 and read(tifs[0]).shape == (128, 128)
    metadata = results.get_metadata()
    (asset,) = [a for a in metadata["assets"].values() if a["type"].startswith("image/tiff")]
    assert asset["href"].startswith(f"{api_server.url}/jobs/{job.job_id}/results/assets/")
    # range requests on a result file
    whole = alice.get(asset["href"]).content
    part = alice.get(asset["href"], headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20] and len(whole) == asset["file:size"]
    assert not (api_server.results_root / queued_behind.job_id / "collection.json").exists()
    # the job list: newest first, pages
    listed = [j["id"] for j in alice.list_jobs()]
    assert listed[:2] == [queued_behind.job_id, job.job_id]
    page = alice.get("/jobs", params={"limit": 1}).json()
    assert len(page["jobs"]) == 1 and page["links"][0]["rel"] == "next"
    # another user: 404 for everything about the job, nothing changes
    for method, path in (("get", ""), ("get", "/results"), ("get", "/logs"), ("get", "/estimate"),
                         ("post", "/results"), ("delete", "/results"), ("delete", ""), ("patch", "")):
        with pytest.raises(OpenEoApiError) as err:
            getattr(bob, method)(f"/jobs/{job.job_id}{path}", **({"json": {"title": "x"}} if method == "patch" else {}),
                                 expected_status=200)
        assert err.value.http_status_code == 404 and err.value.code == "JobNotFound", (method, path)
    with pytest.raises(OpenEoApiError):
        bob.get(asset["href"], expected_status=200)
    assert job.status() == "finished" and bob.list_jobs() == []
    # delete removes record and files
    queued_behind.delete()
    with pytest.raises(OpenEoApiError) as gone:
        queued_behind.status()
    assert gone.value.http_status_code == 404


def test_logs_of_a_failed_job_name_the_cause(alice):
    cube = alice.load_collection(COLLECTION, temporal_extent=["2019-01-01", "2019-02-01"], bands=["B04"])
    job = cube.create_job(title="nothing there")
    with pytest.raises(openeo.rest.JobFailedException):   # the client's own wait sees the failure
        job.start_and_wait(max_poll_interval=0.5)
    assert job.status() == "error"
    errors = job.logs(level="error")
    assert errors and "sample-s2" in errors[-1]["message"] and "2019-01-01" in errors[-1]["message"]
    assert all(e["level"] == "error" for e in errors)
    # openEO API 1.2: the results of a failed job are a 424 with its last error, which the client raises
    with pytest.raises(OpenEoApiError) as failed:
        job.get_results().get_metadata()
    assert failed.value.http_status_code == 424 and failed.value.code == "JobFailed"
    assert failed.value.message == errors[-1]["message"]


def test_patch_changes_a_created_job_only(alice):
    job = ndvi_max(alice).create_job(title="first")
    alice.patch(f"/jobs/{job.job_id}", json={"title": "second", "description": "patched"}, expected_status=204)
    assert job.describe()["title"] == "second" and job.describe()["description"] == "patched"
    alice.patch(f"/jobs/{job.job_id}", json={}, expected_status=204)          # nothing to change: fine
    with pytest.raises(OpenEoApiError) as no_body:
        alice.patch(f"/jobs/{job.job_id}", expected_status=204)
    assert no_body.value.http_status_code == 400
    job.stop()          # canceled before it started: final
    with pytest.raises(OpenEoApiError) as locked:
        alice.patch(f"/jobs/{job.job_id}", json={"title": "third"}, expected_status=204)
    assert locked.value.code == "JobLocked" and job.describe()["title"] == "second"
    job.delete()


# -- synchronous processing ---------------------------------------------------------------------------
def test_download_runs_synchronously(alice, sample_small, tmp_path):
    out = tmp_path / "sync.tif"
    ndvi_max(alice).download(out, format="GTiff")
    np.testing.assert_allclose(read(out), numpy_ndvi_max(sample_small), rtol=1e-5, equal_nan=True)


def test_synchronous_requests_over_the_pixel_budget_are_refused_with_the_estimate(alice):
    cube = alice.load_collection(COLLECTION, temporal_extent=["2023-03-01", "2023-11-01"], bands=["B04", "B08"])
    with pytest.raises(OpenEoApiError) as err:
        cube.ndvi().max_time().download()
    assert err.value.http_status_code == 400
    assert "max_input_pixels" in err.value.message and "100000" in err.value.message.replace(",", "")


def test_validation_reports_the_node_and_argument(alice):
    cube = alice.load_collection(COLLECTION, temporal_extent=SPRING, bands=["B04"],
                                 spatial_extent={"west": 5, "south": 40, "east": 6, "north": 41})
    errors = cube.validate()
    assert errors and "spatial_extent" in errors[0]["message"] and "outside" in errors[0]["message"]
    assert ndvi_max(alice).validate() == []


# -- bad input ----------------------------------------------------------------------------------------
def test_bad_requests(api_server, alice):
    headers = {"Authorization": f"Bearer {alice.auth.bearer}", "Content-Type": "application/json"}
    url = api_server.url
    too_big = requests.post(f"{url}/jobs", data=b"{" + b" " * 70_000 + b"}", headers=headers)
    assert too_big.status_code == 413 and too_big.json()["code"] == "PayloadTooLarge"
    for job_id in ("j..1", "UPPER", "a" * 64, "j-1%2F..%2Fx"):
        bad = requests.get(f"{url}/jobs/{job_id}", headers=headers)
        assert bad.status_code == 404 and bad.json()["code"] in ("JobNotFound", "NotFound"), job_id
    no_graph = requests.post(f"{url}/jobs", json={"title": "x"}, headers=headers)
    assert no_graph.status_code == 400 and no_graph.json()["code"] == "ProcessGraphMissing"
    for bad_json in (b"{nope", b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[1, 2]"):
        answer = requests.post(f"{url}/jobs", data=bad_json, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "BadRequest", bad_json[:20]
    no_body = requests.post(f"{url}/validation", headers=headers)
    assert no_body.status_code == 400 and no_body.json()["code"] == "BodyMissing"
    empty = requests.post(f"{url}/validation", json={}, headers=headers)
    assert empty.status_code == 200 and empty.json()["errors"][0]["code"] == "ProcessGraphMissing"
    assert requests.get(f"{url}//jobs", headers=headers).status_code == 200     # a base URL ending in "/" joined
    assert requests.get(f"{url}/udf_runtimes").json() == {} and requests.get(f"{url}/service_types").json() == {}
    unknown = requests.get(f"{url}/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NotFound"
    cors = requests.options(f"{url}/jobs", headers={"Origin": "https://editor.openeo.org",
                                                    "Access-Control-Request-Method": "POST"})
    assert cors.status_code == 200 and cors.headers["access-control-allow-origin"] in ("*", "https://editor.openeo.org")


def test_passwords_never_reach_logs_or_records(api_server, capfd, caplog):
    connect(api_server, "bob")
    out, err = capfd.readouterr()
    assert not any(pw in out + err + caplog.text for pw in USERS.values())
    for record in api_server.registry.list():
        assert not any(pw in record.to_json().decode() for pw in USERS.values())

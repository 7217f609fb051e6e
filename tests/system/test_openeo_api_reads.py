"""What a web API user may make the server read (``Settings.user_reads`` restricted, ``sparkeo.readpolicy``):
``sparkeo serve`` over real HTTP with the official client; the sample catalog also served over HTTP on
an allow-listed loopback port, its collection also put on S3 (moto) to show an existing object is refused.

Spark runs four small jobs: alice's batch NDVI, the allow-listed URL, her results loaded back
synchronously and as a batch job; every refusal happens before Spark.
"""
from __future__ import annotations

import urllib.parse
from pathlib import Path

import numpy as np
import openeo
import pytest
import rasterio
from openeo.rest import OpenEoApiError

from sparkeo.testing.webserver import serve_folder
from tests.fixtures.api import running_api
from tests.system.test_openeo_api import alice, bob  # noqa: F401 (fixtures, logged in to this module's API)

SPRING = ["2023-03-01", "2023-05-01"]


@pytest.fixture(scope="module")
def web(sample_small):
    with serve_folder(str(Path(sample_small).parent)) as folder:
        yield folder


@pytest.fixture(scope="module")
def api_server(tmp_path_factory, zookeeper, spark, sample_small, web):
    """This module's API (``alice`` and ``bob`` log in to it): the web folder's loopback port allow-listed."""
    allowed = urllib.parse.urlsplit(web.url).netloc         # 127.0.0.1:PORT of the web folder, not the API's
    with running_api(tmp_path_factory.mktemp("api-reads"), zookeeper, spark, sample_small, (allowed,)) as server:
        yield server


@pytest.fixture(scope="module")
def alice_job(alice):
    """A finished batch job of alice: the B08 maximum of spring."""
    cube = alice.load_collection("sample-s2", temporal_extent=SPRING, bands=["B08"]).max_time()
    job = cube.create_job(title="to load back")
    job.start_and_wait(max_poll_interval=0.5)
    return job


def read(path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def refusal(conn: openeo.Connection, cube: openeo.DataCube) -> OpenEoApiError:
    """The error of the cube's synchronous request, after checking validation and job creation give it too."""
    errors = cube.validate()
    with pytest.raises(OpenEoApiError) as created:
        cube.create_job()
    with pytest.raises(OpenEoApiError) as err:
        cube.download()
    assert err.value.http_status_code == 400 and err.value.code == "ProcessArgumentInvalid"
    assert created.value.message == err.value.message and errors[0]["message"] == err.value.message
    return err.value


@pytest.mark.parametrize("kind", ["local path", "file URL", "metadata service", "loopback"])
def test_load_stac_of_server_side_locations_is_refused_naming_node_and_argument(alice, sample_small, kind):
    path = str(Path(sample_small).parent / "sample-s2" / "collection.json")
    url = {"local path": path, "file URL": f"file://{path}", "metadata service": "http://169.254.169.254/latest/",
           "loopback": "http://127.0.0.1:1/collection.json"}[kind]
    cube = alice.load_stac(url, bands=["B04"])
    error = refusal(alice, cube)
    assert "'url'" in error.message and url in error.message and "loadstac1" in error.message
    assert "refused" in error.message


def test_load_stac_of_an_s3_object_the_service_can_read_is_refused(alice, sample_small, s3):
    document = (Path(sample_small).parent / "sample-s2" / "collection.json").read_bytes()
    s3.server.client().put_object(Bucket=s3.name, Key="catalog/collection.json", Body=document)
    url = s3.uri("catalog/collection.json")
    assert "catalog/collection.json" in s3.objects("catalog/")
    error = refusal(alice, alice.load_stac(url, bands=["B04"]))
    assert url in error.message and "'url'" in error.message


def test_geometries_paths_are_refused_naming_the_argument(alice, sample_small):
    # the client sends no path as geometries: the graph as another client would send it
    cube = alice.datacube_from_flat_graph({
        "load": {"process_id": "load_collection", "arguments": {"id": "sample-s2", "temporal_extent": SPRING,
                                                                 "bands": ["B04"], "spatial_extent": None}},
        "zonal": {"process_id": "aggregate_spatial", "arguments": {
            "data": {"from_node": "load"}, "geometries": "/etc/hostname", "reducer": {"process_graph": {
                "mean": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "zonal"}, "format": "JSON"},
                 "result": True}})
    error = refusal(alice, cube)
    assert "'geometries'" in error.message and "/etc/hostname" in error.message


def test_an_allow_listed_http_url_loads(alice, web, sample_small, tmp_path):
    url = web.url_of("sample-s2/collection.json")
    alice.load_stac(url, temporal_extent=SPRING, bands=["B08"]).max_time().download(tmp_path / "web.tif")
    direct = alice.load_collection("sample-s2", temporal_extent=SPRING, bands=["B08"]).max_time()
    direct.download(tmp_path / "direct.tif")
    np.testing.assert_array_equal(read(tmp_path / "web.tif"), read(tmp_path / "direct.tif"))


def test_own_results_load_back_and_another_users_are_refused_like_a_missing_job(api_server, alice, bob,
                                                                                  alice_job, tmp_path):
    results_url = f"{api_server.url}/jobs/{alice_job.job_id}/results"
    files = alice_job.get_results().download_files(tmp_path / "batch")
    (tif,) = [f for f in files if f.suffix in (".tif", ".tiff")]
    # synchronously, and as a batch job (the local runner gets the grant too)
    alice.load_stac(results_url).download(tmp_path / "again.tif")
    np.testing.assert_array_equal(read(tmp_path / "again.tif"), read(tif))
    second = alice.load_stac(results_url).create_job(title="results of results")
    second.start_and_wait(max_poll_interval=0.5)
    (tif2,) = [f for f in second.get_results().download_files(tmp_path / "second")
               if f.suffix in (".tif", ".tiff")]
    np.testing.assert_array_equal(read(tif2), read(tif))
    # bob: the same answer as for a job that does not exist
    stolen = refusal(bob, bob.load_stac(results_url))
    missing_url = f"{api_server.url}/jobs/j-20000101000000-00000000/results"
    missing = refusal(bob, bob.load_stac(missing_url))
    assert "'url'" in stolen.message and results_url in stolen.message
    assert stolen.message.replace(results_url, "URL").replace(alice_job.job_id, "ID") == \
        missing.message.replace(missing_url, "URL").replace("j-20000101000000-00000000", "ID")

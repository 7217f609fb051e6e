"""A synchronous ``POST /result`` does not wait for a running local batch job: both run on the server's
one SparkSession at once, in their own fair scheduler pools (``sparkeo.api.runner``), real HTTP.

The batch job is made long by its size, not by sleeping: the NDVI composite resampled to 1 m before it
is computed (100 times the pixels, 1280 x 1280, in 400 tiles of 64 px).
"""
from __future__ import annotations

import time

import numpy as np
import openeo

from tests.fixtures.api import USERS
from tests.system.test_openeo_api import SPRING, ndvi_max, numpy_ndvi_max, read

FACTOR = 10     # 10 m -> 1 m


def test_a_synchronous_request_completes_while_a_batch_job_runs(api_server, sample_small, tmp_path):
    alice = openeo.connect(api_server.url).authenticate_basic("alice", USERS["alice"])
    started = time.monotonic()      # alone first: the Python workers are warm for both afterwards
    ndvi_max(alice).download(tmp_path / "alone.tif", format="GTiff")
    alone_seconds = time.monotonic() - started
    big = alice.load_collection("sample-s2", temporal_extent=SPRING, bands=["B04", "B08"])
    big = big.resample_spatial(resolution=1, method="near").ndvi().max_time()
    job = big.create_job(title="long", out_format="GTiff")
    job.start()
    deadline = time.monotonic() + 60
    while job.status() != "running":
        assert time.monotonic() < deadline and job.status() in ("queued", "running"), job.status()
        time.sleep(0.05)
    started = time.monotonic()
    ndvi_max(alice).download(tmp_path / "sync.tif", format="GTiff")
    sync_seconds = time.monotonic() - started
    assert job.status() == "running", f"the batch job ended before the synchronous request ({sync_seconds:.1f} s)"
    job.start_and_wait(max_poll_interval=0.5)
    batch_seconds = time.monotonic() - started
    expected = numpy_ndvi_max(sample_small)
    for name in ("alone.tif", "sync.tif"):
        np.testing.assert_allclose(read(tmp_path / name), expected, rtol=1e-5, equal_nan=True)
    (tif,) = [f for f in job.get_results().download_files(tmp_path / "batch") if f.suffix in (".tif", ".tiff")]
    np.testing.assert_allclose(read(tif), np.repeat(np.repeat(expected, FACTOR, 0), FACTOR, 1),
                               rtol=1e-5, equal_nan=True)
    # the batch job's usage is its own: its plan's 400 tiles, not the request's 4 besides
    record = api_server.registry.get(job.job_id, "alice")
    estimate = alice.get(f"/jobs/{job.job_id}/estimate").json()
    assert record.usage["tiles"] == estimate["sparkeo:tiles"] == (128 * FACTOR // 64) ** 2
    print(f"synchronous request alone {alone_seconds:.2f} s, beside the batch job {sync_seconds:.2f} s; "
          f"batch job {batch_seconds:.2f} s")


def test_cancelling_a_running_local_job_stops_its_spark_work(api_server, spark, sample_small):
    alice = openeo.connect(api_server.url).authenticate_basic("alice", USERS["alice"])
    big = alice.load_collection("sample-s2", temporal_extent=SPRING, bands=["B04", "B08"])
    job = big.resample_spatial(resolution=1, method="near").ndvi().max_time().create_job(title="to stop")
    job.start()
    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + 60
    while not tracker.getActiveJobsIds():      # its tile jobs are on Spark
        assert time.monotonic() < deadline and job.status() in ("queued", "running"), job.status()
        time.sleep(0.05)
    job.stop()
    assert job.status() == "canceled"
    deadline = time.monotonic() + 5    # stopped, not run to the end of its 400 tiles (about 11 s alone)
    while tracker.getActiveJobsIds():
        assert time.monotonic() < deadline, "the canceled job's Spark jobs kept running"
        time.sleep(0.1)
    assert not (api_server.results_root / job.job_id / "collection.json").exists()
    assert job.status() == "canceled"

"""The cluster path on separate JVMs: a Spark standalone master with two 1-core worker JVMs, the
driver in a process of its own (``python -m jobs``, what a SparkApplication's driver runs).

What a ``local`` master never exercises: tile results cross a socket (the inline, compressed
transport), the DAG is broadcast when it is large, executors read the assets through /vsis3/ and
the results go to S3, an executor JVM dies in the middle of a job and Spark retries its task, a
worker cannot read one asset. Test names contain ``multi_jvm`` (``pytest -k multi_jvm``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sparkeo import storage
from sparkeo.testing.standalone import processes
from tests.fixtures.eodata import BANDS, MEDIAN_GRAPH, SampleArchive, result_array

pytestmark = pytest.mark.slow


def driver(cluster, eodata_env: dict, graph: str, catalog: str, output: str, job_id: str, tmp_path: Path,
           options: dict | None = None, **settings: str) -> subprocess.Popen:
    """Start a driver process against the standalone master (``settings``: SPARKEO_* overrides)."""
    env = {**os.environ, **eodata_env, "SPARKEO_SPARK_MASTER": cluster.master_url, "PYSPARK_PYTHON": sys.executable,
           "SPARKEO_CACHE": str(tmp_path / "cache"), **settings}
    env.pop("SPARKEO_UNDER_SPARK_SUBMIT", None)
    args = [sys.executable, "-m", "jobs", "--graph", graph, "--catalog", catalog, "--output", output,
            "--job-id", job_id, "--job-options", json.dumps({"tile_size": 128, **(options or {})})]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 420) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def usage_of(output: str) -> dict:
    return json.loads(storage.read_text(storage.join(output, "job_metadata.json")))["usage"]


@pytest.fixture
def graph_on_s3(eodata, aws_env) -> str:
    uri = eodata.bucket.uri("graphs/median.json")
    storage.write_bytes(uri, MEDIAN_GRAPH.encode())
    return uri


def test_multi_jvm_composite_from_s3_to_s3_equals_numpy_and_local(standalone_cluster, eodata, aws_env, graph_on_s3,
                                                                  spark, tmp_path):
    from tests.fixtures.eodata import run_median, settings_for

    bucket = eodata.bucket
    catalog = eodata.layer_catalog("multi-jvm", f"/vsis3/{bucket.name}/")
    output = bucket.uri("jobs/multi-jvm")
    code, out, err = finish(driver(standalone_cluster, aws_env.env(), graph_on_s3, catalog, output, "multi-jvm",
                                   tmp_path))
    assert code == 0, err[-3000:]
    assert out.split()[-1] == f"{output}/collection.json"      # published last
    cluster_pixels = result_array(output, tmp_path)
    np.testing.assert_allclose(cluster_pixels, eodata.numpy_median(), rtol=1e-6, equal_nan=True)

    local_out = tmp_path / "local"
    run_median(spark, catalog, str(local_out), settings_for(aws_env, tmp_path / "lcache"), "multi-jvm-local")
    np.testing.assert_array_equal(cluster_pixels, result_array(str(local_out), tmp_path))
    assert usage_of(output)["tiles"] == usage_of(str(local_out))["tiles"] == 4


def test_multi_jvm_broadcast_dag_gives_the_same_result(standalone_cluster, eodata, aws_env, graph_on_s3, tmp_path):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("multi-jvm-bc", f"/vsis3/{bucket.name}/")
    output = bucket.uri("jobs/multi-jvm-bc")
    # 0 bytes inline: the pickled DAG always goes as a Spark broadcast
    code, _, err = finish(driver(standalone_cluster, aws_env.env(), graph_on_s3, catalog, output, "multi-jvm-bc",
                                 tmp_path, SPARKEO_INLINE_DAG_BYTES="0"))
    assert code == 0, err[-3000:]
    np.testing.assert_allclose(result_array(output, tmp_path), eodata.numpy_median(), rtol=1e-6, equal_nan=True)


@pytest.fixture(scope="module")
def big_archive(moto_server, tmp_path_factory) -> SampleArchive:
    """A sample large enough (64 tiles of 128 px, 8 dates) that a task is still running when an executor dies."""
    from layercatalog.sample import write_sample

    local = tmp_path_factory.mktemp("big-eodata")
    write_sample(str(local), size=1024, dates=8, bands=(*BANDS, "SCL"), seed=7)
    return SampleArchive(local, moto_server.create_bucket("big-eodata"))


def python_workers_of(pids: list[int]) -> list[int]:
    """Python processes the given executor JVMs started (their tasks have reached Python code)."""
    return [pid for pid, parent, args in processes() if parent in pids and "python" in args]


def test_multi_jvm_executor_killed_mid_job_is_retried_and_counted_once(standalone_cluster, big_archive, aws_env,
                                                                      graph_on_s3, tmp_path):
    bucket = big_archive.bucket
    catalog = big_archive.layer_catalog("kill", f"/vsis3/{bucket.name}/")
    clean_out, killed_out = bucket.uri("jobs/clean"), bucket.uri("jobs/killed")
    code, _, err = finish(driver(standalone_cluster, aws_env.env(), graph_on_s3, catalog, clean_out, "clean-run",
                                 tmp_path))
    assert code == 0, err[-3000:]

    proc = driver(standalone_cluster, aws_env.env(), graph_on_s3, catalog, killed_out, "killed-run", tmp_path)
    deadline, killed = time.monotonic() + 240, None
    while killed is None and proc.poll() is None and time.monotonic() < deadline:
        executors = standalone_cluster.executor_pids()
        if python_workers_of(executors):          # a task runs Python: kill its executor JVM now
            killed = standalone_cluster.kill_executor()
        time.sleep(0.05)
    assert killed is not None, "no executor ran a task before the job ended"
    code, _, err = finish(proc)
    assert code == 0, err[-3000:]

    np.testing.assert_array_equal(result_array(killed_out, tmp_path), result_array(clean_out, tmp_path))
    clean, retried = usage_of(clean_out), usage_of(killed_out)
    assert retried["task_attempts"] >= 1                   # Spark did retry the lost task
    assert clean["task_attempts"] == 0
    assert clean["tiles"] == 64
    for key in ("tiles", "input_pixels", "bytes_read"):     # the lost attempt's work is not counted
        assert retried[key] == clean[key], key


def test_multi_jvm_unreadable_asset_fails_the_job_naming_it_and_publishes_nothing(standalone_cluster, eodata,
                                                                                 aws_env, graph_on_s3, tmp_path):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("multi-jvm-broken", f"/vsis3/{bucket.name}/")
    broken = eodata.asset_keys("multi-jvm-broken", "B04")[1]
    bucket.server.client().put_object(Bucket=bucket.name, Key=broken, Body=b"not a GeoTIFF")
    output = bucket.uri("jobs/multi-jvm-broken")
    code, _, err = finish(driver(standalone_cluster, aws_env.env(), graph_on_s3, catalog, output, "multi-jvm-broken",
                                 tmp_path))
    assert code == 1
    assert broken.rsplit("/", 1)[0] in err and "Traceback" not in err
    assert not storage.exists(storage.join(output, "collection.json"))


def levels_of(path: Path) -> list[np.ndarray]:
    """Every level of a COG, full resolution first."""
    import rasterio

    with rasterio.open(path) as ds:
        out, count = [ds.read()], len(ds.overviews(1))
    for level in range(count):
        with rasterio.open(path, overview_level=level) as ovr:
            out.append(ovr.read())
    return out


def test_multi_jvm_executors_write_the_cog_from_s3_to_s3_equal_to_local(standalone_cluster, big_archive, aws_env,
                                                                        graph_on_s3, spark, tmp_path):
    """Executors on their own JVMs encode their strips and upload them as multipart parts; the
    driver only stitches: the COG equals local[2]'s driver-written one at every level, is a valid
    COG, and the driver received no pixel (block sizes and names only)."""
    import dataclasses

    from rio_cogeo.cogeo import cog_validate

    from tests.fixtures.eodata import run_median, settings_for

    bucket = big_archive.bucket
    catalog = big_archive.layer_catalog("written", f"/vsis3/{bucket.name}/")
    output = bucket.uri("jobs/executor-written")
    settings = dataclasses.replace(settings_for(aws_env, tmp_path / "lcache"), executor_writes=False)
    local_out = tmp_path / "local"
    run_median(spark, catalog, str(local_out), settings, "written-local")       # the driver writes it
    code, _, err = finish(driver(standalone_cluster, aws_env.env(), graph_on_s3, catalog, output, "written",
                                 tmp_path))
    assert code == 0, err[-3000:]
    cog = tmp_path / "written.tif"
    storage.download(storage.join(output, "result.tif"), str(cog))
    valid, errors, _ = cog_validate(str(cog), strict=True, quiet=True)
    assert valid, errors
    for got, want in zip(levels_of(cog), levels_of(local_out / "result.tif"), strict=True):
        np.testing.assert_array_equal(got, want)
    usage = usage_of(output)
    assert 0 < usage["driver_received_bytes"] < 4096
    assert usage_of(str(local_out))["driver_received_bytes"] == 1024 * 1024 * 4 * len(BANDS)
    uploads = bucket.server.client().list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    assert uploads == [] and not [k for k in bucket.objects() if ".staging-" in k]

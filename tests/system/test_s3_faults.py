"""Flaky and broken object storage under a real job: the fault proxy in front of moto.

Transient faults (503 SlowDown, connection resets on range GETs) are retried by GDAL and, when GDAL
gives up, by sparkeo's own ``read_retries``; the result is bit-identical to a clean local run. A
missing or corrupt asset fails the job naming its href and leaves the results location as it was; with
``soft_errors`` it is skipped and listed in ``job_metadata.json``.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from jobs.errors import TooManySkippedAssets, UnreadableAssetError
from sparkeo import storage
from sparkeo.cli.main import cli
from sparkeo.errors import RunError
from tests.fixtures.eodata import MEDIAN_GRAPH, result_array, run_median, settings_for
from tests.fixtures.fault_proxy import FaultPlan
from tests.system.test_s3_results import write_results

# About a third of range GETs fail; GDAL retries once, and a request fails up to 3 times in a row,
# so some reads get past GDAL's retries and reach sparkeo's (read_retries=5).
FLAKY = FaultPlan(seed=11, error_fraction=0.25, reset_fraction=0.10, max_faults_per_request=3)


@pytest.fixture(scope="module")
def clean_result(spark, eodata, tmp_path_factory):
    """The composite from local files: the reference every S3 run must match bit for bit."""
    out = tmp_path_factory.mktemp("clean")
    settings = settings_for(eodata.server, out / "cache")
    run_median(spark, str(eodata.local / "layercatalog.json"), str(out / "result"), settings, "clean")
    return result_array(str(out / "result"), out)


def test_transient_faults_are_retried_to_a_bit_identical_result(spark, eodata, aws_env, fault_proxy,
                                                                 clean_result, tmp_path):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("flaky", f"/vsis3/{bucket.name}/")
    fault_proxy.set_plan(FLAKY)
    # Only GDAL goes through the proxy; the driver reads the catalog from moto directly.
    settings = settings_for(aws_env, tmp_path / "cache", endpoint=fault_proxy.endpoint,
                            gdal_http_max_retry=1, read_retries=5)
    output = bucket.uri("jobs/flaky")
    summary = run_median(spark, catalog, output, settings, "flaky")
    stats = fault_proxy.stats
    meta = json.loads(storage.read_text(f"{output}/job_metadata.json"))
    print(f"\nfault proxy: {stats}; job usage.read_retries={meta['usage']['read_retries']}")
    assert result_array(output, tmp_path).tobytes() == clean_result.tobytes()
    assert stats.get("errors_503", 0) > 0 and stats.get("resets", 0) > 0, stats
    assert meta["usage"]["read_retries"] == summary.usage["read_retries"] > 0
    assert meta["skipped_assets"] == []


def test_missing_asset_fails_the_job_naming_the_href(spark, eodata, aws_env, tmp_path):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("missing", f"/vsis3/{bucket.name}/")
    gone = eodata.asset_keys("missing", "B08")[1]
    bucket.server.client().delete_object(Bucket=bucket.name, Key=gone)
    output = bucket.uri("jobs/missing")
    write_results(output, ("2021-06-01",), job_id="earlier")      # an earlier, complete run
    before = {o.uri: storage.read_bytes(o.uri) for o in storage.list_prefix(output)}
    settings = settings_for(aws_env, tmp_path / "cache")
    with pytest.raises(UnreadableAssetError) as err:
        run_median(spark, catalog, output, settings, "missing")
    assert isinstance(err.value, RunError)
    assert f"/vsis3/{bucket.name}/{gone}" in str(err.value)
    # the run failed before publishing: the earlier results are untouched and still complete
    assert {o.uri: storage.read_bytes(o.uri) for o in storage.list_prefix(output)} == before


def test_soft_errors_skip_and_count_the_unreadable_asset(spark, eodata, aws_env, tmp_path):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("corrupt", f"/vsis3/{bucket.name}/")
    broken = eodata.asset_keys("corrupt", "B04")[2]
    bucket.server.client().put_object(Bucket=bucket.name, Key=broken, Body=b"not a GeoTIFF " * 64)
    settings = settings_for(aws_env, tmp_path / "cache")
    href = f"/vsis3/{bucket.name}/{broken}"

    with pytest.raises(UnreadableAssetError) as err:
        run_median(spark, catalog, bucket.uri("jobs/corrupt-strict"), settings, "corrupt-strict")
    assert href in str(err.value)
    with pytest.raises(TooManySkippedAssets) as err:  # 1 of 8 assets is more than 5%
        run_median(spark, catalog, bucket.uri("jobs/corrupt-budget"), settings, "corrupt-budget",
                   soft_errors=0.05)
    assert href in str(err.value)
    assert not storage.exists(bucket.uri("jobs/corrupt-budget/collection.json"))

    output = bucket.uri("jobs/corrupt-soft")
    run_median(spark, catalog, output, settings, "corrupt-soft", soft_errors=True)
    meta = json.loads(storage.read_text(f"{output}/job_metadata.json"))
    assert meta["skipped_assets"] == [href]
    expected = eodata.numpy_median(exclude=(broken,))  # the same median without that date's B04
    got = result_array(output, tmp_path)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)


def test_cli_run_exits_1_naming_the_href(spark, eodata, aws_env, tmp_path, monkeypatch):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("cli-missing", f"/vsis3/{bucket.name}/")
    gone = eodata.asset_keys("cli-missing", "B04")[0]
    bucket.server.client().delete_object(Bucket=bucket.name, Key=gone)
    graph = tmp_path / "graph.json"
    graph.write_text(MEDIAN_GRAPH)
    monkeypatch.setenv("SPARKEO_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(cli, ["run", str(graph), "--catalog", catalog, "--output",
                                      bucket.uri("jobs/cli-missing"), "--job-id", "cli-missing"])
    assert result.exit_code == 1, result.output
    assert f"Error: unreadable asset /vsis3/{bucket.name}/{gone}" in result.output
    assert "Traceback" not in result.output

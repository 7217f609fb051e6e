"""The command line end to end on S3, as a user runs it: ``sparkeo run`` in its own process (its own
JVM and Python workers, which get the S3 settings only through sparkeo's Settings), graph, layer
catalog, STAC catalog, assets and results all on the moto server; then ``sparkeo results``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sparkeo import storage
from tests.fixtures.eodata import MEDIAN_GRAPH, result_array

pytestmark = pytest.mark.slow


def sparkeo(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sparkeo.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_run_with_everything_on_s3_then_list_results(eodata, aws_env, tmp_path):
    bucket = eodata.bucket
    catalog = eodata.layer_catalog("cli", f"/vsis3/{bucket.name}/")
    graph = bucket.uri("graphs/median.json")
    storage.write_bytes(graph, MEDIAN_GRAPH.encode())
    output = bucket.uri("jobs/cli-run")
    env = {**os.environ, "SPARKEO_CACHE": str(tmp_path / "cache"), "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARKEO_UNDER_SPARK_SUBMIT", None)

    ran = sparkeo(["run", graph, "--catalog", catalog, "--output", output, "--job-id", "cli-run",
                   "--master", "local[2]", "--job-options", '{"tile_size": 128}'], env)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split() == [f"{output}/{n}" for n in ("result.tif", "job_metadata.json", "collection.json")]

    listed = sparkeo(["results", output, "--json"], env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert [(a["key"], a["href"]) for a in doc["assets"]] == [("result", f"{output}/result.tif")]
    assert doc["assets"][0]["size"] == bucket.objects("jobs/cli-run/")["jobs/cli-run/result.tif"]["Size"]
    np.testing.assert_allclose(result_array(output, tmp_path), eodata.numpy_median(), rtol=1e-6, equal_nan=True)

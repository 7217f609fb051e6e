"""Cluster mode and the read policy (``sparkeo.readpolicy``): a job loading the caller's own results by
their API URL becomes a SparkApplication whose driver reads the resolved graph, with the results
granted in its ``SPARKEO_USER_READS``. No operator runs: the first
job's results are computed on the local Spark and its record moved to finished, as the tracker would.
"""
from __future__ import annotations

import json
from pathlib import Path

import openeo
import pytest
from openeo.rest import OpenEoApiError

from sparkeo.readpolicy import ReadPolicy
from tests.fixtures.api import USERS, running_api
from tracker.record import utcnow
from tracker.states import JobState


@pytest.fixture
def cluster(tmp_path, monkeypatch, zookeeper, spark, k8s_api, sample_small):
    monkeypatch.setenv("SPARKEO_RESULTS_ROOT", str(tmp_path / "results"))
    with running_api(tmp_path, zookeeper, spark, sample_small, sparkapps_api=k8s_api.client(), mode="cluster",
                     namespace=k8s_api.namespace) as api:
        yield api, k8s_api


def finish(api, spark, job_id: str, user: str, results: str) -> None:
    """The job's results in place (run here, on the local Spark) and its record finished, as the driver
    and the tracker would leave them."""
    from jobs.run import run_job
    from sparkeo.identity import Caller

    body = api.backend.store.body(api.registry.get(job_id, user))
    run_job(body, results, job_id, api.backend.config.catalog, None, api.backend.settings, Caller(user), spark=spark)
    for status in (JobState.RUNNING, JobState.FINISHED):
        api.registry.update(job_id, user, lambda r, s=status: r.with_status(s, utcnow()))


def test_own_results_reach_the_cluster_driver_resolved_and_granted(cluster, spark):
    api, k8s = cluster
    alice = openeo.connect(api.url).authenticate_basic("alice", USERS["alice"])
    first = alice.load_collection("sample-s2", bands=["B04"]).max_time().create_job()
    first.start()
    record = api.registry.get(first.job_id, "alice")
    finish(api, spark, first.job_id, "alice", record.results)
    url = f"{api.url}/jobs/{first.job_id}/results"
    second = alice.load_stac(url, bands=["B04"]).create_job()
    second.start()
    app = k8s.store.get(k8s.namespace, second.job_id)
    arguments = app["spec"]["arguments"]
    graph = json.loads(Path(arguments[arguments.index("--graph") + 1]).read_text())
    assert graph["process"]["process_graph"]["loadstac1"]["arguments"]["url"] == \
        str(Path(record.results) / "collection.json")
    env = {e["name"]: e.get("value") for e in app["spec"]["driver"]["env"]}
    assert ReadPolicy.parse(env["SPARKEO_USER_READS"]) == ReadPolicy("restricted").granting(record.results)
    bob = openeo.connect(api.url).authenticate_basic("bob", USERS["bob"])
    with pytest.raises(OpenEoApiError) as err:
        bob.load_stac(url, bands=["B04"]).create_job()
    assert err.value.code == "ProcessArgumentInvalid" and "you have no job" in err.value.message

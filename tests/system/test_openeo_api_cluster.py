"""``sparkeo serve --mode cluster`` driven by the official ``openeo`` client: a started job becomes a
SparkApplication on the test Kubernetes API (validated against the operator's CRD) through the same
``submit``/``cancel`` use cases as the CLI; the record lives in ZooKeeper. No Spark runs here: the
operator loop is not started (``tests/sparkeo/testing/test_k8s_api.py`` runs applications).
"""
from __future__ import annotations

import uuid

import openeo
import pytest
from openeo.rest import OpenEoApiError

from sparkeo.contracts import LABEL_JOB_ID, LABEL_USER
from tests.fixtures.api import USERS, free_port, start_server, with_private_copy, write_users


@pytest.fixture
def cluster_api(tmp_path, monkeypatch, zookeeper, k8s_api, sample_small):
    from sparkeo.api.app import create_app
    from sparkeo.api.config import CLUSTER, ServerConfig
    from sparkeo.api.server import build_backend
    from sparkeo.settings import Settings
    from tracker.registry import JobRegistry

    monkeypatch.setenv("SPARKEO_RESULTS_ROOT", str(tmp_path / "results"))
    settings = Settings(cache_dir=str(tmp_path / "cache"))
    config = ServerConfig(catalog=with_private_copy(sample_small, tmp_path / "layercatalog.json"), mode=CLUSTER,
                          namespace=k8s_api.namespace)
    registry = JobRegistry.connect(zookeeper.hosts, f"/api-{uuid.uuid4().hex[:8]}")
    backend = build_backend(config, settings, registry, write_users(tmp_path / "users"),
                            spark_factory=lambda: pytest.fail("cluster mode started a local Spark for a batch job"),
                            sparkapps_api=k8s_api.client())
    port = free_port()
    server, thread = start_server(create_app(backend), port)
    yield f"http://127.0.0.1:{port}", registry, k8s_api
    server.should_exit = True
    thread.join(10)
    registry.close()


def test_a_started_job_is_a_sparkapplication_and_cancel_deletes_it(cluster_api):
    url, registry, k8s = cluster_api
    alice = openeo.connect(url).authenticate_basic("alice", USERS["alice"])
    bob = openeo.connect(url).authenticate_basic("bob", USERS["bob"])
    cube = alice.load_collection("sample-s2", temporal_extent=["2023-03-01", "2023-05-01"], bands=["B04", "B08"])
    job = cube.ndvi().max_time().create_job(title="on the cluster")
    assert not k8s.store.exists(k8s.namespace, job.job_id)
    job.start()
    app = k8s.store.get(k8s.namespace, job.job_id)
    assert app["metadata"]["labels"][LABEL_JOB_ID] == job.job_id and app["metadata"]["labels"][LABEL_USER] == "alice"
    record = registry.get(job.job_id, "alice")
    assert record.status.value == "queued" and record.application == job.job_id
    assert job.status() == "queued"
    with pytest.raises(OpenEoApiError) as err:
        bob.job(job.job_id).stop()
    assert err.value.http_status_code == 404
    assert k8s.store.exists(k8s.namespace, job.job_id)
    job.stop()
    assert not k8s.store.exists(k8s.namespace, job.job_id)
    assert job.status() == "canceled"

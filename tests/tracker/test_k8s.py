"""The tracker pass against the test Kubernetes API (real HTTP, label selectors, pagination) through
``sparkapps.client.SparkAppsApi.list_states``/``delete``, and a real ZooKeeper."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from sparkapps import client as sparkapps_client
from sparkapps.deployment import DeploymentSettings
from sparkapps.manifest import JobSpec, render
from tracker.record import JobRecord
from tracker.states import JobState
from tracker.track import JobTracker, TrackerConfig

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
MAPPING = {"": "queued", "SUBMITTED": "queued", "PENDING_RERUN": "queued", "RUNNING": "running",
           "SUCCEEDING": "running", "COMPLETED": "finished", "FAILED": "error", "SUBMISSION_FAILED": "error",
           "FAILING": "error", "INVALIDATING": "queued"}  # unknown: no change from queued


def manifest(job_id: str, namespace: str, user: str = "alice", output: str = "/tmp/none") -> dict:
    return render(JobSpec(job_id=job_id, user=user, graph_uri=f"{output}/g.json", output_uri=output),
                  DeploymentSettings(namespace=namespace))


def status(state: str, error: str | None = None) -> dict:
    app_state = {"state": state} if state else {}
    if error:
        app_state["errorMessage"] = error
    return {"applicationState": app_state}


class CountingApi:
    """The real SparkAppsApi, counting the HTTP calls the tracker makes through it."""

    def __init__(self, api):
        self.api, self.lists, self.deletes = api, [], []

    def list_states(self, namespace, selector):
        self.lists.append(namespace)
        return self.api.list_states(namespace, selector)

    def delete(self, namespace, name):
        self.deletes.append((namespace, name))
        return self.api.delete(namespace, name)


@pytest.fixture
def api(k8s_api):
    return CountingApi(k8s_api.client())


def test_every_state_through_the_kubernetes_api(registry, k8s_api, api, tmp_path):
    ids = {state: f"j-{i}" for i, state in enumerate(MAPPING)}
    results = {}
    for state, job_id in ids.items():
        results[job_id] = tmp_path / job_id
        results[job_id].mkdir()
        (results[job_id] / "job_metadata.json").write_text(json.dumps({"usage": {"tiles": 7}}))
    registry.create_many([JobRecord(job_id=j, user="alice", status=JobState.QUEUED, created=T0,
                                    results=str(results[j])) for j in ids.values()])
    k8s_api.store.seed("sparkeo", [(manifest(j, "sparkeo"), status(s, "driver OOM" if s == "FAILED" else None))
                                   for s, j in ids.items()])
    # an application of someone else's tool in the same namespace: the label selector leaves it out
    foreign = manifest("other-app", "sparkeo")
    foreign["metadata"]["labels"] = {"app": "not-sparkeo"}
    k8s_api.store.seed("sparkeo", [(foreign, status("RUNNING"))])
    report = JobTracker(registry, api.list_states, api.delete, TrackerConfig(retention_days=None),
                        clock=lambda: T0).run_pass()
    assert {s: registry.get(j).status.value for s, j in ids.items()} == MAPPING
    assert registry.get(ids["FAILED"]).error == "driver OOM"
    assert registry.get(ids["COMPLETED"]).usage == {"tiles": 7}
    assert api.lists == ["sparkeo"] and report.unknown_states == 1 and report.errors == {}


def test_one_list_per_namespace_never_a_get_per_job(registry, k8s_api, api):
    records = [JobRecord(job_id=f"j-{ns[-1]}-{i:03d}", user=f"u{i % 5}", status=JobState.QUEUED, created=T0,
                         namespace=ns) for ns in ("team-a", "team-b") for i in range(40)]
    registry.create_many(records)
    for ns in ("team-a", "team-b"):
        k8s_api.store.seed(ns, [(manifest(r.job_id, ns), status("RUNNING" if i % 2 else "COMPLETED"))
                                for i, r in enumerate(x for x in records if x.namespace == ns)])
    k8s_api.store.requests.clear()
    report = JobTracker(registry, api.list_states, api.delete, TrackerConfig(retention_days=None),
                        clock=lambda: T0, usage_reader=lambda uri: {}).run_pass()
    assert sorted(api.lists) == ["team-a", "team-b"]
    assert sorted(k8s_api.store.requests) == [
        ("GET", f"/apis/sparkoperator.k8s.io/v1beta2/namespaces/{ns}/sparkapplications") for ns in ("team-a", "team-b")]
    assert report.states == {"running": 40, "finished": 40} and report.apps_missing == 0


def test_overdue_application_is_deleted_through_the_api(registry, k8s_api, api):
    registry.create(JobRecord(job_id="j-long", user="alice", status=JobState.RUNNING, created=T0,
                              started=T0 - timedelta(hours=3), max_duration=3600.0))
    k8s_api.store.seed("sparkeo", [(manifest("j-long", "sparkeo"), status("RUNNING"))])
    report = JobTracker(registry, api.list_states, api.delete, TrackerConfig(retention_days=None),
                        clock=lambda: T0).run_pass()
    assert api.deletes == [("sparkeo", "j-long")] and not k8s_api.store.exists("sparkeo", "j-long")
    assert registry.get("j-long").status is JobState.ERROR and report.overdue_canceled == 1


def test_unreachable_kubernetes_is_a_listing_error(registry, k8s_api, tmp_path):
    from sparkeo.testing.services import free_port

    dead = k8s_api.server.write_kubeconfig(tmp_path / "dead", "sparkeo")
    dead.write_text(dead.read_text().replace(k8s_api.server.url, f"http://127.0.0.1:{free_port()}"))
    api = sparkapps_client.connect(str(dead))
    registry.create(JobRecord(job_id="j-1", user="alice", status=JobState.QUEUED, created=T0))
    report = JobTracker(registry, api.list_states, api.delete, TrackerConfig(retention_days=None),
                        clock=lambda: T0).run_pass()
    assert report.failed_namespaces == ("sparkeo",) and report.errors == {"listing": 1}
    got = registry.get("j-1")
    assert got.status is JobState.QUEUED and got.missing_since is None  # unknown is not "missing"

"""``submit_job``, ``cancel_job``, ``job_status`` and ``list_jobs`` called directly (no click), against the
test Kubernetes API and a real ZooKeeper registry."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from sparkapps.client import connect
from sparkapps.errors import KubernetesUnreachable, SparkAppNotFound
from sparkeo.identity import Caller
from sparkeo.ops.cancel import cancel_job
from sparkeo.ops.prepare import GraphSource, prepare_job
from sparkeo.ops.status import job_status, list_jobs
from sparkeo.ops.submit import submit_job
from sparkeo.settings import Settings
from tracker import lifecycle
from tracker.errors import IllegalTransition
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
ADD = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}


@pytest.fixture
def prepared(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARKEO_CATALOG", raising=False)
    settings = Settings.from_env()

    def prepared(job_id: str, user: str = "alice"):
        return prepare_job(GraphSource.of(json.dumps(ADD), "graph.json"), Caller.from_values(user, None), settings,
                           job_id=job_id, output=str(tmp_path / "results" / job_id))
    return prepared


def test_submit_registers_uploads_and_creates_once(k8s_api, registry, prepared, tmp_path):
    api = k8s_api.client()
    outcome = submit_job(prepared("j-ops"), api, registry, clock=lambda: T0)
    assert (outcome.job_id, outcome.created) == ("j-ops", True)
    inputs = tmp_path / "results" / "j-ops.job"
    assert json.loads((inputs / "process_graph.json").read_text()) == ADD
    assert json.loads((inputs / "job_spec.json").read_text())["submitted_at"] == "2026-05-01T12:00:00Z"
    assert registry.get("j-ops").status is JobState.QUEUED
    # the same id again: nothing created, the record untouched
    assert submit_job(prepared("j-ops"), api, registry).created is False
    assert k8s_api.store.names(k8s_api.namespace) == ["j-ops"]


def test_a_failed_submit_marks_the_registered_job_error(registry, prepared, unreachable_kubeconfig):
    with pytest.raises(KubernetesUnreachable):
        submit_job(prepared("j-down"), connect(str(unreachable_kubeconfig)), registry)
    record = registry.get("j-down")
    assert record.status is JobState.ERROR and record.error.startswith("submit failed:")


def test_status_list_and_cancel(k8s_api, registry, prepared):
    api, ns = k8s_api.client(), k8s_api.namespace
    submit_job(prepared("j-a"), api, registry)
    submit_job(prepared("j-b", user="bob"), api)                  # no registry: the cluster only
    k8s_api.store.set_status(ns, "j-a", {"applicationState": {"state": "RUNNING"}, "driverInfo": {}})
    assert job_status(api, ns, "j-a").state == "RUNNING"
    assert [s.job_id for s in list_jobs(api, ns, "alice")] == ["j-a"]
    assert {s.job_id for s in list_jobs(api, ns, None)} == {"j-a", "j-b"}

    outcome = cancel_job(api, ns, "j-a", registry)
    assert outcome.had_application and outcome.last_state == "RUNNING"
    assert registry.get("j-a").status is JobState.CANCELED and k8s_api.store.names(ns) == ["j-b"]
    with pytest.raises(SparkAppNotFound):
        job_status(api, ns, "j-a")
    with pytest.raises(IllegalTransition):                        # it ended: a final state never changes
        cancel_job(api, ns, "j-a", registry)
    with pytest.raises(SparkAppNotFound):                         # unknown to both
        cancel_job(api, ns, "j-none", registry)


def test_a_registered_job_without_application_is_still_canceled(k8s_api, registry, prepared):
    prep = prepared("j-early")
    lifecycle.register(registry, prep.job, k8s_api.namespace)
    outcome = cancel_job(k8s_api.client(), k8s_api.namespace, "j-early", registry)
    assert not outcome.had_application and outcome.last_state is None
    assert registry.get("j-early").status is JobState.CANCELED

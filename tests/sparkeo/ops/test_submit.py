"""``submit_job`` called directly (no click), against the test Kubernetes API and a real ZooKeeper registry."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from sparkapps.client import connect
from sparkapps.errors import KubernetesUnreachable
from sparkeo.ops.submit import submit_job
from tests.sparkeo.ops.conftest import ADD
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


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

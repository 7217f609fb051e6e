"""``job_status`` and ``list_jobs`` called directly, against the test Kubernetes API."""
from __future__ import annotations

import pytest

from sparkapps.errors import SparkAppNotFound
from sparkeo.contracts import JobState
from sparkeo.ops.cancel import cancel_job
from sparkeo.ops.status import describe_job, job_status, list_jobs
from sparkeo.ops.submit import submit_job


def test_status_of_one_job_and_lists_per_user(k8s_api, prepared):
    api, ns = k8s_api.client(), k8s_api.namespace
    submit_job(prepared("j-a"), api)
    submit_job(prepared("j-b", user="bob"), api)
    k8s_api.store.set_status(ns, "j-a", {"applicationState": {"state": "RUNNING"}, "driverInfo": {}})
    assert job_status(api, ns, "j-a").state == "RUNNING"
    assert [s.job_id for s in list_jobs(api, ns, "alice")] == ["j-a"]
    assert {s.job_id for s in list_jobs(api, ns, None)} == {"j-a", "j-b"}
    with pytest.raises(SparkAppNotFound) as info:
        job_status(api, ns, "j-none")
    assert info.value.exit_code == 2


def test_describe_job_falls_back_to_the_registry_once_the_application_is_gone(k8s_api, registry, prepared):
    api, ns = k8s_api.client(), k8s_api.namespace
    submit_job(prepared("j-c"), api, registry)
    live = describe_job(api, ns, "j-c", registry)
    assert live.source == "application" and live.record.status is JobState.QUEUED
    cancel_job(api, ns, "j-c", registry)
    gone = describe_job(api, ns, "j-c", registry)
    assert gone.source == "registry" and gone.app is None and gone.record.status is JobState.CANCELED
    assert gone.to_json()["record"]["status"] == "canceled"
    with pytest.raises(SparkAppNotFound):
        describe_job(api, ns, "j-none", registry)
    with pytest.raises(SparkAppNotFound):                         # without a registry: the cluster only
        describe_job(api, ns, "j-c")

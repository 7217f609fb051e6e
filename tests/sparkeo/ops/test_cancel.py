"""``cancel_job`` called directly, against the test Kubernetes API and a real ZooKeeper registry."""
from __future__ import annotations

import pytest

from sparkapps.errors import SparkAppNotFound
from sparkeo.ops.cancel import cancel_job
from sparkeo.ops.submit import submit_job
from tracker import lifecycle
from tracker.errors import IllegalTransition
from tracker.states import JobState


def test_cancel_deletes_the_application_and_records_it(k8s_api, registry, prepared):
    api, ns = k8s_api.client(), k8s_api.namespace
    submit_job(prepared("j-a"), api, registry)
    submit_job(prepared("j-b", user="bob"), api)                  # no registry: the cluster only
    k8s_api.store.set_status(ns, "j-a", {"applicationState": {"state": "RUNNING"}, "driverInfo": {}})
    outcome = cancel_job(api, ns, "j-a", registry)
    assert outcome.had_application and outcome.last_state == "RUNNING"
    assert registry.get("j-a").status is JobState.CANCELED and k8s_api.store.names(ns) == ["j-b"]
    again = cancel_job(api, ns, "j-a", registry)                  # idempotent
    assert again.already_canceled and not again.had_application
    with pytest.raises(SparkAppNotFound):                         # unknown to both
        cancel_job(api, ns, "j-none", registry)


def test_a_registered_job_without_application_is_still_canceled(k8s_api, registry, prepared):
    prep = prepared("j-early")
    lifecycle.register(registry, prep.job, k8s_api.namespace)
    outcome = cancel_job(k8s_api.client(), k8s_api.namespace, "j-early", registry)
    assert not outcome.had_application and outcome.last_state is None
    assert registry.get("j-early").status is JobState.CANCELED


def test_cancel_again_deletes_an_application_left_behind_and_finished_jobs_refuse(k8s_api, registry, prepared):
    api, ns = k8s_api.client(), k8s_api.namespace
    submit_job(prepared("j-half"), api, registry)
    lifecycle.cancel(registry, "j-half")                          # a cancel that died before the delete
    outcome = cancel_job(api, ns, "j-half", registry)
    assert outcome.already_canceled and outcome.had_application and k8s_api.store.names(ns) == []
    submit_job(prepared("j-done"), api, registry)
    registry.update("j-done", None, lambda r: r.with_status(JobState.FINISHED, r.created))
    with pytest.raises(IllegalTransition):                        # finished: a final state never changes
        cancel_job(api, ns, "j-done", registry)

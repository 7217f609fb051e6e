"""The registry side of submit and cancel: created before the application, queued after, error if
the submit fails in between, canceled by the user."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from sparkapps.manifest import JobSpec
from tracker import lifecycle
from tracker.errors import IllegalTransition
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
JOB = JobSpec(job_id="j-life", user="alice", graph_uri="s3://b/jobs/j-life/process_graph.json",
              output_uri="s3://b/jobs/j-life", job_options={"max_duration": 7200, "executor-cores": 2})


def test_record_keeps_uris_and_limits_never_the_graph():
    rec = lifecycle.record_for(JOB, "eo", T0)
    assert (rec.status, rec.namespace, rec.app_name) == (JobState.CREATED, "eo", "j-life")
    assert rec.results == "s3://b/jobs/j-life" and rec.spec == "s3://b/jobs/j-life.job/job_spec.json"
    assert rec.max_duration == 7200.0 and rec.created == T0


def test_register_then_submitted_then_cancel(registry):
    assert lifecycle.register(registry, JOB, "eo", T0) is True
    assert lifecycle.register(registry, JOB, "eo", T0) is False  # a re-submit
    assert registry.get("j-life").status is JobState.CREATED
    lifecycle.on_submitted(registry, clock=lambda: T0)(JOB, {"metadata": {"name": "j-life"}})
    assert registry.get("j-life").status is JobState.QUEUED
    assert lifecycle.cancel(registry, "j-life", now=T0).status is JobState.CANCELED
    with pytest.raises(IllegalTransition, match="'canceled' -> 'canceled'"):
        lifecycle.cancel(registry, "j-life", now=T0)
    assert lifecycle.cancel(registry, "j-unknown") is None


def test_failed_submit_marks_the_record_error(registry):
    lifecycle.register(registry, JOB, "eo", T0)
    lifecycle.submit_failed(registry, JOB, "SparkApplication invalid: spec.driver.cores", T0)
    rec = registry.get("j-life")
    assert rec.status is JobState.ERROR and rec.error == "submit failed: SparkApplication invalid: spec.driver.cores"
    lifecycle.submit_failed(registry, JOB, "again", T0)  # a final record stays as it is
    assert registry.get("j-life").error.endswith("spec.driver.cores")

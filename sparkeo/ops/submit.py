"""``submit``: store a prepared job's inputs, record it in the job registry, create its SparkApplication.

Order (DESIGN.md): the registry record is created (``created``) BEFORE the application and moves to
``queued`` once the application exists; a submit that fails in between marks the record ``error``
with the reason. Submitting a job id that has an application already creates nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sparkapps import submit as submitting
from sparkapps.client import SparkAppsApi
from sparkeo.errors import SparkeoError
from sparkeo.ops.prepare import PreparedJob
from tracker import lifecycle
from tracker.record import utcnow
from tracker.registry import JobRegistry


@dataclass(frozen=True)
class SubmitOutcome:
    """A submitted job: its id, and whether this call created its application (``False``: it existed)."""

    job_id: str
    created: bool


def submit_job(prep: PreparedJob, api: SparkAppsApi, registry: JobRegistry | None = None,
               clock: Callable[[], datetime] = utcnow) -> SubmitOutcome:
    """Submit ``prep`` (from ``prepare_job``): stamp its submission time, register it when a
    ``registry`` is given, upload the graph unless the driver reads it where it lives, and create
    the application. A failure after registering marks the record ``error`` and is raised."""
    prep = prep.submitted(clock())
    if registry is not None:
        lifecycle.register(registry, prep.job, prep.deployment.namespace)
    try:
        done = submitting.submit(api, prep.job, prep.deployment,
                                 graph=prep.graph_doc if prep.uploads_graph else None,
                                 on_submitted=lifecycle.on_submitted(registry) if registry is not None else None)
    except SparkeoError as exc:
        if registry is not None:
            lifecycle.submit_failed(registry, prep.job, str(exc))
        raise
    return SubmitOutcome(prep.job.job_id, done.created)

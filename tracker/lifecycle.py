"""The registry's side of ``submit`` and ``cancel``: what a record looks like when a job starts or is
canceled by its user. ``sparkapps.submit`` calls these through its ``on_submitted``/``on_canceled``
seams, so ``sparkapps`` itself never touches ZooKeeper.

Order on submit (DESIGN.md): the record is created (``created``) BEFORE the SparkApplication, and
moves to ``queued`` once the application exists; a submit that fails in between marks the record
``error`` with the reason, so no record waits for an application that will never come.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Mapping

from sparkapps.submit import job_spec_location
from tracker.errors import JobExists, JobNotFound
from tracker.record import JobRecord, utcnow
from tracker.registry import JobRegistry
from tracker.states import JobState

log = logging.getLogger(__name__)

# job option (openEO "job_options") that caps a job's run time, in seconds
MAX_DURATION_OPTION = "max_duration"


def record_for(job: Any, namespace: str, now: datetime | None = None) -> JobRecord:
    """A new ``created`` record for a ``sparkapps.manifest.JobSpec``-like job (URIs only, no graph)."""
    options: Mapping[str, Any] = getattr(job, "job_options", None) or {}
    max_duration = options.get(MAX_DURATION_OPTION)
    output = getattr(job, "output_uri", None)
    return JobRecord(
        job_id=job.job_id, user=job.user, status=JobState.CREATED, created=now or utcnow(),
        namespace=namespace, application=job.job_id, results=output,
        spec=job_spec_location(output) if output else None,
        max_duration=float(max_duration) if isinstance(max_duration, (int, float)) else None,
    )


def register(registry: JobRegistry, job: Any, namespace: str, now: datetime | None = None) -> bool:
    """Create the job's record before its application; ``False`` when it exists (a re-submit)."""
    try:
        registry.create(record_for(job, namespace, now))
        return True
    except JobExists:
        log.info("job %s is registered already", job.job_id)
        return False


def on_submitted(registry: JobRegistry, clock: Callable[[], datetime] = utcnow):
    """The ``on_submitted(job, app)`` callback: the application exists, the job is ``queued``."""
    def submitted(job: Any, app: Mapping[str, Any]) -> None:
        def queue(r: JobRecord) -> JobRecord:
            return r.with_status(JobState.QUEUED, clock()) if r.status is JobState.CREATED else r
        registry.update(job.job_id, job.user, queue)
    return submitted


def submit_failed(registry: JobRegistry, job: Any, reason: str, now: datetime | None = None) -> None:
    """Mark a record still ``created`` as ``error`` (its application was never created)."""
    def fail(r: JobRecord) -> JobRecord:
        return r.with_status(JobState.ERROR, now or utcnow(), error=f"submit failed: {reason}") \
            if r.status is JobState.CREATED else r
    try:
        registry.update(job.job_id, job.user, fail)
    except JobNotFound:
        pass


def cancel(registry: JobRegistry, job_id: str, user: str | None = None,
           now: datetime | None = None) -> JobRecord | None:
    """Mark a job ``canceled`` (its application is deleted by the caller); ``None`` if unregistered.

    Raises ``IllegalTransition`` when the job already ended (a final state never changes).
    """
    try:
        return registry.cancel(job_id, user, now or utcnow())
    except JobNotFound:
        return None

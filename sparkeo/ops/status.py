"""``status`` and ``list``: what the spark-operator says about one job, or about a user's jobs.

``describe_job`` joins both sources: the application's state while it exists, the registry's record
when the application is gone (canceled, or removed by the operator's time-to-live), so ``status``
and ``jobs show`` never disagree about a job that ended.
"""
from __future__ import annotations

from dataclasses import dataclass

from sparkapps import names, submit as submitting
from sparkapps.client import AppState, SparkAppsApi
from sparkapps.errors import SparkAppNotFound
from tracker.errors import JobNotFound
from tracker.record import JobRecord
from tracker.registry import JobRegistry


@dataclass(frozen=True)
class JobStatus:
    """One job as ``status`` shows it: its application (when it exists) and its record (when known)."""

    job_id: str
    app: AppState | None
    record: JobRecord | None

    @property
    def source(self) -> str:
        """``"application"`` while the SparkApplication exists, else ``"registry"``."""
        return "application" if self.app is not None else "registry"

    def to_json(self) -> dict:
        """A JSON-ready dict: the source, the application's state and the registry's record."""
        return {"job_id": self.job_id, "source": self.source,
                "application": self.app.to_json() if self.app is not None else None,
                "record": self.record.to_dict() if self.record is not None else None}


def job_status(api: SparkAppsApi, namespace: str, job_id: str) -> AppState:
    """The state of ``job_id``'s SparkApplication; ``SparkAppNotFound`` (exit 2) when it has none."""
    return submitting.status(api, namespace, job_id)


def describe_job(api: SparkAppsApi, namespace: str, job_id: str,
                 registry: JobRegistry | None = None) -> JobStatus:
    """``job_id``'s application state and registry record; ``SparkAppNotFound`` (exit 2) when neither
    the cluster nor the registry (if given) knows the job."""
    try:
        app: AppState | None = job_status(api, namespace, job_id)
    except SparkAppNotFound:
        if registry is None:
            raise
        app = None
    record = None
    if registry is not None:
        try:
            record = registry.get(job_id)
        except JobNotFound:
            if app is None:
                raise SparkAppNotFound(job_id, namespace) from None
    return JobStatus(job_id, app, record)


def list_jobs(api: SparkAppsApi, namespace: str, user: str | None) -> list[AppState]:
    """The SparkApplications sparkeo created in ``namespace`` (``user``'s only, unless ``None``),
    oldest first."""
    states = api.list_states(namespace, names.user_selector(user))
    return sorted(states.values(), key=lambda s: (s.created or "", s.job_id))

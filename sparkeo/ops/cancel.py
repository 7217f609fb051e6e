"""``cancel``: delete a job's SparkApplication (the operator stops its pods) and record the cancel."""
from __future__ import annotations

from dataclasses import dataclass

from sparkapps import submit as submitting
from sparkapps.client import SparkAppsApi
from sparkapps.errors import SparkAppNotFound
from tracker import lifecycle
from tracker.registry import JobRegistry


@dataclass(frozen=True)
class CancelOutcome:
    """A canceled job: the state its application was in (``None``: it had none), as the operator said."""

    job_id: str
    had_application: bool
    last_state: str | None = None


def cancel_job(api: SparkAppsApi, namespace: str, job_id: str,
               registry: JobRegistry | None = None) -> CancelOutcome:
    """Cancel ``job_id``: delete its application and, with a ``registry``, mark its record ``canceled``.

    A job with no application (not created yet, or gone) that is registered and unfinished is still
    canceled; with neither, ``SparkAppNotFound`` (exit 2). A job that already ended refuses
    (``IllegalTransition``, exit 2).
    """
    on_canceled = (lambda jid, _state: lifecycle.cancel(registry, jid)) if registry is not None else None
    try:
        last = submitting.cancel(api, namespace, job_id, on_canceled=on_canceled)
    except SparkAppNotFound:
        if registry is None or lifecycle.cancel(registry, job_id) is None:
            raise
        return CancelOutcome(job_id, had_application=False)
    return CancelOutcome(job_id, had_application=True, last_state=last.state)

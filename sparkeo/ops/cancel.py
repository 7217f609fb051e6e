"""``cancel``: delete a job's SparkApplication (the operator stops its pods) and record the cancel.

Idempotent: cancelling a job the registry already has as ``canceled`` succeeds again (the second
call only makes sure no application is left), so a retried request or a double click is no error.
"""
from __future__ import annotations

from dataclasses import dataclass

from sparkapps import submit as submitting
from sparkapps.client import SparkAppsApi
from sparkapps.errors import SparkAppNotFound
from sparkeo.contracts import JobState
from tracker import lifecycle
from tracker.errors import JobNotFound
from tracker.registry import JobRegistry


@dataclass(frozen=True)
class CancelOutcome:
    """A canceled job: the state its application was in (``None``: it had none), as the operator said.

    ``already_canceled``: the registry had the job as canceled before this call.
    """

    job_id: str
    had_application: bool
    last_state: str | None = None
    already_canceled: bool = False


def cancel_job(api: SparkAppsApi, namespace: str, job_id: str,
               registry: JobRegistry | None = None) -> CancelOutcome:
    """Cancel ``job_id``: delete its application and, with a ``registry``, mark its record ``canceled``.

    A job with no application (not created yet, or gone) that is registered and unfinished is still
    canceled; with neither, ``SparkAppNotFound`` (exit 2). A job already canceled is canceled again
    without error (``already_canceled``); one that finished or failed refuses (``IllegalTransition``,
    exit 2).
    """
    if registry is not None and _is_canceled(registry, job_id):
        return _cancel_again(api, namespace, job_id)
    on_canceled = (lambda jid, _state: lifecycle.cancel(registry, jid)) if registry is not None else None
    try:
        last = submitting.cancel(api, namespace, job_id, on_canceled=on_canceled)
    except SparkAppNotFound:
        if registry is None or lifecycle.cancel(registry, job_id) is None:
            raise
        return CancelOutcome(job_id, had_application=False)
    return CancelOutcome(job_id, had_application=True, last_state=last.state)


def _is_canceled(registry: JobRegistry, job_id: str) -> bool:
    try:
        return registry.get(job_id).status is JobState.CANCELED
    except JobNotFound:
        return False


def _cancel_again(api: SparkAppsApi, namespace: str, job_id: str) -> CancelOutcome:
    """The record says canceled; an application left by a cancel that died half-way is deleted now."""
    try:
        last = submitting.cancel(api, namespace, job_id)
    except SparkAppNotFound:
        return CancelOutcome(job_id, had_application=False, already_canceled=True)
    return CancelOutcome(job_id, had_application=True, last_state=last.state, already_canceled=True)

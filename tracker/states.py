"""Job states, the transitions between them, and what a SparkApplication's state means for a job.

Pure: no ZooKeeper, no Kubernetes. DESIGN.md's mapping of ``status.applicationState.state``:
``""``/``SUBMITTED``/``PENDING_RERUN`` -> queued, ``RUNNING``/``SUCCEEDING`` -> running,
``COMPLETED`` -> finished, ``FAILED``/``SUBMISSION_FAILED``/``FAILING`` -> error, anything
unknown -> no change (the caller logs it).
"""
from __future__ import annotations

from sparkeo.contracts import FINAL_STATES, JobState
from tracker.errors import IllegalTransition

__all__ = ["FINAL_STATES", "JobState", "TRANSITIONS", "APP_STATE_TO_JOB_STATE", "TRANSIENT_APP_STATES",
           "parse_state", "is_legal", "check_transition", "job_state_of"]

# Allowed moves. RUNNING -> QUEUED is the operator's PENDING_RERUN (a new attempt); final states
# have no way out. Staying in a non-final state is allowed (a record update that changes other fields).
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.CREATED: frozenset({JobState.CREATED, JobState.QUEUED, JobState.RUNNING, *FINAL_STATES}),
    JobState.QUEUED: frozenset({JobState.QUEUED, JobState.RUNNING, *FINAL_STATES}),
    JobState.RUNNING: frozenset({JobState.RUNNING, JobState.QUEUED, *FINAL_STATES}),
    JobState.FINISHED: frozenset(),
    JobState.ERROR: frozenset(),
    JobState.CANCELED: frozenset(),
}

APP_STATE_TO_JOB_STATE: dict[str, JobState] = {
    "": JobState.QUEUED,
    "SUBMITTED": JobState.QUEUED,
    "PENDING_RERUN": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDING": JobState.RUNNING,
    "COMPLETED": JobState.FINISHED,
    "FAILED": JobState.ERROR,
    "SUBMISSION_FAILED": JobState.ERROR,
    "FAILING": JobState.ERROR,
}

# Application states that should be short-lived; stuck in one of them past a threshold is reported.
TRANSIENT_APP_STATES = frozenset({"SUCCEEDING", "FAILING"})


def parse_state(value: str | JobState) -> JobState:
    """``"running"`` -> ``JobState.RUNNING``; raises ``ValueError`` naming the bad value."""
    try:
        return JobState(value)
    except ValueError:
        names = ", ".join(s.value for s in JobState)
        raise ValueError(f"unknown job state {value!r} (one of: {names})") from None


def is_legal(old: JobState, new: JobState) -> bool:
    """Whether a record in state ``old`` may be written with state ``new``."""
    return new in TRANSITIONS[old]


def check_transition(job_id: str, old: JobState, new: JobState) -> None:
    """Raise ``IllegalTransition`` unless ``old -> new`` is allowed."""
    if not is_legal(old, new):
        raise IllegalTransition(job_id, old.value, new.value)


def job_state_of(app_state: str | None) -> JobState | None:
    """The job state a SparkApplication state means, or ``None`` when unknown (no change).

    A missing ``applicationState`` (``None``) is treated like ``""``: the operator has not
    picked the application up yet.
    """
    return APP_STATE_TO_JOB_STATE.get("" if app_state is None else app_state)

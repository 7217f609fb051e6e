"""``status`` and ``list``: what the spark-operator says about one job, or about a user's jobs."""
from __future__ import annotations

from sparkapps import names, submit as submitting
from sparkapps.client import AppState, SparkAppsApi


def job_status(api: SparkAppsApi, namespace: str, job_id: str) -> AppState:
    """The state of ``job_id``'s SparkApplication; ``SparkAppNotFound`` (exit 2) when it has none."""
    return submitting.status(api, namespace, job_id)


def list_jobs(api: SparkAppsApi, namespace: str, user: str | None) -> list[AppState]:
    """The SparkApplications sparkeo created in ``namespace`` (``user``'s only, unless ``None``),
    oldest first."""
    states = api.list_states(namespace, names.user_selector(user))
    return sorted(states.values(), key=lambda s: (s.created or "", s.job_id))

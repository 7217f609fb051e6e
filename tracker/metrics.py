"""The tracker's figures as Prometheus series, pushed to a Pushgateway after every pass.

A pass is a short-lived process, so its figures are gauges describing the LAST pass, pushed under
``job="sparkeo-tracker"`` (each push replaces the previous one). Series (Grafana uses these names):

- ``sparkeo_tracker_jobs{state}``: ongoing jobs seen by the pass, per state after the pass
- ``sparkeo_tracker_transitions{from_state,to_state}``: state changes written by the pass
- ``sparkeo_tracker_pass_duration_seconds``
- ``sparkeo_tracker_errors{kind}``: record, metadata, listing, cancel, write, conflict, prune
- ``sparkeo_tracker_apps_missing``, ``sparkeo_tracker_apps_stuck``, ``sparkeo_tracker_overdue_canceled``,
  ``sparkeo_tracker_unknown_states``, ``sparkeo_tracker_writes``, ``sparkeo_tracker_pruned``
- ``sparkeo_tracker_lock_held``: 1 when the pass found another pass running and did nothing
- ``sparkeo_tracker_last_pass_timestamp_seconds``: when the pass ended (alert on staleness)
"""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, delete_from_gateway, push_to_gateway, pushadd_to_gateway

from sparkeo.contracts import JOB_PUSH_JOB

from tracker.record import JobRecord
from tracker.states import JobState
from tracker.track import PassReport

PUSH_JOB = "sparkeo-tracker"
ERROR_KINDS = ("record", "metadata", "listing", "cancel", "write", "conflict", "prune")


def collect(report: PassReport, now: float | None = None) -> CollectorRegistry:
    """A fresh registry holding the report's series (pure apart from building objects)."""
    reg = CollectorRegistry()

    def gauge(name: str, doc: str, value: float) -> None:
        Gauge(name, doc, registry=reg).set(value)

    jobs = Gauge("sparkeo_tracker_jobs", "Jobs seen by the last pass, per state after it", ["state"], registry=reg)
    for state in JobState:  # every state, zeros included, so dashboards see stable series
        jobs.labels(state=state.value).set(report.states.get(state.value, 0))
    transitions = Gauge("sparkeo_tracker_transitions", "State changes written by the last pass",
                        ["from_state", "to_state"], registry=reg)
    for key, n in report.transitions.items():
        old, new = key.split("->")
        transitions.labels(from_state=old, to_state=new).set(n)
    errors = Gauge("sparkeo_tracker_errors", "Errors met by the last pass, per kind", ["kind"], registry=reg)
    for kind in sorted(set(ERROR_KINDS) | set(report.errors)):
        errors.labels(kind=kind).set(report.errors.get(kind, 0))
    gauge("sparkeo_tracker_pass_duration_seconds", "Duration of the last pass", report.seconds)
    gauge("sparkeo_tracker_apps_missing", "Jobs whose SparkApplication was not listed", report.apps_missing)
    gauge("sparkeo_tracker_apps_stuck", "Applications stuck in SUCCEEDING/FAILING", report.apps_stuck)
    gauge("sparkeo_tracker_overdue_canceled", "Jobs canceled for exceeding their max duration",
          report.overdue_canceled)
    gauge("sparkeo_tracker_unknown_states", "Applications in a state the tracker does not know",
          report.unknown_states)
    gauge("sparkeo_tracker_writes", "Records written by the last pass", report.writes)
    gauge("sparkeo_tracker_pruned", "Done records removed by retention", report.pruned)
    gauge("sparkeo_tracker_lock_held", "1 when another pass held the lock", 1 if report.lock_held else 0)
    gauge("sparkeo_tracker_last_pass_timestamp_seconds", "End of the last pass (epoch seconds)",
          time.time() if now is None else now)
    return reg


def push(report: PassReport, gateway: str, timeout: float = 10.0) -> None:
    """Push the report to ``gateway`` (``host:port`` or a URL) under ``job="sparkeo-tracker"``.

    A pass that found the lock held adds only ``sparkeo_tracker_lock_held`` (the running pass's
    figures stay); a real pass replaces the whole group.
    """
    if report.lock_held:
        reg = CollectorRegistry()
        Gauge("sparkeo_tracker_lock_held", "1 when another pass held the lock", registry=reg).set(1)
        pushadd_to_gateway(gateway, job=PUSH_JOB, registry=reg, timeout=timeout)
        return
    push_to_gateway(gateway, job=PUSH_JOB, registry=collect(report), timeout=timeout)


def forget_job(gateway: str, record: JobRecord, timeout: float = 10.0) -> None:
    """Delete the series the job of ``record`` pushed to ``gateway`` at its end (``jobs.progress``):
    the Pushgateway keeps a group until it is deleted, so without this every job ever run would stay
    a series. Both groupings are deleted: with the record's namespace (a cluster job) and without
    (a job run where no namespace was set); deleting a group that does not exist succeeds."""
    for key in ({"job_id": record.job_id, "namespace": record.namespace}, {"job_id": record.job_id}):
        delete_from_gateway(gateway, job=JOB_PUSH_JOB, grouping_key=key, timeout=timeout)

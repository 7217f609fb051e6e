"""One tracker pass: bring the job registry in step with what the cluster did.

The CronJob runs ``sparkeo track`` every minute. A pass takes the ZooKeeper lock (a second pass
exits at once), reads every ongoing record, lists SparkApplications ONCE per namespace through the
injected status source (``JobTracker(app_states=...)``, like openEO's ``app_state_getter``),
decides per record (``decide``: pure), reads ``job_metadata.json`` for jobs that ended, and writes
the changes as batched, pipelined ZooKeeper transactions. One bad record, a missing application or
unreadable metadata never stops the pass; a lost ZooKeeper connection does (``RegistryUnavailable``:
exit 1), and since every write is an atomic transaction of whole records, none is ever half-written.

Longer than ~400 lines on purpose: the pass and the pure rules it applies (``decide``) are read
together; the rules are the first candidate for a module of their own when the pass grows.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from sparkeo import storage
from sparkeo.errors import NotFoundInStorage
from sparkeo.contracts import METADATA_FILE, SPARKEO_SELECTOR
from tracker import retention
from sparkapps.errors import SparkAppNotFound
from tracker.errors import RegistryError, RegistryUnavailable, StaleRecord
from tracker.record import JobRecord, utcnow
from tracker.registry import JobRegistry, Versioned
from tracker.states import TRANSIENT_APP_STATES, JobState, is_legal, job_state_of

log = logging.getLogger(__name__)


# (namespace, label selector) -> {job_id: state}; a state is a str, or has ``.state``
# (and optionally ``.error_message``) like ``sparkapps.client.AppState``.
AppStates = Callable[[str, str], Mapping[str, Any]]
# (namespace, application name) -> None: deletes the SparkApplication.
CancelApp = Callable[[str, str], None]


@dataclass(frozen=True)
class TrackerConfig:
    """Thresholds of a pass, in seconds (retention in days)."""

    label_selector: str = SPARKEO_SELECTOR
    namespaces: frozenset[str] | None = None  # only records of these namespaces; None: all
    # namespaces listed while the records are read (the usual one): saves the LIST's latency
    prefetch_namespaces: frozenset[str] = frozenset()
    missing_grace: float = 600.0
    max_duration: float = 48 * 3600.0  # default when a record names none
    stuck_after: float = 1800.0
    retention_days: float | None = 30.0
    prune_every: float = 3600.0
    metadata_workers: int = 8


@dataclass(frozen=True)
class AppStatus:
    """The part of a SparkApplication's status a decision needs."""

    state: str | None
    error: str | None = None

    @classmethod
    def of(cls, value: Any) -> "AppStatus":
        """Normalise what a status source returns (a str, a dict or an ``AppState``-like object)."""
        if value is None or isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            app_state = (value.get("status") or {}).get("applicationState") or value
            return cls(app_state.get("state"), app_state.get("errorMessage"))
        return cls(getattr(value, "state", None), getattr(value, "error_message", None))


@dataclass(frozen=True)
class Decision:
    """What a pass does about one record: its new version (``None``: unchanged) and side effects."""

    record: JobRecord | None = None
    cancel_app: bool = False
    read_metadata: bool = False
    missing: bool = False
    stuck: bool = False
    unknown_state: str | None = None


@dataclass(frozen=True)
class PassReport:
    """The figures of one pass (pushed to the Pushgateway as ``sparkeo_tracker_*``)."""

    lock_held: bool = False
    jobs: int = 0
    states: Mapping[str, int] = field(default_factory=dict)  # jobs per state after the pass
    transitions: Mapping[str, int] = field(default_factory=dict)  # "queued->running": n
    seconds: float = 0.0
    errors: Mapping[str, int] = field(default_factory=dict)  # kind -> n
    apps_missing: int = 0
    apps_stuck: int = 0
    overdue_canceled: int = 0
    unknown_states: int = 0
    writes: int = 0
    pruned: int = 0
    failed_namespaces: tuple[str, ...] = ()

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_json(self) -> dict:
        return {
            "lock_held": self.lock_held, "jobs": self.jobs, "states": dict(self.states),
            "transitions": dict(self.transitions), "seconds": round(self.seconds, 3),
            "errors": dict(self.errors), "apps_missing": self.apps_missing, "apps_stuck": self.apps_stuck,
            "overdue_canceled": self.overdue_canceled, "unknown_states": self.unknown_states,
            "writes": self.writes, "pruned": self.pruned, "failed_namespaces": list(self.failed_namespaces),
        }


def decide(record: JobRecord, app: AppStatus | None, now: datetime, config: TrackerConfig) -> Decision:
    """What to do about ``record`` given its application's status (``None``: not in the listing).

    Pure. Missing application: start the grace period, then ``error``. Known state: map it
    (DESIGN.md) and move the record; unknown state: no change. Running past the job's max
    duration: cancel the application and ``error``. SUCCEEDING/FAILING past ``stuck_after``: report.
    """
    if app is None:
        since = record.missing_since or now
        if (now - since).total_seconds() > config.missing_grace:
            reason = (f"application disappeared: SparkApplication {record.app_name!r} not found in namespace "
                      f"{record.namespace!r} for more than {config.missing_grace:g} s")
            return Decision(record.with_status(JobState.ERROR, now, error=reason, missing_since=since),
                            read_metadata=True, missing=True)
        if record.missing_since is None:
            return Decision(record.evolve(missing_since=now, updated=now), missing=True)
        return Decision(missing=True)

    changes: dict[str, Any] = {}
    if record.missing_since is not None:
        changes["missing_since"] = None
    since = record.app_state_since or now
    if app.state != record.app_state or record.app_state_since is None:
        changes.update(app_state=app.state, app_state_since=now)
        since = now
    stuck = app.state in TRANSIENT_APP_STATES and (now - since).total_seconds() > config.stuck_after

    target = job_state_of(app.state)
    unknown = app.state if target is None else None
    effective = target or record.status
    if effective is JobState.RUNNING and not target_is_final(target):
        started = record.started or now
        limit = record.max_duration or config.max_duration
        if (now - started).total_seconds() > limit:
            reason = f"job ran longer than its maximum duration of {limit:g} s and was canceled"
            new = record.with_status(JobState.ERROR, now, error=reason, **changes)
            return Decision(new, cancel_app=True, read_metadata=True, stuck=stuck, unknown_state=unknown)
    if target is not None and target is not record.status and is_legal(record.status, target):
        error = (app.error or f"SparkApplication state {app.state}") if target is JobState.ERROR else None
        new = record.with_status(target, now, error=error, **changes)
        return Decision(new, read_metadata=target.is_final, stuck=stuck)
    if changes:
        return Decision(record.evolve(updated=now, **changes), stuck=stuck, unknown_state=unknown)
    return Decision(stuck=stuck, unknown_state=unknown)


def target_is_final(target: JobState | None) -> bool:
    return target is not None and target.is_final


def usage_of(metadata: Mapping[str, Any]) -> dict[str, float]:
    """The numeric ``usage`` counters of a ``job_metadata.json`` document (others are dropped)."""
    usage = metadata.get("usage") if isinstance(metadata, Mapping) else None
    if not isinstance(usage, Mapping):
        raise ValueError("no 'usage' object")
    return {str(k)[:64]: v for k, v in usage.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def read_metadata(results: str) -> Mapping[str, Any]:
    """The ``<results>/job_metadata.json`` document; raises when missing or not JSON."""
    return json.loads(storage.read_bytes(storage.join(results, METADATA_FILE)))


def read_usage(results: str) -> dict[str, float]:
    """Usage counters from ``<results>/job_metadata.json``; raises on missing or malformed data."""
    return usage_of(read_metadata(results))


def _expected_absence(record: JobRecord, exc: Exception) -> bool:
    """No ``job_metadata.json`` is what a job that was canceled or failed before its end leaves:
    only a finished job's missing metadata is an error."""
    return isinstance(exc, NotFoundInStorage) and record.status is not JobState.FINISHED


class JobTracker:
    """Runs passes over one registry with an injected status source and application canceller."""

    def __init__(self, registry: JobRegistry, app_states: AppStates, cancel_app: CancelApp | None = None,
                 config: TrackerConfig = TrackerConfig(), *,
                 clock: Callable[[], datetime] = utcnow,
                 usage_reader: Callable[[str], Mapping[str, float]] = read_usage,
                 metadata_reader: Callable[[str], Mapping[str, Any]] = read_metadata,
                 archiver: Callable[[JobRecord], None] | None = retention.archive_record,
                 forget_metrics: Callable[[JobRecord], None] | None = None,
                 identifier: str | None = None):
        self.registry = registry
        self.app_states = app_states
        self.cancel_app = cancel_app
        self.config = config
        self.clock = clock
        self.usage_reader = usage_reader
        self.metadata_reader = metadata_reader
        self.archiver = archiver
        self.forget_metrics = forget_metrics
        self.identifier = identifier or f"{socket.gethostname()}:{os.getpid()}"

    def run_pass(self) -> PassReport:
        """One pass under the tracker lock; a ``lock_held`` report when another pass runs."""
        started = time.monotonic()
        lock = self.registry.try_lock(self.identifier)
        if lock is None:
            log.warning("another tracker pass holds the lock; this one does nothing")
            return PassReport(lock_held=True, seconds=time.monotonic() - started)
        self.registry.interrupted = False
        try:
            report = _Pass(self).run()
        finally:
            self.registry.release(lock)
        return _with_seconds(report, time.monotonic() - started)


def _with_seconds(report: PassReport, seconds: float) -> PassReport:
    return dataclasses.replace(report, seconds=seconds)


class _Pass:
    """The state of one pass while it runs (counters, decisions); discarded afterwards."""

    def __init__(self, tracker: JobTracker):
        self.t = tracker
        self.reg = tracker.registry
        self.config = tracker.config
        self.now = tracker.clock()
        self.errors: Counter[str] = Counter()
        self.transitions: Counter[str] = Counter()
        self.missing = self.stuck = self.overdue = self.unknown = self.writes = 0

    def run(self) -> PassReport:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="tracker-list") as pool:
            # The LISTs of the namespaces we expect start now and overlap the ZooKeeper reads.
            listings = {ns: pool.submit(self.t.app_states, ns, self.config.label_selector)
                        for ns in sorted(self.config.namespaces or self.config.prefetch_namespaces)}
            found, corrupt = self.reg.read_ongoing()
            for exc in corrupt:
                log.error("%s", exc)
            self.errors["record"] += len(corrupt)
            self.reg.check_connected()
            wanted = self.config.namespaces
            records = [v for v in found if wanted is None or v.record.namespace in wanted]
            needed = sorted({v.record.namespace for v in records})
            for ns in needed:
                if ns not in listings:
                    listings[ns] = pool.submit(self.t.app_states, ns, self.config.label_selector)
            apps, failed = self._list_apps({ns: listings[ns] for ns in needed})

        final_states: dict[str, JobState] = {}
        changes: list[tuple[Versioned, JobRecord]] = []
        decisions: dict[str, Decision] = {}
        for v in records:
            if v.record.namespace in failed:
                final_states[v.record.job_id] = v.record.status
                continue
            decision = self._decide(v.record, apps[v.record.namespace])
            decisions[v.record.job_id] = decision
            new = self._apply_side_effects(v.record, decision)
            if new is not None:
                changes.append((v, new))
            final_states[v.record.job_id] = (new or v.record).status
        changes = self._add_usage(changes)
        self.reg.check_connected()
        outcomes = self.reg.write_many(changes)
        for (old, new), outcome in zip(changes, outcomes):
            if outcome is None:
                self._count_write(old.record, new)
            elif isinstance(outcome, StaleRecord):
                final_states[old.record.job_id] = self._retry(old.record, apps[old.record.namespace])
            else:
                log.error("job %s not updated: %s", old.record.job_id, str(outcome) or repr(outcome))
                self.errors["write"] += 1
                final_states[old.record.job_id] = old.record.status
        self.reg.check_connected()
        pruned = self._prune()
        return PassReport(
            jobs=len(records), states=dict(Counter(s.value for s in final_states.values())),
            transitions=dict(self.transitions), errors={k: n for k, n in self.errors.items() if n},
            apps_missing=self.missing, apps_stuck=self.stuck, overdue_canceled=self.overdue,
            unknown_states=self.unknown, writes=self.writes, pruned=pruned, failed_namespaces=tuple(failed),
        )

    def _list_apps(self, listings: Mapping[str, Any]) -> tuple[dict[str, dict[str, AppStatus]], list[str]]:
        """The LIST of each namespace (one each); a namespace that failed is skipped and reported."""
        apps: dict[str, dict[str, AppStatus]] = {}
        failed: list[str] = []
        for ns, future in listings.items():
            try:
                apps[ns] = {job_id: AppStatus.of(state) for job_id, state in future.result().items()}
            except Exception as exc:
                log.error("cannot list SparkApplications in namespace %s: %s", ns, str(exc) or repr(exc))
                self.errors["listing"] += 1
                failed.append(ns)
        return apps, failed

    def _decide(self, record: JobRecord, apps: Mapping[str, AppStatus]) -> Decision:
        try:
            decision = decide(record, apps.get(record.app_name), self.now, self.config)
        except Exception as exc:  # one bad record never stops the others
            log.error("job %s: no decision: %s", record.job_id, str(exc) or repr(exc))
            self.errors["record"] += 1
            return Decision()
        self.missing += decision.missing
        if decision.stuck:
            self.stuck += 1
            log.warning("job %s: application stuck in %s since %s", record.job_id, record.app_state,
                        record.app_state_since)
        if decision.unknown_state is not None:
            self.unknown += 1
            log.warning("job %s: unknown application state %r, record unchanged",
                        record.job_id, decision.unknown_state)
        return decision

    def _apply_side_effects(self, record: JobRecord, decision: Decision) -> JobRecord | None:
        """Cancel an overdue application; if that fails the record stays as it is for the next pass.

        An application that vanished (e.g. removed by the operator's time-to-live while no pass
        ran) after its driver wrote ``job_metadata.json`` with status finished is a finished job.
        """
        if decision.missing and decision.record is not None and decision.record.status is JobState.ERROR \
                and record.results:
            try:
                doc = self.t.metadata_reader(record.results)
            except Exception:  # no metadata: the job did not finish
                doc = None
            if isinstance(doc, Mapping) and doc.get("status") == JobState.FINISHED.value:
                log.warning("job %s: application gone but its results say finished", record.job_id)
                return record.with_status(JobState.FINISHED, self.now,
                                          missing_since=decision.record.missing_since)
        if decision.cancel_app:
            try:
                if self.t.cancel_app is None:
                    raise RuntimeError("no application canceller configured")
                self.t.cancel_app(record.namespace, record.app_name)
            except Exception as exc:
                if not isinstance(exc, SparkAppNotFound):  # gone already: nothing left to stop
                    log.error("job %s: overdue application not canceled: %s", record.job_id,
                              str(exc) or repr(exc))
                    self.errors["cancel"] += 1
                    return None
            self.overdue += 1
        return decision.record

    def _add_usage(self, changes: list[tuple[Versioned, JobRecord]]) -> list[tuple[Versioned, JobRecord]]:
        """Read ``job_metadata.json`` of the jobs that ended (in parallel: object storage latency)."""
        ended = [i for i, (_, new) in enumerate(changes) if new.is_final and new.results]
        if not ended:
            return changes

        def usage(i: int):
            try:
                return i, dict(self.t.usage_reader(changes[i][1].results)), None
            except Exception as exc:
                return i, None, exc

        out = list(changes)
        with ThreadPoolExecutor(max_workers=self.config.metadata_workers) as pool:
            for i, found, exc in pool.map(usage, ended):
                old, new = out[i]
                if exc is not None and _expected_absence(new, exc):
                    log.info("job %s ended %s before writing %s", new.job_id, new.status.value, METADATA_FILE)
                elif exc is not None:
                    log.warning("job %s: no usage from %s: %s", new.job_id, METADATA_FILE, str(exc) or repr(exc))
                    self.errors["metadata"] += 1
                else:
                    out[i] = (old, new.evolve(usage=found))
        return out

    def _count_write(self, old: JobRecord, new: JobRecord) -> None:
        self.writes += 1
        if old.status is not new.status:
            self.transitions[f"{old.status.value}->{new.status.value}"] += 1

    def _retry(self, record: JobRecord, apps: Mapping[str, AppStatus]) -> JobState:
        """Someone wrote this record since we read it: decide again on the fresh record."""
        seen: list[JobRecord] = []

        def change(current: JobRecord) -> JobRecord:
            seen.append(current)
            if current.is_final:
                return current
            new = decide(current, apps.get(current.app_name), self.now, self.config).record or current
            if new.is_final and new.results and not new.usage:
                try:
                    new = new.evolve(usage=dict(self.t.usage_reader(new.results)))
                except Exception as exc:
                    if not _expected_absence(new, exc):
                        self.errors["metadata"] += 1
            return new

        try:
            new = self.reg.update(record.job_id, record.user, change)
        except RegistryUnavailable:
            raise
        except RegistryError as exc:
            log.error("job %s not updated: %s", record.job_id, exc)
            self.errors["conflict"] += 1
            return record.status
        if seen and new != seen[-1]:
            self._count_write(seen[-1], new)
        return new.status

    def _prune(self) -> int:
        if self.config.retention_days is None:
            return 0
        report = retention.prune_if_due(self.reg, self.config.retention_days, self.config.prune_every,
                                        self.now, self.t.archiver, self.t.forget_metrics)
        if report is None:
            return 0
        self.errors["prune"] += report.errors
        return report.deleted

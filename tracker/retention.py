"""Retention: done records older than N days leave ZooKeeper, archived to their results first.

A record is deleted only after ``<results>/job_record.json`` was written (or when it has no
results location to archive to); a failed archive keeps the record for the next run, so nothing
is lost. The tracker runs this at most once per ``prune_every`` seconds, remembered in the
``<root>/tracker/last_prune`` marker.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from sparkeo import storage
from tracker.record import JobRecord
from tracker.registry import JobRegistry

log = logging.getLogger(__name__)

ARCHIVE_FILE = "job_record.json"
MARKER = "last_prune"


@dataclass(frozen=True)
class PruneReport:
    """What a retention run did: records archived and deleted, and the ones it could not handle."""

    deleted: int = 0
    archived: int = 0
    errors: int = 0


def archive_record(record: JobRecord) -> None:
    """Write a done record to ``<results>/job_record.json`` (local folder or S3)."""
    storage.write_bytes(storage.join(record.results, ARCHIVE_FILE), record.to_json(), "application/json")


def prune(registry: JobRegistry, older_than: timedelta, now: datetime,
          archive: Callable[[JobRecord], None] | None = archive_record,
          forget: Callable[[JobRecord], None] | None = None) -> PruneReport:
    """Delete done records that ended before ``now - older_than``, archiving each first; ``forget``
    then drops what else outlives a record (its pushed metrics), logged when it fails: the record is
    gone either way, and a left-over series costs a dashboard line, not data."""
    cutoff = now - older_than
    found, corrupt = registry.read_done()
    archived, errors, doomed = 0, len(corrupt), []
    for v in found:
        ended = v.record.finished or v.record.updated or v.record.created
        if ended >= cutoff:
            continue
        if archive is not None and v.record.results:
            try:
                archive(v.record)
                archived += 1
            except Exception as exc:
                log.warning("job %s kept: archiving to %s failed: %s", v.record.job_id, v.record.results,
                            str(exc) or repr(exc))
                errors += 1
                continue
        doomed.append(v)
    outcomes = registry.delete_many(doomed)
    failed = sum(o is not None for o in outcomes)
    for v, outcome in zip(doomed, outcomes):
        if forget is not None and outcome is None:
            try:
                forget(v.record)
            except Exception as exc:    # urllib raises many types
                log.warning("job %s pruned, but its pushed metrics stay: %s", v.record.job_id, str(exc) or repr(exc))
    return PruneReport(deleted=len(doomed) - failed, archived=archived, errors=errors + failed)


def prune_if_due(registry: JobRegistry, days: float, every: float, now: datetime,
                 archive: Callable[[JobRecord], None] | None = archive_record,
                 forget: Callable[[JobRecord], None] | None = None) -> PruneReport | None:
    """``prune`` unless the last run was less than ``every`` seconds ago (``None`` then)."""
    last = registry.read_marker(MARKER)
    if last is not None and time.time() - last < every:
        return None
    report = prune(registry, timedelta(days=days), now, archive, forget)
    registry.write_marker(MARKER)
    if report.deleted:
        log.info("retention: %d done records pruned (%d archived)", report.deleted, report.archived)
    return report

"""Retention: old done records are archived to their results location, then deleted from ZooKeeper."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from tracker import retention
from tracker.record import JobRecord
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def rec(job_id, user="alice", **kw) -> JobRecord:
    return JobRecord(job_id=job_id, user=user, created=kw.pop("created", T0), **kw)


def test_retention_archives_then_prunes_old_done_records(registry, tmp_path):
    now = T0 + timedelta(days=40)
    old = [rec(f"old-{i}", results=str(tmp_path / f"old-{i}")) for i in range(3)]
    recent = rec("recent", results=str(tmp_path / "recent"))
    registry.create_many([*old, recent, rec("running", status=JobState.RUNNING)])
    for r in old:
        registry.update(r.job_id, "alice", lambda x: x.with_status(JobState.FINISHED, T0))
    registry.update("recent", "alice", lambda x: x.with_status(JobState.FINISHED, now - timedelta(days=1)))
    archived = []

    def archive(r):
        if r.job_id == "old-2":
            raise OSError("bucket gone")
        (tmp_path / f"{r.job_id}.json").write_bytes(r.to_json())
        archived.append(r.job_id)

    report = retention.prune(registry, timedelta(days=30), now, archive)
    assert (report.deleted, report.archived, report.errors) == (2, 2, 1)
    assert sorted(archived) == ["old-0", "old-1"]
    assert JobRecord.from_json((tmp_path / "old-0.json").read_bytes()).status is JobState.FINISHED
    assert {r.job_id for r in registry.list()} == {"old-2", "recent", "running"}


def test_default_archive_writes_job_record_json(registry, tmp_path):
    done = rec("j-old", status=JobState.ERROR, results=str(tmp_path / "res"), finished=T0, error="boom")
    registry.create(done)
    report = retention.prune(registry, timedelta(days=1), T0 + timedelta(days=2))
    assert (report.deleted, report.archived) == (1, 1)
    assert JobRecord.from_json((tmp_path / "res" / "job_record.json").read_bytes()) == done
    assert registry.list() == []


def test_prune_if_due_runs_once_per_interval(registry):
    registry.create(rec("j-1", status=JobState.FINISHED, finished=T0))
    now = T0 + timedelta(days=10)
    first = retention.prune_if_due(registry, days=5, every=3600, now=now, archive=None)
    assert first is not None and first.deleted == 1
    registry.create(rec("j-2", status=JobState.FINISHED, finished=T0))
    assert retention.prune_if_due(registry, days=5, every=3600, now=now, archive=None) is None
    registry.write_marker(retention.MARKER, time.time() - 7200)  # the last run was two hours ago
    assert retention.prune_if_due(registry, days=5, every=3600, now=now, archive=None).deleted == 1

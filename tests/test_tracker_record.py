"""JobRecord: pure JSON round trip, validation, size cap, state changes."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tracker.errors import CorruptRecord, IllegalTransition, InvalidRecord, RecordTooLarge
from tracker.record import MAX_RECORD_BYTES, JobRecord
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)

FULL = JobRecord(
    job_id="j-20260501-abc", user="alice@example.org", status=JobState.RUNNING, created=T0,
    updated=T0 + timedelta(seconds=5), started=T0 + timedelta(seconds=5), namespace="ns1",
    application="j-20260501-abc", results="s3://bucket/results/j-20260501-abc", spec="s3://b/spec.json",
    title="NDVI über Gent", usage={"input_pixels": 10, "cpu_seconds": 1.5}, attempts=2, max_duration=3600.0,
    app_state="RUNNING", app_state_since=T0, missing_since=T0 + timedelta(minutes=1),
)


@pytest.mark.parametrize("record", [FULL, JobRecord(job_id="j1", user="bob", created=T0)], ids=["full", "minimal"])
def test_json_round_trip(record):
    data = record.to_json()
    assert JobRecord.from_json(data) == record
    assert json.loads(data)["status"] == record.status.value


def test_timestamps_are_iso_utc_and_none_fields_left_out():
    doc = json.loads(JobRecord(job_id="j1", user="bob", created=T0).to_json())
    assert doc["created"] == "2026-05-01T12:00:00.123456+00:00"
    assert "finished" not in doc and "error" not in doc and "usage" not in doc


@pytest.mark.parametrize("field,value", [("job_id", "J_1"), ("job_id", "a" * 64), ("job_id", "-a"),
                                         ("user", "a/b"), ("user", ""), ("status", "done")])
def test_invalid_fields_are_refused(field, value):
    values = {"job_id": "j1", "user": "bob", field: value}
    with pytest.raises(InvalidRecord, match=repr(value).replace("(", r"\(")[:20]):
        JobRecord(**values)


def test_size_cap_names_the_job_and_sizes():
    big = JobRecord(job_id="j1", user="bob", title="x" * MAX_RECORD_BYTES)
    with pytest.raises(RecordTooLarge) as info:
        big.to_json()
    assert info.value.limit == MAX_RECORD_BYTES and info.value.size > MAX_RECORD_BYTES
    assert "'j1'" in str(info.value) and info.value.exit_code == 2


def test_long_error_messages_are_truncated_not_refused():
    rec = JobRecord(job_id="j1", user="bob", error="boom " * 1000)
    assert len(rec.error) == 1000 and len(rec.to_json()) < MAX_RECORD_BYTES


@pytest.mark.parametrize("data,reason", [(b"{not json", "not JSON"), (b"[1, 2]", "expected a JSON object"),
                                         (b'{"job_id": "j1"}', "user"),
                                         (b'{"job_id": "j1", "user": "u", "created": "2026-01-01T00:00:00"}',
                                          "no time zone"),
                                         (b'{"job_id": "j1", "user": "u", "status": "bogus"}', "bogus")])
def test_corrupt_documents_name_the_path(data, reason):
    with pytest.raises(CorruptRecord, match=f"/x/j1.*{reason}"):
        JobRecord.from_json(data, "/x/j1")


def test_with_status_sets_timings_and_attempts():
    rec = JobRecord(job_id="j1", user="bob", created=T0)
    queued = rec.with_status("queued", T0 + timedelta(seconds=1))
    running = queued.with_status(JobState.RUNNING, T0 + timedelta(seconds=2))
    assert running.started == T0 + timedelta(seconds=2) and running.attempts == 1
    rerun = running.with_status(JobState.QUEUED, T0 + timedelta(seconds=3))
    assert rerun.attempts == 2
    again = rerun.with_status(JobState.RUNNING, T0 + timedelta(seconds=4))
    assert again.started == running.started  # the first start counts for the max duration
    done = again.with_status(JobState.ERROR, T0 + timedelta(seconds=9), error="boom")
    assert done.finished == T0 + timedelta(seconds=9) and done.error == "boom" and done.is_final
    with pytest.raises(IllegalTransition):
        done.with_status(JobState.RUNNING, T0 + timedelta(seconds=10))

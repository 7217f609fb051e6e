"""JobRecord: pure JSON round trip, validation, size cap, state changes."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from sparkeo.errors import UserError
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
                                         ("job_id", "1a"), ("user", "a/b"), ("user", ""), ("user", ".."),
                                         ("user", "."), ("user", "a\nb"), ("status", "done")])
def test_invalid_fields_are_refused(field, value):
    values = {"job_id": "j1", "user": "bob", field: value}
    with pytest.raises(UserError, match=re.escape(repr(value)[:20])) as info:
        JobRecord(**values)
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


# Every field at its bound: together still over the cap (what ``fitted`` is for).
BIG = dict(job_id="j1", user="bob", results="s3://b/" + "r" * 1000, spec="s3://b/" + "s" * 1000,
           title="t" * 300, error="e" * 2000, usage={f"k{i:02d}" + "u" * 70: i for i in range(40)})


def test_size_cap_names_the_job_and_sizes():
    big = JobRecord(**BIG)
    with pytest.raises(RecordTooLarge) as info:
        big.to_json()
    assert info.value.limit == MAX_RECORD_BYTES and info.value.size > MAX_RECORD_BYTES
    assert "'j1'" in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize("text,limit", [("💥" * 1200, 1000), ("执行器内存不足" * 200, 1000), ("a" * 5000, 1000)],
                         ids=["emoji", "cjk", "ascii"])
def test_error_text_is_bounded_in_encoded_bytes(text, limit):
    error = JobRecord(job_id="j1", user="bob", error=text).error
    assert len(error.encode("utf-8")) <= limit and error.endswith("…") and text.startswith(error[:-1])


def test_every_field_is_bounded():
    record = JobRecord(**BIG)
    assert len(record.title.encode()) <= 256 and len(record.usage) == 32
    assert all(len(k.encode()) <= 64 for k in record.usage) and list(record.usage.values()) == list(range(32))
    with pytest.raises(InvalidRecord, match="results"):
        JobRecord(job_id="j1", user="bob", results="s3://b/" + "路" * 400)


def test_fitted_keeps_the_state_and_says_what_it_left_out():
    record = JobRecord(**BIG).with_status(JobState.ERROR, T0)
    fitted = record.fitted()
    data = fitted.to_json()
    assert len(data) <= MAX_RECORD_BYTES and fitted.status is JobState.ERROR and fitted.finished == T0
    assert fitted.results == record.results and fitted.spec == record.spec and fitted.error.startswith("eee")
    assert fitted.note == "record over 4096 bytes: error shortened, usage dropped"
    assert JobRecord.from_json(data) == fitted
    small = JobRecord(job_id="j2", user="bob", error="short")
    assert small.fitted() is small


def test_long_error_messages_are_truncated_not_refused():
    rec = JobRecord(job_id="j1", user="bob", error="boom " * 1000)
    assert len(rec.error.encode()) == 1000 and len(rec.to_json()) < MAX_RECORD_BYTES


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

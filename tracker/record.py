"""``JobRecord``: the small JSON document one znode holds per job, with pure (de)serialisation.

A record is capped at ``MAX_RECORD_BYTES`` (a few KB): the process graph, the job spec and the
results live in object storage and the record keeps only their URIs (openEO back-ends that stored
graphs in znodes ran ZooKeeper out of memory). ``to_json``/``from_json`` do no I/O (STYLE habit 14).
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

from tracker.errors import CorruptRecord, InvalidRecord, RecordTooLarge
from tracker.states import JobState, check_transition, parse_state

MAX_RECORD_BYTES = 4096
MAX_ERROR_CHARS = 1000
SCHEMA_VERSION = 1

# Job ids are SparkApplication names: DNS-1123 labels of at most 63 characters (DESIGN.md).
JOB_ID_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A user name becomes one znode path component.
USER_RE = re.compile(r"^[A-Za-z0-9_.@+=-]{1,128}$")

_TIME_FIELDS = ("created", "updated", "started", "finished", "app_state_since", "missing_since")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (what every record timestamp is)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class JobRecord:
    """One job as the registry knows it.

    ``app_state``/``app_state_since`` remember the SparkApplication's last seen state (to report
    applications stuck in SUCCEEDING/FAILING); ``missing_since`` starts the grace period of an
    application that vanished from the listing.
    """

    job_id: str
    user: str
    status: JobState = JobState.CREATED
    created: datetime = field(default_factory=utcnow)
    updated: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    namespace: str = "sparkeo"
    application: str | None = None
    results: str | None = None
    spec: str | None = None
    title: str | None = None
    error: str | None = None
    usage: Mapping[str, float] = field(default_factory=dict)
    attempts: int = 0
    max_duration: float | None = None
    app_state: str | None = None
    app_state_since: datetime | None = None
    missing_since: datetime | None = None

    def __post_init__(self):
        if not isinstance(self.job_id, str) or not JOB_ID_RE.match(self.job_id):
            raise InvalidRecord(str(self.job_id), "job id", self.job_id,
                                "must be a Kubernetes name (lowercase DNS-1123 label, at most 63 characters)")
        if not isinstance(self.user, str) or not USER_RE.match(self.user):
            raise InvalidRecord(self.job_id, "user", self.user,
                                "must be 1-128 characters of letters, digits and _.@+=-")
        try:
            object.__setattr__(self, "status", parse_state(self.status))
        except ValueError as exc:
            raise InvalidRecord(self.job_id, "status", self.status, str(exc)) from None
        object.__setattr__(self, "usage", dict(self.usage))
        if self.error is not None and len(self.error) > MAX_ERROR_CHARS:
            object.__setattr__(self, "error", self.error[: MAX_ERROR_CHARS - 1] + "…")

    @property
    def app_name(self) -> str:
        """The SparkApplication's name: the job id unless the record says otherwise."""
        return self.application or self.job_id

    @property
    def is_final(self) -> bool:
        return self.status.is_final

    def evolve(self, **changes) -> "JobRecord":
        """A copy with ``changes`` applied (no state-machine check: use ``with_status`` for that)."""
        return dataclasses.replace(self, **changes)

    def with_status(self, status: JobState | str, now: datetime, error: str | None = None,
                    **changes) -> "JobRecord":
        """A copy moved to ``status``; raises ``IllegalTransition`` for a move the machine forbids.

        Sets ``started`` on the first entry into running and ``finished`` on a final state; a
        return from running to queued (the operator's PENDING_RERUN) counts one more attempt.
        """
        new = parse_state(status)
        check_transition(self.job_id, self.status, new)
        values = dict(changes, status=new, updated=now)
        if new is JobState.RUNNING and self.started is None:
            values["started"] = now
            values.setdefault("attempts", max(self.attempts, 1))
        if new is JobState.QUEUED and self.status is JobState.RUNNING:
            values.setdefault("attempts", self.attempts + 1)
        if new.is_final:
            values["finished"] = now
        if error is not None:
            values["error"] = error
        return dataclasses.replace(self, **values)

    def to_dict(self) -> dict:
        """A JSON-ready dict: timestamps as ISO 8601 UTC, ``None`` fields left out."""
        out: dict = {"schema": SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "usage" and not value):
                continue
            if f.name in _TIME_FIELDS:
                value = value.isoformat()
            elif f.name == "status":
                value = value.value
            out[f.name] = value
        return out

    def to_json(self) -> bytes:
        """Compact UTF-8 JSON; raises ``RecordTooLarge`` past ``MAX_RECORD_BYTES``."""
        data = json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False).encode("utf-8")
        if len(data) > MAX_RECORD_BYTES:
            raise RecordTooLarge(self.job_id, len(data), MAX_RECORD_BYTES)
        return data

    @classmethod
    def from_dict(cls, doc: Mapping, where: str = "<record>") -> "JobRecord":
        """Inverse of ``to_dict``; raises ``CorruptRecord`` naming ``where`` on a bad document."""
        if not isinstance(doc, Mapping):
            raise CorruptRecord(where, f"expected a JSON object, got {type(doc).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        try:
            for name in _TIME_FIELDS:
                if values.get(name) is not None:
                    values[name] = _parse_time(values[name])
            return cls(**values)
        except (TypeError, ValueError, InvalidRecord) as exc:
            raise CorruptRecord(where, str(exc) or repr(exc)) from None

    @classmethod
    def from_json(cls, data: bytes | str, where: str = "<record>") -> "JobRecord":
        """Parse a znode's bytes; raises ``CorruptRecord`` naming ``where`` on bad content."""
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptRecord(where, f"not JSON: {exc}") from None
        return cls.from_dict(doc, where)


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return parsed.astimezone(timezone.utc)

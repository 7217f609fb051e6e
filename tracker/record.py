"""``JobRecord``: the small JSON document one znode holds per job, with pure (de)serialisation.

A record is capped at ``MAX_RECORD_BYTES`` (a few KB): the process graph, the job spec and the
results live in object storage and the record keeps only their URIs (openEO back-ends that stored
graphs in znodes ran ZooKeeper out of memory). ``to_json``/``from_json`` do no I/O (STYLE habit 14).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Mapping

from sparkeo.names import check_job_id, check_user_name

from tracker.errors import CorruptRecord, InvalidRecord, RecordTooLarge
from tracker.states import JobState, check_transition, parse_state

MAX_RECORD_BYTES = 4096
SCHEMA_VERSION = 1
# Every field has a bound in encoded UTF-8 bytes (the cap is in bytes: 1,000 emoji are 4,000 bytes), so
# that the fields a pass adds (error, usage) rarely push a record over the cap; ``fitted`` handles the rest.
MAX_ERROR_BYTES = 1000
MAX_TEXT_BYTES = 256            # title and the application state: display only, truncated
MAX_URI_BYTES = 1024            # results and spec URIs: refused when longer (a cut URI points elsewhere)
MAX_USAGE_KEYS = 32             # the first ones of job_metadata.json (sparkeo writes its counters first)
MAX_USAGE_KEY_BYTES = 64
# What a record squeezed by ``fitted`` keeps of its error text (the full text is in the driver's log).
FITTED_ERROR_BYTES = 200
ELLIPSIS = "…"

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
    note: str | None = None     # what ``fitted`` left out to keep the record under the cap

    def __post_init__(self):
        # The shared rules (sparkeo.names): InvalidJobId/InvalidUserName are UserErrors (exit 2).
        check_job_id(self.job_id)
        check_user_name(self.user)
        try:
            object.__setattr__(self, "status", parse_state(self.status))
        except ValueError as exc:
            raise InvalidRecord(self.job_id, "status", self.status, str(exc)) from None
        for name in ("results", "spec"):
            value = getattr(self, name)
            if value is not None and len(str(value).encode("utf-8")) > MAX_URI_BYTES:
                raise InvalidRecord(self.job_id, name, truncate_utf8(str(value), 60),
                                    f"longer than {MAX_URI_BYTES} bytes (UTF-8)")
        for name, limit in (("error", MAX_ERROR_BYTES), ("title", MAX_TEXT_BYTES), ("app_state", MAX_TEXT_BYTES),
                            ("note", MAX_TEXT_BYTES)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, truncate_utf8(str(value), limit))
        object.__setattr__(self, "usage", _bounded_usage(self.usage))

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
        data = self._encode()
        if len(data) > MAX_RECORD_BYTES:
            raise RecordTooLarge(self.job_id, len(data), MAX_RECORD_BYTES)
        return data

    def fitted(self) -> "JobRecord":
        """This record, or a smaller copy that fits ``MAX_RECORD_BYTES`` with a ``note`` saying what went.

        The tracker writes every state change through this: a final state stored with a shorter error
        and less usage beats no state at all (a record that never fits would leave its job running
        forever). Steps, until it fits: error shortened, usage dropped, title dropped.
        """
        record, left_out = self, []
        steps = (("error shortened", lambda r: r.error is not None and len(r.error.encode()) > FITTED_ERROR_BYTES,
                  lambda r: r.evolve(error=truncate_utf8(r.error, FITTED_ERROR_BYTES))),
                 ("usage dropped", lambda r: bool(r.usage), lambda r: r.evolve(usage={})),
                 ("title dropped", lambda r: r.title is not None, lambda r: r.evolve(title=None)))
        for what, applies, apply in steps:
            if record._size() <= MAX_RECORD_BYTES:
                break
            if applies(record):
                left_out.append(what)
                record = apply(record).evolve(note=f"record over {MAX_RECORD_BYTES} bytes: {', '.join(left_out)}")
        return record

    def _size(self) -> int:
        return len(self._encode())

    def _encode(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False).encode("utf-8")

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


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` encoded UTF-8 bytes at a character boundary, ``…`` marking a cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    keep = max_bytes - len(ELLIPSIS.encode("utf-8"))
    # errors="ignore" drops the partial character a byte cut may leave at the end
    return data[:max(keep, 0)].decode("utf-8", errors="ignore") + ELLIPSIS


def _bounded_usage(usage: Mapping) -> dict:
    """At most ``MAX_USAGE_KEYS`` counters (in the document's order), keys cut to ``MAX_USAGE_KEY_BYTES``."""
    out: dict = {}
    for key, value in usage.items():
        if len(out) >= MAX_USAGE_KEYS:
            break
        out.setdefault(truncate_utf8(str(key), MAX_USAGE_KEY_BYTES), value)
    return out

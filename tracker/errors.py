"""The registry's error family: kazoo's exceptions translated once, into errors that name the job.

Like ``check_response`` turns HTTP statuses into classes (STYLE habit 10), ``NoNodeError`` becomes
``JobNotFound`` (the user named a job that does not exist: exit 2), a conditional write that lost to
another writer (``BadVersionError``, or ``NoNodeError`` when the record moved) ``StaleRecord``, which
after the bounded retries becomes ``RegistryConflict``, and a lost connection ``RegistryUnavailable``
(exit 1). Callers of ``tracker.registry`` never see a kazoo exception.
"""
from __future__ import annotations

from sparkeo.contracts import FINAL_STATES
from sparkeo.errors import RunError, SparkeoError, UserError


class RegistryError(SparkeoError):
    """Family marker of every job-registry error; each member also derives from a root."""


class JobNotFound(RegistryError, UserError):
    """Raised when no record exists for a job id (optionally of one user)."""

    def __init__(self, job_id: str, user: str | None = None):
        whose = f" of user {user!r}" if user else ""
        super().__init__(f"job {job_id!r}{whose} not found in the job registry", job_id=job_id, user=user)


class JobExists(RegistryError, UserError):
    """Raised when creating a record for a job id that is already registered."""

    template = "job {job_id!r} already exists in the job registry"


class IllegalTransition(RegistryError, UserError):
    """Raised when a job would move between states the state machine does not allow."""

    def __init__(self, job_id: str, old: str, new: str):
        why = "a final state never changes" if old in {s.value for s in FINAL_STATES} else "not allowed"
        super().__init__(f"job {job_id!r}: illegal transition {old!r} -> {new!r} ({why})",
                         job_id=job_id, old=old, new=new)


class RecordTooLarge(RegistryError, UserError):
    """Raised when a job record would exceed the znode size cap (graphs live in object storage)."""

    template = ("job {job_id!r}: record of {size} bytes exceeds the {limit}-byte registry limit "
                "(store large values in object storage and keep only their URI)")


class InvalidRecord(RegistryError, UserError):
    """Raised when a record field has a bad value (job id, user name, state)."""

    template = "job {job_id!r}: invalid {field} {value!r}: {reason}"


class CorruptRecord(RegistryError, RunError):
    """Raised when a znode's content is not a readable job record."""

    template = "corrupt job record at {path}: {reason}"


class RegistryConflict(RegistryError, RunError):
    """Raised when a version-checked update keeps losing to concurrent writers."""

    template = "job {job_id!r}: record changed concurrently {attempts} times, update abandoned"


class StaleRecord(RegistryError, RunError):
    """Raised (or returned as a write's outcome) when a record changed or moved since it was read.

    The caller re-reads and decides again; ``gone`` says the record left its place (moved to done
    or deleted) rather than being rewritten in place.
    """

    def __init__(self, job_id: str, path: str, gone: bool = False):
        what = "was moved or deleted" if gone else "was written by someone else"
        super().__init__(f"job {job_id!r}: record at {path} {what} since it was read",
                         job_id=job_id, path=path, gone=gone)


class RegistryUnavailable(RegistryError, RunError):
    """Raised when ZooKeeper cannot be reached or the connection is lost."""

    template = "ZooKeeper at {hosts} unavailable: {reason}"


class RegistryDenied(RegistryError, RunError):
    """Raised when ZooKeeper's ACLs refuse a write (only sparkeo's credentials may write)."""

    template = "ZooKeeper denied write to {path}: check the registry credentials"

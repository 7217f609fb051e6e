"""The job registry in ZooKeeper: every znode read and write of sparkeo happens in this module.

Layout (DESIGN.md): ``<root>/jobs/ongoing/<user>/<job_id>`` and ``<root>/jobs/done/<user>/<job_id>``,
one small JSON ``JobRecord`` each. Updates are version-checked with bounded retries; moving a record
to a final state is ONE transaction (create the done node + delete the ongoing one at its version),
so a record is never in both places nor in neither. Bulk reads and writes are pipelined (kazoo's
async calls), which is what makes a pass over 10,000 jobs take seconds, not minutes.

kazoo's exceptions are translated here and nowhere else (STYLE habit 10): callers see ``JobNotFound``,
``JobExists``, ``StaleRecord`` (a conditional write lost), ``RegistryUnavailable``, never a kazoo class.
Longer than ~400 lines on purpose: keeping every znode operation (and so every translation) in one
module is what lets no other module import kazoo.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError, ConnectionClosedError, ConnectionLoss, KazooException, NoAuthError, NodeExistsError,
    NoNodeError, OperationTimeoutError, RolledBackError, SessionExpiredError, UnimplementedError,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.retry import KazooRetry
from kazoo.security import make_acl, make_digest_acl

from sparkeo.errors import ConfigError
from sparkeo.names import check_job_id, check_user_name
from tracker.errors import (
    CorruptRecord, JobExists, JobNotFound, RegistryConflict, RegistryDenied, RegistryError,
    RegistryUnavailable, StaleRecord,
)
from tracker import multiread
from tracker.record import JobRecord
from tracker.states import JobState

log = logging.getLogger(__name__)

ONGOING, DONE = "ongoing", "done"
_UNAVAILABLE = (ConnectionLoss, SessionExpiredError, ConnectionClosedError, KazooTimeoutError,
                OperationTimeoutError)


@dataclass(frozen=True)
class Versioned:
    """A record as read, with the znode version a conditional write must match."""

    record: JobRecord
    version: int
    done: bool = False


def digest_acl(credentials: str) -> list:
    """``"name:password"`` -> ACLs letting only these credentials write while anyone may read."""
    name, sep, password = credentials.partition(":")
    if not sep or not name:
        raise ConfigError("ZooKeeper credentials", "<hidden>", "expected 'name:password'")
    return [make_digest_acl(name, password, all=True), make_acl("world", "anyone", read=True)]


class JobRegistry:
    """Create, read, update, list, cancel and delete job records under one ZooKeeper root."""

    def __init__(self, client: KazooClient, root: str = "/sparkeo", *, acl: list | None = None,
                 op_timeout: float = 15.0, update_retries: int = 5, hosts: str = "?"):
        self.client = client
        self.root = "/" + root.strip("/")
        self.acl = acl
        self.op_timeout = op_timeout
        self.update_retries = update_retries
        self.hosts = hosts
        self.interrupted = False  # set when the session is suspended or lost (see _on_state)
        self._dirs: set[str] = set()
        self._multiread: bool | None = None  # unknown until the server answered one
        client.add_listener(self._on_state)

    # ---- connection ------------------------------------------------------------------------

    @classmethod
    def connect(cls, hosts: str, root: str = "/sparkeo", *, credentials: str | None = None,
                session_timeout: float = 10.0, connect_timeout: float = 10.0, **kwargs) -> "JobRegistry":
        """Open a session; ``credentials`` (``name:password``) enable digest ACLs on created nodes."""
        acl = digest_acl(credentials) if credentials else None
        client = KazooClient(
            hosts=hosts, timeout=session_timeout, default_acl=acl,
            auth_data=[("digest", credentials)] if credentials else None,
            connection_retry=KazooRetry(max_tries=-1, max_delay=2.0),
            command_retry=KazooRetry(max_tries=3, max_delay=1.0),
        )
        try:
            client.start(timeout=connect_timeout)
        except KazooTimeoutError:
            client.stop()
            client.close()
            raise RegistryUnavailable(hosts, f"no connection within {connect_timeout:g} s") from None
        return cls(client, root, acl=acl, hosts=hosts, **kwargs)

    def close(self) -> None:
        """End the session (ephemeral nodes such as the tracker lock go with it)."""
        try:
            self.client.stop()
        finally:
            self.client.close()

    def __enter__(self) -> "JobRegistry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _on_state(self, state: str) -> None:
        # Suspended means we can no longer be sure we hold the tracker lock: a pass must stop.
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            self.interrupted = True

    def check_connected(self) -> None:
        """Raise ``RegistryUnavailable`` if the session was suspended or lost since last reset."""
        if self.interrupted:
            raise RegistryUnavailable(self.hosts, "connection lost during the operation")

    # ---- paths -----------------------------------------------------------------------------

    def user_dir(self, user: str, done: bool = False) -> str:
        """The folder of ``user``'s records; ``InvalidUserName`` (exit 2) for a name that is no segment."""
        return self._dir(check_user_name(user), done)

    def path_of(self, user: str, job_id: str, done: bool = False) -> str:
        """The znode of one record; the user name and job id are checked so no path escapes its folder."""
        return self._node(check_user_name(user), check_job_id(job_id), done)

    # Names listed from ZooKeeper are path segments already: a stray foreign znode must not make a
    # listing fail, so these two take listed names unchecked (callers' names go through the two above).
    def _dir(self, user: str, done: bool) -> str:
        return f"{self.root}/jobs/{DONE if done else ONGOING}/{user}"

    def _node(self, user: str, job_id: str, done: bool) -> str:
        return f"{self._dir(user, done)}/{job_id}"

    def lock_path(self) -> str:
        return f"{self.root}/tracker/lock"

    # ---- waiting and translation -----------------------------------------------------------

    def _wait(self, result, path: str, job: tuple[str, str | None] | None = None):
        """The value of an async call, with kazoo's errors translated."""
        try:
            return result.get(timeout=self.op_timeout)
        except Exception as exc:
            translated = self._translate(exc, path, job)
            if translated is exc:
                raise
            raise translated from exc

    def _translate(self, exc: Exception, path: str, job: tuple[str, str | None] | None) -> Exception:
        if isinstance(exc, RegistryError):
            return exc
        if isinstance(exc, NoNodeError) and job is not None:
            return JobNotFound(*job)
        if isinstance(exc, _UNAVAILABLE):
            return RegistryUnavailable(self.hosts, f"{type(exc).__name__} at {path}")
        if isinstance(exc, NoAuthError):
            return RegistryDenied(path)
        return exc

    def _ensure_dir(self, path: str) -> None:
        if path not in self._dirs:
            try:
                self._wait(self.client.ensure_path_async(path, self.acl), path)
            except NodeExistsError:  # a concurrent creator won the race: fine
                pass
            self._dirs.add(path)

    # ---- single records --------------------------------------------------------------------

    def create(self, record: JobRecord) -> JobRecord:
        """Register a new job (normally in ``created`` state); ``JobExists`` if the id is taken."""
        data = record.to_json()
        if self._exists(self.path_of(record.user, record.job_id, done=True)):
            raise JobExists(record.job_id)
        path = self.path_of(record.user, record.job_id, done=record.is_final)
        self._ensure_dir(self.user_dir(record.user, record.is_final))
        try:
            self._wait(self.client.create_async(path, data, acl=self.acl), path)
        except NodeExistsError:
            raise JobExists(record.job_id) from None
        return record

    def create_many(self, records: Iterable[JobRecord]) -> list[Exception | None]:
        """Register many new jobs in one pipelined burst; one outcome (``None`` = created) each."""
        pending = []
        for record in records:
            data = record.to_json()
            self._ensure_dir(self.user_dir(record.user, record.is_final))
            path = self.path_of(record.user, record.job_id, done=record.is_final)
            pending.append((record, path, self.client.create_async(path, data, acl=self.acl)))
        outcomes: list[Exception | None] = []
        for record, path, result in pending:
            try:
                self._wait(result, path)
                outcomes.append(None)
            except NodeExistsError:
                outcomes.append(JobExists(record.job_id))
        return outcomes

    def _exists(self, path: str) -> bool:
        return self._wait(self.client.exists_async(path), path) is not None

    def read(self, job_id: str, user: str | None = None) -> Versioned:
        """The record of ``job_id`` (ongoing first, then done) with its version.

        Without ``user`` every user's folder is asked, all in one pipelined burst.
        """
        check_job_id(job_id)
        if user is not None:
            places = [(check_user_name(user), False), (user, True)]
        else:
            places = [(u, False) for u in self._users(ONGOING)] + [(u, True) for u in self._users(DONE)]
        paths = [(self._node(u, job_id, done), done) for u, done in places]
        started = [(path, done, self.client.get_async(path)) for path, done in paths]
        for path, done, result in started:
            try:
                data, stat = self._wait(result, path)
            except NoNodeError:
                continue
            return Versioned(JobRecord.from_json(data, path), stat.version, done)
        raise JobNotFound(job_id, user)

    def get(self, job_id: str, user: str | None = None) -> JobRecord:
        """The record of ``job_id``; ``JobNotFound`` when there is none (for ``user``, if given)."""
        return self.read(job_id, user).record

    def write(self, old: Versioned, new: JobRecord) -> JobRecord:
        """Conditionally replace ``old`` by ``new`` (``StaleRecord`` if someone wrote first)."""
        result = self.write_async(old, new)
        outcome = self._finish_write(result, old)
        if isinstance(outcome, Exception):
            raise outcome
        return new.fitted()

    def update(self, job_id: str, user: str | None,
               change: Callable[[JobRecord], JobRecord]) -> JobRecord:
        """Read, apply ``change``, write at the read version; retried on concurrent writes.

        ``change`` may raise (e.g. ``IllegalTransition``) to refuse. After ``update_retries``
        lost races, ``RegistryConflict``.
        """
        for _ in range(self.update_retries):
            current = self.read(job_id, user)
            new = change(current.record)
            if new == current.record:
                return new
            try:
                return self.write(current, new)
            except StaleRecord:
                log.info("job %s changed concurrently, retrying", job_id)
        raise RegistryConflict(job_id, self.update_retries)

    def cancel(self, job_id: str, user: str | None, now: datetime) -> JobRecord:
        """Mark a job canceled (the caller deletes its SparkApplication); final states refuse."""
        return self.update(job_id, user, lambda r: r.with_status(JobState.CANCELED, now))

    # ---- pipelined writes ------------------------------------------------------------------

    def write_async(self, old: Versioned, new: JobRecord):
        """Start one conditional write; a move to a final state is one create+delete transaction."""
        if not new.is_final and not old.done:
            src = self.path_of(old.record.user, old.record.job_id)
            return self.client.set_async(src, new.fitted().to_json(), version=old.version)
        tx = self.client.transaction()
        self._add_write(tx, old, new)
        return tx.commit_async()

    def _finish_write(self, result, old: Versioned) -> Exception | None:
        """Wait for a write started by ``write_async``: ``None`` or the translated error
        (``StaleRecord``: re-read and decide again; ``JobExists``)."""
        path = self.path_of(old.record.user, old.record.job_id)
        try:
            value = self._wait(result, path)
        except (BadVersionError, NoNodeError) as exc:
            return self._stale(exc, old, path)
        if isinstance(value, list):  # a transaction: errors come back as list entries
            # the other operations of a failed transaction only report that they were rolled back
            real = [r for r in value if isinstance(r, Exception) and not isinstance(r, RolledBackError)]
            if real:
                exc = real[0]
                if isinstance(exc, NodeExistsError):
                    return JobExists(old.record.job_id)
                if isinstance(exc, (BadVersionError, NoNodeError)):
                    return self._stale(exc, old, path)
                raise self._translate(exc, path, None)
        return None

    @staticmethod
    def _stale(exc: Exception, old: Versioned, path: str) -> StaleRecord:
        """A lost conditional write as the registry's own error (``NoNodeError``: the record moved)."""
        stale = StaleRecord(old.record.job_id, path, gone=isinstance(exc, NoNodeError))
        stale.__cause__ = exc
        return stale

    def write_many(self, changes: list[tuple[Versioned, JobRecord]], batch: int = 64) -> list[Exception | None]:
        """Many conditional writes, ``batch`` records per ZooKeeper transaction, all pipelined.

        Returns per change ``None`` or the error it met. A transaction is all-or-nothing, so when
        one fails (a concurrent writer won one of its records) its records are written one by one
        to learn which: ``StaleRecord`` outcomes mean "re-read and decide again". A lost connection
        raises ``RegistryUnavailable`` at once.
        """
        outcomes: list[Exception | None] = [None] * len(changes)
        pending = []
        for start in range(0, len(changes), batch):
            tx, members = self.client.transaction(), []
            for index in range(start, min(start + batch, len(changes))):
                old, new = changes[index]
                try:
                    self._add_write(tx, old, new)
                    members.append(index)
                except RegistryUnavailable:
                    raise
                except RegistryError as exc:  # e.g. RecordTooLarge: this record only
                    outcomes[index] = exc
            if members:
                pending.append((members, tx.commit_async()))
        retry = []
        for members, result in pending:
            values = self._wait(result, self.root)
            if any(isinstance(v, Exception) for v in values):
                retry.extend(members)
        started = [(i, self.write_async(*changes[i])) for i in retry]
        for index, result in started:
            outcomes[index] = self._finish_write(result, changes[index][0])
        return outcomes

    def _add_write(self, tx, old: Versioned, new: JobRecord) -> None:
        """Add one record's conditional write to a transaction (two ops for a move to done)."""
        if old.done:
            raise CorruptRecord(self.path_of(old.record.user, old.record.job_id, True),
                                "final record cannot be rewritten")
        data = new.fitted().to_json()   # a state change is never lost to the size cap
        src = self.path_of(old.record.user, old.record.job_id)
        if new.is_final:
            self._ensure_dir(self.user_dir(new.user, done=True))
            tx.create(self.path_of(new.user, new.job_id, done=True), data, acl=self.acl)
            tx.delete(src, version=old.version)
        else:
            tx.set_data(src, data, version=old.version)

    # ---- listing ---------------------------------------------------------------------------

    def _users(self, where: str) -> list[str]:
        path = f"{self.root}/jobs/{where}"
        try:
            return sorted(self._wait(self.client.get_children_async(path), path))
        except NoNodeError:
            return []

    def _read_all(self, where: str, users: list[str] | None) -> tuple[list[Versioned], list[CorruptRecord]]:
        users = self._users(where) if users is None else users
        listings = [(u, self.client.get_children_async(self._dir(u, where == DONE))) for u in users]
        gets = []
        for user, listing in listings:
            try:
                children = self._wait(listing, self._dir(user, where == DONE))
            except NoNodeError:
                continue
            gets.extend(self._node(user, job_id, where == DONE) for job_id in children)
        records, corrupt = [], []
        for path, outcome in zip(gets, self._get_many(gets)):
            if isinstance(outcome, NoNodeError):  # moved to done or deleted since the listing
                continue
            if isinstance(outcome, Exception):
                raise self._translate(outcome, path, None)
            data, stat = outcome
            try:
                records.append(Versioned(JobRecord.from_json(data, path), stat.version, where == DONE))
            except CorruptRecord as exc:
                corrupt.append(exc)
        return records, corrupt

    def _get_many(self, paths: list[str]) -> list:
        """``(data, stat)`` or an exception per path: ``multiRead`` batches, else one get each."""
        if self._multiread is not False:
            batches = [paths[i:i + multiread.BATCH] for i in range(0, len(paths), multiread.BATCH)]
            started = [multiread.multi_read_async(self.client, b) for b in batches]
            try:
                results = [r for result in started for r in self._wait(result, self.root)]
                self._multiread = True
                return results
            except UnimplementedError:  # ZooKeeper before 3.6
                log.info("ZooKeeper has no multiRead: reading records one by one")
                self._multiread = False
        started = [self.client.get_async(p) for p in paths]
        out = []
        for path, result in zip(paths, started):
            try:
                out.append(self._wait(result, path))
            except NoNodeError as exc:
                out.append(exc)
        return out

    def read_ongoing(self, users: list[str] | None = None) -> tuple[list[Versioned], list[CorruptRecord]]:
        """Every ongoing record with its version, and the znodes that hold no readable record."""
        return self._read_all(ONGOING, users)

    def read_done(self, users: list[str] | None = None) -> tuple[list[Versioned], list[CorruptRecord]]:
        """Every done record with its version, and the unreadable ones."""
        return self._read_all(DONE, users)

    def list(self, user: str | None = None, status: JobState | str | None = None) -> list[JobRecord]:
        """Records of one user (or all), optionally of one state, newest first.

        Unreadable znodes are logged and left out (never a reason to show nothing).
        """
        state = JobState(status) if status is not None else None
        users = [check_user_name(user)] if user is not None else None
        places = [ONGOING, DONE] if state is None else [DONE if state.is_final else ONGOING]
        out: list[JobRecord] = []
        for where in places:
            found, corrupt = self._read_all(where, users)
            for exc in corrupt:
                log.warning("%s", exc)
            out.extend(v.record for v in found if state is None or v.record.status is state)
        return sorted(out, key=lambda r: (r.created, r.job_id), reverse=True)

    # ---- deletion (retention) -------------------------------------------------------------

    def delete_many(self, records: list[Versioned]) -> list[Exception | None]:
        """Delete records at their read versions, pipelined; per record ``None`` or ``StaleRecord``
        (changed or gone since it was read)."""
        started = [(self.path_of(v.record.user, v.record.job_id, v.done), v) for v in records]
        started = [(path, v, self.client.delete_async(path, version=v.version)) for path, v in started]
        outcomes: list[Exception | None] = []
        for path, v, result in started:
            try:
                self._wait(result, path)
                outcomes.append(None)
            except (NoNodeError, BadVersionError) as exc:
                outcomes.append(self._stale(exc, v, path))
        return outcomes

    # ---- small shared state ----------------------------------------------------------------

    def lock(self, identifier: str):
        """The tracker's ZooKeeper lock (kazoo's Lock recipe) under ``<root>/tracker/lock``."""
        return self.client.Lock(self.lock_path(), identifier)

    def try_lock(self, identifier: str):
        """The tracker lock if it is free (taken without waiting), else ``None``; a ZooKeeper failure
        while taking it is ``RegistryUnavailable``."""
        lock = self.lock(identifier)
        try:
            acquired = lock.acquire(blocking=False)
        except (KazooException, KazooTimeoutError) as exc:
            raise RegistryUnavailable(self.hosts, f"cannot take the tracker lock: {str(exc) or repr(exc)}") from exc
        return lock if acquired else None

    def release(self, lock) -> bool:
        """Release a lock without hanging: kazoo's blocking calls wait forever while disconnected.

        After a suspension the lock is left to the session (ZooKeeper deletes the ephemeral node
        when the session expires); otherwise the release gets ``op_timeout`` seconds.
        """
        if self.interrupted:
            log.warning("connection was lost: the tracker lock goes with the session")
            return False
        outcome: list = []
        worker = threading.Thread(target=lambda: outcome.append(lock.release()), daemon=True)
        worker.start()
        worker.join(self.op_timeout)
        if not outcome:
            log.warning("tracker lock not released within %g s", self.op_timeout)
        return bool(outcome and outcome[0])

    def read_marker(self, name: str) -> float | None:
        """A timestamp kept in ``<root>/tracker/<name>`` (e.g. the last retention run)."""
        path = f"{self.root}/tracker/{name}"
        try:
            data, _ = self._wait(self.client.get_async(path), path)
            return float(data.decode())
        except NoNodeError:
            return None
        except ValueError:
            return None

    def write_marker(self, name: str, value: float | None = None) -> None:
        """Set ``<root>/tracker/<name>`` to ``value`` (default: now, epoch seconds)."""
        path = f"{self.root}/tracker/{name}"
        data = repr(time.time() if value is None else value).encode()
        try:
            self._wait(self.client.set_async(path, data), path)
        except NoNodeError:
            self._ensure_dir(f"{self.root}/tracker")
            self._wait(self.client.create_async(path, data, acl=self.acl), path)

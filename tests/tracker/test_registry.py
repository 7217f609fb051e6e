"""JobRegistry against a real ZooKeeper: layout, versions, transactions, listing, ACLs."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
from kazoo.exceptions import NoAuthError

from tracker.errors import (
    IllegalTransition, JobExists, JobNotFound, RecordTooLarge, RegistryConflict, RegistryDenied,
    RegistryUnavailable, StaleRecord,
)
from tracker.record import JobRecord
from tracker.registry import JobRegistry
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def rec(job_id="j1", user="alice", **kw) -> JobRecord:
    return JobRecord(job_id=job_id, user=user, created=kw.pop("created", T0), **kw)


def raw(registry: JobRegistry, path: str) -> dict:
    data, _ = registry.client.get(path)
    return json.loads(data)


def test_create_writes_the_design_layout(registry, zk_root):
    registry.create(rec())
    assert raw(registry, f"{zk_root}/jobs/ongoing/alice/j1")["status"] == "created"
    assert registry.get("j1") == rec() == registry.get("j1", "alice")


def test_create_twice_is_refused(registry):
    registry.create(rec())
    with pytest.raises(JobExists, match="'j1'"):
        registry.create(rec())


def test_unknown_job_names_job_and_user(registry):
    with pytest.raises(JobNotFound, match="job 'nope' of user 'bob' not found"):
        registry.get("nope", "bob")
    with pytest.raises(JobNotFound) as info:
        registry.update("nope", None, lambda r: r)
    assert info.value.exit_code == 2


def test_oversized_record_never_reaches_zookeeper(registry, zk_root):
    with pytest.raises(RecordTooLarge):
        registry.create(rec(results="s3://b/" + "r" * 1000, spec="s3://b/" + "s" * 1000, error="e" * 2000,
                            usage={f"k{i:02d}" + "u" * 60: i for i in range(32)}))
    assert registry.client.exists(f"{zk_root}/jobs/ongoing/alice/j1") is None


def test_final_state_moves_to_done_in_one_transaction(registry, zk_root):
    registry.create(rec())
    registry.update("j1", "alice", lambda r: r.with_status(JobState.QUEUED, T0))
    assert raw(registry, f"{zk_root}/jobs/ongoing/alice/j1")["status"] == "queued"
    registry.update("j1", "alice", lambda r: r.with_status(JobState.FINISHED, T0))
    assert registry.client.exists(f"{zk_root}/jobs/ongoing/alice/j1") is None
    assert raw(registry, f"{zk_root}/jobs/done/alice/j1")["status"] == "finished"
    v = registry.read("j1")
    assert v.done and v.record.finished == T0


def test_final_records_refuse_every_change(registry):
    registry.create(rec())
    registry.cancel("j1", "alice", T0)
    with pytest.raises(IllegalTransition, match="'canceled' -> 'running'"):
        registry.update("j1", "alice", lambda r: r.with_status(JobState.RUNNING, T0))
    with pytest.raises(IllegalTransition):
        registry.cancel("j1", "alice", T0)
    assert registry.get("j1").status is JobState.CANCELED


def test_stale_version_is_refused_and_update_retries(registry):
    registry.create(rec())
    stale = registry.read("j1")
    registry.update("j1", "alice", lambda r: r.evolve(title="first"))
    with pytest.raises(StaleRecord, match="'j1': record at .* was written by someone else") as info:
        registry.write(stale, stale.record.evolve(title="lost"))
    assert info.value.job_id == "j1" and not info.value.gone and info.value.exit_code == 1
    # a move to a final state is one transaction (create done + delete ongoing at the read version): the
    # delete's BadVersionError is the error reported, not the create's RolledBackError, its consequence
    with pytest.raises(StaleRecord, match="written by someone else"):
        registry.write(stale, stale.record.with_status(JobState.FINISHED, T0))
    assert registry.get("j1").title == "first" and registry.get("j1").status is JobState.CREATED

    calls = []

    def racing(r: JobRecord) -> JobRecord:  # another writer wins the first two rounds
        calls.append(r.title)
        if len(calls) <= 2:
            other = registry.read("j1")
            registry.write(other, other.record.evolve(title=f"other-{len(calls)}"))
        return r.evolve(title="mine")

    assert registry.update("j1", "alice", racing).title == "mine"
    assert calls == ["first", "other-1", "other-2"]


def test_conflict_after_bounded_retries(registry):
    registry.create(rec())

    def always_loses(r: JobRecord) -> JobRecord:
        other = registry.read("j1")
        registry.write(other, other.record.evolve(attempts=other.record.attempts + 1))
        return r.evolve(title="never")

    with pytest.raises(RegistryConflict, match="'j1'.*5 times") as info:
        registry.update("j1", "alice", always_loses)
    assert info.value.exit_code == 1 and registry.get("j1").attempts == 5


def test_concurrent_updaters_lose_no_increment(zookeeper, zk_root):
    regs = [JobRegistry.connect(zookeeper.hosts, zk_root, update_retries=200) for _ in range(4)]
    try:
        regs[0].create(rec())

        def bump(reg):
            for _ in range(25):
                reg.update("j1", "alice", lambda r: r.evolve(attempts=r.attempts + 1))

        threads = [threading.Thread(target=bump, args=(r,)) for r in regs]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert regs[0].get("j1").attempts == 100
    finally:
        [r.close() for r in regs]


def test_thousand_jobs_twenty_users_list_by_user_and_state(registry):
    states = [JobState.CREATED, JobState.QUEUED, JobState.RUNNING, JobState.FINISHED, JobState.ERROR]
    records = [rec(f"j-{i:04d}", f"user{i % 20:02d}", status=states[i % 5], created=T0 + timedelta(seconds=i))
               for i in range(1000)]
    assert registry.create_many(records) == [None] * 1000
    everything = registry.list()
    assert sorted(r.job_id for r in everything) == sorted(r.job_id for r in records)
    assert [r.created for r in everything] == sorted((r.created for r in records), reverse=True)
    for user in ("user00", "user07", "user19"):
        expected = {r.job_id for r in records if r.user == user}
        assert {r.job_id for r in registry.list(user=user)} == expected and len(expected) == 50
    for state in states:
        assert {r.job_id for r in registry.list(status=state)} == {r.job_id for r in records if r.status is state}
    assert {r.job_id for r in registry.list(user="user03", status="running")} == {
        r.job_id for r in records if r.user == "user03" and r.status is JobState.RUNNING}
    ongoing, corrupt = registry.read_ongoing()
    assert len(ongoing) == 600 and corrupt == []


def test_corrupt_znode_is_reported_not_fatal(registry, zk_root):
    registry.create_many([rec("j1"), rec("j2")])
    registry.client.set(f"{zk_root}/jobs/ongoing/alice/j2", b"\xff garbage")
    found, corrupt = registry.read_ongoing()
    assert [v.record.job_id for v in found] == ["j1"]
    assert len(corrupt) == 1 and corrupt[0].path.endswith("/alice/j2")
    assert [r.job_id for r in registry.list()] == ["j1"]


def test_digest_acls_let_only_sparkeo_write(zookeeper, zk_root):
    owner = JobRegistry.connect(zookeeper.hosts, zk_root, credentials="sparkeo:s3cret")
    outsider = JobRegistry.connect(zookeeper.hosts, zk_root)
    wrong = JobRegistry.connect(zookeeper.hosts, zk_root, credentials="sparkeo:guess")
    try:
        owner.create(rec())
        assert outsider.get("j1") == rec()  # anyone may read
        for reg in (outsider, wrong):
            with pytest.raises(RegistryDenied, match=f"{zk_root}/jobs/ongoing/alice/j1"):
                reg.update("j1", "alice", lambda r: r.evolve(title="hijack"))
            with pytest.raises(RegistryDenied):
                reg.create(rec("j2"))
        with pytest.raises(NoAuthError):
            outsider.client.delete(f"{zk_root}/jobs/ongoing/alice/j1")
        owner.update("j1", "alice", lambda r: r.with_status(JobState.FINISHED, T0))
        assert outsider.get("j1").status is JobState.FINISHED
        acl, _ = outsider.client.get_acls(f"{zk_root}/jobs/done/alice/j1")
        assert {a.id.scheme for a in acl} == {"digest", "world"}
    finally:
        [r.close() for r in (owner, outsider, wrong)]


def test_unreachable_zookeeper_is_a_run_error():
    from sparkeo.testing.services import free_port

    with pytest.raises(RegistryUnavailable, match="unavailable") as info:
        JobRegistry.connect(f"127.0.0.1:{free_port()}", connect_timeout=1.0)
    assert info.value.exit_code == 1


def test_batched_writes_fall_back_per_record_on_a_conflict(registry):
    registry.create_many([rec(f"j{i}") for i in range(5)])
    reads = [registry.read(f"j{i}") for i in range(5)]
    registry.update("j2", "alice", lambda r: r.evolve(title="someone else"))  # j2's read is now stale
    changes = [(v, v.record.with_status(JobState.FINISHED if i % 2 else JobState.QUEUED, T0))
               for i, v in enumerate(reads)]
    outcomes = registry.write_many(changes, batch=3)
    assert [o is None for o in outcomes] == [True, True, False, True, True]
    assert isinstance(outcomes[2], StaleRecord) and outcomes[2].job_id == "j2" and not outcomes[2].gone
    assert [registry.get(f"j{i}").status.value for i in range(5)] == [
        "queued", "finished", "created", "finished", "queued"]
    assert registry.get("j2").title == "someone else"


def test_a_record_moved_since_it_was_read_is_stale_and_gone(registry):
    registry.create(rec())
    stale = registry.read("j1")
    registry.cancel("j1", "alice", T0)                 # moved to done: the ongoing znode is gone
    with pytest.raises(StaleRecord, match="was moved or deleted") as info:
        registry.write(stale, stale.record.with_status(JobState.RUNNING, T0))
    assert info.value.gone and info.value.job_id == "j1"
    assert registry.get("j1").status is JobState.CANCELED


def test_deleting_a_record_changed_since_it_was_read_is_stale(registry):
    registry.create_many([rec("j1"), rec("j2")])
    reads = [registry.read("j1"), registry.read("j2")]
    registry.update("j2", "alice", lambda r: r.evolve(title="changed"))
    outcomes = registry.delete_many(reads)
    assert outcomes[0] is None and isinstance(outcomes[1], StaleRecord) and not outcomes[1].gone
    assert registry.get("j2").title == "changed"


def test_try_lock_takes_a_free_lock_and_refuses_a_held_one(registry):
    held = registry.try_lock("first")
    assert held is not None
    try:
        assert registry.try_lock("second") is None
    finally:
        registry.release(held)
    again = registry.try_lock("third")
    assert again is not None
    registry.release(again)

"""ZooKeeper stopped and restarted during a pass: the pass fails, no record is lost or half-written,
and the next pass completes. Each test runs its own ZooKeeper (``private_zookeeper``)."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from tracker.errors import RegistryUnavailable
from tracker.record import JobRecord
from tracker.registry import JobRegistry
from tracker.states import JobState
from tracker.track import JobTracker, PassReport, TrackerConfig

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = TrackerConfig(retention_days=None)
STATES = ["RUNNING", "COMPLETED", "FAILED", "SUBMITTED"]
EXPECTED = {"RUNNING": "running", "COMPLETED": "finished", "FAILED": "error", "SUBMITTED": "queued"}
N = 600


class StopDuringWrites(JobRegistry):
    """A registry that stops the ZooKeeper server after ``after`` writes were started."""

    server = None
    after = 0

    def _add_write(self, tx, old, new):  # called once per record while the batches are built
        if self.server is not None:
            self.after -= 1
            if self.after == 0:
                self.server.stop()
        return super()._add_write(tx, old, new)


def seed(hosts, root):
    records = [JobRecord(job_id=f"j-{i:04d}", user=f"u{i % 7}", status=JobState.QUEUED, created=T0)
               for i in range(N)]
    with JobRegistry.connect(hosts, root) as reg:
        assert reg.create_many(records) == [None] * N
    apps = {r.job_id: STATES[i % 4] for i, r in enumerate(records)}
    return records, apps


def pass_until_lock_free(hosts, root, apps, timeout=40.0) -> PassReport:
    """The next CronJob run: a new session; the aborted pass's lock lives until its session expires."""
    deadline = time.monotonic() + timeout
    with JobRegistry.connect(hosts, root, session_timeout=4.0) as reg:
        while True:
            report = JobTracker(reg, lambda ns, sel: apps, None, CONFIG, clock=lambda: T0).run_pass()
            if not report.lock_held or time.monotonic() > deadline:
                return report
            time.sleep(0.5)


def check_nothing_lost_or_corrupt(hosts, root, records, apps, allow_old: bool):
    with JobRegistry.connect(hosts, root) as reg:
        ongoing, bad_ongoing = reg.read_ongoing()
        done, bad_done = reg.read_done()
    assert bad_ongoing == [] and bad_done == []  # every znode parses as a whole record
    ids = [v.record.job_id for v in ongoing + done]
    assert sorted(ids) == sorted(r.job_id for r in records)  # none lost, none in both places
    found = {v.record.job_id: v.record for v in ongoing + done}
    for job_id, app_state in apps.items():
        allowed = {EXPECTED[app_state], "queued"} if allow_old else {EXPECTED[app_state]}
        assert found[job_id].status.value in allowed, job_id
        if found[job_id].app_state is not None:  # written by a pass: wholly, never partly
            assert found[job_id].status.value == EXPECTED[found[job_id].app_state]
    return found


def test_zookeeper_stopped_while_listing(private_zookeeper, zk_root):
    records, apps = seed(private_zookeeper.hosts, zk_root)

    def states_then_outage(ns, selector):
        private_zookeeper.stop()
        return apps

    reg = JobRegistry.connect(private_zookeeper.hosts, zk_root, session_timeout=4.0, op_timeout=5.0)
    try:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match="connection lost"):
            JobTracker(reg, states_then_outage, None, CONFIG, clock=lambda: T0).run_pass()
        assert time.monotonic() - started < 20
    finally:
        reg.close()
    private_zookeeper.start()
    found = check_nothing_lost_or_corrupt(private_zookeeper.hosts, zk_root, records, apps, allow_old=True)
    assert {r.status for r in found.values()} == {JobState.QUEUED}  # stopped before writing anything
    assert {r.app_state for r in found.values()} == {None}
    report = pass_until_lock_free(private_zookeeper.hosts, zk_root, apps)
    assert not report.lock_held and report.jobs == N and report.writes == N
    check_nothing_lost_or_corrupt(private_zookeeper.hosts, zk_root, records, apps, allow_old=False)


def test_zookeeper_stopped_in_the_middle_of_the_writes(private_zookeeper, zk_root):
    records, apps = seed(private_zookeeper.hosts, zk_root)
    reg = StopDuringWrites.connect(private_zookeeper.hosts, zk_root, session_timeout=4.0, op_timeout=5.0)
    reg.server, reg.after = private_zookeeper, N // 2
    try:
        with pytest.raises(RegistryUnavailable):
            JobTracker(reg, lambda ns, sel: apps, None, CONFIG, clock=lambda: T0).run_pass()
    finally:
        reg.close()
    private_zookeeper.start()
    found = check_nothing_lost_or_corrupt(private_zookeeper.hosts, zk_root, records, apps, allow_old=True)
    written = sum(r.app_state is not None for r in found.values())
    print(f"writes that landed before ZooKeeper stopped: {written} of {N}")
    assert written < N  # the outage really cut the burst short
    report = pass_until_lock_free(private_zookeeper.hosts, zk_root, apps)
    assert not report.lock_held and report.error_count == 0
    final = check_nothing_lost_or_corrupt(private_zookeeper.hosts, zk_root, records, apps, allow_old=False)
    assert {j: r.status.value for j, r in final.items()} == {j: EXPECTED[s] for j, s in apps.items()}


def test_zookeeper_restarted_between_passes_keeps_everything(private_zookeeper, zk_root):
    records, apps = seed(private_zookeeper.hosts, zk_root)
    assert pass_until_lock_free(private_zookeeper.hosts, zk_root, apps).writes == N
    private_zookeeper.restart()
    check_nothing_lost_or_corrupt(private_zookeeper.hosts, zk_root, records, apps, allow_old=False)
    apps = {j: ("COMPLETED" if s == "RUNNING" else s) for j, s in apps.items()}
    report = pass_until_lock_free(private_zookeeper.hosts, zk_root, apps)
    assert report.transitions == {"running->finished": N // 4}
    check_nothing_lost_or_corrupt(private_zookeeper.hosts, zk_root, records, apps, allow_old=False)


def test_registry_calls_fail_fast_while_zookeeper_is_down(private_zookeeper, zk_root):
    reg = JobRegistry.connect(private_zookeeper.hosts, zk_root, session_timeout=4.0, op_timeout=2.0)
    try:
        reg.create(JobRecord(job_id="j-1", user="u", created=T0))
        private_zookeeper.stop()
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match=private_zookeeper.hosts) as info:
            reg.get("j-1", "u")
        assert time.monotonic() - started < 5 and info.value.exit_code == 1
        private_zookeeper.start()
        deadline = time.monotonic() + 20
        while True:  # the same client reconnects once the server is back
            try:
                assert reg.get("j-1", "u").status is JobState.CREATED
                break
            except RegistryUnavailable:
                assert time.monotonic() < deadline
                time.sleep(0.3)
    finally:
        reg.close()

"""The tracker pass against a real ZooKeeper, with a plain in-test status source.

(The pass against the test Kubernetes API and D's ``list_states`` is in
``test_tracker_k8s.py``; ZooKeeper faults in ``test_tracker_faults.py``.)
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tracker.record import JobRecord
from tracker.registry import JobRegistry
from tracker.states import JobState
from sparkapps.errors import SparkAppNotFound
from sparkeo.contracts import SPARKEO_SELECTOR
from tracker.track import JobTracker, TrackerConfig, decide, AppStatus

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = TrackerConfig(missing_grace=300, max_duration=3600, stuck_after=600, retention_days=None)

# DESIGN.md's mapping, written out independently: application state -> job state.
MAPPING = {"": "queued", "SUBMITTED": "queued", "PENDING_RERUN": "queued", "RUNNING": "running",
           "SUCCEEDING": "running", "COMPLETED": "finished", "FAILED": "error", "SUBMISSION_FAILED": "error",
           "FAILING": "error"}


@dataclass
class AppStateLike:
    """Shaped like sparkapps.client.AppState (what D's list_states returns)."""

    state: str
    error_message: str | None = None


class Cluster:
    """An in-test status source: namespace -> {job_id: state}; counts LISTs, records cancels."""

    def __init__(self):
        self.apps: dict[str, dict[str, object]] = {}
        self.lists: Counter[str] = Counter()
        self.canceled: list[tuple[str, str]] = []
        self.broken: set[str] = set()
        self.cancel_fails = False

    def app_states(self, namespace: str, selector: str):
        assert selector == SPARKEO_SELECTOR
        self.lists[namespace] += 1
        if namespace in self.broken:
            raise ConnectionError(f"namespace {namespace} unreachable")
        return dict(self.apps.get(namespace, {}))

    def cancel(self, namespace: str, name: str):
        if self.cancel_fails:
            raise RuntimeError("API said no")
        self.canceled.append((namespace, name))
        self.apps[namespace].pop(name, None)


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def rec(job_id, user="alice", status=JobState.QUEUED, **kw) -> JobRecord:
    return JobRecord(job_id=job_id, user=user, status=status, created=kw.pop("created", T0 - timedelta(minutes=5)),
                     **kw)


@pytest.fixture
def cluster():
    return Cluster()


@pytest.fixture
def clock():
    return Clock()


def tracker_for(registry, cluster, clock, config=CONFIG, **kw) -> JobTracker:
    return JobTracker(registry, cluster.app_states, cluster.cancel, config, clock=clock, **kw)


def metadata(tmp_path, job_id, content) -> str:
    results = tmp_path / "results" / job_id
    results.mkdir(parents=True)
    if content is not None:
        (results / "job_metadata.json").write_text(content if isinstance(content, str) else json.dumps(content))
    return str(results)


def test_every_state_mapping_in_one_pass(registry, cluster, clock):
    ids = {state: f"j-{i}" for i, state in enumerate([*MAPPING, "WEIRD_NEW_STATE"])}
    registry.create_many([rec(job_id) for job_id in ids.values()])
    cluster.apps["sparkeo"] = {job_id: AppStateLike(state, "driver OOM" if state == "FAILED" else None)
                               for state, job_id in ids.items()}
    report = tracker_for(registry, cluster, clock).run_pass()
    for state, job_id in ids.items():
        got = registry.get(job_id)
        assert got.status.value == MAPPING.get(state, "queued"), state
        assert got.app_state == state and got.is_final == registry.read(job_id).done
    assert registry.get(ids["FAILED"]).error == "driver OOM"
    assert registry.get(ids["FAILING"]).error == "SparkApplication state FAILING"
    assert cluster.lists == {"sparkeo": 1}  # one LIST per namespace, never one GET per job
    assert report.unknown_states == 1 and report.jobs == 10
    assert report.transitions == {"queued->running": 2, "queued->finished": 1, "queued->error": 3}
    assert report.states == {"queued": 4, "running": 2, "finished": 1, "error": 3}
    assert report.writes == 10  # every record learned its application state


def test_second_pass_without_changes_writes_nothing(registry, cluster, clock):
    registry.create_many([rec("j-1"), rec("j-2")])
    cluster.apps["sparkeo"] = {"j-1": AppStateLike("RUNNING"), "j-2": AppStateLike("SUBMITTED")}
    tracker = tracker_for(registry, cluster, clock)
    assert tracker.run_pass().writes == 2
    before = {j: registry.read(j).version for j in ("j-1", "j-2")}
    clock.now += timedelta(minutes=1)
    report = tracker.run_pass()
    assert report.writes == 0 and report.transitions == {}
    assert {j: registry.read(j).version for j in ("j-1", "j-2")} == before


def test_usage_from_metadata_and_bad_metadata_never_stops_the_pass(registry, cluster, clock, tmp_path):
    good = metadata(tmp_path, "good", {"usage": {"input_pixels": 1200, "cpu_seconds": 3.5, "note": "x"}})
    records = [rec("good", results=good),
               rec("bad-json", results=metadata(tmp_path, "bad-json", "{truncated")),
               rec("no-usage", results=metadata(tmp_path, "no-usage", {"status": "finished"})),
               rec("no-file", results=metadata(tmp_path, "no-file", None)),
               rec("failed", results=metadata(tmp_path, "failed", {"usage": {"tiles": 4}})),
               rec("still-running")]
    registry.create_many(records)
    cluster.apps["sparkeo"] = {r.job_id: AppStateLike("COMPLETED") for r in records}
    cluster.apps["sparkeo"]["failed"] = AppStateLike("FAILED", "exit 1")
    cluster.apps["sparkeo"]["still-running"] = AppStateLike("RUNNING")
    report = tracker_for(registry, cluster, clock).run_pass()
    assert registry.get("good").usage == {"input_pixels": 1200, "cpu_seconds": 3.5}
    assert registry.get("failed").usage == {"tiles": 4} and registry.get("failed").status is JobState.ERROR
    for job_id in ("bad-json", "no-usage", "no-file"):
        got = registry.get(job_id)
        assert got.status is JobState.FINISHED and got.usage == {}
    assert registry.get("still-running").status is JobState.RUNNING
    assert report.errors == {"metadata": 3}


def test_missing_application_grace_then_error(registry, cluster, clock):
    registry.create_many([rec("gone"), rec("back")])
    cluster.apps["sparkeo"] = {}
    tracker = tracker_for(registry, cluster, clock)
    assert tracker.run_pass().apps_missing == 2
    assert registry.get("gone").missing_since == T0 and registry.get("gone").status is JobState.QUEUED
    clock.now = T0 + timedelta(seconds=299)
    tracker.run_pass()
    assert registry.get("gone").status is JobState.QUEUED
    cluster.apps["sparkeo"]["back"] = AppStateLike("RUNNING")  # reappears: grace forgotten
    clock.now = T0 + timedelta(seconds=301)
    report = tracker.run_pass()
    gone = registry.get("gone")
    assert gone.status is JobState.ERROR and "application disappeared" in gone.error and "'gone'" in gone.error
    back = registry.get("back")
    assert back.status is JobState.RUNNING and back.missing_since is None
    assert report.transitions == {"queued->error": 1, "queued->running": 1}


def test_overdue_job_is_canceled_and_marked_error(registry, cluster, clock):
    registry.create_many([
        rec("overdue", status=JobState.RUNNING, started=T0 - timedelta(hours=2), app_state="RUNNING",
            app_state_since=T0 - timedelta(hours=2)),
        rec("own-limit", status=JobState.RUNNING, started=T0 - timedelta(minutes=20), max_duration=600.0),
        rec("in-time", status=JobState.RUNNING, started=T0 - timedelta(minutes=50)),
    ])
    cluster.apps["sparkeo"] = {j: AppStateLike("RUNNING") for j in ("overdue", "own-limit", "in-time")}
    report = tracker_for(registry, cluster, clock).run_pass()
    assert sorted(cluster.canceled) == [("sparkeo", "overdue"), ("sparkeo", "own-limit")]
    assert registry.get("overdue").status is JobState.ERROR
    assert "maximum duration of 3600 s" in registry.get("overdue").error
    assert "600 s" in registry.get("own-limit").error
    assert registry.get("in-time").status is JobState.RUNNING
    assert report.overdue_canceled == 2


def test_failed_cancel_leaves_the_record_for_the_next_pass(registry, cluster, clock):
    registry.create(rec("overdue", status=JobState.RUNNING, started=T0 - timedelta(hours=2)))
    cluster.apps["sparkeo"] = {"overdue": AppStateLike("RUNNING")}
    cluster.cancel_fails = True
    report = tracker_for(registry, cluster, clock).run_pass()
    assert registry.get("overdue").status is JobState.RUNNING and report.errors == {"cancel": 1}
    cluster.cancel_fails = False
    assert tracker_for(registry, cluster, clock).run_pass().overdue_canceled == 1
    assert registry.get("overdue").status is JobState.ERROR


def test_a_canceled_job_without_metadata_is_no_error(registry, cluster, clock, tmp_path, caplog):
    registry.create(rec("overdue", status=JobState.RUNNING, started=T0 - timedelta(hours=2),
                        results=metadata(tmp_path, "overdue", None)))
    cluster.apps["sparkeo"] = {"overdue": AppStateLike("RUNNING")}
    with caplog.at_level("INFO", logger="tracker.track"):
        report = tracker_for(registry, cluster, clock).run_pass()
    assert report.overdue_canceled == 1 and report.errors == {}
    assert registry.get("overdue").status is JobState.ERROR and registry.get("overdue").usage == {}
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert "before writing job_metadata.json" in caplog.text


def test_stuck_succeeding_is_reported(registry, cluster, clock):
    registry.create_many([
        rec("stuck", status=JobState.RUNNING, started=T0 - timedelta(minutes=30), app_state="SUCCEEDING",
            app_state_since=T0 - timedelta(minutes=11)),
        rec("fresh", status=JobState.RUNNING, started=T0 - timedelta(minutes=30), app_state="RUNNING",
            app_state_since=T0 - timedelta(minutes=11)),
    ])
    cluster.apps["sparkeo"] = {"stuck": AppStateLike("SUCCEEDING"), "fresh": AppStateLike("SUCCEEDING")}
    tracker = tracker_for(registry, cluster, clock)
    assert tracker.run_pass().apps_stuck == 1  # "fresh" just entered SUCCEEDING
    assert registry.get("stuck").status is JobState.RUNNING
    clock.now += timedelta(minutes=11)
    assert tracker.run_pass().apps_stuck == 2


def test_one_bad_record_never_stops_the_others(registry, cluster, clock, zk_root):
    registry.create_many([rec("j-1"), rec("j-2"), rec("j-3", title="t" * 3000)])
    registry.client.set(f"{zk_root}/jobs/ongoing/alice/j-2", b"not a record")
    # j-3's usage is bounded (and would be dropped if it still did not fit): the job still finishes
    cluster.apps["sparkeo"] = {"j-1": AppStateLike("RUNNING"), "j-3": AppStateLike("COMPLETED")}
    big_usage = {f"counter_{i:04d}": i for i in range(200)}
    tracker = tracker_for(registry, cluster, clock, usage_reader=lambda uri: big_usage)
    registry.update("j-3", "alice", lambda r: r.evolve(results="/nowhere"))
    report = tracker.run_pass()
    assert registry.get("j-1").status is JobState.RUNNING
    assert registry.get("j-3").status is JobState.FINISHED and len(registry.get("j-3").usage) <= 32
    assert report.errors == {"record": 1}


def test_namespaces_listed_once_each_and_a_broken_one_is_skipped(registry, cluster, clock):
    registry.create_many([rec(f"a-{i}", namespace="team-a") for i in range(3)]
                         + [rec(f"b-{i}", namespace="team-b") for i in range(3)])
    cluster.apps["team-a"] = {f"a-{i}": AppStateLike("RUNNING") for i in range(3)}
    cluster.broken.add("team-b")
    report = tracker_for(registry, cluster, clock).run_pass()
    assert cluster.lists == {"team-a": 1, "team-b": 1}
    assert report.failed_namespaces == ("team-b",) and report.errors == {"listing": 1}
    assert {registry.get(f"a-{i}").status for i in range(3)} == {JobState.RUNNING}
    assert {registry.get(f"b-{i}").missing_since for i in range(3)} == {None}  # not "missing": unknown
    only_a = tracker_for(registry, cluster, clock, config=TrackerConfig(namespaces=frozenset({"team-a"}),
                                                                       retention_days=None))
    assert only_a.run_pass().jobs == 3


def test_concurrent_passes_only_one_writes(zookeeper, zk_root, cluster, clock):
    regs = [JobRegistry.connect(zookeeper.hosts, zk_root) for _ in range(2)]
    try:
        regs[0].create_many([rec(f"j-{i}") for i in range(20)])
        cluster.apps["sparkeo"] = {f"j-{i}": AppStateLike("RUNNING") for i in range(20)}
        listing, release = threading.Event(), threading.Event()

        def slow_states(ns, selector):
            listing.set()
            assert release.wait(30)
            return cluster.app_states(ns, selector)

        first = JobTracker(regs[0], slow_states, cluster.cancel, CONFIG, clock=clock, identifier="first")
        second = JobTracker(regs[1], cluster.app_states, cluster.cancel, CONFIG, clock=clock, identifier="second")
        reports = {}
        thread = threading.Thread(target=lambda: reports.setdefault("first", first.run_pass()))
        thread.start()
        assert listing.wait(30)
        reports["second"] = second.run_pass()  # while the first holds the lock
        release.set()
        thread.join(30)
        assert reports["second"].lock_held and reports["second"].writes == 0
        assert cluster.lists == {"sparkeo": 1}  # the second pass did not even list
        assert not reports["first"].lock_held and reports["first"].writes == 20
        assert all(regs[1].read(f"j-{i}").version == 1 for i in range(20))  # written exactly once
        assert second.run_pass().writes == 0 and not second.run_pass().lock_held  # lock released
    finally:
        [r.close() for r in regs]


def test_thousand_jobs_twenty_users_one_pass(registry, cluster, clock):
    states = list(MAPPING)
    records = [rec(f"j-{i:04d}", user=f"user{i % 20:02d}") for i in range(1000)]
    registry.create_many(records)
    cluster.apps["sparkeo"] = {r.job_id: AppStateLike(states[i % len(states)]) for i, r in enumerate(records)}
    report = tracker_for(registry, cluster, clock).run_pass()
    expected = {r.job_id: MAPPING[states[i % len(states)]] for i, r in enumerate(records)}
    assert {r.job_id: r.status.value for r in registry.list()} == expected
    assert report.states == dict(Counter(expected.values())) and report.jobs == 1000
    assert report.transitions["queued->finished"] == sum(v == "finished" for v in expected.values())
    ongoing, _ = registry.read_ongoing()
    assert len(ongoing) == sum(v in ("queued", "running") for v in expected.values())
    for user in ("user00", "user13"):
        assert {r.job_id for r in registry.list(user=user)} == {r.job_id for r in records if r.user == user}


def test_retention_runs_once_per_interval(registry, cluster, clock, tmp_path):
    old = rec("old", status=JobState.FINISHED, results=str(tmp_path / "old"), finished=T0 - timedelta(days=31))
    registry.create(old)
    config = TrackerConfig(retention_days=30, prune_every=3600)
    report = tracker_for(registry, cluster, clock, config=config).run_pass()
    assert report.pruned == 1
    assert JobRecord.from_json((tmp_path / "old" / "job_record.json").read_bytes()) == old
    registry.create(rec("old2", status=JobState.FINISHED, finished=T0 - timedelta(days=31)))
    assert tracker_for(registry, cluster, clock, config=config).run_pass().pruned == 0  # not due yet


def test_decide_is_pure_and_leaves_known_states_alone():
    r = rec("j-1", status=JobState.RUNNING, app_state="RUNNING", app_state_since=T0, started=T0)
    assert decide(r, AppStatus("RUNNING"), T0 + timedelta(seconds=5), CONFIG).record is None
    assert decide(r, AppStatus("MYSTERY"), T0, CONFIG).unknown_state == "MYSTERY"
    assert AppStatus.of({"status": {"applicationState": {"state": "FAILED", "errorMessage": "x"}}}) == \
        AppStatus("FAILED", "x")


def test_prefetched_namespace_is_listed_once_while_records_are_read(registry, cluster, clock):
    registry.create_many([rec("j-1"), rec("j-2", namespace="other")])
    cluster.apps = {"sparkeo": {"j-1": AppStateLike("RUNNING")}, "other": {"j-2": AppStateLike("COMPLETED")}}
    cluster.broken.add("empty")  # prefetched but holds no jobs: its failure does not matter
    config = TrackerConfig(retention_days=None, prefetch_namespaces=frozenset({"sparkeo", "empty"}))
    report = tracker_for(registry, cluster, clock, config=config).run_pass()
    assert cluster.lists == {"sparkeo": 1, "other": 1, "empty": 1}
    assert report.errors == {} and report.states == {"running": 1, "finished": 1}


def test_vanished_application_with_finished_results_is_finished(registry, cluster, clock, tmp_path):
    done = metadata(tmp_path, "ttl-expired", {"status": "finished", "usage": {"tiles": 3}})
    failed = metadata(tmp_path, "crashed", None)
    registry.create_many([rec("ttl-expired", status=JobState.RUNNING, results=done, missing_since=T0),
                          rec("crashed", status=JobState.RUNNING, results=failed, missing_since=T0)])
    cluster.apps["sparkeo"] = {}
    clock.now = T0 + timedelta(seconds=301)
    report = tracker_for(registry, cluster, clock).run_pass()
    finished = registry.get("ttl-expired")
    assert finished.status is JobState.FINISHED and finished.error is None and finished.usage == {"tiles": 3}
    assert registry.get("crashed").status is JobState.ERROR
    assert report.transitions == {"running->finished": 1, "running->error": 1}


def test_records_over_the_size_cap_still_reach_their_final_state(registry, cluster, clock, tmp_path):
    from tracker.record import MAX_RECORD_BYTES

    keys = {"input_pixels": 7, **{f"counter_{i:03d}_" + "k" * 40: i for i in range(400)}}
    many_keys = metadata(tmp_path, "many-keys", {"usage": keys})
    long_path = metadata(tmp_path, "/".join(["路径" * 40] * 3), {"usage": keys})   # ~800 bytes of UTF-8
    records = [rec("emoji", status=JobState.RUNNING, title="🛰" * 60),
               rec("cjk", status=JobState.RUNNING, results=long_path, spec=long_path, title="長" * 85),
               rec("usage", status=JobState.RUNNING, results=many_keys, title="t" * 200)]
    registry.create_many(records)
    cluster.apps["sparkeo"] = {"emoji": AppStateLike("FAILED", "💥" * 1200),
                               "cjk": AppStateLike("FAILED", "执行器内存不足。" * 300),
                               "usage": AppStateLike("COMPLETED")}
    report = tracker_for(registry, cluster, clock).run_pass()
    assert report.errors == {} and report.states == {"error": 2, "finished": 1}
    for job_id in ("emoji", "cjk", "usage"):
        versioned = registry.read(job_id)
        assert versioned.done and versioned.record.is_final, job_id
        assert len(versioned.record.to_json()) <= MAX_RECORD_BYTES
    emoji = registry.get("emoji")
    assert emoji.error.startswith("💥") and len(emoji.error.encode()) <= 1000
    cjk = registry.get("cjk")
    assert cjk.results == long_path and cjk.error.startswith("执行器") and cjk.usage == {}
    assert cjk.note == "record over 4096 bytes: error shortened, usage dropped"
    usage = registry.get("usage")
    assert usage.usage["input_pixels"] == 7 and len(usage.usage) <= 32
    # a second pass finds nothing left to do: the jobs are no longer wedged in "running"
    assert tracker_for(registry, cluster, clock).run_pass().writes == 0


class _Foreign:
    """An error from another library that merely shares sparkapps' class name."""

    class SparkAppNotFound(Exception):
        pass


@pytest.mark.parametrize("error, canceled", [
    (lambda: SparkAppNotFound("overdue", "sparkeo"), True),
    (lambda: _Foreign.SparkAppNotFound("overdue"), False),
], ids=["gone-already", "same-name-other-type"])
def test_an_application_gone_before_its_cancel_is_matched_by_type(registry, cluster, clock, error, canceled):
    registry.create(rec("overdue", status=JobState.RUNNING, started=T0 - timedelta(hours=2)))
    cluster.apps["sparkeo"] = {"overdue": AppStateLike("RUNNING")}

    def cancel(namespace, name):
        raise error()

    report = JobTracker(registry, cluster.app_states, cancel, CONFIG, clock=clock).run_pass()
    if canceled:     # nothing left to stop: the job is over
        assert report.overdue_canceled == 1 and report.errors == {}
        assert registry.get("overdue").status is JobState.ERROR
    else:            # an unknown failure: the record waits for the next pass
        assert report.overdue_canceled == 0 and report.errors == {"cancel": 1}
        assert registry.get("overdue").status is JobState.RUNNING

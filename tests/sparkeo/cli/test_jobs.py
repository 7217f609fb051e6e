"""``sparkeo jobs list|show``, ``sparkeo track`` and the registry write-through of ``submit``/``cancel``,
against a real ZooKeeper and the test Kubernetes API."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from sparkapps.deployment import DeploymentSettings
from sparkapps.manifest import JobSpec, render
from sparkapps.submit import job_spec_location
from sparkeo.cli.main import cli
from tracker.record import JobRecord
from tracker.states import JobState

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
ADD = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}


@pytest.fixture
def env(zookeeper, zk_root, monkeypatch):
    monkeypatch.setenv("SPARKEO_ZOOKEEPER", zookeeper.hosts)
    monkeypatch.setenv("SPARKEO_ZOOKEEPER_ROOT", zk_root)
    monkeypatch.delenv("SPARKEO_PUSHGATEWAY", raising=False)


def sparkeo(*args, user="alice"):
    return CliRunner().invoke(cli, ["--user", user, *args], catch_exceptions=False)


@pytest.fixture
def jobs(registry):
    records = [
        JobRecord(job_id="j-done", user="alice", status=JobState.FINISHED, created=T0,
                  started=T0 + timedelta(minutes=2), finished=T0 + timedelta(minutes=62, seconds=5),
                  results="s3://r/j-done",
                  usage={"input_pixels": 4096, "cpu_seconds": 12.5, "bytes_read": 1310720.0}),
        JobRecord(job_id="j-fail", user="alice", status=JobState.ERROR, created=T0 + timedelta(hours=1),
                  finished=T0 + timedelta(hours=1, seconds=42), error="asset s3://eodata/x.tif unreadable"),
        JobRecord(job_id="j-run", user="bob", status=JobState.RUNNING, created=T0 + timedelta(hours=2),
                  started=T0 + timedelta(hours=2)),
    ]
    registry.create_many(records)
    return records


def test_jobs_list_all_by_user_and_state(env, jobs):
    result = sparkeo("jobs", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["JOB", "USER", "STATUS", "CREATED", "DURATION"]
    assert [line.split()[0] for line in lines[1:]] == ["j-run", "j-fail", "j-done"]  # newest first
    assert "1:00:05" in lines[3]
    assert lines[2].split()[-1] == "0:00:42"  # ended before it ran: from creation
    assert [line.split()[0] for line in sparkeo("jobs", "list", "--user", "alice").stdout.splitlines()[1:]] == \
        ["j-fail", "j-done"]
    as_json = json.loads(sparkeo("jobs", "list", "--status", "running", "--json").stdout)
    assert [r["job_id"] for r in as_json] == ["j-run"] and as_json[0]["user"] == "bob"


def test_jobs_show_record_timings_usage_error(env, jobs):
    out = sparkeo("jobs", "show", "j-done").stdout
    assert "status:            finished" in out and "queued for:        0:02:00" in out
    assert "ran for:           1:00:05" in out and "input_pixels:    4096" in out
    assert "bytes_read:      1310720\n" in out and "cpu_seconds:     12.5\n" in out  # integers as integers
    assert "error:" in sparkeo("jobs", "show", "j-fail", "--user", "alice").stdout
    doc = json.loads(sparkeo("jobs", "show", "j-done", "--json").stdout)
    assert JobRecord.from_dict(doc) == jobs[0]


def test_jobs_show_unknown_job_exits_2_naming_it(env, jobs):
    result = sparkeo("jobs", "show", "j-nope", "--user", "bob")
    assert result.exit_code == 2 and "job 'j-nope' of user 'bob' not found" in result.output
    assert "Traceback" not in result.output


def test_jobs_without_zookeeper_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("SPARKEO_ZOOKEEPER", raising=False)
    result = sparkeo("jobs", "list")
    assert result.exit_code == 2 and "ZooKeeper" in result.output


def test_track_one_pass_then_lock_held(env, k8s_api, registry):
    registry.create_many([JobRecord(job_id=f"j-{i}", user="alice", status=JobState.QUEUED, created=T0)
                          for i in range(3)])
    k8s_api.store.seed("sparkeo", [(render(JobSpec(job_id=f"j-{i}", user="alice", graph_uri="/g", output_uri="/o"),
                                           DeploymentSettings()), {"applicationState": {"state": "RUNNING"}})
                                   for i in range(2)])
    result = sparkeo("track", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["transitions"] == {"queued->running": 2} and report["apps_missing"] == 1
    assert registry.get("j-0").status is JobState.RUNNING
    lock = registry.lock("someone-else")
    assert lock.acquire(blocking=False)
    try:
        result = sparkeo("track")
        assert result.exit_code == 0 and "another tracker pass holds the lock" in result.stdout
    finally:
        lock.release()


def test_track_with_unlistable_namespace_exits_1(env, k8s_api, registry, tmp_path, monkeypatch):
    from sparkeo.testing.services import free_port

    dead = k8s_api.server.write_kubeconfig(tmp_path / "dead", "sparkeo")
    dead.write_text(dead.read_text().replace(k8s_api.server.url, f"http://127.0.0.1:{free_port()}"))
    registry.create(JobRecord(job_id="j-0", user="alice", status=JobState.QUEUED, created=T0))
    result = sparkeo("track", "--kubeconfig", str(dead))
    assert result.exit_code == 1 and "namespace(s) sparkeo" in result.output


def test_submit_and_cancel_write_through_the_registry(env, k8s_api, registry, tmp_path):
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(ADD))
    out = tmp_path / "out"
    result = sparkeo("submit", str(graph), "--job-id", "j-sub", "--output", str(out))
    assert result.exit_code == 0, result.output
    rec = registry.get("j-sub", "alice")
    assert rec.status is JobState.QUEUED and rec.results == str(out) and rec.namespace == "sparkeo"
    assert rec.spec == job_spec_location(str(out)) and "add" not in rec.to_json().decode()  # no graph in ZK
    assert json.loads(Path(rec.spec).read_text())["job_id"] == "j-sub"
    again = sparkeo("submit", str(graph), "--job-id", "j-sub", "--output", str(out))
    assert again.exit_code == 0 and registry.get("j-sub").status is JobState.QUEUED
    result = sparkeo("cancel", "j-sub")
    assert result.exit_code == 0, result.output
    assert registry.get("j-sub").status is JobState.CANCELED
    assert not k8s_api.store.exists("sparkeo", "j-sub")
    # cancel is idempotent: a second one succeeds and says so
    result = sparkeo("cancel", "j-sub")
    assert result.exit_code == 0 and result.stdout.strip() == "j-sub: already canceled"
    # status agrees with the registry once the application is gone
    status = sparkeo("status", "j-sub")
    assert status.exit_code == 0, status.output
    assert status.stdout.startswith("j-sub: canceled (registry; the application is gone)")
    doc = json.loads(sparkeo("status", "j-sub", "--json").stdout)
    assert doc["source"] == "registry" and doc["application"] is None and doc["record"]["status"] == "canceled"
    assert sparkeo("status", "j-unknown").exit_code == 2


def test_cancel_of_a_registered_job_without_application(env, k8s_api, registry):
    registry.create(JobRecord(job_id="j-early", user="alice", status=JobState.CREATED, created=T0))
    result = sparkeo("cancel", "j-early")
    assert result.exit_code == 0 and "had no application" in result.stdout
    assert registry.get("j-early").status is JobState.CANCELED
    assert sparkeo("cancel", "j-unknown").exit_code == 2


def test_track_namespaces_default_one_or_all(env, k8s_api, registry):
    registry.create_many([JobRecord(job_id="j-here", user="alice", status=JobState.QUEUED, created=T0),
                          JobRecord(job_id="j-there", user="alice", status=JobState.QUEUED, created=T0,
                                    namespace="elsewhere")])
    for ns, job_id in (("sparkeo", "j-here"), ("elsewhere", "j-there")):
        k8s_api.store.seed(ns, [(render(JobSpec(job_id=job_id, user="alice", graph_uri="/g", output_uri="/o"),
                                        DeploymentSettings(namespace=ns)), {"applicationState": {"state": "RUNNING"}})])
    assert json.loads(sparkeo("track", "--json").stdout)["jobs"] == 1  # SPARKEO_NAMESPACE only
    assert registry.get("j-there").status is JobState.QUEUED
    assert json.loads(sparkeo("track", "-n", "elsewhere", "--json").stdout)["transitions"] == {"queued->running": 1}
    assert json.loads(sparkeo("track", "--all-namespaces", "--json").stdout)["jobs"] == 2


def test_track_exits_1_when_zookeeper_goes_away_mid_pass(private_zookeeper, k8s_api, monkeypatch):
    from sparkapps.client import SparkAppsApi
    from tracker.registry import JobRegistry

    monkeypatch.setenv("SPARKEO_ZOOKEEPER", private_zookeeper.hosts)
    monkeypatch.setenv("SPARKEO_ZOOKEEPER_ROOT", "/sparkeo")
    with JobRegistry.connect(private_zookeeper.hosts) as reg:
        reg.create(JobRecord(job_id="j-0", user="alice", status=JobState.QUEUED, created=T0))
    real = SparkAppsApi.list_states

    def list_then_outage(self, namespace, selector):  # the fault: ZooKeeper dies during the LIST
        private_zookeeper.stop()
        return real(self, namespace, selector)

    monkeypatch.setattr(SparkAppsApi, "list_states", list_then_outage)
    result = sparkeo("track")
    assert result.exit_code == 1 and "ZooKeeper at" in result.output and "unavailable" in result.output
    assert "Traceback" not in result.output
    private_zookeeper.start()
    with JobRegistry.connect(private_zookeeper.hosts) as reg:
        assert reg.get("j-0").status is JobState.QUEUED and reg.read("j-0").version == 0


@pytest.mark.parametrize("args", [
    ("jobs", "list", "--user", ".."),
    ("jobs", "show", "../../x"),
    ("jobs", "show", "j-done", "--user", "bob/../alice"),
    ("jobs", "show", "j-done", "--user", ""),
], ids=["list-dotdot", "show-job-path", "show-user-path", "show-empty-user"])
def test_bad_names_exit_2_in_one_line(env, jobs, args):
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert len(result.stderr.strip().splitlines()) == 1 and "invalid" in result.stderr


@pytest.mark.parametrize("user", ["a/b", "..", "tab\there"], ids=["slash", "dotdot", "control"])
def test_group_user_is_checked_before_any_command(user, tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(ADD))
    result = CliRunner().invoke(cli, ["--user", user, "render", str(graph), "--job-id", "j1"])
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1 and "invalid user name" in result.stderr


def test_registry_refuses_user_names_that_are_no_path_segment(registry):
    from sparkeo.names import InvalidUserName

    with pytest.raises(InvalidUserName):
        registry.user_dir("..")
    with pytest.raises(InvalidUserName):
        registry.list(user="a/b")

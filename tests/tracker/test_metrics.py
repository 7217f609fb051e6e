"""The pass figures as ``sparkeo_tracker_*`` series: pushed to a real Pushgateway by ``sparkeo track``
and scraped from it by a real Prometheus (the series Grafana dashboards may use)."""
from __future__ import annotations

import urllib.request
from datetime import datetime, timezone

from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from sparkapps.deployment import DeploymentSettings
from sparkapps.manifest import JobSpec, render
from sparkeo.cli.main import cli
from sparkeo.contracts import JOB_PUSH_JOB
from tests.fixtures.prometheus import ScrapeJob
from tracker import metrics
from tracker.record import JobRecord
from tracker.states import JobState
from tracker.track import PassReport

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def pushed(gateway) -> dict[tuple[str, tuple], float]:
    text = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=10).read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("sparkeo_tracker_") and s.labels.get("job") == metrics.PUSH_JOB:
                labels = tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("job", "instance")))
                out[(s.name, labels)] = s.value
    return out


def test_collect_has_every_state_and_error_kind():
    report = PassReport(jobs=3, states={"running": 2, "error": 1}, transitions={"queued->running": 2},
                        errors={"metadata": 1}, seconds=0.5)
    families = {m.name: m for m in metrics.collect(report, now=123.0).collect()}
    jobs = {s.labels["state"]: s.value for s in families["sparkeo_tracker_jobs"].samples}
    assert jobs == {"created": 0, "queued": 0, "running": 2, "finished": 0, "error": 1, "canceled": 0}
    errors = {s.labels["kind"]: s.value for s in families["sparkeo_tracker_errors"].samples}
    assert errors["metadata"] == 1 and errors["listing"] == 0
    assert families["sparkeo_tracker_last_pass_timestamp_seconds"].samples[0].value == 123.0


def test_track_pushes_its_figures_and_prometheus_scrapes_them(zookeeper, zk_root, registry, k8s_api,
                                                              pushgateway, prometheus, monkeypatch):
    monkeypatch.setenv("SPARKEO_ZOOKEEPER", zookeeper.hosts)
    monkeypatch.setenv("SPARKEO_ZOOKEEPER_ROOT", zk_root)
    monkeypatch.setenv("SPARKEO_PUSHGATEWAY", pushgateway.address)
    registry.create_many([JobRecord(job_id=f"j-{i}", user="alice", status=JobState.QUEUED, created=T0)
                          for i in range(4)])
    k8s_api.store.seed("sparkeo", [
        (render(JobSpec(job_id=f"j-{i}", user="alice", graph_uri="/g", output_uri="/nowhere"), DeploymentSettings()),
         {"applicationState": {"state": state}}) for i, state in enumerate(["RUNNING", "RUNNING", "FAILED"])])
    result = CliRunner().invoke(cli, ["track"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    series = pushed(pushgateway)
    assert series[("sparkeo_tracker_jobs", (("state", "running"),))] == 2
    assert series[("sparkeo_tracker_jobs", (("state", "error"),))] == 1
    assert series[("sparkeo_tracker_jobs", (("state", "queued"),))] == 1
    assert series[("sparkeo_tracker_transitions", (("from_state", "queued"), ("to_state", "running")))] == 2
    assert series[("sparkeo_tracker_apps_missing", ())] == 1
    assert series[("sparkeo_tracker_lock_held", ())] == 0
    assert series[("sparkeo_tracker_pass_duration_seconds", ())] > 0

    # a pass that finds the lock held adds lock_held=1 and leaves the running pass's figures alone
    lock = registry.lock("other")
    assert lock.acquire(blocking=False)
    try:
        assert CliRunner().invoke(cli, ["track"], catch_exceptions=False).exit_code == 0
    finally:
        lock.release()
    series = pushed(pushgateway)
    assert series[("sparkeo_tracker_lock_held", ())] == 1
    assert series[("sparkeo_tracker_jobs", (("state", "running"),))] == 2

    prometheus.scrape(ScrapeJob("pushgateway", [pushgateway.address], honor_labels=True))
    # Prometheus is shared by the session: an earlier push may be scraped already, so wait for this one's value
    found = prometheus.wait_for('sparkeo_tracker_jobs{job="sparkeo-tracker",state="running"} == 2')
    assert found and float(found[0]["value"][1]) == 2
    for name in ("sparkeo_tracker_transitions", "sparkeo_tracker_errors", "sparkeo_tracker_pass_duration_seconds",
                 "sparkeo_tracker_apps_missing", "sparkeo_tracker_last_pass_timestamp_seconds"):
        assert prometheus.wait_for(f'{name}{{job="sparkeo-tracker"}}'), name


def test_unreachable_pushgateway_warns_but_the_pass_counts(zookeeper, zk_root, registry, k8s_api, monkeypatch):
    from sparkeo.testing.services import free_port

    monkeypatch.setenv("SPARKEO_ZOOKEEPER", zookeeper.hosts)
    monkeypatch.setenv("SPARKEO_ZOOKEEPER_ROOT", zk_root)
    result = CliRunner().invoke(cli, ["track", "--pushgateway", f"127.0.0.1:{free_port()}"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and "not pushed" in result.output



def job_groups(gateway) -> set[tuple[str, str | None]]:
    """(job_id, namespace) of every job group on the Pushgateway."""
    text = urllib.request.urlopen(f"{gateway.url}/metrics", timeout=10).read().decode()
    return {(s.labels["job_id"], s.labels.get("namespace") or None)
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.labels.get("job") == JOB_PUSH_JOB and "job_id" in s.labels}


def test_pruning_a_record_deletes_the_series_its_job_pushed(zookeeper, zk_root, registry, k8s_api, pushgateway,
                                                            monkeypatch):
    from jobs.progress import JobMetrics

    monkeypatch.setenv("SPARKEO_ZOOKEEPER", zookeeper.hosts)
    monkeypatch.setenv("SPARKEO_ZOOKEEPER_ROOT", zk_root)
    recent = datetime.now(timezone.utc)
    registry.create_many([
        JobRecord(job_id="old-cluster", user="alice", status=JobState.FINISHED, created=T0, finished=T0),
        JobRecord(job_id="old-local", user="alice", status=JobState.ERROR, created=T0, finished=T0),
        JobRecord(job_id="recent", user="alice", status=JobState.FINISHED, created=recent, finished=recent)])
    # as the jobs pushed at their end: on a cluster with the namespace, locally without
    for job_id, namespace in (("old-cluster", "sparkeo"), ("old-local", None), ("recent", "sparkeo")):
        assert JobMetrics(job_id, user="alice").push(pushgateway.address, namespace)
    assert {("old-cluster", "sparkeo"), ("old-local", None), ("recent", "sparkeo")} <= job_groups(pushgateway)

    result = CliRunner().invoke(cli, ["track", "--pushgateway", pushgateway.address, "--retention-days", "30"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert {r.job_id for r in registry.list()} == {"recent"}
    groups = job_groups(pushgateway)
    assert ("recent", "sparkeo") in groups
    assert not {g for g in groups if g[0] in ("old-cluster", "old-local")}

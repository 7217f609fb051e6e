"""The Grafana dashboards: valid, importable JSON, and every panel query answered by a real Prometheus.

The end-to-end test starts Prometheus and the Pushgateway (Debian binaries), runs a small sparkeo job
on the test SparkSession with its progress metrics served, serves what the JMX exporter would serve
for the driver JVM (its live MBeans read with ``tests/jmx/JmxDump.java``, the operator's exporter rules
applied by ``tests/jmx_exporter.py``), runs a tracker pass on ZooKeeper that pushes to the
Pushgateway, lets Prometheus scrape all of it, then evaluates every panel query of every dashboard
through ``/api/v1/query``. Each query must return at least one series, and so must each side of a
top-level ``or`` (the JMX-exporter names and the PrometheusServlet names are checked separately).

Targets carry the ``namespace`` and ``job_id`` labels that the Kubernetes scrape config gives driver
pods (see dashboards/README.md).
"""
from __future__ import annotations

import io
import json
import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest

from sparkeo.testing.services import free_port
from tests.fixtures.prometheus import ScrapeJob
from tests.shared_location import CHECKOUT

ROOT = CHECKOUT
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))
RULES = "spec/spark-operator/jmx-exporter/prometheus.yaml"
NAMESPACE = "sparkeo-test"
JOB_ID = "metrics-e2e"
FAILED_JOB_ID = "metrics-e2e-bad"
SHORT_JOB_ID = "metrics-e2e-short"   # never scraped itself: its final values reach Prometheus pushed only
USER = "alice"
RATE_INTERVAL = "30s"
RANGE = "1h"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels_of(dashboard: dict) -> list[dict]:
    """All panels, rows' collapsed panels included."""
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def queries_of(dashboard: dict) -> list[tuple[str, str, str]]:
    """(panel title, refId, expr) of every Prometheus target."""
    return [(p["title"], t["refId"], t["expr"]) for p in panels_of(dashboard) for t in p.get("targets", [])
            if "expr" in t]


def substitute(expr: str, values: dict[str, str]) -> str:
    """Grafana's variable interpolation for ``$name``, ``${name}`` and ``[[name]]``."""
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("[[" + name + "]]", values[name])
        expr = re.sub(r"\$" + re.escape(name) + r"\b", lambda _m: values[name], expr)
    return expr


def or_operands(expr: str) -> list[str]:
    """The operands of the top-level ``or`` operators of a PromQL expression (one: no ``or``)."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and re.match(r"\sor\s", expr[i - 1:i + 3] if i else ""):
            parts.append(expr[start:i].strip())
            start = i + 2
        i += 1
    parts.append(expr[start:].strip())
    return parts


# ---- static checks: importable as is -------------------------------------------------------------

def test_dashboards_exist():
    assert {p.name for p in DASHBOARDS} >= {"sparkeo-jobs.json", "sparkeo-job-detail.json"}


def test_uids_unique_across_dashboards():
    uids = [load(p)["uid"] for p in DASHBOARDS]
    assert len(uids) == len(set(uids)) and all(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_is_importable(path):
    board = load(path)
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert board["title"] and board["uid"] and len(board["uid"]) <= 40
    assert "id" not in board or board["id"] is None      # an id would clash with the importing instance
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = panels_of(board)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}"
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()
    for name, var in variables.items():
        if var["type"] == "query":
            assert var["datasource"]["uid"] == "${datasource}", name


def test_job_detail_is_templated_by_namespace_and_job():
    board = load(ROOT / "dashboards" / "sparkeo-job-detail.json")
    assert {"namespace", "job"} <= {v["name"] for v in board["templating"]["list"]}
    for title, ref, expr in queries_of(board):
        assert '$namespace' in expr and '$job' in expr, f"{title}/{ref} ignores the template: {expr}"


def test_dashboards_filter_job_series_by_user_and_link_overview_to_detail():
    for path in DASHBOARDS:
        board = load(path)
        assert "user" in {v["name"] for v in board["templating"]["list"]}, path.name
        for title, ref, expr in queries_of(board):
            for selector in re.findall(r"(?<!\w)sparkeo_job_\w+(\{[^}]*\})?", expr):
                assert 'user=~"$user"' in selector, f"{path.name} {title}/{ref} ignores $user: {expr}"
    overview = load(ROOT / "dashboards" / "sparkeo-jobs.json")
    detail = load(ROOT / "dashboards" / "sparkeo-job-detail.json")
    linked = [p for p in panels_of(overview) for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
              if link["url"].startswith(f"/d/{detail['uid']}/") and "var-job=${__field.labels.job_id}" in link["url"]]
    assert len(linked) >= 3       # run time, queue time, progress, throughput: each bar opens its job
    for panel in linked:          # the link's labels survive the aggregation
        assert all("by (namespace, job_id, user)" in t["expr"] for t in panel["targets"]), panel["title"]
    assert any(link["url"].startswith(f"/d/{overview['uid']}/") for link in detail["links"])


def test_spark_panels_join_both_naming_schemes():
    """A Spark panel has a JMX-exporter operand and a PrometheusServlet operand, joined by ``or``."""
    board = load(ROOT / "dashboards" / "sparkeo-job-detail.json")
    spark = [(t, e) for t, _, e in queries_of(board) if "spark_" in e or "metrics_" in e or "jvm_" in e]
    assert len(spark) >= 6
    for title, expr in spark:
        operands = or_operands(expr)
        assert len(operands) == 2, title
        assert re.search(r"\b(spark_|jvm_)", operands[0]) and "metrics_" in operands[1], title


def test_or_operands():
    assert or_operands('sum(a{x="1 or 2"}) or sum by (l) (b)') == ['sum(a{x="1 or 2"})', "sum by (l) (b)"]
    assert or_operands("rate(x[5m]) / 1000 or rate(y[5m])") == ["rate(x[5m]) / 1000", "rate(y[5m])"]
    assert or_operands("count(a or b)") == ["count(a or b)"]
    assert or_operands("a or b or c") == ["a", "b", "c"]


def test_substitute():
    assert substitute('x{n="$namespace", j="${job}"}[$__rate_interval]',
                      {"namespace": "ns", "job": "j1", "__rate_interval": "30s"}) == 'x{n="ns", j="j1"}[30s]'


# ---- the decisive test: every query against real scrapes -----------------------------------------

GRAPH = {"process_graph": {
    "load": {"process_id": "load_collection",
             "arguments": {"id": "sample-s2", "spatial_extent": None, "temporal_extent": None,
                           "bands": ["B04", "B08"]}},
    "mean": {"process_id": "reduce_dimension",
             "arguments": {"data": {"from_node": "load"}, "dimension": "t", "reducer": {"process_graph": {
                 "m": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}}},
    "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "mean"}, "format": "GTiff"},
             "result": True},
}}


def _tracker_pass(zookeeper, gateway: str):
    """A real tracker pass over three records (one app running, one failed, one completed), pushed."""
    from tracker.metrics import push
    from tracker.record import JobRecord, utcnow
    from tracker.registry import JobRegistry
    from tracker.states import JobState
    from tracker.track import JobTracker

    now = utcnow()
    registry = JobRegistry.connect(zookeeper.hosts, root=f"/sparkeo-dashboards-{time.time_ns()}")
    try:
        for job_id, status in (("dash-queued", JobState.QUEUED), ("dash-fails", JobState.RUNNING),
                               ("dash-done", JobState.RUNNING)):
            registry.create(JobRecord(job_id, "alice", status=status, created=now - timedelta(minutes=5),
                                      started=now - timedelta(minutes=2) if status is JobState.RUNNING else None,
                                      namespace=NAMESPACE, application=job_id,
                                      results=f"/nonexistent/{job_id}"))
        apps = {"dash-queued": "RUNNING", "dash-fails": {"state": "FAILED", "errorMessage": "driver OOMKilled"},
                "dash-done": "COMPLETED"}
        tracker = JobTracker(registry, lambda namespace, selector: apps, usage_reader=lambda results: {},
                             archiver=None)
        report = tracker.run_pass()
        push(report, gateway)
        return report
    finally:
        registry.close()


@pytest.fixture(scope="module")
def scraped(spark, prometheus, pushgateway, zookeeper, shared_dir, tmp_path_factory):
    """Everything the dashboards read, scraped by Prometheus; yields the template values and targets."""
    from jobs.progress import JobProgress
    from jobs.run import run_job
    from layercatalog.sample import write_sample
    from sparkeo.errors import SparkeoError
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings
    from tests.jmx_exporter import ExporterConfig, JmxExporter, compile_dumper

    tmp = tmp_path_factory.mktemp("dashboards")
    pid = int(spark._jvm.java.lang.ProcessHandle.current().pid())
    exporter = JmxExporter(compile_dumper(tmp / "jmx"), ExporterConfig.from_file(shared_dir / RULES), pid=pid).start()
    ui_port = urlparse(spark.sparkContext.uiWebUrl).port
    job = JobProgress(JOB_ID, metrics_port=free_port(), stream=io.StringIO(), addr="127.0.0.1",
                      submitted_at=time.time() - 42.0, user=USER)
    failed = JobProgress(FAILED_JOB_ID, metrics_port=free_port(), stream=io.StringIO(), addr="127.0.0.1",
                         user=USER)
    # a job shorter than a scrape interval: not served at all, its end pushed to the Pushgateway
    short = JobProgress(SHORT_JOB_ID, stream=io.StringIO(), user=USER, pushgateway=pushgateway.address,
                        namespace=NAMESPACE, submitted_at=time.time() - 7.0)
    pod = {"namespace": NAMESPACE, "job_id": JOB_ID}   # what the pod relabelling gives a driver target
    try:
        with job, failed:
            prometheus.scrape(
                ScrapeJob("spark-driver", [f"127.0.0.1:{ui_port}"], "/metrics/prometheus", pod, interval="3s"),
                ScrapeJob("spark-executors", [f"127.0.0.1:{ui_port}"], "/metrics/executors/prometheus", pod,
                          interval="3s"),
                # A JMX read over RMI, or the Spark UI, can take more than a second on a busy machine.
                ScrapeJob("spark-jmx", [f"127.0.0.1:{exporter.port}"], "/metrics", pod, interval="3s"),
                ScrapeJob("sparkeo-job", [f"127.0.0.1:{job.port}", f"127.0.0.1:{failed.port}"], "/metrics",
                          {"namespace": NAMESPACE}),
                ScrapeJob("pushgateway", [pushgateway.address], "/metrics", honor_labels=True),
            )
            prometheus.wait_up(["spark-driver", "spark-executors", "spark-jmx", "sparkeo-job", "pushgateway"])
            catalog = write_sample(str(tmp / "sample"), size=64, dates=3)
            settings = Settings.from_env({}, tile_size=16, cache_dir=str(tmp / "cache"))
            caller = Caller.from_values("alice", None)
            summary = run_job(json.dumps(GRAPH), str(tmp / "out"), JOB_ID, catalog, None, settings, caller,
                              spark=spark, progress=job)
            job.metrics.end()
            bad = json.dumps({"process_graph": {**GRAPH["process_graph"], "load": {
                "process_id": "load_collection", "arguments": {"id": "no-such-collection"}}}})
            try:
                run_job(bad, str(tmp / "bad"), FAILED_JOB_ID, catalog, None, settings, caller, spark=spark,
                        progress=failed)
            except SparkeoError as exc:
                failed.metrics.end(exc)
            else:
                pytest.fail("the job over an unknown collection did not fail")
            with short:
                run_job(json.dumps(GRAPH), str(tmp / "short"), SHORT_JOB_ID, catalog, None, settings, caller,
                        spark=spark, progress=short)
            report = _tracker_pass(zookeeper, pushgateway.address)
            # The last values must be scraped: the job's end state and the tracker's push.
            assert prometheus.wait_for(f'sparkeo_job_status{{job_id="{JOB_ID}", state="finished"}}')
            assert prometheus.wait_for('sparkeo_tracker_pass_duration_seconds')
            assert prometheus.wait_for(f'sparkeo_job_status{{job_id="{SHORT_JOB_ID}", state="finished"}}')
            time.sleep(3)   # a few more scrapes, so rate() over the last seconds has two samples
            yield {
                "values": {"namespace": NAMESPACE, "job": JOB_ID, "user": USER, "__rate_interval": RATE_INTERVAL,
                           "__interval": "15s", "__range": RANGE, "datasource": "prometheus"},
                "summary": summary, "report": report, "targets": prometheus.targets(), "exporter": exporter,
            }
    finally:
        exporter.stop()


@pytest.mark.slow
def test_every_panel_query_returns_series(scraped, prometheus):
    values = scraped["values"]
    checked, operands_checked, empty = 0, 0, []
    for path in DASHBOARDS:
        for title, ref, expr in queries_of(load(path)):
            query = substitute(expr, values)
            assert "$" not in query, f"{path.name} {title}/{ref}: unsubstituted variable in {query}"
            checked += 1
            if not _answers(prometheus, query):
                empty.append(f"{path.name} {title}/{ref}: {query}")
            operands = or_operands(query)
            for operand in operands if len(operands) > 1 else ():
                operands_checked += 1
                if not _answers(prometheus, operand):
                    empty.append(f"{path.name} {title}/{ref} operand: {operand}")
    up = sorted({(t["labels"]["job"], t["scrapeUrl"]) for t in scraped["targets"] if t["health"] == "up"})
    print(f"\npanels: {sum(len(panels_of(load(p))) for p in DASHBOARDS)}, queries: {checked}, "
          f"'or' operands: {operands_checked}, targets up: {len(up)} {up}, "
          f"JMX scrapes: {scraped['exporter'].scrapes}")
    assert not empty, "queries without series:\n" + "\n".join(empty)
    assert checked >= 20


def _answers(prometheus, query: str, timeout: float = 10.0) -> bool:
    return bool(prometheus.wait_for(query, timeout=timeout))


@pytest.mark.slow
def test_template_variables_list_the_job(scraped, prometheus):
    """``label_values(selector, label)`` variables, as Grafana asks Prometheus for them."""
    values = scraped["values"]
    expected = {"namespace": NAMESPACE, "job": JOB_ID, "user": USER}
    checked = 0
    for path in DASHBOARDS:
        for var in load(path)["templating"]["list"]:
            if var["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", var["query"]["query"].strip())
            assert m, f"{path.name} ${var['name']}: not a label_values() query"
            selector, label = substitute(m.group(1), values), m.group(2)
            listed = prometheus.api(f"label/{label}/values", **{"match[]": selector})
            assert expected[var["name"]] in listed, (var["name"], selector, listed)
            checked += 1
    assert checked == 4      # job detail: namespace, user, job; overview: user


@pytest.mark.slow
def test_all_targets_up(scraped):
    jobs = {t["labels"]["job"]: t["health"] for t in scraped["targets"]}
    assert jobs == {"spark-driver": "up", "spark-executors": "up", "spark-jmx": "up",
                    "sparkeo-job": "up", "pushgateway": "up"}


@pytest.mark.slow
def test_job_series_match_the_job_usage(scraped, prometheus):
    """The scraped sparkeo_job_* values equal the usage the job wrote in its metadata."""
    usage = scraped["summary"].usage
    sel = f'{{job_id="{JOB_ID}", namespace="{NAMESPACE}"}}'

    def value(name: str) -> float:
        result = prometheus.query(f"{name}{sel}")
        assert len(result) == 1, (name, result)
        return float(result[0]["value"][1])

    assert value("sparkeo_job_tiles_total") == value("sparkeo_job_tiles_done") == usage["tiles"] == 16
    assert value("sparkeo_job_bytes_read_total") == usage["bytes_read"] > 0
    assert value("sparkeo_job_input_pixels_total") == usage["input_pixels"] > 0
    assert value("sparkeo_job_read_retries_total") == usage["read_retries"]
    failed = prometheus.query(f'sparkeo_job_status{{job_id="{FAILED_JOB_ID}", state="error"}}')
    assert len(failed) == 1 and failed[0]["metric"]["reason"]


@pytest.mark.slow
def test_a_job_that_ended_between_scrapes_shows_its_end_in_the_overview(scraped, prometheus):
    """Every overview panel that reads end-of-job values (run time, queue time, progress) shows the short
    job, whose values only the Pushgateway had; its status is finished, not the last-seen running."""
    board = load(ROOT / "dashboards" / "sparkeo-jobs.json")
    end_panels = [(title, expr) for title, _, expr in queries_of(board)
                  if re.search(r"sparkeo_job_(duration_seconds|queue_seconds|tiles_done)", expr)]
    assert len(end_panels) == 3
    for title, expr in end_panels:
        rows = prometheus.query(substitute(expr, scraped["values"]))
        short = [r for r in rows if r["metric"].get("job_id") == SHORT_JOB_ID]
        assert short and float(short[0]["value"][1]) > 0, (title, rows)
        assert short[0]["metric"]["user"] == USER and short[0]["metric"]["namespace"] == NAMESPACE
    progress = [r for r in prometheus.query(substitute(end_panels[2][1], scraped["values"]))
                if r["metric"]["job_id"] == SHORT_JOB_ID]
    assert float(progress[0]["value"][1]) == 1.0            # 16/16 tiles, the final count
    states = prometheus.query(f'sparkeo_job_status{{job_id="{SHORT_JOB_ID}"}}')
    assert [r["metric"]["state"] for r in states] == ["finished"]


@pytest.mark.slow
def test_tracker_push_is_scraped(scraped, prometheus):
    report = scraped["report"]
    states = {r["metric"]["state"]: float(r["value"][1]) for r in prometheus.query("sparkeo_tracker_jobs")}
    assert states == {state: float(report.states.get(state, 0)) for state in states}
    assert states["running"] == 1 and states["finished"] == 1 and states["error"] == 1
    moved = {(r["metric"]["from_state"], r["metric"]["to_state"]) for r in
             prometheus.query("sparkeo_tracker_transitions")}
    assert ("running", "error") in moved and ("running", "finished") in moved


@pytest.mark.slow
def test_jmx_series_follow_the_operator_rules(scraped, prometheus):
    """Spark's executor counters arrive under the names the operator's rules give Spark 4's MBeans."""
    result = prometheus.query(f'spark_executor_succeededtasks_type_counters_count{{job="spark-jmx"}}')
    assert len(result) == 1
    labels = result[0]["metric"]
    from sparkeo.contracts import METRICS_NAMESPACE

    app_namespace, app_id = METRICS_NAMESPACE.split(".", 1)
    assert (labels["app_namespace"], labels["app_id"], labels["executor_id"]) == (app_namespace, app_id, "driver")
    assert float(result[0]["value"][1]) >= 2    # a task per tile group (jobs.spark.execute.tile_groups: 16 tiles, 2 cores)


# ---- the cluster side names the same series ------------------------------------------------------

def test_cluster_setup_matches_what_the_dashboards_were_checked_against():
    """Namespace, exporter jar and exporter version of rendered SparkApplications and the image."""
    from jobs.spark.session import METRICS_CONF
    from sparkapps import manifest
    from sparkapps.deployment import DeploymentSettings
    from sparkeo.contracts import METRICS_NAMESPACE

    # the operator's rules need "<app_namespace>.<app_id>" before ".driver."/".<executor id>."
    key = "spark.metrics.namespace"
    assert manifest.METRICS_CONF[key] == METRICS_CONF[key] == METRICS_NAMESPACE
    assert len(METRICS_NAMESPACE.split(".")) == 2
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    version = re.search(r"ARG JMX_EXPORTER_VERSION=(\S+)", dockerfile).group(1)
    assert version.split(".")[0] == "0", f"exporter {version}: the dashboards use the 0.x series names"
    deployment = DeploymentSettings()
    assert deployment.monitoring
    assert f"{deployment.jmx_exporter_jar}\n" in dockerfile or f"{deployment.jmx_exporter_jar} " in dockerfile

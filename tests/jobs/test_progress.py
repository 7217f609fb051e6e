"""jobs/progress.py: the sparkeo_job_* series, the progress reporter, and their wiring into ``sparkeo run``."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.spark.execute import TileDone
from jobs.progress import SERIES, JobMetrics, JobProgress, ProgressReporter
from jobs.cube.usage import Usage
from sparkeo.testing.services import free_port
from tests.shared_location import CHECKOUT

ROOT = CHECKOUT


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def events(usages: list[Usage]) -> list[TileDone]:
    return [TileDone((0, i), i + 1, len(usages), u) for i, u in enumerate(usages)]


USAGES = [Usage(input_pixels=256 * (i + 1), bytes_read=1000 + i, read_retries=i % 2) for i in range(5)]


def test_series_are_served_while_the_job_runs_and_match_the_usage():
    with JobProgress("job-a", metrics_port=free_port(), stream=io.StringIO(), addr="127.0.0.1",
                     user="alice") as progress:
        before = scrape(progress.port)
        progress.start(5)
        for event in events(USAGES):
            progress(event)
        after = scrape(progress.port)
        port = progress.port
    label = (("job_id", "job-a"), ("user", "alice"))
    # every series exists from the start, at zero
    assert before[("sparkeo_job_tiles_done", label)] == 0
    assert before[("sparkeo_job_bytes_read_total", label)] == 0
    assert before[("sparkeo_job_status", (("job_id", "job-a"), ("reason", ""), ("state", "running"),
                                          ("user", "alice")))] == 1
    total = Usage()
    for u in USAGES:
        total.add(u)
    assert after[("sparkeo_job_tiles_total", label)] == 5
    assert after[("sparkeo_job_tiles_done", label)] == 5
    assert after[("sparkeo_job_bytes_read_total", label)] == total.bytes_read
    assert after[("sparkeo_job_input_pixels_total", label)] == total.input_pixels
    assert after[("sparkeo_job_read_retries_total", label)] == total.read_retries == 2
    assert {name for name, _ in after} >= set(SERIES)
    with pytest.raises(OSError):      # closed with the context
        scrape(port)


def test_port_zero_serves_nothing():
    with JobProgress("job-b", metrics_port=0, stream=io.StringIO()) as progress:
        progress(TileDone((0, 0), 1, 1, Usage()))
        assert progress.port is None


def test_a_busy_metrics_port_costs_the_series_not_the_job(caplog):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with JobProgress("job-busy", metrics_port=port, stream=io.StringIO(), addr="127.0.0.1") as progress:
            progress.start(2)
            assert progress.port is None
    assert any("job-busy" in r.getMessage() and str(port) in r.getMessage() for r in caplog.records)


def test_status_records_the_outcome_and_freezes_the_duration():
    metrics = JobMetrics("job-c")
    metrics.end()
    metrics.end(RuntimeError("later"))       # the first verdict stays
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in metrics.registry.collect() for s in family.samples}
    assert values[("sparkeo_job_status", (("job_id", "job-c"), ("reason", ""), ("state", "finished"),
                                          ("user", "")))] == 1
    assert not any(k[0] == "sparkeo_job_status" and ("state", "running") in k[1] for k in values)
    frozen = values[("sparkeo_job_duration_seconds", (("job_id", "job-c"), ("user", "")))]
    time.sleep(0.05)
    again = {s.name: s.value for f in metrics.registry.collect() for s in f.samples}
    assert again["sparkeo_job_duration_seconds"] == frozen


def test_a_failing_run_is_reported_with_its_error_class():
    class AssetGone(Exception):
        pass

    progress = JobProgress("job-d", stream=io.StringIO())
    with pytest.raises(AssetGone):
        with progress:
            raise AssetGone("s3://bucket/x.tif")
    values = {tuple(sorted(s.labels.items())): s.value for f in progress.metrics.registry.collect()
              for s in f.samples if s.name == "sparkeo_job_status"}
    assert values == {(("job_id", "job-d"), ("reason", "AssetGone"), ("state", "error"), ("user", "")): 1.0}


def test_final_values_stay_served_until_scraped_once():
    """A short job's end state outlives the job until a scrape read it (before: gone at once)."""
    progress = JobProgress("job-l", metrics_port=free_port(), stream=io.StringIO(), addr="127.0.0.1",
                           linger=30.0, user="bob")
    seen: list[dict] = []

    def scraper():
        time.sleep(0.5)                       # the job has ended and the driver is waiting by then
        seen.append(scrape(port))

    with progress:
        port = progress.port
        progress.start(1)
        progress(TileDone((0, 0), 1, 1, Usage(bytes_read=7)))
        thread = threading.Thread(target=scraper)
        thread.start()
    started = time.monotonic()
    thread.join()
    assert time.monotonic() - started < 5     # closed right after that scrape, not after 30 s
    final = seen[0]
    key = (("job_id", "job-l"), ("reason", ""), ("state", "finished"), ("user", "bob"))
    assert final[("sparkeo_job_status", key)] == 1
    assert final[("sparkeo_job_tiles_done", (("job_id", "job-l"), ("user", "bob")))] == 1
    with pytest.raises(OSError):
        scrape(port)


def test_linger_is_bounded_when_nobody_scrapes():
    started = time.monotonic()
    with JobProgress("job-m", metrics_port=free_port(), stream=io.StringIO(), addr="127.0.0.1", linger=0.3):
        pass
    assert 0.3 <= time.monotonic() - started < 3


def test_final_values_are_pushed_to_the_pushgateway(pushgateway):
    with JobProgress("job-p", stream=io.StringIO(), user="carol", pushgateway=pushgateway.address,
                     namespace="eo") as progress:
        progress.start(2)
        progress(TileDone((0, 0), 1, 2, Usage(bytes_read=5)))
        progress(TileDone((0, 1), 2, 2, Usage(bytes_read=6)))
    with urllib.request.urlopen(f"http://{pushgateway.address}/metrics", timeout=10) as response:
        text = response.read().decode()
    pushed = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for family in text_string_to_metric_families(text) for s in family.samples
              if s.labels.get("job_id") == "job-p"}
    base = (("instance", ""), ("job", "sparkeo-job"), ("job_id", "job-p"), ("namespace", "eo"), ("user", "carol"))
    assert pushed[("sparkeo_job_tiles_done", base)] == 2
    assert pushed[("sparkeo_job_bytes_read_total", base)] == 11
    status = {k: v for k, v in pushed.items() if k[0] == "sparkeo_job_status"}
    assert list(status.values()) == [1.0] and ("state", "finished") in next(iter(status))[1]


def test_an_unreachable_pushgateway_costs_the_push_not_the_job(caplog):
    with JobProgress("job-u", stream=io.StringIO(), pushgateway=f"127.0.0.1:{free_port()}"):
        pass
    assert any("not pushed" in r.getMessage() and "job-u" in r.getMessage() for r in caplog.records)


def test_queue_time_from_the_submission_time():
    submitted = time.time() - 90.0
    values = {s.name: s.value for f in JobMetrics("job-q", submitted_at=submitted).registry.collect()
              for s in f.samples}
    assert 90.0 <= values["sparkeo_job_queue_seconds"] < 100.0
    assert "sparkeo_job_queue_seconds" not in {s.name for f in JobMetrics("job-r").registry.collect()
                                               for s in f.samples}


def test_plain_lines_off_a_terminal():
    stream = io.StringIO()
    reporter = ProgressReporter("job-e", stream, interval=3600)
    reporter.start(4)
    for done in range(1, 5):
        reporter.update(done, 4)
    lines = stream.getvalue().splitlines()
    # the first line, then nothing until the interval passes, and always the last one
    assert len(lines) == 2
    assert lines[0].startswith("INFO jobs.progress: tiles 1/4 (25%)") and "job_id=job-e" in lines[0]
    assert lines[1].startswith("INFO jobs.progress: tiles 4/4 (100%)") and "eta=0:00:00" in lines[1]


def test_eta_is_the_rate_of_finished_tiles_without_the_start_up():
    """Before: elapsed * remaining / done, so 1 tile after a 36 s start-up said eta=0:36:33 for 64."""
    reporter = ProgressReporter("job-f", io.StringIO())
    reporter._first = (1, 100.0)                     # the first tile finished at t=100 s (start-up: 100 s)
    assert reporter.eta(1, 64, 100.0) is None        # one tile is no rate yet
    assert reporter.eta(5, 64, 102.0) == pytest.approx(0.5 * 59)   # 4 tiles in 2 s
    assert "eta=0:00:30" in reporter.line(5, 64, 102.0, reporter.eta(5, 64, 102.0))
    assert "eta=?" in reporter.line(0, 4, 10.0)
    assert "elapsed=1:01:01" in reporter.line(4, 4, 3661.0)


def test_tiles_count_as_workers_finish_them(spark, tmp_path):
    """A job of two groups of 8 tiles: the count moves tile by tile before any group's result
    arrives (before: 0 until the first group returned, then 8 at once)."""
    from jobs.run import run_job
    from layercatalog.sample import write_sample
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    catalog = write_sample(str(tmp_path / "sample"), size=64, dates=2)
    graph = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {"id": "sample-s2", "spatial_extent": None,
                                                                "temporal_extent": None, "bands": ["B04"]}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "load"}, "format": "GTiff"},
                 "result": True}}}
    stream = io.StringIO()
    progress = JobProgress("job-ticks", stream=stream, bar=False)
    seen: list[tuple[str, int]] = []

    class Recorder:
        """The progress listener, recording what reaches it in order."""

        def start(self, total):
            progress.start(total)

        def computed(self, done, total):
            seen.append(("computed", done))
            progress.computed(done, total)

        def __call__(self, event):
            seen.append(("written", event.done))
            progress(event)

    with progress:
        run_job(json.dumps(graph), str(tmp_path / "out"), "job-ticks", catalog, None,
                Settings.from_env({}, tile_size=16, cache_dir=str(tmp_path / "cache")), Caller.from_values("a", None),
                spark=spark, progress=Recorder())
    counts = [n for kind, n in seen if kind == "computed"]
    assert sorted(set(counts)) == list(range(1, 17))            # every tile once, retries never twice
    first_written = next(i for i, (kind, _) in enumerate(seen) if kind == "written")
    assert any(kind == "computed" and n < 16 for kind, n in seen[:first_written])
    assert "tiles 16/16 (100%)" in stream.getvalue()


def test_bar_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    reporter = ProgressReporter("job-g", stream)
    assert reporter.bar
    reporter.start(3)
    for done in (1, 2, 3):
        reporter.update(done, 3)
    reporter.close()
    text = stream.getvalue()
    assert "3/3" in text and "job-g" in text and "tile" in text
    assert "INFO jobs.progress" not in text
    assert not ProgressReporter("job-h", io.StringIO()).bar


GRAPH = {"process_graph": {
    "load": {"process_id": "load_collection",
             "arguments": {"id": "sample-s2", "spatial_extent": None, "temporal_extent": None, "bands": ["B04"]}},
    "max": {"process_id": "reduce_dimension",
            "arguments": {"data": {"from_node": "load"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "max", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}}},
    "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "max"}, "format": "GTiff"},
             "result": True},
}}


@pytest.mark.slow
def test_sparkeo_run_serves_metrics_and_logs_progress(tmp_path):
    """``sparkeo run --metrics-port``: the series are up while it runs; progress lines on a pipe."""
    from layercatalog.sample import write_sample

    catalog = write_sample(str(tmp_path / "sample"), size=32, dates=2)
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(GRAPH))
    port = free_port()
    env = {**os.environ, "SPARKEO_TILE_SIZE": "16", "SPARKEO_CACHE": str(tmp_path / "cache")}
    env.pop("SPARKEO_USER", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparkeo.cli.main", "run", str(graph), "--catalog", catalog,
         "--output", str(tmp_path / "out"), "--job-id", "cli-metrics", "--master", "local[1]",
         "--metrics-port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[dict] = []

    def poll():
        while proc.poll() is None:
            try:
                seen.append(scrape(port))
            except OSError:
                pass
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    out, err = proc.communicate(timeout=600)
    poller.join(timeout=5)
    assert proc.returncode == 0, err
    assert "INFO jobs.progress: tiles 4/4 (100%)" in err and "job_id=cli-metrics" in err
    # Spark's start-up banner stays out of a non-verbose run (jobs/log4j2.properties is found)
    for banner in ("Using Spark's default log4j profile", "Setting default log level", "To adjust logging level",
                   "NativeCodeLoader", "Reconfiguration failed"):
        assert banner not in err, err
    label = (("job_id", "cli-metrics"), ("user", "anonymous"))
    # only this job's answers: on a shared machine another process may hold the port for a while
    ours = [s for s in seen if any(dict(k[1]).get("job_id") == "cli-metrics" for k in s)]
    assert ours, "the metrics port never answered while the job ran"
    assert all(s[("sparkeo_job_tiles_done", label)] <= 4 for s in ours)
    assert any(("sparkeo_job_tiles_total", label) in s for s in ours)

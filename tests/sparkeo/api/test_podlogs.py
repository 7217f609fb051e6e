"""Cluster mode's job logs: driver pod log lines as openEO entries, read through the test Kubernetes API."""
from __future__ import annotations

from sparkeo.api.podlogs import DriverLogs, entries_of

DRIVER_LOG = """\
24/12/04 02:10:31 INFO SparkContext: Running Spark version 3.5.1
24/12/04 02:10:32 WARN NativeCodeLoader: Unable to load native-hadoop library
WARNING jobs.run: tile 3 read twice job_id=j-1
ERROR jobs.main: the run failed
Traceback (most recent call last):
  File "main.py", line 1
Error: node 'load1', argument 'spatial_extent': no items of collection 'sample-s2'

plain output
"""


def test_each_record_is_an_entry_with_its_level_and_continuation_lines_join_it():
    entries = entries_of(DRIVER_LOG)
    assert [(e["id"], e["level"]) for e in entries] == [
        ("0", "info"), ("1", "warning"), ("2", "warning"), ("3", "error"), ("6", "error")]
    assert entries[3]["message"].splitlines()[1:] == ["Traceback (most recent call last):", '  File "main.py", line 1']
    assert entries[4]["message"] == "Error: node 'load1', argument 'spatial_extent': no items of collection 'sample-s2'\nplain output"
    assert entries_of("no level at all\n") == [{"id": "0", "level": "info", "message": "no level at all"}]


def test_driver_logs_come_from_the_pod_and_a_missing_pod_has_none(k8s_api, tmp_path):
    from sparkapps.deployment import DeploymentSettings
    from sparkapps.manifest import JobSpec, render

    logs = DriverLogs.sharing(k8s_api.client(), k8s_api.namespace)
    assert logs.entries("j-1", "j-1") is None
    k8s_api.store.create(k8s_api.namespace, render(JobSpec(job_id="j-1", user="u", graph_uri="g", output_uri="o"),
                                                   DeploymentSettings()))
    (tmp_path / "driver.log").write_text(DRIVER_LOG)
    k8s_api.store.pods.start(k8s_api.namespace, "j-1", tmp_path / "driver.log")
    assert logs.entries("j-1", "j-1") == entries_of(DRIVER_LOG)

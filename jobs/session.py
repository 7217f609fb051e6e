"""The SparkSession factory: one place for the Spark settings a sparkeo driver needs.

Metrics are configured here so that a local run and the test session expose the same series:
Spark's PrometheusServlet on the UI port and the JmxSink (what the JMX exporter reads on a cluster),
under the fixed ``spark.metrics.namespace`` "sparkeo.job".
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

# Two dot-separated parts: the operator's JMX-exporter rules read them as app_namespace and app_id
# (``metrics<name=(\S+)\.(\S+)\.…``); with one part no Spark MBean matches any rule (tests/test_dashboards.py).
LOG4J2_PROPERTIES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")

METRICS_NAMESPACE = "sparkeo.job"

METRICS_CONF = {
    "spark.metrics.namespace": METRICS_NAMESPACE,
    "spark.ui.prometheus.enabled": "true",
    "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
    "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
    "spark.metrics.conf.master.sink.prometheusServlet.path": "/metrics/master/prometheus",
    "spark.metrics.conf.applications.sink.prometheusServlet.path": "/metrics/applications/prometheus",
    "spark.metrics.conf.*.sink.jmx.class": "org.apache.spark.metrics.sink.JmxSink",
    "spark.metrics.conf.*.source.jvm.class": "org.apache.spark.metrics.source.JvmSource",
    "spark.metrics.staticSources.enabled": "true",
    "spark.metrics.appStatusSource.enabled": "true",
    "spark.executor.processTreeMetrics.enabled": "true",
}

BASE_CONF = {
    "spark.python.worker.reuse": "true",
    # Workers fork from a daemon that has the engine and GDAL loaded already (jobs/daemon.py).
    "spark.python.daemon.module": "jobs.daemon",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
    # Tile results come back to the driver as compressed arrays; allow large ones.
    "spark.driver.maxResultSize": "4g",
    # A group's results (up to 8 tiles of ~1 MB) travel in the task's status message rather than
    # through the block manager: ~30 % less time per MB (bench/composite.py, results inline).
    "spark.task.maxDirectResultSize": "64m",
    "spark.rpc.message.maxSize": "512",
    # Python workers talk to the JVM over Unix domain sockets instead of loopback TCP: over TCP each
    # task's input waited ~40 ms for a delayed ACK (Nagle) before the worker could start on it
    # (a 1-partition job: 50 ms from task launch to the Python function, 8.5 ms over a Unix socket).
    "spark.python.unix.domain.socket.enabled": "true",
}


# The driver JVM coordinates (schedules tasks, pipes bytes to Python workers); it never runs a hot
# loop long enough to repay C2. C2 kept compiling Spark's start-up code well into the first job:
# a perf profile of bench/composite.py showed the C2 thread on a third of both cores during the
# first ~1 s of tiles, and C1 only took ~0.2 s off the first job on 2 cores.
DRIVER_JIT = "-XX:TieredStopAtLevel=1"


def spark_session(master: str | None = None, app_name: str = "sparkeo",
                  conf: Mapping[str, str] | None = None, executor_env: Mapping[str, str] | None = None):
    """Get or create the SparkSession; an existing session (tests, spark-submit) is reused as is."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master and not os.environ.get("SPARKEO_UNDER_SPARK_SUBMIT"):
        builder = builder.master(master)
    log_conf = f"-Dlog4j2.configurationFile=file:{LOG4J2_PROPERTIES}"
    java_opts = {"spark.driver.extraJavaOptions": f"{log_conf} {DRIVER_JIT}"}
    for key, value in {**BASE_CONF, **METRICS_CONF, **java_opts, **(conf or {})}.items():
        builder = builder.config(key, value)
    for key, value in (executor_env or {}).items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session

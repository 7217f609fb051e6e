"""The SparkSession factory: one place for the Spark settings a sparkeo driver needs.

Metrics are configured here so that a local run and the test session expose the same series:
Spark's PrometheusServlet on the UI port and the JmxSink (what the JMX exporter reads on a cluster),
under the fixed ``spark.metrics.namespace`` (``sparkeo.contracts.METRICS_NAMESPACE``).
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

from sparkeo.contracts import PROMETHEUS_METRICS_CONF
from sparkeo.settings import Settings

# jobs/log4j2.properties (package data of ``jobs``, one level up from this module)
LOG4J2_PROPERTIES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "log4j2.properties")

# the shared namespace and Prometheus endpoint (sparkeo.contracts), plus what a driver also serves locally
METRICS_CONF = {
    **PROMETHEUS_METRICS_CONF,
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
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
    # Tile results come back to the driver as compressed arrays; allow large ones.
    "spark.driver.maxResultSize": "4g",
    # A group's results (up to 8 tiles of ~1 MB) travel in the task's status message rather than
    # through the block manager: ~30 % less time per MB (bench/composite.py, results inline).
    "spark.task.maxDirectResultSize": "64m",
    "spark.rpc.message.maxSize": "512",
    # The web API runs a batch job and synchronous requests at once, from threads of one SparkContext,
    # each in a scheduler pool of its own (sparkeo.api.runner), so a request is not queued behind a
    # job's tiles. Spark jobs without a pool (the command line's) share the default pool, FIFO inside.
    "spark.scheduler.mode": "FAIR",
}

# The speed devices' Spark side, each behind its setting (the measurements are at the settings).
DAEMON_MODULE = "jobs.spark.daemon"
DRIVER_JIT = "-XX:TieredStopAtLevel=1"


def speed_conf(settings: Settings) -> dict[str, str]:
    """The Spark settings of the speed devices ``settings`` turns on: the worker daemon
    (``worker_daemon``), Unix-socket Python workers (``python_unix_sockets``), the C1-only driver JVM
    (``driver_c1_jit``) and its G1 heap regions with broadcast blocks under half a region
    (``driver_heap_region_mb``); the JVM flags go in ``spark.driver.extraJavaOptions`` with the log4j
    set-up. A device turned off leaves Spark's own default."""
    java = [f"-Dlog4j2.configurationFile=file:{LOG4J2_PROPERTIES}"]
    conf = {}
    if settings.driver_c1_jit:
        java.append(DRIVER_JIT)
    if settings.driver_heap_region_mb:
        java.append(driver_heap_regions(settings.driver_heap_region_mb))
        conf["spark.broadcast.blockSize"] = f"{settings.driver_heap_region_mb * 1024 // 4}k"
    conf["spark.driver.extraJavaOptions"] = " ".join(java)
    if settings.worker_daemon:
        conf["spark.python.daemon.module"] = DAEMON_MODULE
    if settings.python_unix_sockets:
        conf["spark.python.unix.domain.socket.enabled"] = "true"
    return conf


def driver_heap_regions(mb: int) -> str:
    """The driver JVM's flag for G1 heap regions of ``mb`` MB."""
    return f"-XX:G1HeapRegionSize={mb}m"


def spark_session(master: str | None = None, app_name: str = "sparkeo",
                  conf: Mapping[str, str] | None = None, executor_env: Mapping[str, str] | None = None,
                  settings: Settings | None = None):
    """Get or create the SparkSession, with the speed devices of ``settings`` (default: all on);
    an existing session (tests, spark-submit) is reused as is."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master and not os.environ.get("SPARKEO_UNDER_SPARK_SUBMIT"):
        builder = builder.master(master)
    speed = speed_conf(settings or Settings())
    for key, value in {**BASE_CONF, **METRICS_CONF, **speed, **(conf or {})}.items():
        builder = builder.config(key, value)
    for key, value in (executor_env or {}).items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session

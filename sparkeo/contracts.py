"""The contracts several packages share, each spelled once here and imported everywhere else.

A contract is a value two parts of sparkeo (or sparkeo and the outside world) must agree on: the
file names of a results location that the driver writes and the CLI, the downloader and the tracker
read; the Spark metrics namespace that the driver's session, the SparkApplication manifest and the
Prometheus rules agree on; the labels that mark sparkeo's SparkApplications; the job states the
registry stores and the driver reports. The naming rules (job ids, user names) live in
``sparkeo.names``. Pure constants: no I/O, no imports of the domain packages (like pystac's ``*_PROP``).
"""
from __future__ import annotations

import enum
from types import MappingProxyType

# -- the results location (DESIGN.md "Results layout") -------------------------------------------------
#: the STAC results document, written last: its presence means the results are complete
COLLECTION_FILE = "collection.json"
#: the job's record of what it did and owns at the location (usage, inputs, files)
METADATA_FILE = "job_metadata.json"


def item_file(data_file: str) -> str:
    """The name of the STAC item document of one results data file: ``<its stem>.json``, or
    ``<its stem>_item.json`` when the data file is JSON itself (a time-series JSON)."""
    stem = data_file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return f"{stem}_item.json" if data_file.endswith(".json") else f"{stem}.json"
#: the job spec ``submit`` stores with the job's inputs
JOB_SPEC_FILE = "job_spec.json"
#: the key of a results document that marks it as sparkeo's (its provenance: graph, inputs, versions)
PROVENANCE_KEY = "sparkeo:provenance"

# -- Spark metrics ----------------------------------------------------------------------------------------
#: ``spark.metrics.namespace``. Two dot-separated parts: the operator's JMX-exporter rules read them as
#: app_namespace and app_id (``metrics<name=(\S+)\.(\S+)\.…``); with one part no Spark MBean matches a rule.
METRICS_NAMESPACE = "sparkeo.job"
# the Pushgateway job label of a job's pushed series (the job pushes, the tracker deletes the group
# when it prunes the record), grouped by job_id and, on a cluster, namespace
JOB_PUSH_JOB = "sparkeo-job"
#: the Spark settings that expose a job's metrics on Spark's own Prometheus endpoint under that namespace;
#: the driver's session and the SparkApplication manifest both start from these
PROMETHEUS_METRICS_CONF = MappingProxyType({
    "spark.metrics.namespace": METRICS_NAMESPACE,
    "spark.ui.prometheus.enabled": "true",
    "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
    "spark.metrics.conf.*.sink.prometheusServlet.path": "/metrics/prometheus",
})

# -- Kubernetes labels of sparkeo's SparkApplications ---------------------------------------------------
LABEL_JOB_ID = "sparkeo/job-id"
LABEL_USER = "sparkeo/user"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "sparkeo"
#: the selector that finds every SparkApplication sparkeo created
SPARKEO_SELECTOR = f"{LABEL_MANAGED_BY}={MANAGED_BY}"
#: annotation keeping the user name unsanitised (label values cannot hold e.g. ``@``)
ANNOTATION_USER = "sparkeo/user"
#: the driver pod of SparkApplication ``app`` (the spark operator's naming, ``status.driverInfo.podName``);
#: the web API reads its log (``pods/log``), the test API server's operator loop keeps it
DRIVER_POD = "{app}-driver"


# -- job states -------------------------------------------------------------------------------------------
class JobState(str, enum.Enum):
    """The six states of a sparkeo job; the last three are final (the transitions: ``tracker.states``)."""

    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    ERROR = "error"
    CANCELED = "canceled"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.FINISHED, JobState.ERROR, JobState.CANCELED})

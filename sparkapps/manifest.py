"""The SparkApplication of a job: a pure function from (job, deployment settings) to a dict.

No I/O here (like kopf's ``hierarchies.adopt``): ``render`` builds the manifest, ``validate``
checks it, ``submit`` sends it. Secrets appear only as ``secretKeyRef`` references.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from sparkapps import names
from sparkapps.deployment import DeploymentSettings, PodResources
from sparkapps.options import resolve
from sparkeo import contracts
from sparkeo.contracts import PROMETHEUS_METRICS_CONF
from sparkeo.names import check_job_id

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
# Spark's own Prometheus endpoint next to the JMX exporter, under the shared metrics namespace
METRICS_CONF = dict(PROMETHEUS_METRICS_CONF)
EODATA_VOLUME = "eodata"
CATALOG_VOLUME = "layercatalog"


@dataclass(frozen=True)
class JobSpec:
    """One job: who asked, which graph, where results go, and the job's openEO options."""

    job_id: str
    user: str
    graph_uri: str
    output_uri: str
    groups: tuple[str, ...] = ()
    catalog_uri: str | None = None
    job_options: Mapping[str, Any] = field(default_factory=dict)
    submitted_at: str | None = None     # ISO 8601; the driver reports queue time from it
    # the driver's SPARKEO_USER_READS (sparkeo.readpolicy): what the user's graph may make it read; None:
    # the deployment's own (the web API sets ``restricted``, a user's own ``sparkeo submit`` leaves it)
    user_reads: str | None = None

    def __post_init__(self):
        check_job_id(self.job_id)

    def to_json(self) -> dict:
        """The ``job_spec.json`` document stored with the job's results."""
        return {
            "job_id": self.job_id,
            "user": self.user,
            "groups": sorted(self.groups),
            "graph": self.graph_uri,
            "output": self.output_uri,
            "catalog": self.catalog_uri,
            "job_options": dict(self.job_options),
            "submitted_at": self.submitted_at,
            **({"user_reads": self.user_reads} if self.user_reads else {}),
        }


def render(job: JobSpec, deployment: DeploymentSettings) -> dict:
    """The SparkApplication manifest for ``job``; raises ``JobOptionError`` for out-of-bounds options."""
    resolved = resolve(deployment, job.job_options)
    d = resolved.deployment
    labels = {
        contracts.LABEL_JOB_ID: job.job_id,
        contracts.LABEL_USER: names.label_value(job.user),
        contracts.LABEL_MANAGED_BY: contracts.MANAGED_BY,
    }
    spec: dict[str, Any] = {
        "type": "Python",
        "pythonVersion": "3",
        "mode": "cluster",
        "image": d.image,
        "imagePullPolicy": d.image_pull_policy,
        "sparkVersion": d.spark_version,
        "mainApplicationFile": d.main_application_file,
        "arguments": _arguments(job, d, resolved.engine_options),
        "sparkConf": _spark_conf(d),
        "restartPolicy": _restart_policy(d),
        "driver": _driver(d, labels),
        "executor": _pod(d.executor, d, labels),
    }
    if job.user_reads:      # beside envFrom's ConfigMap, an env entry wins
        spec["driver"].setdefault("env", []).append({"name": "SPARKEO_USER_READS", "value": job.user_reads})
    volumes = _volumes(d)
    if volumes:
        spec["volumes"] = volumes
    if d.time_to_live_seconds is not None:
        spec["timeToLiveSeconds"] = d.time_to_live_seconds
    if d.instances is not None:
        spec["executor"]["instances"] = d.instances
    else:
        spec["dynamicAllocation"] = {
            "enabled": True,
            "initialExecutors": d.dynamic_initial_executors,
            "minExecutors": d.dynamic_min_executors,
            "maxExecutors": d.dynamic_max_executors,
        }
    if d.monitoring:
        spec["monitoring"] = {
            "exposeDriverMetrics": True,
            "exposeExecutorMetrics": True,
            "prometheus": {"jmxExporterJar": d.jmx_exporter_jar, "port": d.metrics_port},
        }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": job.job_id,
            "namespace": d.namespace,
            "labels": labels,
            "annotations": {contracts.ANNOTATION_USER: job.user, "sparkeo/output": job.output_uri},
        },
        "spec": spec,
    }


def _arguments(job: JobSpec, d: DeploymentSettings, engine_options: Mapping[str, Any]) -> list[str]:
    """The driver's command line: ``jobs/main.py --graph URI --output URI --job-id ID ...``."""
    args = ["--graph", job.graph_uri, "--output", job.output_uri, "--job-id", job.job_id]
    catalog = job.catalog_uri or d.default_catalog
    if catalog:
        args += ["--catalog", catalog]
    if engine_options:
        args += ["--job-options", json.dumps(dict(engine_options), sort_keys=True, separators=(",", ":"))]
    if job.submitted_at:
        args += ["--submitted-at", job.submitted_at]
    args += ["--user", job.user]
    if job.groups:
        args += ["--groups", ",".join(sorted(job.groups))]
    return args


def _spark_conf(d: DeploymentSettings) -> dict[str, str]:
    conf = dict(METRICS_CONF)
    if d.instances is None:
        # no external shuffle service on Kubernetes: dynamic allocation needs shuffle tracking
        conf["spark.dynamicAllocation.shuffleTracking.enabled"] = "true"
    if d.s3_endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = d.s3_endpoint
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
    conf.update({str(k): str(v) for k, v in d.spark_conf.items()})
    return conf


def _restart_policy(d: DeploymentSettings) -> dict[str, Any]:
    p = d.restart_policy
    out: dict[str, Any] = {"type": p.type}
    if p.type != "Never":
        out.update({
            "onFailureRetries": p.on_failure_retries,
            "onFailureRetryInterval": p.on_failure_retry_interval,
            "onSubmissionFailureRetries": p.on_submission_failure_retries,
            "onSubmissionFailureRetryInterval": p.on_submission_failure_retry_interval,
        })
    return out


def _env(d: DeploymentSettings) -> list[dict[str, Any]]:
    """Pod environment: S3 endpoint in the clear, credentials only as Secret references."""
    env: list[dict[str, Any]] = []
    if d.s3_endpoint:
        env.append({"name": "AWS_ENDPOINT_URL", "value": d.s3_endpoint})
    if d.aws_region:
        env.append({"name": "AWS_DEFAULT_REGION", "value": d.aws_region})
    if d.s3_secret:
        for var, key in (("AWS_ACCESS_KEY_ID", d.s3_access_key_key), ("AWS_SECRET_ACCESS_KEY", d.s3_secret_key_key)):
            env.append({"name": var, "valueFrom": {"secretKeyRef": {"name": d.s3_secret, "key": key}}})
        # Temporary credentials (STS) need the session token too; optional, so that a Secret holding
        # long-lived keys only still starts the pods (the kubelet then leaves the variable unset).
        env.append({"name": "AWS_SESSION_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": d.s3_secret, "key": d.s3_session_token_key, "optional": True}}})
    return env


def _volumes(d: DeploymentSettings) -> list[dict[str, Any]]:
    volumes = []
    if d.eodata_host_path:
        volumes.append({"name": EODATA_VOLUME, "hostPath": {"path": d.eodata_host_path, "type": "Directory"}})
    elif d.eodata_claim:
        volumes.append({"name": EODATA_VOLUME, "persistentVolumeClaim": {"claimName": d.eodata_claim,
                                                                         "readOnly": True}})
    if d.catalog_configmap:
        volumes.append({"name": CATALOG_VOLUME, "configMap": {"name": d.catalog_configmap}})
    return volumes


def _volume_mounts(d: DeploymentSettings) -> list[dict[str, Any]]:
    mounts = []
    if d.eodata_host_path or d.eodata_claim:
        mounts.append({"name": EODATA_VOLUME, "mountPath": d.eodata_mount_path, "readOnly": True})
    if d.catalog_configmap:
        mounts.append({"name": CATALOG_VOLUME, "mountPath": d.catalog_mount_path, "readOnly": True})
    return mounts


def _driver(d: DeploymentSettings, labels: Mapping[str, str]) -> dict[str, Any]:
    pod = _pod(d.driver, d, labels)
    pod["serviceAccount"] = d.service_account
    if d.job_metrics_port:
        # The driver serves sparkeo_job_* progress series there (jobs/progress.py), beside the JMX exporter's
        # port. No `ports` entry: operator 1.3.x CRDs do not know driver.ports and would prune it, and
        # Prometheus scrapes an undeclared container port just the same.
        pod.setdefault("env", []).append({"name": "SPARKEO_METRICS_PORT", "value": str(d.job_metrics_port)})
    # the namespace groups the job's series pushed to the Pushgateway, as the pod scrape labels them
    pod.setdefault("env", []).append({"name": "SPARKEO_NAMESPACE",
                                      "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}})
    if d.env_configmap:
        # optional: a namespace without it still runs jobs, just without the Pushgateway push
        pod["envFrom"] = [{"configMapRef": {"name": d.env_configmap, "optional": True}}]
    return pod


def _security(d: DeploymentSettings) -> dict[str, Any]:
    """What the Pod Security "restricted" profile requires of every container: a non-root user, no
    privilege escalation, no capabilities, the runtime's default seccomp profile."""
    context: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": d.run_as_user, "allowPrivilegeEscalation": False,
                               "capabilities": {"drop": ["ALL"]}}
    if d.seccomp_profile:
        context["seccompProfile"] = {"type": d.seccomp_profile}
    return context


def _pod(res: PodResources, d: DeploymentSettings, labels: Mapping[str, str]) -> dict[str, Any]:
    pod: dict[str, Any] = {"cores": res.cores, "coreLimit": res.core_limit or str(res.cores), "memory": res.memory,
                           "labels": dict(labels), "securityContext": _security(d)}
    if res.memory_overhead:
        pod["memoryOverhead"] = res.memory_overhead
    env = _env(d)
    if env:
        pod["env"] = env
    mounts = _volume_mounts(d)
    if mounts:
        pod["volumeMounts"] = mounts
    if d.node_selector:
        pod["nodeSelector"] = dict(d.node_selector)
    if d.tolerations:
        pod["tolerations"] = [dict(t) for t in d.tolerations]
    return pod

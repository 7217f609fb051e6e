"""Deployment settings: how SparkApplications look on this cluster (image, namespace, resources,
restart policy, volumes, secrets, bounds for job options).

Loaded once at the boundary from a YAML file (``--config`` or ``SPARKEO_DEPLOYMENT``) plus a few
environment variables, then passed down as an immutable value; ``manifest.render`` reads nothing else.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from sparkapps.quantities import memory_mib
from sparkeo.errors import ConfigError

RESTART_TYPES = ("Never", "Always", "OnFailure")


@dataclass(frozen=True)
class PodResources:
    """Cores and memory of the driver or of one executor (Spark memory sizes)."""

    cores: int = 1
    memory: str = "2g"
    memory_overhead: str | None = None
    # the pod's CPU limit (Kubernetes quantity, e.g. "1500m"); None: as many cores as requested
    core_limit: str | None = None


@dataclass(frozen=True)
class RestartPolicy:
    """The operator's ``restartPolicy``: retries of failed runs and of failed submissions."""

    type: str = "OnFailure"
    on_failure_retries: int = 2
    on_failure_retry_interval: int = 30
    on_submission_failure_retries: int = 3
    on_submission_failure_retry_interval: int = 20


@dataclass(frozen=True)
class OptionBounds:
    """What a job option may ask for: ``(minimum, maximum)`` per option (memory in Spark sizes)."""

    driver_memory: tuple[str, str] = ("512m", "16g")
    driver_memory_overhead: tuple[str, str] = ("0m", "8g")
    driver_cores: tuple[int, int] = (1, 4)
    executor_memory: tuple[str, str] = ("512m", "32g")
    executor_memory_overhead: tuple[str, str] = ("0m", "16g")
    executor_cores: tuple[int, int] = (1, 8)
    max_executors: tuple[int, int] = (1, 100)


@dataclass(frozen=True)
class DeploymentSettings:
    """Everything about the cluster a SparkApplication manifest needs, apart from the job itself."""

    image: str = "ghcr.io/sparkeo/sparkeo:0.1.0"
    image_pull_policy: str = "IfNotPresent"
    namespace: str = "sparkeo"
    service_account: str = "sparkeo-driver"
    spark_version: str = "4.2.1"  # the pyspark of constraints.txt (docker/Dockerfile)
    main_application_file: str = "local:///opt/sparkeo/jobs/main.py"
    driver: PodResources = PodResources(cores=1, memory="2g", memory_overhead="512m")
    executor: PodResources = PodResources(cores=2, memory="4g", memory_overhead="1g")
    # static executor count; None means dynamic allocation between the min and max below
    instances: int | None = None
    dynamic_min_executors: int = 0
    dynamic_initial_executors: int = 1
    dynamic_max_executors: int = 10
    restart_policy: RestartPolicy = RestartPolicy()
    time_to_live_seconds: int | None = 86400
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    # Secret holding the S3 credentials (keys below); None: pods get no credentials (IAM roles etc.)
    s3_secret: str | None = "sparkeo-s3"
    s3_access_key_key: str = "AWS_ACCESS_KEY_ID"
    s3_secret_key_key: str = "AWS_SECRET_ACCESS_KEY"
    s3_session_token_key: str = "AWS_SESSION_TOKEN"    # optional in the Secret (temporary credentials)
    s3_endpoint: str | None = None
    aws_region: str | None = None
    # FUSE mount of the EO archive on the nodes; None: no hostPath volume. A hostPath is forbidden by
    # the Pod Security "baseline" and "restricted" profiles: eodata_claim (a PVC, e.g. bound to an S3
    # CSI driver) mounts the same archive within them; one of the two at most
    eodata_host_path: str | None = "/eodata"
    eodata_claim: str | None = None
    eodata_mount_path: str = "/eodata"
    catalog_configmap: str | None = "sparkeo-layercatalog"
    catalog_mount_path: str = "/opt/sparkeo/catalog"
    catalog_file: str = "layercatalog.json"
    # the pods see the submitting machine's files (the test Kubernetes API's local operator loop, a
    # one-node cluster on a shared disk): local catalog paths are then allowed in manifests
    host_paths: bool = False
    results_root: str = "s3://sparkeo-results/jobs"
    monitoring: bool = True
    jmx_exporter_jar: str = "/opt/spark/jars/jmx_prometheus_javaagent.jar"
    metrics_port: int = 8090
    job_metrics_port: int | None = 8091     # sparkeo_job_* series served by the driver; None: off
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    # ConfigMap whose keys become the driver's environment variables (the deploy base's
    # sparkeo-monitoring: SPARKEO_PUSHGATEWAY, which the tracker reads too); None: none
    env_configmap: str | None = None
    # the user id of the image (docker/Dockerfile's SPARK_UID): pods run as it, never as root
    run_as_user: int = 185
    # seccomp profile of every container (Pod Security "restricted"); null for spark-operator 1.3.x,
    # whose CRD predates the field (its pruning would drop it; the namespace's default then applies)
    seccomp_profile: str | None = "RuntimeDefault"
    # CRD file to validate manifests against; None: the CRD schema shipped with sparkeo (operator 2.x)
    crd: str | None = None
    bounds: OptionBounds = OptionBounds()

    @property
    def default_catalog(self) -> str | None:
        """Where the layer catalog ConfigMap appears inside driver and executors."""
        if not self.catalog_configmap:
            return None
        return f"{self.catalog_mount_path.rstrip('/')}/{self.catalog_file}"

    def cluster_catalog(self, catalog: str | None, origin: str = "--catalog") -> str | None:
        """``catalog`` as a manifest may name it: ``None`` (the ConfigMap's), an ``s3://`` URI, a path
        inside the ConfigMap's mount, or any path with ``host_paths``. A local path a pod cannot see is
        refused (``ConfigError``, exit 2) rather than handed to a driver that would fail on it."""
        from sparkeo import storage

        mount = self.catalog_mount_path.rstrip("/") + "/"
        if catalog is None or storage.is_s3(catalog) or self.host_paths or \
                (self.catalog_configmap and catalog.startswith(mount)):
            return catalog
        where = (f"leave it out for the deployment's ConfigMap {self.catalog_configmap!r}"
                 if self.catalog_configmap else "no catalog ConfigMap is configured")
        raise ConfigError(origin, catalog, f"a local path, which the cluster's pods cannot read: name an s3:// "
                                           f"catalog, or {where}")

    def results_of(self, job_id: str) -> str:
        """The default results location of a job."""
        return f"{self.results_root.rstrip('/')}/{job_id}"

    def replace(self, **changes) -> "DeploymentSettings":
        return dataclasses.replace(self, **changes)


_NESTED = {"driver": PodResources, "executor": PodResources, "restart_policy": RestartPolicy, "bounds": OptionBounds}
# environment variables that override the file (the CLI's usual precedence: flags, env, file, defaults)
ENV_OVERRIDES = {
    "SPARKEO_IMAGE": "image",
    "SPARKEO_NAMESPACE": "namespace",
    "SPARKEO_RESULTS_ROOT": "results_root",
    "AWS_ENDPOINT_URL": "s3_endpoint",
    "AWS_DEFAULT_REGION": "aws_region",
    "SPARKEO_HOST_PATHS": "host_paths",
}
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False, "": False}


def from_mapping(data: Mapping[str, Any], source: str = "deployment settings") -> DeploymentSettings:
    """Build settings from a parsed YAML mapping; unknown or ill-typed keys raise ``ConfigError``."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, data, "expected a mapping of settings")
    values = {}
    known = {f.name for f in dataclasses.fields(DeploymentSettings)}
    for key, raw in data.items():
        name = _setting_name(key, raw, known, f"{source}: {key}")
        values[name] = _convert(name, raw, source)
    settings = DeploymentSettings(**values)
    check(settings, source)
    return settings


def _setting_name(key: Any, value: Any, known: set[str], where: str) -> str:
    """A settings key as a field name (``-`` read as ``_``); a key no field has is a ``ConfigError`` at ``where``."""
    name = str(key).replace("-", "_")
    if name not in known:
        raise ConfigError(where, value, f"unknown setting (known: {', '.join(sorted(known))})")
    return name


def _convert(name: str, raw: Any, source: str):
    kind = _NESTED.get(name)
    if kind is None:
        if name == "tolerations":
            return tuple(dict(t) for t in (raw or ()))
        if name in ("node_selector", "spark_conf"):
            return {str(k): str(v) for k, v in (raw or {}).items()}
        if isinstance(raw, str) and isinstance(getattr(DeploymentSettings, name, None), bool):
            if raw.strip().lower() not in _BOOLEANS:     # from an environment variable
                raise ConfigError(f"{source}: {name}", raw, "true or false")
            return _BOOLEANS[raw.strip().lower()]
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: {name}", raw, "expected a mapping")
    fields = {f.name for f in dataclasses.fields(kind)}
    out = {}
    for key, value in raw.items():
        sub = _setting_name(key, value, fields, f"{source}: {name}.{key}")
        if kind is OptionBounds and (not isinstance(value, (list, tuple)) or len(value) != 2):
            raise ConfigError(f"{source}: {name}.{key}", value, "expected [minimum, maximum]")
        out[sub] = tuple(value) if kind is OptionBounds else value
    return kind(**out)


def check(s: DeploymentSettings, source: str = "deployment settings") -> None:
    """Reject settings the manifest could not honour, naming the setting and its value."""
    if s.restart_policy.type not in RESTART_TYPES:
        raise ConfigError(f"{source}: restart_policy.type", s.restart_policy.type, f"one of {RESTART_TYPES}")
    for role in ("driver", "executor"):
        res: PodResources = getattr(s, role)
        if not isinstance(res.cores, int) or res.cores < 1:
            raise ConfigError(f"{source}: {role}.cores", res.cores, "a positive integer")
        for attr in ("memory", "memory_overhead"):
            value = getattr(res, attr)
            if value is not None:
                try:
                    memory_mib(value)
                except ValueError as exc:
                    raise ConfigError(f"{source}: {role}.{attr}", value, str(exc)) from None
    if s.instances is not None and (not isinstance(s.instances, int) or s.instances < 0):
        raise ConfigError(f"{source}: instances", s.instances, "a non-negative integer or null")
    if not 0 <= s.dynamic_min_executors <= s.dynamic_initial_executors <= s.dynamic_max_executors:
        raise ConfigError(
            f"{source}: dynamic_*_executors",
            (s.dynamic_min_executors, s.dynamic_initial_executors, s.dynamic_max_executors),
            "need 0 <= min <= initial <= max",
        )
    for f in dataclasses.fields(OptionBounds):
        low, high = getattr(s.bounds, f.name)
        try:
            ordered = memory_mib(low) <= memory_mib(high) if "memory" in f.name else int(low) <= int(high)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: bounds.{f.name}", [low, high], str(exc)) from None
        if not ordered:
            raise ConfigError(f"{source}: bounds.{f.name}", [low, high], "minimum above maximum")
    if s.eodata_host_path and s.eodata_claim:
        raise ConfigError(f"{source}: eodata_claim", s.eodata_claim, "set eodata_host_path: null to use a claim")
    if not isinstance(s.run_as_user, int) or isinstance(s.run_as_user, bool) or s.run_as_user < 1:
        raise ConfigError(f"{source}: run_as_user", s.run_as_user, "a user id above 0 (pods never run as root)")
    if not 1024 <= s.metrics_port <= 49151:
        raise ConfigError(f"{source}: metrics_port", s.metrics_port, "between 1024 and 49151 (the CRD's range)")


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> DeploymentSettings:
    """Settings from ``path`` (or ``SPARKEO_DEPLOYMENT``; defaults without either), then the environment.

    ``path`` may be a local file or an ``s3://`` URI.
    """
    from sparkeo import storage

    env = os.environ if env is None else env
    path = path or env.get("SPARKEO_DEPLOYMENT") or None
    data: dict = {}
    if path:
        try:
            data = yaml.safe_load(storage.read_text(path)) or {}
        except yaml.YAMLError as exc:
            raise ConfigError("deployment settings", path, f"not valid YAML: {exc}") from None
    for var, name in ENV_OVERRIDES.items():
        if env.get(var):
            data = {**data, name: env[var]}
    return from_mapping(data, source=path or "deployment settings")

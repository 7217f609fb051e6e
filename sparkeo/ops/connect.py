"""The clients the use cases need, built from the settings: the job registry, the namespace, and the
Kubernetes API of the SparkApplications.

The one place a front end connects to ZooKeeper: ``SPARKEO_ZOOKEEPER`` hosts (or the caller's),
``SPARKEO_ZOOKEEPER_ROOT``, and ``SPARKEO_ZOOKEEPER_AUTH`` (``name:password``) for the digest ACLs.
"""
from __future__ import annotations

import os

from sparkapps import deployment
from sparkeo.errors import ConfigError
from sparkeo.settings import Settings
from tracker.registry import JobRegistry

AUTH_ENV = "SPARKEO_ZOOKEEPER_AUTH"


def open_registry(settings: Settings, zookeeper: str | None = None, required: bool = True) -> JobRegistry | None:
    """A connected ``JobRegistry`` (the caller closes it), or ``None`` when no ZooKeeper is configured
    and not ``required``; ``ConfigError`` (exit 2) when it is required and none is configured."""
    hosts = zookeeper or settings.zookeeper
    if not hosts:
        if required:
            raise ConfigError("--zookeeper", None, "the job registry needs ZooKeeper hosts (or SPARKEO_ZOOKEEPER)")
        return None
    return JobRegistry.connect(hosts, settings.zookeeper_root, credentials=os.environ.get(AUTH_ENV) or None)


def namespace_of(namespace: str | None, deployment_config: str | None) -> str:
    """The namespace given, else the deployment settings' (which ``SPARKEO_NAMESPACE`` overrides)."""
    return namespace or deployment.load(deployment_config).namespace


def sparkapps_api(kubeconfig: str | None = None):
    """The SparkApplications API, configured like kubectl (``sparkapps.client.connect``)."""
    from sparkapps import client

    return client.connect(kubeconfig)

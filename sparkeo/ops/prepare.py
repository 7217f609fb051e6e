"""Preparing a job for the cluster (``render`` and ``submit`` share it): check the graph locally,
merge the job options, and build the ``JobSpec`` and the deployment settings.

Nothing is written or sent here: a bad graph, job option or job id is refused (``UserError``, exit 2)
before any object storage or Kubernetes call.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Mapping

from jobs.graph.parse import ProcessGraph
from jobs.run import load_catalog, parse_job_options, prepare
from sparkapps import deployment as deployments
from sparkapps.deployment import DeploymentSettings
from sparkapps.manifest import JobSpec
from sparkapps.submit import graph_location
from sparkeo import storage
from sparkeo.identity import Caller
from sparkeo.names import check_job_id, new_job_id
from sparkeo.settings import Settings


@dataclass(frozen=True)
class GraphSource:
    """A process graph as a front end received it: its text, a name for messages, and where it lives
    (``uri``) when the driver can read it there (an ``s3://`` object), else ``None``."""

    text: str
    name: str
    uri: str | None = None

    @classmethod
    def of(cls, text: str, name: str) -> "GraphSource":
        """The graph read from ``name`` (a path, ``<stdin>`` or an ``s3://`` URI)."""
        return cls(text, name, name if storage.is_s3(name) else None)


@dataclass(frozen=True)
class PreparedJob:
    """What ``render`` and ``submit`` need: the job, the deployment, and the graph document."""

    job: JobSpec
    deployment: DeploymentSettings
    graph_doc: Mapping[str, Any]
    graph_name: str
    graph_source_uri: str | None = None   # where the graph lives already, when the driver reads it there

    @property
    def uploads_graph(self) -> bool:
        """Whether ``submit`` stores the graph at ``job.graph_uri`` (it does not live there already)."""
        return self.job.graph_uri != self.graph_source_uri

    def submitted(self, at: datetime) -> "PreparedJob":
        """This job stamped with its submission time (UTC)."""
        stamp = at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return replace(self, job=replace(self.job, submitted_at=stamp))


def prepare_job(graph: GraphSource, caller: Caller, settings: Settings, *, catalog: str | None = None,
                output: str | None = None, job_id: str | None = None, job_options: str | Mapping | None = None,
                deployment_config: str | None = None, namespace: str | None = None,
                dry_run: bool = False, on_cluster: bool = True) -> PreparedJob:
    """Check ``graph`` (``ProcessGraph.parse``; with ``dry_run`` and a catalog, the full plan against
    it) and build the job. Raises ``UserError`` (exit 2) for a bad graph, options or job id, and, for a
    job that runs ``on_cluster``, for a local catalog path the cluster's pods cannot read
    (``DeploymentSettings.cluster_catalog``); a job the caller runs on its own Spark reads any path."""
    parsed = ProcessGraph.parse(graph.text, graph.name)
    options = {**dict(parsed.job_options), **parse_job_options(job_options)}
    origin = "--catalog" if catalog else "SPARKEO_CATALOG"
    catalog = catalog or settings.catalog
    deployment = deployments.load(deployment_config)
    if namespace:
        deployment = deployment.replace(namespace=namespace)
    if on_cluster:
        deployment.cluster_catalog(catalog, origin)
    if dry_run and catalog:
        prepare(graph.text, load_catalog(catalog, settings), caller, settings, options, graph.name)
    job_id = check_job_id(job_id) if job_id else new_job_id()
    output = output or deployment.results_of(job_id)
    graph_uri = graph.uri or graph_location(output)
    job = JobSpec(job_id=job_id, user=caller.user, groups=tuple(sorted(caller.groups)), graph_uri=graph_uri,
                  output_uri=output, catalog_uri=catalog, job_options=options,
                  user_reads=str(settings.user_reads) if settings.user_reads.restricted else None)
    return PreparedJob(job, deployment, json.loads(graph.text), graph.name, graph.uri)

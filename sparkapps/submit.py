"""Submit, look at and cancel jobs as SparkApplications: validate, upload the job's inputs, create.

``submit`` is idempotent: a job id that has an application already returns that application and
uploads nothing. The job registry (``tracker``) hooks in through ``on_submitted``/``on_canceled``
callbacks, so this module knows nothing of ZooKeeper.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from sparkapps import validate
from sparkapps.client import AppState, SparkAppsApi
from sparkapps.deployment import DeploymentSettings
from sparkapps.errors import SparkAppConflict, SparkAppNotFound
from sparkapps.manifest import JobSpec, render
from sparkeo import storage
from sparkeo.contracts import JOB_SPEC_FILE

GRAPH_FILE = "process_graph.json"
INPUTS_SUFFIX = ".job"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    """The outcome of ``submit``: the application as the API returned it, and whether it is new."""

    job: JobSpec
    app: Mapping[str, Any]
    created: bool
    seconds: float


def inputs_location(output_uri: str) -> str:
    """Where a job's inputs live: ``<output>.job/`` beside its results location.

    Not inside it: a results location holds sparkeo's results only (``jobs.results.location`` refuses to
    write beside foreign files), and an operator retry of the driver must still find the graph.
    """
    return output_uri.rstrip("/") + INPUTS_SUFFIX


def graph_location(output_uri: str) -> str:
    """Where ``submit`` stores the job's process graph."""
    return storage.join(inputs_location(output_uri), GRAPH_FILE)


def job_spec_location(output_uri: str) -> str:
    """Where ``submit`` stores ``job_spec.json`` (``JobSpec.to_json``)."""
    return storage.join(inputs_location(output_uri), JOB_SPEC_FILE)


def submit(api: SparkAppsApi, job: JobSpec, deployment: DeploymentSettings, *,
           graph: Mapping[str, Any] | None = None, schema: Mapping[str, Any] | None = None,
           on_submitted: Callable[[JobSpec, Mapping[str, Any]], None] | None = None) -> Submitted:
    """Create the job's SparkApplication, or return the one that exists already.

    Renders and validates the manifest first (``JobOptionError``, ``SparkAppInvalid``: nothing is
    written or sent), then writes ``graph`` (when given) to ``job.graph_uri`` and ``job_spec.json`` to
    the job's inputs location (``inputs_location``), then creates the application. ``on_submitted(job, app)`` runs after a
    creation, never for an application that existed already.
    """
    started = time.perf_counter()
    manifest = render(job, deployment)
    validate.check(manifest, validate.load_schema(deployment.crd) if schema is None else schema)
    namespace = manifest["metadata"]["namespace"]
    try:
        existing = api.get(namespace, job.job_id)
        log.info("job %s has an application already; not submitting again", job.job_id)
        return Submitted(job, existing, False, time.perf_counter() - started)
    except SparkAppNotFound:
        pass
    if graph is not None:
        storage.write_bytes(job.graph_uri, _json_bytes(graph), "application/json")
    storage.write_bytes(job_spec_location(job.output_uri), _json_bytes(job.to_json()), "application/json")
    try:
        app = api.create(manifest)
    except SparkAppConflict:
        # another submit of the same job id won the race: that one is the job
        return Submitted(job, api.get(namespace, job.job_id), False, time.perf_counter() - started)
    if on_submitted is not None:
        on_submitted(job, app)
    return Submitted(job, app, True, time.perf_counter() - started)


def status(api: SparkAppsApi, namespace: str, job_id: str) -> AppState:
    """The operator's view of one job; ``SparkAppNotFound`` when it has no application."""
    return api.state(namespace, job_id)


def cancel(api: SparkAppsApi, namespace: str, job_id: str,
           on_canceled: Callable[[str, AppState], None] | None = None) -> AppState:
    """Delete the job's application (the operator then removes its pods); returns its last state."""
    last = api.state(namespace, job_id)
    api.delete(namespace, job_id)
    if on_canceled is not None:
        on_canceled(job_id, last)
    return last


def _json_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, indent=2, sort_keys=True).encode("utf-8")

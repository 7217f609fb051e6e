"""The locations a request's graph names, under the web API's read policy (``sparkeo.readpolicy``).

``resolve`` runs before a graph is validated, stored, queued or run synchronously: a ``load_stac`` of
this API's own ``/jobs/{id}/results`` URL of a job the caller owns becomes the job's results document
(read server-side, without a round trip through HTTP and its authentication) and the job's results
location is granted to the run; another user's job gets the answer a missing job gets. Every other
location an argument names (``load_stac``'s url, ``load_geojson``'s data, ``geometries``, ``mask``)
is checked against the policy now, so that a refused one fails the request at once with its node and
argument named, instead of when the job runs. The run checks them again (the driver and its redirects).
"""
from __future__ import annotations

import copy
import json
import urllib.parse
from dataclasses import dataclass
from typing import Iterator

from jobs.errors import ProcessError
from sparkeo import storage
from sparkeo.api.errors import ApiError
from sparkeo.errors import SparkeoError
from sparkeo.identity import Caller
from sparkeo.ops.prepare import GraphSource
from sparkeo.ops.results import list_results
from sparkeo.readpolicy import ReadRefused
from sparkeo.settings import Settings

# the key of a started job's spec (``LocalRunner.start``) with the results locations its run may read
READ_GRANTS = "read_grants"
# (process, argument): a string there is a location the server reads for the user
LOCATION_ARGUMENTS = (("load_stac", "url"), ("load_geojson", "data"), ("aggregate_spatial", "geometries"),
                      ("filter_spatial", "geometries"), ("mask_polygon", "mask"))


@dataclass(frozen=True)
class ResolvedReads:
    """A request body with the caller's own results URLs resolved, and the settings to run it with
    (the read policy granting those results); ``grants``: the granted results locations."""

    body: dict
    settings: Settings
    grants: tuple[str, ...] = ()


def resolve(body: dict, caller: Caller, store, settings: Settings, base_url: str) -> ResolvedReads:
    """``body``'s user-named locations checked and its own-results URLs resolved (``store``: the job
    store). Raises ``ProcessError`` (``ProcessArgumentInvalid``) naming the node, argument and URL."""
    policy = settings.user_reads
    if not policy.restricted:
        return ResolvedReads(body, settings)
    body = copy.deepcopy(body)
    grants: list[str] = []
    for node_id, node in _nodes(body.get("process", {}).get("process_graph"), None):
        arguments = node.get("arguments")
        for process_id, argument in LOCATION_ARGUMENTS:
            value = arguments.get(argument) if node.get("process_id") == process_id else None
            if not isinstance(value, str):
                continue
            job_id = _own_job(value, base_url) if process_id == "load_stac" else None
            try:
                if job_id is None:
                    policy.check(value)
                    continue
                arguments[argument], results = _results_document(store, caller, job_id, value)
                grants.append(results)
            except ReadRefused as exc:
                raise ProcessError("ProcessArgumentInvalid", str(exc), node_id, argument) from None
    return ResolvedReads(body, settings.replace(user_reads=policy.granting(*grants)), tuple(grants))


def granted(settings: Settings, spec: dict) -> Settings:
    """``settings`` with a started job's read grants (its spec's ``READ_GRANTS``)."""
    return settings.replace(user_reads=settings.user_reads.granting(*(spec.get(READ_GRANTS) or ())))


def staged(body: dict, stored_graph_uri: str, name: str) -> GraphSource:
    """The resolved ``body`` written beside the job's stored request, where a cluster driver reads it
    (the submitted job spec names it, so the started job shows the resolved location to its owner)."""
    root, ext = (stored_graph_uri[:-5], ".json") if stored_graph_uri.endswith(".json") else (stored_graph_uri, "")
    uri = f"{root}.resolved{ext}"
    text = json.dumps(body)
    storage.write_bytes(uri, text.encode(), "application/json")
    return GraphSource(text, name, uri)


def _nodes(graph, parent: str | None) -> Iterator[tuple[str, dict]]:
    """Every node of ``graph`` and of its callbacks, with its id as errors name it (``parent/child``)."""
    if not isinstance(graph, dict):
        return
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("arguments"), dict):
            continue
        path = f"{parent}/{node_id}" if parent else str(node_id)
        yield path, node
        for value in node["arguments"].values():
            if isinstance(value, dict) and isinstance(value.get("process_graph"), dict):
                yield from _nodes(value["process_graph"], path)


def _own_job(url: str, base_url: str) -> str | None:
    """The job id of a ``{base_url}/jobs/{id}/results`` URL; None for any other URL."""
    parts = urllib.parse.urlsplit(url.strip())
    base = urllib.parse.urlsplit(base_url)
    if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
        return None
    prefix = base.path.rstrip("/") + "/jobs/"
    path = parts.path.rstrip("/")
    if not path.startswith(prefix) or not path.endswith("/results"):
        return None
    job_id = path[len(prefix):-len("/results")]
    return job_id if job_id and "/" not in job_id else None


def _results_document(store, caller: Caller, job_id: str, url: str) -> tuple[str, str]:
    """``(results document, results location)`` of the caller's job; ``ReadRefused`` for a job that
    does not exist, is another user's (the same answer), or has no results yet."""
    try:
        record = store.record(caller, job_id)
    except ApiError:        # 404: unknown, malformed or another user's
        raise ReadRefused(url, f"you have no job {job_id!r}") from None
    try:
        return list_results(record.results).uri, record.results
    except SparkeoError:
        raise ReadRefused(url, f"job {job_id!r} has no results (it is {record.status.value})") from None

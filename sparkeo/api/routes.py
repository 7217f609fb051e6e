"""The openEO endpoints, one plain function each: ``(request, backend, body) -> dict | Response``.

Each function authenticates, calls a use case (``sparkeo.ops``, ``jobs.run``'s dry run, the layer
catalog) and shapes the answer; ``app`` turns errors into openEO JSON errors.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from sparkeo import storage
from sparkeo.api import documents, downloads, userreads
from sparkeo.api.app import base_url, caller_of, graph_body, required
from sparkeo.api.config import CLUSTER
from sparkeo.api.errors import ApiError, from_sparkeo, unauthenticated
from sparkeo.api.jobstore import LEVELS, JobStore
from sparkeo.contracts import JobState
from sparkeo.errors import UserError
from sparkeo.identity import Caller
from sparkeo.names import new_job_id
from sparkeo.ops.prepare import GraphSource, prepare_job
from sparkeo.ops.results import list_results

ANONYMOUS = Caller()
JOBS_PAGE = 100     # jobs per page when the request gives no limit


# -- capabilities ----------------------------------------------------------------------------------
def capabilities(request: Request, backend, body) -> dict:
    return documents.capabilities(base_url(request), endpoints(), backend.config.title)


def endpoints() -> list[tuple[str, list[str]]]:
    """The openEO endpoints of ``ROUTES`` with their methods (the well-known document and the result
    files' download links are not endpoints of the API's version)."""
    methods: dict[str, list[str]] = {}
    for path, verbs, _ in ROUTES:
        if not path.startswith("/.well-known") and not path.endswith("/assets/{key}"):
            methods.setdefault(path, []).extend(verbs)
    return list(methods.items())


def well_known(request: Request, backend, body) -> dict:
    return documents.well_known(base_url(request))


def conformance(request: Request, backend, body) -> dict:
    return {"conformsTo": list(documents.CONFORMANCE)}


def file_formats(request: Request, backend, body) -> dict:
    from jobs.plan.formats import OUTPUT_FORMATS

    return documents.file_formats(OUTPUT_FORMATS)


def udf_runtimes(request: Request, backend, body) -> dict:
    """The Python runtime ``run_udf`` uses, or none when the server runs no UDFs (``SPARKEO_UDF=off``)."""
    if backend.settings.udf_mode == "off":
        return {}
    from jobs.processes.udfruntime import python_runtime

    return python_runtime().to_json()


def service_types(request: Request, backend, body) -> dict:
    """No secondary web services (WMTS and the like)."""
    return {}


def credentials_basic(request: Request, backend, body) -> dict:
    """HTTP Basic credentials in, a bearer token (``basic//TOKEN``) out; the password is never kept."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise unauthenticated("send the user name and password with HTTP Basic authentication")
    try:
        name, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if not sep:
        raise ApiError(400, "AuthenticationSchemeInvalid", "malformed HTTP Basic credentials")
    token = backend.auth.login(name, password)
    if token is None:
        raise ApiError(403, "CredentialsInvalid", "wrong user name or password")
    return {"access_token": token}


def me(request: Request, backend, body) -> dict:
    caller = caller_of(request, backend)
    return {"user_id": caller.user, "name": caller.user, "info": {"groups": sorted(caller.groups)}, "links": []}


# -- collections and processes ---------------------------------------------------------------------
def _catalog_caller(request: Request, backend) -> Caller:
    caller = caller_of(request, backend, required=not backend.config.public_collections)
    return caller or ANONYMOUS


def collections(request: Request, backend, body) -> dict:
    caller, base = _catalog_caller(request, backend), base_url(request)
    docs = [documents.collection_summary(documents.collection(c, base)) for c in backend.catalog().collections(caller)]
    return {"collections": docs, "links": [{"rel": "self", "href": f"{base}/collections"}]}


def collection(request: Request, backend, body) -> dict:
    caller = _catalog_caller(request, backend)
    info = backend.catalog().get(request.path_params["collection_id"], caller)
    return documents.collection(info, base_url(request))


def processes(request: Request, backend, body) -> dict:
    from jobs.processes.listing import implemented
    from jobs.processes.specdocs import described

    return documents.processes(described(info) for info in implemented())


def validation(request: Request, backend, body) -> dict:
    """The graph checked like ``sparkeo validate`` (parse, build, plan against the catalog): its errors."""
    from jobs.run import prepare

    caller = caller_of(request, backend)
    required(body)
    try:
        reads = _resolve_reads(request, backend, caller, graph_body(body))
        prepare(reads.body, backend.catalog(), caller, reads.settings, body.get("job_options"), "request")
    except (UserError, ApiError) as exc:     # a missing graph is one of the errors found, too
        error = exc if isinstance(exc, ApiError) else from_sparkeo(exc)
        return {"errors": [{"code": error.code, "message": error.message}]}
    return {"errors": []}


def result(request: Request, backend, body) -> Response:
    """Synchronous processing under the pixel budget; the single result file streamed back."""
    caller = caller_of(request, backend)
    reads = _resolve_reads(request, backend, caller, graph_body(body))
    path, media_type, cleanup = backend.run_sync(reads.body, caller, reads.settings)
    return FileResponse(path, media_type=media_type, background=BackgroundTask(cleanup))


def _resolve_reads(request: Request, backend, caller: Caller, body: dict) -> userreads.ResolvedReads:
    return userreads.resolve(body, caller, backend.store, backend.settings, base_url(request))


# -- batch jobs -------------------------------------------------------------------------------------
def jobs_list(request: Request, backend, body) -> dict:
    caller = caller_of(request, backend)
    limit = _int_param(request, "limit", JOBS_PAGE, 1)
    start = _int_param(request, "offset", 0, 0)
    records = backend.store.list(caller)
    page = records[start:start + limit]
    links = []
    if start + limit < len(records):
        links.append({"rel": "next", "href": f"{base_url(request)}/jobs?limit={limit}&offset={start + limit}"})
    return {"jobs": [JobStore.document(r) for r in page], "links": links}


def _int_param(request: Request, name: str, default: int, minimum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise ApiError(400, "ParameterInvalid", f"query parameter {name}={raw!r}: expected a whole number >= {minimum}")
    return int(raw)


def job_create(request: Request, backend, body) -> Response:
    caller = caller_of(request, backend)
    body = graph_body(body)
    _resolve_reads(request, backend, caller, body)      # a refused location fails the creation already
    job_id = new_job_id()
    config = backend.config
    prep = prepare_job(GraphSource(json.dumps(body), f"job {job_id}"), caller, backend.settings,
                       catalog=config.catalog, job_id=job_id,
                       output=None if config.mode == CLUSTER else config.results_of(job_id),
                       deployment_config=config.deployment_config, namespace=config.namespace,
                       on_cluster=config.mode == CLUSTER)
    backend.store.create(prep, body)
    location = f"{base_url(request)}/jobs/{job_id}"
    return Response(status_code=201, headers={"Location": location, "OpenEO-Identifier": job_id})


def job_get(request: Request, backend, body) -> dict:
    record = backend.store.record(caller_of(request, backend), request.path_params["job_id"])
    return JobStore.document(record, backend.store.body(record))


def job_patch(request: Request, backend, body) -> Response:
    caller = caller_of(request, backend)
    backend.store.patch(caller, request.path_params["job_id"], required(body))
    return Response(status_code=204)


def job_delete(request: Request, backend, body) -> Response:
    record = backend.store.record(caller_of(request, backend), request.path_params["job_id"])
    if not record.is_final:
        backend.cancel(record)
    backend.store.delete(record)
    return Response(status_code=204)


def job_start(request: Request, backend, body) -> Response:
    store, caller = backend.store, caller_of(request, backend)
    record = store.record(caller, request.path_params["job_id"])
    if record.is_final:
        raise ApiError(400, "JobLocked", f"job {record.job_id!r} is {record.status.value}: create a new job")
    if record.status in (JobState.QUEUED, JobState.RUNNING):    # openEO: starting a started job changes nothing
        return Response(status_code=202)
    reads = _resolve_reads(request, backend, caller, store.body(record))
    backend.start(record, {**store.spec(record), userreads.READ_GRANTS: list(reads.grants)}, reads.body)
    return Response(status_code=202)


def job_cancel(request: Request, backend, body) -> Response:
    record = backend.store.record(caller_of(request, backend), request.path_params["job_id"])
    if not record.is_final:
        backend.cancel(record)
    return Response(status_code=204)


def job_results(request: Request, backend, body) -> dict:
    """The job's STAC results document, every asset's href a download link of this API."""
    record = backend.store.record(caller_of(request, backend), request.path_params["job_id"])
    if record.status == JobState.ERROR:
        return _failed_job(backend, record)
    if record.status != JobState.FINISHED:
        raise ApiError(400, "JobNotFinished", f"job {record.job_id!r} is {record.status.value}, not finished")
    listing = list_results(record.results)
    doc = json.loads(json.dumps(listing.document))
    base = f"{base_url(request)}/jobs/{record.job_id}/results/assets"
    stored = {a.key: a.href for a in listing.assets}
    config = backend.config
    for key, asset in doc.get("assets", {}).items():
        asset["href"] = downloads.asset_href(stored.get(key, ""), f"{base}/{key}", config.presigned_results,
                                             config.presign_expiry)
    doc["links"] = [link for link in doc.get("links", []) if link.get("rel") in ("self", "license", "derived_from")
                    and not str(link.get("href", "")).startswith(("/", "file:", "s3:"))]
    doc["openeo:status"] = "finished"
    return doc


def _failed_job(backend, record) -> JSONResponse:
    """openEO API 1.2: a failed job's results are a 424 with its last error log entry (a ``log_entry``
    with the ``code`` and ``message`` clients raise as an error)."""
    errors = [e for e in backend.store.logs(record) if e.get("level") == "error"]
    last = errors[-1] if errors else {"id": "0", "level": "error",
                                      "message": record.error or f"job {record.job_id!r} failed"}
    return JSONResponse({"code": "JobFailed", **last}, status_code=424)


def job_asset(request: Request, backend, body) -> Response:
    """One result file: streamed with range requests (local results) or a presigned S3 URL."""
    record = backend.store.record(caller_of(request, backend), request.path_params["job_id"])
    if record.status != JobState.FINISHED:
        raise ApiError(400, "JobNotFinished", f"job {record.job_id!r} is {record.status.value}, not finished")
    key = request.path_params["key"]
    asset = next((a for a in list_results(record.results).assets if a.key == key), None)
    if asset is None:
        raise ApiError(404, "AssetNotFound", f"job {record.job_id!r} has no result asset {key!r}")
    if storage.is_s3(asset.href):
        return RedirectResponse(downloads.presigned_url(asset.href, backend.config.presign_expiry), status_code=307)
    return FileResponse(asset.href, media_type=asset.type or "application/octet-stream")


def job_logs(request: Request, backend, body) -> dict:
    record = backend.store.record(caller_of(request, backend), request.path_params["job_id"])
    level = request.query_params.get("level", "debug")
    if level not in LEVELS:
        raise ApiError(400, "ParameterInvalid", f"level={level!r}: expected one of {', '.join(LEVELS)}")
    entries = [e for e in backend.store.logs(record) if LEVELS.index(e.get("level", "info")) <= LEVELS.index(level)]
    offset = request.query_params.get("offset")
    if offset is not None:
        ids = [e["id"] for e in entries]
        entries = entries[ids.index(offset) + 1:] if offset in ids else entries
    return {"level": level, "logs": entries, "links": []}


def job_estimate(request: Request, backend, body) -> dict:
    """From the dry-run plan (what ``sparkeo validate`` prints): input pixels and bytes, duration."""
    from jobs.run import prepare

    store = backend.store
    record = store.record(caller_of(request, backend), request.path_params["job_id"])
    spec = store.spec(record)
    caller = Caller(spec["user"], frozenset(spec.get("groups") or ()))
    reads = _resolve_reads(request, backend, caller, store.body(record))
    plan = prepare(reads.body, backend.catalog(), caller, reads.settings, spec.get("job_options"),
                   f"job {record.job_id}").plan
    seconds = max(1, round(plan.cpu_seconds))
    return {"costs": 0, "duration": f"PT{seconds}S", "size": plan.input_bytes, "downloads_included": None,
            "sparkeo:input_pixels": plan.input_pixels, "sparkeo:input_bytes": plan.input_bytes,
            "sparkeo:tiles": len(plan.tasks), "sparkeo:cpu_seconds": round(plan.cpu_seconds, 3)}


ROUTES: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    ("/", ("GET",), capabilities),
    ("/.well-known/openeo", ("GET",), well_known),
    ("/conformance", ("GET",), conformance),
    ("/file_formats", ("GET",), file_formats),
    ("/udf_runtimes", ("GET",), udf_runtimes),
    ("/service_types", ("GET",), service_types),
    ("/credentials/basic", ("GET",), credentials_basic),
    ("/me", ("GET",), me),
    ("/collections", ("GET",), collections),
    ("/collections/{collection_id}", ("GET",), collection),
    ("/processes", ("GET",), processes),
    ("/validation", ("POST",), validation),
    ("/result", ("POST",), result),
    ("/jobs", ("GET",), jobs_list),
    ("/jobs", ("POST",), job_create),
    ("/jobs/{job_id}", ("GET",), job_get),
    ("/jobs/{job_id}", ("PATCH",), job_patch),
    ("/jobs/{job_id}", ("DELETE",), job_delete),
    ("/jobs/{job_id}/results", ("GET",), job_results),
    ("/jobs/{job_id}/results", ("POST",), job_start),
    ("/jobs/{job_id}/results", ("DELETE",), job_cancel),
    ("/jobs/{job_id}/results/assets/{key}", ("GET",), job_asset),
    ("/jobs/{job_id}/logs", ("GET",), job_logs),
    ("/jobs/{job_id}/estimate", ("GET",), job_estimate),
)

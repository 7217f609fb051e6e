"""The Starlette application: routes, authentication, errors, CORS and the body limit.

Routes are plain (sync) functions: Starlette runs them in its thread pool, which is what kazoo's
blocking registry calls, the catalog and object storage want. Each route authenticates (the caller
comes from the bearer token only, never from the body), parses the request, calls a use case and
answers JSON; every ``SparkeoError`` becomes an openEO JSON error in ``errors``.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sparkeo import jsondoc
from sparkeo.api.auth import BASIC_PREFIX, Authenticator
from sparkeo.api.config import ServerConfig
from sparkeo.api.errors import ApiError, from_sparkeo, unauthenticated
from sparkeo.api.jobstore import JobStore
from sparkeo.errors import SparkeoError
from sparkeo.identity import Caller
from sparkeo.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backend:
    """What the routes need: the settings, the users, the job store, the layer catalog and how jobs run.

    ``start(record, spec, body)`` and ``cancel(record)`` are the local runner's or the cluster's,
    ``run_sync(body, caller, settings) -> (path, media type, cleanup)`` runs a synchronous request, ``catalog()``
    the layer catalog, loaded once (``sparkeo.api.server`` wires them).
    """

    config: ServerConfig
    settings: Settings
    auth: Authenticator
    store: JobStore
    catalog: Callable
    start: Callable
    cancel: Callable
    run_sync: Callable


# -- request helpers -------------------------------------------------------------------------------
def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def caller_of(request: Request, backend: Backend, required: bool = True) -> Caller | None:
    """The authenticated caller (``Authorization: Bearer basic//TOKEN``); 401 when missing or invalid."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        if required:
            raise unauthenticated()
        return None
    if not token.startswith(BASIC_PREFIX):
        raise ApiError(403, "AuthenticationSchemeInvalid", "only basic authentication tokens (basic//...) are accepted")
    caller = backend.auth.caller_of(token[len(BASIC_PREFIX):])
    if caller is None:
        raise ApiError(403, "TokenInvalid", "the token is invalid or has expired: log in again")
    return caller


async def json_body(request: Request, limit: int) -> dict | None:
    """The request's JSON object (``None``: no body), at most ``limit`` bytes (413 past it, whatever
    Content-Length says)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "PayloadTooLarge", f"request body over {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, "PayloadTooLarge", f"request body over {limit} bytes")
    if not data:
        return None
    try:
        body = jsondoc.loads(bytes(data))      # depth-bounded: a nesting bomb is a 400, not a crash
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the request body must be a JSON object")
    return body


def graph_body(body: dict | None) -> dict:
    """A job or sync request body with its process graph (``ProcessGraphMissing`` without one); a bare
    process (``/validation``'s body: ``{"process_graph": ...}``) comes back wrapped as a job body's."""
    body = body or {}
    if "process" not in body and "process_graph" in body:
        body = {"process": body}
    process = body.get("process")
    if not isinstance(process, dict) or not isinstance(process.get("process_graph"), dict):
        raise ApiError(400, "ProcessGraphMissing", "the request has no 'process' with a 'process_graph'")
    return body


def required(body: dict | None) -> dict:
    """The request body; 400 when the request has none."""
    if body is None:
        raise ApiError(400, "BodyMissing", "the request needs a JSON body")
    return body


# -- the application -------------------------------------------------------------------------------
def create_app(backend: Backend) -> Starlette:
    """The openEO API over ``backend``."""
    from sparkeo.api import routes

    def endpoint_of(handler):
        async def endpoint(request: Request) -> Response:
            try:
                body = None
                if request.method in ("POST", "PATCH", "PUT"):
                    body = await json_body(request, backend.config.max_body_bytes)
                result = await run_in_threadpool(handler, request, backend, body)
            except (ApiError, SparkeoError) as exc:
                return error_response(exc)
            return result if isinstance(result, Response) else JSONResponse(result)
        return endpoint

    async def on_error(request: Request, exc: Exception) -> Response:
        return error_response(exc)

    return Starlette(
        routes=[Route(path, endpoint_of(fn), methods=list(methods)) for path, methods, fn in routes.ROUTES],
        middleware=[Middleware(CORSMiddleware, allow_origins=list(backend.config.cors_origins),
                               allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
                               allow_headers=["Authorization", "Content-Type", "Range"],
                               expose_headers=["Location", "OpenEO-Identifier", "OpenEO-Costs", "Link",
                                               "Content-Range", "Accept-Ranges"]),
                    Middleware(SingleSlashes)],
        exception_handlers={404: on_error, 405: on_error, Exception: on_error},
    )


class SingleSlashes:
    """ASGI middleware: ``//jobs//j-1`` is ``/jobs/j-1`` (clients that join a base URL ending in ``/``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = {**scope, "path": re.sub("/{2,}", "/", scope["path"])}
        await self.app(scope, receive, send)


def error_response(exc: Exception) -> Response:
    """The openEO JSON error for any exception (a sparkeo error translated, anything else a 500)."""
    if isinstance(exc, SparkeoError):
        exc = from_sparkeo(exc)
    elif isinstance(exc, HTTPException):
        code = {404: "NotFound", 405: "MethodNotSupported"}.get(exc.status_code, "BadRequest")
        exc = ApiError(exc.status_code, code, str(exc.detail))
    elif not isinstance(exc, ApiError):
        log.error("unexpected error: %s", str(exc) or repr(exc), exc_info=exc)
        exc = ApiError(500, "Internal", f"internal error: {str(exc) or type(exc).__name__}")
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers)

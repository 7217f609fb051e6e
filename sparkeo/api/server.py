"""Wiring ``sparkeo serve``: the backend of local or cluster mode, and uvicorn in front of the app.

Local mode runs batch jobs and synchronous requests on the server's own Spark (``runner``). Cluster
mode starts a job with ``sparkeo.ops.submit.submit_job`` and cancels it with
``sparkeo.ops.cancel.cancel_job``, the functions ``sparkeo submit``/``cancel`` call; the tracker
CronJob keeps the records in step with the SparkApplications. Synchronous requests run on the local
Spark in both modes (they are small by the pixel budget).
"""
from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import signal
import tempfile
from typing import Any

from jobs.plan.formats import OUTPUT_FORMATS
from sparkeo.api import userreads
from sparkeo.api.app import Backend, create_app
from sparkeo.api.auth import Authenticator, load_users
from sparkeo.api.config import CLUSTER, ServerConfig
from sparkeo.api.errors import ApiError
from sparkeo.api.jobstore import JobStore
from sparkeo.api.podlogs import DriverLogs
from sparkeo.api.runner import SYNC_POOL, LocalRunner
from sparkeo.identity import Caller
from sparkeo.names import new_job_id
from sparkeo.settings import Settings
from tracker.registry import JobRegistry

#: the secret that signs tokens (shared by every replica; a random one per process when unset)
TOKEN_SECRET_ENV = "SPARKEO_API_TOKEN_SECRET"
# a synchronous request answers with its one raster data file (its STAC documents are JSON files too)
_MEDIA_TYPES = {f.extension: f.media_type for f in OUTPUT_FORMATS if f.raster}


def build_backend(config: ServerConfig, settings: Settings, registry: JobRegistry, users_file: str,
                  spark_factory=None, sparkapps_api: Any = None, warm: bool = False) -> Backend:
    """The backend of ``config.mode``; ``spark_factory`` starts the local SparkSession (tests pass theirs).
    ``warm``: in local mode, start the session and run the warm-up job now, in the background
    (``LocalRunner.warm``), rather than on the first request."""
    from jobs.run import load_catalog

    secret = os.environ.get(TOKEN_SECRET_ENV)
    auth = Authenticator(load_users(users_file), secret.encode() if secret else secrets.token_bytes(32))
    store = JobStore(registry)
    runner = LocalRunner(registry, settings, spark_factory or functools.partial(_local_spark, settings))
    if config.mode == CLUSTER:
        api, namespace = _cluster_connection(config, sparkapps_api)
        store = JobStore(registry, DriverLogs.sharing(api, namespace))
        start, cancel = _cluster_start_cancel(config, settings, store, registry, api, namespace)
    else:
        start, cancel = runner.start, runner.cancel
        if warm:
            runner.warm()
    catalog = functools.lru_cache(maxsize=1)(lambda: load_catalog(config.catalog, settings))
    return Backend(config, settings, auth, store, catalog, start, cancel, functools.partial(run_sync, runner, config))


def _local_spark(settings: Settings):
    from jobs.spark.session import spark_session

    return spark_session(master=settings.spark_master, app_name="sparkeo-api", executor_env=settings.to_env(),
                         settings=settings)


def _cluster_connection(config: ServerConfig, api):
    """The SparkApplications client (``api``, or one configured like kubectl) and the jobs' namespace."""
    from sparkeo.ops.connect import namespace_of, sparkapps_api

    return api or sparkapps_api(), namespace_of(config.namespace, config.deployment_config)


def _cluster_start_cancel(config: ServerConfig, settings: Settings, store: JobStore, registry: JobRegistry, api,
                          namespace: str):
    from sparkeo.ops.cancel import cancel_job
    from sparkeo.ops.prepare import prepare_job
    from sparkeo.ops.submit import submit_job

    def start(record, spec, body):
        caller = Caller(spec["user"], frozenset(spec.get("groups") or ()))
        graph = store.graph_source(record)
        if spec.get(userreads.READ_GRANTS):     # it loads the caller's own results: the driver reads them resolved
            graph = userreads.staged(body, spec["graph"], f"job {record.job_id}")
        prep = prepare_job(graph, caller, userreads.granted(settings, spec), catalog=spec.get("catalog"),
                           output=spec["output"], job_id=record.job_id, job_options=spec.get("job_options"),
                           deployment_config=config.deployment_config, namespace=namespace)
        return submit_job(prep, api, registry)

    def cancel(record):
        return cancel_job(api, namespace, record.job_id, registry)

    return start, cancel


def run_sync(runner: LocalRunner, config: ServerConfig, body: dict, caller: Caller, settings: Settings):
    """Run a synchronous request (``jobs.run.run_job`` into a temporary folder) under the pixel budget,
    with ``settings`` (the server's, with the request's read grants: ``sparkeo.api.userreads``).

    Returns ``(path, media type, cleanup)`` of its one data file; a request over the budget is refused
    before Spark with the estimate (``BudgetExceeded``), one writing several files is told to use a batch job.
    """
    from jobs.run import run_job

    options = {**(body.get("job_options") or {}), "max_input_pixels": config.sync_max_pixels}
    folder = tempfile.mkdtemp(prefix="sparkeo-sync-")
    cleanup = functools.partial(shutil.rmtree, folder, True)
    try:
        with runner.in_pool(SYNC_POOL) as spark:       # beside a running batch job, not behind it
            summary = run_job(body, os.path.join(folder, "out"), new_job_id("sync"), config.catalog, options,
                              settings, caller, spark=spark, source_name="request")
        data = [f for f in summary.files if os.path.splitext(f)[1] in _MEDIA_TYPES]
        if len(data) != 1:
            raise ApiError(400, "ResultTooComplex",
                           f"the result is {len(data)} files: run it as a batch job (POST /jobs) to get them all")
    except BaseException:
        cleanup()
        raise
    return data[0], _MEDIA_TYPES[os.path.splitext(data[0])[1]], cleanup


def serve(config: ServerConfig, settings: Settings, registry: JobRegistry, users_file: str,
          host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve the API until interrupted (SIGTERM or Ctrl-C: a graceful shutdown, then a normal return)."""
    import uvicorn

    class Server(uvicorn.Server):
        # uvicorn re-raises the signal that stopped it once it has shut down, so the process would die of
        # its SIGTERM (exit -15: a pod stopped by a rollout would look crashed); handled, it is a normal end
        @contextlib.contextmanager
        def capture_signals(self):
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    app = create_app(build_backend(config, settings, registry, users_file, warm=True))
    # access log off: URLs carry no secrets, but one line per request drowns the job logs
    server = Server(uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False))
    server.run()
    if not server.started:      # it could not listen (the port taken...): uvicorn logged why; its exit code
        raise SystemExit(3)

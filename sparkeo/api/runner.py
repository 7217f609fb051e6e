"""Local mode: batch jobs run on the server's own Spark, one at a time, in one worker thread.

One SparkSession per process (``jobs.spark.session``), shared by the batch job and the synchronous
``POST /result`` requests, which run at the same time from their own threads: each thread submits its
Spark jobs in a fair scheduler pool (``in_pool``: ``batch``, ``sync``), so a small request gets cores
while a batch job's tiles are queued instead of waiting for the job to end. Nothing else of a run is
shared: each ``run_job`` has its own catalog, plan, tile transport, progress, usage counters and
Spark job groups, and its task workers key their unpickled DAG by job; the web API's settings keep
tasks short (``Settings.task_max_pixels``), since a running task is never preempted.

A started job is ``queued`` in the registry, ``running`` while ``jobs.run.run_job`` (the function
``sparkeo run`` calls) works, then ``finished`` with its usage or ``error`` with the one-line reason.
Its log records (the run's own ``logging`` output in the worker thread) go to
``<output>.job/logs.jsonl``, which ``GET /jobs/{id}/logs`` reads. A cancel marks the record
``canceled`` and cancels the job's Spark job group: the run stops at its next task.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

from sparkeo import storage
from sparkeo.api.jobstore import logs_location
from sparkeo.api.userreads import granted
from sparkeo.errors import SparkeoError
from sparkeo.identity import Caller
from tracker.errors import IllegalTransition
from tracker.record import JobRecord, utcnow
from tracker.registry import JobRegistry
from tracker.states import JobState

log = logging.getLogger(__name__)
# the fair scheduler pools (jobs.spark.session turns the FAIR mode on)
BATCH_POOL, SYNC_POOL = "batch", "sync"
def job_tag(job_id: str) -> str:
    """The Spark job tag on every Spark job a local run of ``job_id`` submits (cancel goes by it)."""
    return f"sparkeo-job-{job_id}"


_LEVEL_NAMES = {logging.ERROR: "error", logging.WARNING: "warning", logging.INFO: "info", logging.DEBUG: "debug"}


class JobLog(logging.Handler):
    """Collects the log records of one thread as openEO log entries, written to storage as JSON lines."""

    def __init__(self, uri: str, thread: int):
        super().__init__(logging.DEBUG)
        self.uri, self.thread, self.entries = uri, thread, []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        level = _LEVEL_NAMES.get(record.levelno, "error" if record.levelno > logging.ERROR else "debug")
        self.add(level, record.getMessage(), datetime.fromtimestamp(record.created, utcnow().tzinfo))

    def add(self, level: str, message: str, when: datetime | None = None) -> None:
        when = (when or utcnow()).isoformat(timespec="seconds").replace("+00:00", "Z")
        self.entries.append({"id": str(len(self.entries)), "level": level, "message": message, "time": when})
        self.flush_entries()

    def flush_entries(self) -> None:
        text = "".join(json.dumps(e) + "\n" for e in self.entries)
        storage.write_bytes(self.uri, text.encode(), "application/x-ndjson")


class LocalRunner:
    """Runs started jobs on one SparkSession, in start order, in the ``batch`` scheduler pool."""

    def __init__(self, registry: JobRegistry, settings: Any, spark_factory: Callable[[], Any]):
        self.registry, self.settings = registry, settings
        self._spark_factory, self._spark = spark_factory, None
        self._starting = threading.Lock()       # the session is started once, by its first user
        self._queue: queue.Queue = queue.Queue()
        self._running: str | None = None
        self.warmed: Any = None                 # what ``warm`` did: a jobs.warmup.WarmUp, or the error
        self._thread = threading.Thread(target=self._work, name="sparkeo-local-runner", daemon=True)
        self._thread.start()

    def spark(self):
        """The server's SparkSession, started on first use."""
        with self._starting:
            if self._spark is None:
                self._spark = self._spark_factory()
        return self._spark

    @contextmanager
    def in_pool(self, pool: str) -> Iterator[Any]:
        """The SparkSession, the Spark jobs this thread submits in the block going to the fair
        scheduler pool ``pool`` (``jobs.spark.execute`` hands it on to its submitting threads)."""
        from jobs.spark.execute import SCHEDULER_POOL

        spark = self.spark()
        context = spark.sparkContext
        context.setLocalProperty(SCHEDULER_POOL, pool)
        try:
            yield spark
        finally:    # the thread serves other requests next (Starlette's pool): no pool left behind
            context.setLocalProperty(SCHEDULER_POOL, None)

    def warm(self) -> None:
        """Start the SparkSession and run the warm-up job (``jobs.warmup``) on the runner's thread,
        ahead of any batch job: the first requests then find the session up and its one-time costs
        paid. A failed warm-up is logged; the server works on, only colder."""
        self._queue.put(None)

    def start(self, record: JobRecord, spec: dict, body: dict) -> JobRecord:
        """Queue ``record``'s job (``created`` -> ``queued``); a job queued or running already stays so."""
        if record.status in (JobState.QUEUED, JobState.RUNNING):
            return record
        queued = self.registry.update(record.job_id, record.user,
                                      lambda r: r.with_status(JobState.QUEUED, utcnow(), error=None))
        self._queue.put((queued, spec, body))
        return queued

    def cancel(self, record: JobRecord) -> JobRecord:
        """Mark the job ``canceled``; a running one has its Spark jobs canceled too."""
        canceled = self.registry.cancel(record.job_id, record.user, utcnow())
        if self._running == record.job_id and self._spark is not None:
            self._spark.sparkContext.cancelJobsWithTag(job_tag(record.job_id))
        return canceled

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._warm()
                continue
            record, spec, body = item
            try:
                self._run(record, spec, body)
            except Exception:   # the worker must outlive any one job; the reason is in the record
                log.exception("local job %s: unexpected failure", record.job_id)

    def _warm(self) -> None:
        from jobs.warmup import warm_up

        try:
            with self.in_pool(BATCH_POOL) as spark:
                self.warmed = warm_up(spark, self.settings)
        except Exception as exc:    # Spark failing to start, a full disk...: the first job will say more
            self.warmed = exc
            log.warning("warm-up failed, the first job pays the one-time costs: %s", exc)

    def _transition(self, record: JobRecord, status: JobState, **changes) -> JobRecord | None:
        """Move the record, or ``None`` when it was canceled meanwhile (a final state never changes)."""
        try:
            return self.registry.update(record.job_id, record.user,
                                        lambda r: r.with_status(status, utcnow(), **changes))
        except IllegalTransition:
            return None

    def _run(self, record: JobRecord, spec: dict, body: dict) -> None:
        from jobs.run import run_job

        if self._transition(record, JobState.RUNNING) is None:
            return
        job_log = JobLog(logs_location(record), threading.get_ident())
        root = logging.getLogger()
        root.addHandler(job_log)
        old_level = root.level
        root.setLevel(min(old_level or logging.WARNING, logging.INFO))
        caller = Caller(spec["user"], frozenset(spec.get("groups") or ()))
        # the caller's own job results its graph loads (sparkeo.api.userreads), readable by this run only
        settings = granted(self.settings, spec)
        try:
            job_log.add("info", f"job {record.job_id} started on local Spark")
            with self.in_pool(BATCH_POOL) as spark:
                self._running = record.job_id
                # A tag, not a job group: the passes of a run set job groups of their own (to count
                # task attempts), while a tag stays on every Spark job the run submits.
                spark.sparkContext.addJobTag(job_tag(record.job_id))
                try:
                    summary = run_job(body, record.results, record.job_id, spec.get("catalog"), spec.get("job_options"),
                                      settings, caller, spark=spark, source_name=f"job {record.job_id}")
                finally:
                    self._running = None
                    spark.sparkContext.removeJobTag(job_tag(record.job_id))
            job_log.add("info", f"job {record.job_id} finished: {len(summary.files)} files")
            usage = {k: v for k, v in summary.usage.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            self._transition(record, JobState.FINISHED, usage=usage)
        except SparkeoError as exc:
            message = " ".join(str(exc).splitlines())
            if self._transition(record, JobState.ERROR, error=message) is not None:
                job_log.add("error", message)
        except Exception as exc:   # Spark's own errors (a canceled job group among them)
            message = f"job {record.job_id} failed: {str(exc).splitlines()[0] if str(exc) else repr(exc)}"
            if self._transition(record, JobState.ERROR, error=message) is not None:
                job_log.add("error", message)
        finally:
            root.removeHandler(job_log)
            root.setLevel(old_level)

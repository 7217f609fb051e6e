"""Job progress on the driver: ``sparkeo_job_*`` series on a metrics port, and a progress bar or log lines.

``execute`` reports every tile it has written as a ``TileDone`` event (done, total, the tile's
``Usage``). :class:`JobProgress` is such a listener: it feeds

- :class:`JobMetrics`: the series DESIGN.md names, labelled ``job_id``, in their own registry and served
  with prometheus_client on ``Settings.metrics_port`` (0: not served) while the job runs:
  ``sparkeo_job_tiles_total``, ``sparkeo_job_tiles_done`` (gauges), ``sparkeo_job_bytes_read_total``,
  ``sparkeo_job_read_retries_total``, ``sparkeo_job_input_pixels_total`` (counters); besides these,
  for the dashboards' run time, queue time and failure panels: ``sparkeo_job_duration_seconds`` (run
  time so far), ``sparkeo_job_queue_seconds`` (submission to driver start, when the submission time is
  known: ``jobs/main.py --submitted-at``) and ``sparkeo_job_status{state, reason}`` (1 for the current
  state: running, finished or error; ``reason`` is the error's class name);
- :class:`ProgressReporter`: a tqdm bar (tiles done / total, ETA) when the stream is a terminal,
  otherwise plain ``key=value`` lines, at most one every few seconds plus the last one; the ETA is
  the rate at which tiles finished since the first one (start-up excluded).

Tiles count as they finish on the workers (``computed``, fed by ``jobs.spark.ticks``), not only when
their group's results reach the driver, so a job of a few large groups still moves tile by tile.

Every series carries ``job_id`` and ``user``. When the job ends, the final state and totals stay
served until they were scraped once, ``linger`` seconds at most (a job shorter than a scrape interval
would otherwise vanish as ``running, 0 tiles``), and are pushed to the Pushgateway (``pushgateway``,
grouped by ``job_id`` and ``namespace``) for a job that ended between two scrapes.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from typing import IO, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway, start_http_server

from sparkeo.contracts import JOB_PUSH_JOB, JobState

log = logging.getLogger(__name__)

TILES_TOTAL = "sparkeo_job_tiles_total"
TILES_DONE = "sparkeo_job_tiles_done"
BYTES_READ = "sparkeo_job_bytes_read_total"
READ_RETRIES = "sparkeo_job_read_retries_total"
INPUT_PIXELS = "sparkeo_job_input_pixels_total"
DURATION = "sparkeo_job_duration_seconds"
QUEUE = "sparkeo_job_queue_seconds"
STATUS = "sparkeo_job_status"
SERIES = (TILES_TOTAL, TILES_DONE, BYTES_READ, READ_RETRIES, INPUT_PIXELS, DURATION, STATUS)
PUSH_JOB = JOB_PUSH_JOB     # the Pushgateway's job label of pushed job series


class _ScrapeWatch:
    """The registry as the HTTP server sees it: counts every scrape, so ``close`` knows when the final
    values have been read."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.scrapes = 0
        self._changed = threading.Condition()

    def collect(self):
        yield from self.registry.collect()
        with self._changed:
            self.scrapes += 1
            self._changed.notify_all()

    def restricted_registry(self, names):
        return self.registry.restricted_registry(names)

    def wait_beyond(self, count: int, timeout: float) -> bool:
        """Wait until more than ``count`` scrapes happened; ``False`` after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self.scrapes > count, timeout=timeout)


class JobMetrics:
    """The ``sparkeo_job_*`` series of one job, in a registry of their own."""

    def __init__(self, job_id: str, submitted_at: float | None = None, user: str | None = None):
        """``submitted_at``: epoch seconds of the submission, for the queue time (None: not served)."""
        self.job_id = job_id
        self.user = user or ""
        self.registry = CollectorRegistry(auto_describe=True)
        self._watch = _ScrapeWatch(self.registry)
        self.scrapes_at_end: int | None = None
        labels = ["job_id", "user"]
        key = (job_id, self.user)
        self._tiles_total = Gauge(TILES_TOTAL, "Tiles the job's plan has.", labels, registry=self.registry)
        self._tiles_done = Gauge(TILES_DONE, "Tiles finished so far (counted as workers finish them).", labels,
                                 registry=self.registry)
        self._done = 0
        # prometheus_client appends "_total" to counter names itself.
        self._bytes_read = Counter(BYTES_READ.removesuffix("_total"), "Bytes read from input assets.",
                                   labels, registry=self.registry)
        self._retries = Counter(READ_RETRIES.removesuffix("_total"), "Transient read errors retried.",
                                labels, registry=self.registry)
        self._pixels = Counter(INPUT_PIXELS.removesuffix("_total"), "Input pixels read.",
                               labels, registry=self.registry)
        self._duration = Gauge(DURATION, "Seconds since the job started (frozen when it ends).", labels,
                               registry=self.registry)
        self._status = Gauge(STATUS, "1 for the job's current state; reason: the error's class name.",
                             ["job_id", "user", "state", "reason"], registry=self.registry)
        self._key = key
        for metric in (self._tiles_total, self._tiles_done, self._bytes_read, self._retries, self._pixels):
            metric.labels(*key)  # every series exists (at 0) from the start, not from the first tile
        self._started = time.monotonic()
        self._ended = False
        self._duration.labels(*key).set_function(lambda: time.monotonic() - self._started)
        self._status.labels(*key, JobState.RUNNING.value, "").set(1)
        if submitted_at is not None:
            queue = Gauge(QUEUE, "Seconds from submission to the driver starting the job.", labels,
                          registry=self.registry)
            queue.labels(*key).set(max(0.0, time.time() - submitted_at))
        self._server = None
        self._thread = None

    def start(self, total_tiles: int) -> None:
        self._tiles_total.labels(*self._key).set(total_tiles)

    def tile_done(self, done: int, total: int, usage: Any) -> None:
        """One more tile: ``usage`` is the tile's ``jobs.cube.usage.Usage``."""
        self._tiles_total.labels(*self._key).set(total)
        self.tiles_computed(done)
        self._bytes_read.labels(*self._key).inc(max(0, int(usage.bytes_read)))
        self._retries.labels(*self._key).inc(max(0, int(usage.read_retries)))
        self._pixels.labels(*self._key).inc(max(0, int(usage.input_pixels)))

    def tiles_computed(self, done: int) -> None:
        """``done`` tiles finished (reported per tile while their group still runs); never goes back."""
        self._done = max(self._done, done)
        self._tiles_done.labels(*self._key).set(self._done)

    def end(self, error: BaseException | None = None) -> None:
        """The job ended: freeze the duration, status ``finished`` or ``error`` with the reason.

        Only the first call counts (the run's own verdict beats a later context-manager exit).
        """
        if self._ended:
            return
        self._ended = True
        elapsed = time.monotonic() - self._started
        self._duration.labels(*self._key).set_function(lambda: elapsed)
        self._status.remove(*self._key, JobState.RUNNING.value, "")
        if error is None:
            self._status.labels(*self._key, JobState.FINISHED.value, "").set(1)
        else:
            self._status.labels(*self._key, JobState.ERROR.value, type(error).__name__).set(1)
        self.scrapes_at_end = self._watch.scrapes

    def wait_scraped(self, timeout: float) -> bool:
        """Wait until the final values were scraped once (``True``), at most ``timeout`` seconds."""
        if self.scrapes_at_end is None:
            return False
        return self._watch.wait_beyond(self.scrapes_at_end, timeout)

    def push(self, gateway: str, namespace: str | None = None) -> bool:
        """Push the series to the Pushgateway ``gateway``; a failure is logged, never raised (it costs
        the dashboards a short job's final values, not the job)."""
        key = {"job_id": self.job_id, **({"namespace": namespace} if namespace else {})}
        try:
            push_to_gateway(gateway, job=PUSH_JOB, registry=self.registry, grouping_key=key, timeout=10)
            return True
        except Exception as exc:    # urllib raises many types; none may fail the job
            log.warning("job %s: metrics not pushed to %s: %s", self.job_id, gateway, str(exc) or repr(exc),
                        extra={"job_id": self.job_id})
            return False

    def serve(self, port: int, addr: str = "0.0.0.0") -> int:
        """Serve ``/metrics`` on ``port`` (0 picks a free port); returns the port bound."""
        self._server, self._thread = start_http_server(port, addr=addr, registry=self._watch)
        return self._server.server_address[1]

    @property
    def port(self) -> int | None:
        return self._server.server_address[1] if self._server is not None else None

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ProgressReporter:
    """Tiles done / total with an ETA: a tqdm bar on a terminal, plain lines elsewhere."""

    def __init__(self, job_id: str, stream: IO[str] | None = None, interval: float = 5.0,
                 bar: bool | None = None):
        self.job_id = job_id
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.bar = self._isatty() if bar is None else bar
        self._tqdm = None
        self._started = time.monotonic()
        self._last_line = float("-inf")
        self._last: tuple[int, int] | None = None
        self._first: tuple[int, float] | None = None    # (tiles, when) at the first finished tile

    def _isatty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (AttributeError, ValueError):
            return False

    def start(self, total_tiles: int) -> None:
        self._started = time.monotonic()
        if self.bar and self._tqdm is None:
            from tqdm import tqdm

            self._tqdm = tqdm(total=total_tiles, unit="tile", desc=self.job_id, file=self.stream,
                              dynamic_ncols=True, leave=True)

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._first is None and done > 0:
            self._first = (done, now)
        if self._last is not None and done <= self._last[0] and done < total:
            return                  # no news (a group's result for tiles already reported)
        if self.bar:
            if self._tqdm is None:
                self.start(total)
            self._tqdm.total = total
            self._tqdm.update(done - self._tqdm.n)
            return
        if self._last is not None and self._last[0] >= total and done >= total:
            return                  # the last line is written once
        self._last = (done, total)
        if done >= total or now - self._last_line >= self.interval:
            self._last_line = now
            self.stream.write(self.line(done, total, now - self._started, self.eta(done, total, now)) + "\n")
            self.stream.flush()

    def eta(self, done: int, total: int, now: float) -> float | None:
        """Seconds left at the rate tiles finished since the first one (start-up is not a tile's
        cost); ``None`` until two tiles finished apart."""
        if done >= total:
            return 0.0
        if self._first is None or done <= self._first[0] or now <= self._first[1]:
            return None
        per_tile = (now - self._first[1]) / (done - self._first[0])
        return per_tile * (total - done)

    def line(self, done: int, total: int, elapsed: float, eta: float | None = None) -> str:
        """``INFO jobs.progress: tiles 3/10 (30%) eta=0:00:07 job_id=…``: the plain-text form."""
        percent = 100.0 * done / total if total else 100.0
        eta_text = "0:00:00" if done >= total else "?" if eta is None else _clock(eta)
        return (f"INFO jobs.progress: tiles {done}/{total} ({percent:.0f}%) "
                f"elapsed={_clock(elapsed)} eta={eta_text} job_id={self.job_id}")

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class JobProgress:
    """The progress listener ``execute``/``run_job`` take: metrics plus the reporter.

    Use as a context manager around the run; the instance is the callable to pass as ``progress``.
    """

    def __init__(self, job_id: str, metrics_port: int = 0, stream: IO[str] | None = None,
                 bar: bool | None = None, linger: float = 0.0, addr: str = "0.0.0.0",
                 submitted_at: float | None = None, user: str | None = None, pushgateway: str | None = None,
                 namespace: str | None = None):
        self.job_id = job_id
        self.metrics = JobMetrics(job_id, submitted_at, user)
        self.reporter = ProgressReporter(job_id, stream, bar=bar)
        self.linger = linger
        self.pushgateway = pushgateway
        self.namespace = namespace
        self._computed = 0
        self._port_wanted = metrics_port
        self._addr = addr
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings, job_id: str, **kwargs) -> "JobProgress":
        """Metrics on ``settings.metrics_port`` (SPARKEO_METRICS_PORT; 0: not served), pushed to
        ``settings.pushgateway`` (SPARKEO_PUSHGATEWAY) at the end."""
        return cls(job_id, metrics_port=settings.metrics_port, pushgateway=settings.pushgateway,
                   namespace=settings.namespace, **kwargs)

    def __enter__(self) -> "JobProgress":
        if self._port_wanted:
            try:
                self.metrics.serve(self._port_wanted, self._addr)
            except OSError as exc:  # a busy port costs the job its progress series, never the job itself
                log.warning("job %s: progress metrics not served on port %s: %s", self.job_id, self._port_wanted,
                            str(exc) or repr(exc), extra={"job_id": self.job_id})
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.metrics.end(exc)
        if self.pushgateway:
            self.metrics.push(self.pushgateway, self.namespace)
        self.close()

    @property
    def port(self) -> int | None:
        return self.metrics.port

    def start(self, total_tiles: int) -> None:
        """The plan is known: ``total_tiles`` tiles to compute."""
        with self._lock:
            self.metrics.start(total_tiles)
            self.reporter.start(total_tiles)

    def __call__(self, event) -> None:
        """A ``jobs.spark.execute.TileDone`` event (``done``, ``total``, ``usage``): a tile written."""
        with self._lock:
            self.metrics.tile_done(event.done, event.total, event.usage)
            self._computed = max(self._computed, event.done)
            self.reporter.update(self._computed, event.total)

    def computed(self, done: int, total: int) -> None:
        """``done`` distinct tiles finished on the workers (``jobs.spark.ticks``), ahead of their
        group's result: progress and ETA move per tile."""
        with self._lock:
            self._computed = max(self._computed, done)
            self.metrics.tiles_computed(self._computed)
            self.reporter.update(self._computed, total)

    def close(self) -> None:
        """Close the bar; stop serving once the final values were scraped, ``linger`` seconds at most."""
        self.reporter.close()
        if self.metrics.port is not None and self.linger > 0:
            if not self.metrics.wait_scraped(self.linger):
                log.info("job %s: final metrics not scraped within %g s", self.job_id, self.linger,
                         extra={"job_id": self.job_id})
        self.metrics.stop()

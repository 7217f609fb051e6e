"""Executing a plan on Spark: one task per group of tiles, tiles handed to a sink as they arrive.

Tiles are cut into contiguous groups (``tile_groups``: one per core, or more so that none holds
more than ``MAX_PIXELS_PER_TASK`` pixels of tiles), one partition per group: a PySpark task costs
tens of milliseconds of scheduling and worker hand-over, a 256 px tile about 25 ms of compute, so
one task per tile spent most of the time on overhead. The driver runs one Spark job per partition
from a small thread pool (two jobs in flight per core of Spark's default parallelism), so groups
come back as soon as they are done and the sink writes them while others still compute, without
collecting the whole output first; when there are no more groups than cores, one job runs them all
(``spark_jobs``). A task holds at most one group's results: memory stays bounded
by the tile size.

A task returns each array packed by the job's ``TileTransport`` (inline bytes, or a spill file on
a ``local`` master) with its ``Usage`` (CPU seconds from ``process_time``). Errors that are the
job's verdict (an unreadable asset, a process rejecting its data) come back as values, not as task
failures: Spark would only retry them, and the driver re-raises them with their fields (the
asset's href) intact. Anything else fails the Spark task; its Python exception line becomes the
``RunError`` message.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from pyspark import cloudpickle

from jobs.spark.allocator import keep_tile_memory
from jobs.cube.lazy import LazyCube, TileContext
from jobs.plan.grid import TileGrid, Window
from jobs.plan.planner import TileTask
from jobs.cube.read import keep_open
from jobs.errors import UnreadableAssetError
from jobs.results.strips import Strip
from jobs.spark.ticks import TileTicks, sender
from jobs.spark.sparkjobs import partition_runner, ship, task_attempts, task_failure_reason
from jobs.spark.transport import PackedArray, TileTransport
from jobs.cube.usage import Usage
from sparkeo.errors import RunError, SparkeoError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TileResult:
    """What a tile task sends back: the packed float32 array and its usage, or an error."""

    task: TileTask
    packed: PackedArray | None = None
    usage: Usage = field(default_factory=Usage)
    error: tuple[str, str, str] | None = None      # (kind, message, href): kind unreadable|run

    @property
    def nbytes(self) -> int:
        """Pixel bytes this result brings to the driver (inline, or a spill file it reads)."""
        if self.packed is None:
            return 0
        return len(self.packed.payload) if self.packed.path is None else 4 * int(np.prod(self.packed.shape))

    def array(self) -> np.ndarray:
        """The tile's array (a spilled one is read and its file deleted: call once)."""
        return self.packed.unpack()


@dataclass(frozen=True)
class TileDone:
    """A progress event: one more tile written (for metrics listeners)."""

    index: tuple[int, int]
    done: int
    total: int
    usage: Usage


@dataclass
class Execution:
    """What ran: summed usage and Spark task attempts beyond the first (counted on a thread: read
    ``task_attempts`` when it is needed, after the work it can overlap)."""

    usage: Usage
    attempts: Future | int = 0
    wall_seconds: float = 0.0
    received_bytes: int = 0         # pixel bytes the driver received (tiles, or reduced strips)

    @property
    def task_attempts(self) -> int:
        return self.attempts.result() if isinstance(self.attempts, Future) else self.attempts


# Tile pixels per task at most (the results a task holds before returning them: 8 MB of float32
# per output band and date); 8 tiles of 512 px, 32 of 256 px. See tile_groups.
MAX_PIXELS_PER_TASK = 8 * 512 * 512
GROUPS_PER_CORE = 1       # measured on 2 cores: 1 per core beat 2 per core (fewer task hand-overs)
QUEUED_GROUPS_PER_CORE = 2  # Spark jobs in flight per core: the running one and the next
SCHEDULER_POOL = "spark.scheduler.pool"     # the local property naming a thread's fair scheduler pool
JOB_TAGS = "spark.job.tags"                 # the local property holding a thread's job tags (SparkContext.addJobTag)


def tile_groups(tasks: Sequence[TileTask], parallelism: int, tile_pixels: int = 512 * 512,
                max_task_pixels: int | None = None) -> list[list[TileTask]]:
    """Contiguous groups of tile tasks: GROUPS_PER_CORE per core, at most ``max_task_pixels`` pixels
    (``Settings.task_max_pixels``; None: MAX_PIXELS_PER_TASK) of tiles of ``tile_pixels`` each per group."""
    n = len(tasks)
    if n == 0:
        return []
    per_task = max_tiles_per_task(tile_pixels, max_task_pixels)
    count = min(n, max(GROUPS_PER_CORE * max(parallelism, 1), -(-n // per_task)))
    cuts = [round(i * n / count) for i in range(count + 1)]
    # Tasks own whole read regions (jobs.plan.blocks) when there are enough of them: a region split
    # between two tasks has its source blocks decoded by both.
    regions = [getattr(t, "region", None) for t in tasks]
    starts = [i for i in range(n) if i == 0 or regions[i] != regions[i - 1]] + [n]
    if len(starts) - 1 >= count:
        cuts = sorted({min(starts, key=lambda s: (abs(s - c), s)) for c in cuts})
    sizes = Counter(regions)
    return [_own_part(list(tasks[a:b]), sizes) for a, b in zip(cuts[:-1], cuts[1:])]


def _own_part(group: list, sizes: Counter) -> list:
    """The group's tiles, each read region narrowed to the part of it the group computes: a task
    that shares a region with another reads only the source windows under its own tiles."""
    by_region: dict = {}
    for t in group:
        if getattr(t, "region", None) is not None:
            by_region.setdefault(t.region, []).append(t)
    whole = {}
    for region, own in by_region.items():
        if sizes[region] == len(own):
            continue
        r0 = min(t.window.row_off for t in own)
        c0 = min(t.window.col_off for t in own)
        r1 = max(t.window.row_off + t.window.height for t in own)
        c1 = max(t.window.col_off + t.window.width for t in own)
        first = own[0]
        whole[region] = first.grid.crop(Window(r0 - first.window.row_off, c0 - first.window.col_off, r1 - r0, c1 - c0))
    return [dataclasses.replace(t, region=whole[t.region]) if getattr(t, "region", None) in whole else t
            for t in group]


def spark_jobs(groups: int, parallelism: int) -> list[list[int]]:
    """The partitions (groups) each Spark job runs: one job per group, so that groups come back and
    are written while others still compute; but one job for all of them when each has a core of its
    own: they run at once and finish together, and a single job starts them together (each further
    job started 15-25 ms after the previous one on the benchmark machine)."""
    if groups <= parallelism:
        return [list(range(groups))] if groups else []
    return [[i] for i in range(groups)]


def max_tiles_per_task(tile_pixels: int, max_task_pixels: int | None = None) -> int:
    """How many tiles of ``tile_pixels`` pixels one task computes at most (at least one; rounded to
    the nearest: the tiles a halo's few pixels larger than the layout's, ``TileLayout.with_halo``,
    keep the count)."""
    return max(1, round((max_task_pixels or MAX_PIXELS_PER_TASK) / max(tile_pixels, 1)))


def run_tile(output: LazyCube, task: TileTask, settings, job_options: Mapping[str, Any],
             transport: TileTransport = TileTransport(), keep: Callable[[TileTask, np.ndarray], None] | None = None
             ) -> TileResult:
    """Compute one tile (on an executor, or in-process in tests); its array is packed for the driver, or
    given to ``keep`` (executors writing the output) and not sent."""
    values, usage, error = on_tile(task, output.meta.grid, settings, job_options,
                                   lambda ctx: np.ascontiguousarray(output.compute(task.grid, ctx), dtype=np.float32))
    if error is not None:
        return TileResult(task, error=error)
    if keep is not None:
        keep(task, values)
        return TileResult(task, usage=usage)
    return TileResult(task, transport.pack(values, f"{task.index[0]}_{task.index[1]}"), usage)


def on_tile(task: TileTask, grid: TileGrid, settings, job_options: Mapping[str, Any],
            fn: Callable[[TileContext], Any]) -> tuple[Any, Usage, tuple[str, str, str] | None]:
    """``fn(ctx)`` in a new context for ``task`` of the output ``grid``: (its value, the tile's usage with its
    CPU seconds, None), or (None, usage, (kind, message, href)) for an error that is the job's verdict
    (``raise_for``)."""
    started = time.process_time()
    ctx = TileContext(settings=settings, job_options=dict(job_options), region=task.read_region(grid))
    try:
        value = fn(ctx)
    except UnreadableAssetError as exc:
        return None, ctx.usage, ("unreadable", exc.reason, exc.href)
    except SparkeoError as exc:
        return None, ctx.usage, ("run", str(exc), "")
    ctx.usage.tiles += 1
    ctx.usage.cpu_seconds += time.process_time() - started
    return value, ctx.usage, None


def raise_for(result: TileResult) -> None:
    """Re-raise a task's error on the driver as the right sparkeo error."""
    if result.error is None:
        return
    kind, message, href = result.error
    if kind == "unreadable":
        raise UnreadableAssetError(href, message)
    # After the plan, every failure is a failed run (exit 1, DESIGN "What counts as user error").
    raise RunError(f"tile {result.task.index}: {message}")


def execute(spark, output: LazyCube, tasks: Sequence[TileTask], settings, job_options: Mapping[str, Any],
            sink: Callable[[TileTask, np.ndarray], None],
            progress: Callable[[TileDone], None] | None = None, strips=None) -> Execution:
    """Run every tile task on Spark; ``sink(task, array)`` is called on the driver as tiles arrive.

    With ``strips`` (a ``jobs.results.stripwriter.StripResultsWriter``) the executors write the
    output: one task per strip, no tile array comes back, and ``strips.receive`` gets each strip's
    ``StripWritten``. Raises ``UnreadableAssetError`` (with the href) or ``RunError`` on the first
    failed tile.
    """
    started = time.monotonic()
    total = Usage()
    if not tasks and (strips is None or not strips.strips):   # strips without tiles are still written (nodata)
        return Execution(total)
    sc = spark.sparkContext
    group = f"sparkeo-{uuid.uuid4().hex[:12]}"
    options = dict(job_options)
    transport = TileTransport.for_master(sc.master, spill=settings.spill_tiles)
    if strips is None:
        groups: list = tile_groups(tasks, sc.defaultParallelism, max(t.window.height * t.window.width for t in tasks),
                                   settings.task_max_pixels)
        work = None
    else:
        sizes = Counter(getattr(t, "region", None) for t in tasks)
        groups = [dataclasses.replace(s, tasks=tuple(_own_part(list(s.tasks), sizes))) for s in strips.strips]
        work = strips.work
    shipped = ship(sc, cloudpickle.dumps((output, settings, options, transport, work)), len(groups),
                   settings.inline_dag_bytes)
    ticks = _open_ticks(sc, group, len(tasks), progress)
    address = (ticks_host(sc), ticks.port) if ticks is not None else None
    rdd = sc.parallelize(groups, len(groups))
    run_job = partition_runner(sc, rdd.flatMap(lambda tiles: _run_group(shipped, group, tiles, address)))

    # local properties are per thread: the pool threads submit in the caller's scheduler pool
    # (sparkeo.api.runner: a batch job's and a synchronous request's share the cores fairly) and
    # with the caller's job tags (by which the runner cancels a job)
    scheduler_pool, job_tags = sc.getLocalProperty(SCHEDULER_POOL), sc.getLocalProperty(JOB_TAGS)

    def run_partitions(parts: Sequence[int]) -> list[TileResult]:
        sc.setLocalProperty(SCHEDULER_POOL, scheduler_pool)
        sc.setLocalProperty(JOB_TAGS, job_tags)
        sc.setJobGroup(group, f"sparkeo tiles {_name(groups[parts[0]])}..{_name(groups[parts[-1]])}",
                       interruptOnCancel=True)
        return run_job(parts)

    jobs = spark_jobs(len(groups), sc.defaultParallelism)
    done = received = 0
    # one job queued behind each running one: a core that finishes a group starts the next at once
    # instead of idling for the driver's round trip (~60-80 ms per group on local[1])
    workers = max(1, min(len(jobs), QUEUED_GROUPS_PER_CORE * sc.defaultParallelism))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sparkeo-tiles")
    try:
        futures = [pool.submit(run_partitions, parts) for parts in jobs]
        for future in as_completed(futures):
            try:
                results = future.result()
            except Exception as exc:  # Py4JJavaError and friends: one line, no JVM stack
                raise RunError(f"Spark task failed: {task_failure_reason(exc)}") from None
            for result in results:
                if isinstance(result, StripDone):
                    strips.receive(result.written)
                    received += result.written.nbytes
                    continue
                raise_for(result)
                received += result.nbytes
                if result.packed is not None:
                    sink(result.task, result.array())
                total.add(result.usage)
                done += 1
                if ticks is not None:
                    ticks.mark(result.task.index)
                if progress is not None:
                    progress(TileDone(result.task.index, done, len(tasks), result.usage))
    except BaseException:
        sc.cancelJobGroup(group)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        shipped.unpersist(blocking=False)
        transport.close()           # spill files of tiles never read (a failed job) go too
        if ticks is not None:
            ticks.close()
    pool.shutdown(wait=True)
    # Counting attempts takes three py4j calls per Spark job (10-25 ms on the benchmark): on a
    # thread, it overlaps the COG conversion instead of delaying it.
    counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparkeo-attempts")
    attempts = counter.submit(task_attempts, sc, group)
    counter.shutdown(wait=False)
    return Execution(total, attempts, time.monotonic() - started, received)


def _name(group) -> str:
    """A group's tiles in the Spark UI: first and last tile index, or a strip's rows."""
    if isinstance(group, Strip):
        return f"rows {group.top}-{group.bottom}"
    return f"{group[0].index}..{group[-1].index}"


@dataclass(frozen=True)
class StripDone:
    """A strip's last result: what its task wrote (``jobs.results.stripwriter.StripWritten``)."""

    written: Any


def _open_ticks(sc, key: str, total: int, progress) -> TileTicks | None:
    """Per-tile counting for a progress listener that takes it (``computed(done, total)``)."""
    computed = getattr(progress, "computed", None)
    if computed is None:
        return None
    try:
        return TileTicks(key, lambda count: computed(count, total))
    except OSError as exc:       # no UDP socket: progress moves per group, the job runs the same
        log.info("per-tile progress off: %s", str(exc) or repr(exc))
        return None


def ticks_host(sc) -> str:
    """Where executors reach the driver: Spark's own driver host (the driver Service on Kubernetes)."""
    return sc.getConf().get("spark.driver.host", "127.0.0.1")


_SHIPPED: dict[str, tuple] = {}


def _run_group(shipped, key: str, group: Sequence[TileTask] | Strip,
               ticks: tuple[str, int] | None = None) -> list:
    """``run_tile`` for each tile of a group, with (output, settings, job_options, transport, strip
    work) from ``ship`` unpickled once per worker; stops at the first failed tile (it fails the job).
    Each finished tile is announced to the driver's ``TileTicks`` at ``ticks``. A ``Strip`` group
    keeps its tiles, encodes and writes the strip, and ends with a ``StripDone``."""
    if key not in _SHIPPED:
        _SHIPPED.clear()            # keep only the current job's DAG
        _SHIPPED[key] = cloudpickle.loads(shipped.value)
    output, settings, options, transport, work = _SHIPPED[key]
    tiles = group.tasks if isinstance(group, Strip) else group
    buffer = work.buffer(group) if isinstance(group, Strip) else None
    keep = None if buffer is None else (lambda task, values: work.put(buffer, task, values))
    keep_tile_memory(settings)      # done already where the workers fork from jobs.spark.daemon
    results = []
    tick = sender(ticks)
    # the group's tiles share their assets and GDAL settings (and decoded blocks, when they read halos)
    with keep_open(settings, halo=any(t.halo != (0, 0) for t in tiles)):
        for task in tiles:
            results.append(run_tile(output, task, settings, options, transport, keep))
            if results[-1].error is not None:
                return results
            tick(key, task.index)
    if buffer is not None:
        results.append(StripDone(work.finish(buffer, settings)))
    return results

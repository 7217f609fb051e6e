"""Executing aggregate_spatial on Spark: partial results per polygon, brought together by a shuffle
and reduced on the executors, so that the driver receives only the final values.

The tiles of the plan are cut into groups as for rasters (``tile_groups``); each tile carries the
polygons whose bounds meet it (an R-tree query on the driver) as (index, WKB in the raster's CRS),
and tiles no polygon meets are not run. What every task shares is the cube without its geometries
(``TileAggregator``), so neither it nor a task's payload grows with the polygons outside the task's
tiles. A map task computes the source cube on each of its tiles in turn, parses and rasterises the
tile's polygons with the centre rule and emits (polygon index, partial) pairs tile by tile
(``jobs.vector.zonal``): a few numbers for mergeable reducers, the pixels for the others; it holds
one tile and its polygons at a time, whatever the number of polygons. The pairs are shuffled into ranges of polygon
indices and sorted within each range (``repartitionAndSortWithinPartitions``, which spills to disk
past ``spark.python.worker.memory``); a reduce task merges each polygon's run of partials and runs
the reducer (``TileAggregator.finish_values``), holding one polygon (or one batch of polygons) at a
time. There are as many ranges as it takes for each to carry about one tile's worth of partials
(``reduce_partitions``), so a reduce task's memory is bounded by the tile size too. The driver
collects one small array (t, bands) per polygon: its memory grows with the output rows only.

Each map task ends with one record keyed by a negative number: its usage, tiles and first error.
"""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
from pyspark import cloudpickle

from jobs.cube.read import keep_open
from jobs.cube.usage import Usage
from jobs.plan.planner import TileTask
from jobs.spark.collect import unpickled
from jobs.spark.execute import Execution, TileDone, on_tile, raise_for, tile_groups
from jobs.spark.sparkjobs import ship, task_attempts, task_failure_reason
from jobs.vector.cube import AggregatedCube, TileAggregator
from jobs.vector.zonal import from_wkb, merge_runs
from sparkeo.errors import RunError


@dataclass(frozen=True)
class ZonalPart:
    """What a map task reports besides its partials: usage and tiles, or the first error."""

    task: TileTask                      # the first tile (an error names it)
    usage: Usage = field(default_factory=Usage)
    tiles: tuple[tuple[int, int], ...] = ()
    error: tuple[str, str, str] | None = None   # (kind, message, href), as jobs.spark.execute.TileResult


# A tile's polygons as a task receives them: (index, WKB in the raster's CRS).
TilePolygons = tuple[tuple[int, bytes], ...]


def group_payload(cube: AggregatedCube, work: Sequence[tuple[TileTask, tuple[int, ...]]],
                  groups: Sequence[Sequence[TileTask]]) -> list[tuple[int, list[tuple[TileTask, TilePolygons]]]]:
    """(group number, [(tile, its polygons)]) for each group of tiles of ``work`` (``tile_work``): a
    task gets the geometries of its own tiles only."""
    polygons = {t.index: p for t, p in work}
    return [(g, [(t, cube.tile_polygons(polygons[t.index])) for t in group]) for g, group in enumerate(groups)]


def emit_partials(cube: TileAggregator, group: int, tiles: Sequence[tuple[TileTask, TilePolygons]], settings,
                  job_options: Mapping[str, Any]) -> Iterator[tuple[int, Any]]:
    """(polygon index, partial) for each polygon of each tile of a group, tile by tile, then
    (-1 - ``group``, ``ZonalPart``); a failed tile ends the group with its error. A polygon spanning
    several tiles is parsed on each (~2 us a field, ~1 ms for a 512 px tile of ~600 fields beside
    ~0.14 s of reading): shapely objects live for one tile only."""
    usage = Usage()
    done = []
    for task, polygons in tiles:
        origin = (task.window.row_off, task.window.col_off)
        partials, used, error = on_tile(task, cube.grid, settings, job_options,
                                        lambda ctx: cube.partials(task.grid, origin, from_wkb(polygons), ctx))
        if error is not None:
            yield -1 - group, ZonalPart(task, error=error)
            return
        yield from partials.items()
        usage.add(used)
        done.append(task.index)
    yield -1 - group, ZonalPart(tiles[0][0], usage, tuple(done))


def finish_partition(cube: TileAggregator, pairs) -> Iterator[tuple[int, Any]]:
    """A reduce task: the sorted (index, partial) pairs of a range of polygons merged and reduced to
    (index, values (t, bands)); the map tasks' reports (negative keys) pass through."""
    def partials():
        for key, value in pairs:
            if key < 0:
                reports.append((key, value))
            else:
                yield key, value

    reports: list = []
    yield from cube.finish_values(merge_runs(partials()))
    yield from reports


# Bytes of partials a reduce task sorts and merges at most, besides a tile's worth (the shuffle's
# ranges are cut so); a floor for tiny tiles.
MIN_REDUCE_BYTES = 16 << 20


def reduce_partitions(cube: AggregatedCube, tile_pixels: int, parallelism: int) -> int:
    """How many ranges of polygon indices the partials are shuffled into: one per core at least, and
    enough for each to carry about one tile's values (the memory a map task needs anyway)."""
    _, times, bands = cube.shape
    budget = max(tile_pixels * times * bands * 4, MIN_REDUCE_BYTES)
    return max(1, min(len(cube.geometries), max(parallelism, math.ceil(cube.partial_bytes() / budget))))


def execute_zonal(spark, cube: AggregatedCube, tasks: Sequence[TileTask], settings, job_options: Mapping[str, Any],
                  sink: Callable[[np.ndarray], None], progress: Callable[[TileDone], None] | None = None) -> Execution:
    """Aggregate ``cube`` over the plan's tiles on Spark; ``sink`` gets the finished table (geometries,
    t, bands[, 3]: ``AggregatedCube.empty_table``). Raises ``UnreadableAssetError`` (with the href) or
    ``RunError`` on the first failure."""
    started = time.monotonic()
    total = Usage()
    work = cube.tile_work(tasks)
    table = cube.empty_table()
    if work:
        sc = spark.sparkContext
        group_id = f"sparkeo-zonal-{uuid.uuid4().hex[:12]}"
        tile_pixels = max(t.window.height * t.window.width for t, _ in work)
        groups = tile_groups([t for t, _ in work], sc.defaultParallelism, tile_pixels, settings.task_max_pixels)
        payload = group_payload(cube, work, groups)
        shipped = ship(sc, cloudpickle.dumps((cube.aggregator(), settings, dict(job_options))), len(groups),
                       settings.inline_dag_bytes)
        ranges = reduce_partitions(cube, tile_pixels, sc.defaultParallelism)
        per_range = -(-len(cube.geometries) // ranges)
        sc.setJobGroup(group_id, f"sparkeo aggregate_spatial {len(work)} tiles", interruptOnCancel=True)
        try:
            rows = (sc.parallelize(payload, len(payload))
                    .flatMap(lambda item: _emit(shipped, group_id, item))
                    .repartitionAndSortWithinPartitions(ranges, lambda key: max(key, 0) // per_range)
                    .mapPartitions(lambda pairs: _finish(shipped, group_id, pairs))
                    .collect())
        except Exception as exc:  # Py4JJavaError and friends: one line, no JVM stack
            raise RunError(f"Spark task failed: {task_failure_reason(exc)}") from None
        finally:
            shipped.unpersist(blocking=False)
        reports = sorted((-key, part) for key, part in rows if key < 0)
        for _, part in reports:
            raise_for(part)
        done = 0
        for _, part in reports:
            total.add(part.usage)
            for index in part.tiles:
                done += 1
                if progress is not None:
                    progress(TileDone(index, done, len(tasks), Usage()))
        for key, values in rows:
            if key >= 0:
                table[key] = values
        attempts = task_attempts(sc, group_id)
    else:
        attempts = 0
    sink(table)
    return Execution(total, attempts, time.monotonic() - started)


def _emit(shipped, key: str, item) -> Iterator[tuple[int, Any]]:
    cube, settings, options = unpickled(shipped, key)
    group, tiles = item
    with keep_open(settings):
        yield from emit_partials(cube, group, tiles, settings, options)


def _finish(shipped, key: str, pairs) -> Iterator[tuple[int, Any]]:
    cube, _, _ = unpickled(shipped, key)
    return finish_partition(cube, pairs)

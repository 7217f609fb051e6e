"""Executing aggregate_spatial on Spark: tiles computed and reduced to per-polygon partial results.

The tiles of the plan are cut into groups as for rasters (``tile_groups``); each tile carries the
indices of the polygons whose bounds meet it (an R-tree query on the driver), and tiles no polygon
meets are not run. A task computes the source cube on each of its tiles, rasterises the tile's
polygons with the centre rule and merges the tiles' partial results (``jobs.vector.zonal``), so it
returns one partial per polygon it saw: a few numbers for mergeable reducers, the pixels for the
others. A worker holds one tile of the source at a time, whatever the number of polygons. The
driver merges the tasks' partials and finishes the table.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from pyspark import cloudpickle

from jobs.cube.read import keep_open
from jobs.cube.usage import Usage
from jobs.plan.planner import TileTask
from jobs.spark.allocator import keep_tile_memory
from jobs.spark.execute import (Execution, TileDone, on_tile, raise_for, ship, task_attempts, task_failure_reason,
                                tile_groups)
from jobs.vector.cube import AggregatedCube
from jobs.vector.zonal import merge_into
from sparkeo.errors import RunError


@dataclass(frozen=True)
class ZonalPart:
    """What a task sends back: its polygons' merged partials, usage and tiles, or the first error."""

    task: TileTask                      # the first tile (an error names it)
    partials: dict = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    tiles: tuple[tuple[int, int], ...] = ()
    error: tuple[str, str, str] | None = None   # (kind, message, href), as jobs.spark.execute.TileResult


def run_part(cube: AggregatedCube, tiles: Sequence[tuple[TileTask, tuple[int, ...]]], settings,
             job_options: Mapping[str, Any]) -> ZonalPart:
    """The merged partials of a group of tiles (on an executor, or in-process in tests)."""
    merged: dict = {}
    usage = Usage()
    done = []
    for task, polygons in tiles:
        origin = (task.window.row_off, task.window.col_off)
        partials, used, error = on_tile(task, cube.grid, settings, job_options,
                                        lambda ctx: cube.partials(task.grid, origin, polygons, ctx))
        if error is not None:
            return ZonalPart(task, error=error)
        merge_into(merged, partials)
        usage.add(used)
        done.append(task.index)
    return ZonalPart(tiles[0][0], merged, usage, tuple(done))


def execute_zonal(spark, cube: AggregatedCube, tasks: Sequence[TileTask], settings, job_options: Mapping[str, Any],
                  sink: Callable[[np.ndarray], None], progress: Callable[[TileDone], None] | None = None) -> Execution:
    """Aggregate ``cube`` over the plan's tiles on Spark; ``sink`` gets the finished table (geometries,
    t, bands). Raises ``UnreadableAssetError`` (with the href) or ``RunError`` on the first failure."""
    started = time.monotonic()
    total = Usage()
    work = cube.tile_work(tasks)
    merged: dict = {}
    if work:
        sc = spark.sparkContext
        group_id = f"sparkeo-zonal-{uuid.uuid4().hex[:12]}"
        polygons = {t.index: p for t, p in work}
        groups = tile_groups([t for t, _ in work], sc.defaultParallelism,
                             max(t.window.height * t.window.width for t, _ in work), settings.task_max_pixels)
        payload = [[(t, polygons[t.index]) for t in g] for g in groups]
        shipped = ship(sc, cloudpickle.dumps((cube, settings, dict(job_options))), len(groups),
                       settings.inline_dag_bytes)
        sc.setJobGroup(group_id, f"sparkeo aggregate_spatial {len(work)} tiles", interruptOnCancel=True)
        try:
            parts = sc.parallelize(payload, len(payload)).map(lambda tiles: _run_group(shipped, group_id, tiles)).collect()
        except Exception as exc:  # Py4JJavaError and friends: one line, no JVM stack
            raise RunError(f"Spark task failed: {task_failure_reason(exc)}") from None
        finally:
            shipped.unpersist(blocking=False)
        done = 0
        for part in parts:
            raise_for(part)
            merge_into(merged, part.partials)
            total.add(part.usage)
            for index in part.tiles:
                done += 1
                if progress is not None:
                    progress(TileDone(index, done, len(tasks), Usage()))
        attempts = task_attempts(sc, group_id)
    else:
        attempts = 0
    sink(cube.finish(merged))
    return Execution(total, attempts, time.monotonic() - started)


_SHIPPED: dict[str, tuple] = {}


def _run_group(shipped, key: str, tiles) -> ZonalPart:
    """``run_part`` with (cube, settings, job_options) unpickled once per worker and job."""
    if key not in _SHIPPED:
        _SHIPPED.clear()
        _SHIPPED[key] = cloudpickle.loads(shipped.value)
    cube, settings, options = _SHIPPED[key]
    keep_tile_memory(settings)
    with keep_open(settings):
        return run_part(cube, tiles, settings, options)

"""A first pass over a cube on Spark for the processes whose output depends on pixel values
(trim_cube): each task computes its tiles of the cube and reduces each one to its ``Validity`` (a few
booleans per label and a row/column range), merged in the task; the driver merges the tasks' records.
No pixel reaches the driver.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from pyspark import cloudpickle

from jobs.cube.lazy import LazyCube
from jobs.cube.read import keep_open
from jobs.cube.trim import Validity, tile_validity
from jobs.cube.usage import Usage
from jobs.plan.planner import TileTask
from jobs.spark.allocator import keep_tile_memory
from jobs.spark.execute import on_tile, raise_for, ship, task_failure_reason, tile_groups
from sparkeo.errors import RunError


@dataclass(frozen=True)
class ScanPart:
    """What a task sends back: its tiles' merged validity and usage, or the first error."""

    task: TileTask                      # the first tile (an error names it)
    validity: Validity = field(default_factory=Validity)
    usage: Usage = field(default_factory=Usage)
    error: tuple[str, str, str] | None = None   # (kind, message, href), as jobs.spark.execute.TileResult


def scan_tiles(cube: LazyCube, tiles: Sequence[TileTask], settings, job_options: Mapping[str, Any]) -> ScanPart:
    """The merged validity of ``cube`` on a group of tiles (on an executor, or in-process in tests)."""
    merged, usage = Validity(), Usage()
    with keep_open(settings, halo=any(t.halo != (0, 0) for t in tiles)):
        for task in tiles:
            part, used, error = on_tile(task, cube.meta.grid, settings, job_options,
                                        lambda ctx: tile_validity(cube.compute(task.grid, ctx), cube.meta, task.window))
            if error is not None:
                return ScanPart(task, error=error)
            merged = merged.merge(part)
            usage.add(used)
    return ScanPart(tiles[0], merged, usage)


def scan_validity(spark, cube: LazyCube, tasks: Sequence[TileTask], settings,
                  job_options: Mapping[str, Any]) -> tuple[Validity, Usage]:
    """(validity of ``cube`` over the planned ``tasks``, the pass's usage). Tiles the plan left out
    (no item under them) hold no valid value. Raises ``UnreadableAssetError`` or ``RunError``."""
    if not tasks:
        return Validity(), Usage()
    sc = spark.sparkContext
    groups = tile_groups(tasks, sc.defaultParallelism, max(t.window.height * t.window.width for t in tasks))
    shipped = ship(sc, cloudpickle.dumps((cube, settings, dict(job_options))), len(groups), settings.inline_dag_bytes)
    group_id = f"sparkeo-scan-{uuid.uuid4().hex[:12]}"
    sc.setJobGroup(group_id, f"sparkeo scan {cube.node_id!r}: {len(tasks)} tiles", interruptOnCancel=True)
    try:
        parts = sc.parallelize(groups, len(groups)).map(lambda tiles: _scan_group(shipped, group_id, tiles)).collect()
    except Exception as exc:  # Py4JJavaError and friends: one line, no JVM stack
        raise RunError(f"Spark task failed: {task_failure_reason(exc)}") from None
    finally:
        shipped.unpersist(blocking=False)
    merged, total = Validity(), Usage()
    for part in parts:
        raise_for(part)
        merged = merged.merge(part.validity)
        total.add(part.usage)
    return merged, total


_SHIPPED: dict[str, tuple] = {}


def _scan_group(shipped, key: str, tiles: Sequence[TileTask]) -> ScanPart:
    if key not in _SHIPPED:         # unpickled once per worker and pass
        _SHIPPED.clear()
        _SHIPPED[key] = cloudpickle.loads(shipped.value)
    cube, settings, options = _SHIPPED[key]
    keep_tile_memory(settings)
    return scan_tiles(cube, tiles, settings, options)

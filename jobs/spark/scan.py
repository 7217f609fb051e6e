"""A first pass over a cube on Spark for the processes whose output depends on pixel values
(trim_cube): each task computes its tiles of the cube and reduces each one to its ``Validity`` (a few
booleans per label and a row/column range), merged in the task; the driver merges the tasks' records.
No pixel reaches the driver.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from jobs.cube.lazy import LazyCube
from jobs.cube.read import keep_open
from jobs.cube.trim import Validity, tile_validity
from jobs.cube.usage import Usage
from jobs.plan.planner import TileTask
from jobs.spark.collect import collect_groups
from jobs.spark.execute import on_tile, raise_for, tile_groups


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
    parts, _ = collect_groups(sc, groups, (cube, settings, dict(job_options)), settings.inline_dag_bytes, "scan",
                              f"sparkeo scan {cube.node_id!r}: {len(tasks)} tiles", _scan_group)
    merged, total = Validity(), Usage()
    for part in parts:
        raise_for(part)
        merged = merged.merge(part.validity)
        total.add(part.usage)
    return merged, total


def _scan_group(shared: tuple, tiles: Sequence[TileTask]) -> ScanPart:
    cube, settings, options = shared
    return scan_tiles(cube, tiles, settings, options)

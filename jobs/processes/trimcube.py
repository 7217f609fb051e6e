"""trim_cube (openEO 1.2.0): the cube without its nodata-only border slices.

The labels that remain depend on the pixels, so building the node asks the build context's ``scan``
for the input's ``Validity`` (a first Spark pass over the input, ``jobs.spark.scan``, wired by
``jobs.run``); the trimmed cube's meta, fixed from it, is what every later node builds on. A dry
run has no Spark: without a scan the plan keeps the untrimmed cube, an upper bound of what the run
reads and writes.
"""
from __future__ import annotations

import logging

from jobs.cube.derived import DerivedCube
from jobs.cube.lazy import LazyCube
from jobs.cube.trim import trimmed
from jobs.errors import ProcessGraphError
from jobs.processes.registry import Param, process

log = logging.getLogger(__name__)


@process("trim_cube", Param("data", kind="cube"), kind="cube")
def trim_cube(ctx, node_id, data: LazyCube):
    """``data`` without the slices holding only nodata at the borders of its dimensions (and without
    nodata-only labels of its categorical dimensions)."""
    if data.meta.grid is None or "x" not in data.meta.dims:
        raise ProcessGraphError(node_id, "data", "trim_cube works on a raster cube: this one has no x and y")
    if ctx.scan is None:
        log.info("trim_cube %r: a dry run plans the untrimmed cube (trimming needs a pass over the data)", node_id)
        return DerivedCube(node_id, data.meta, (data,), lambda a: a)
    return trimmed(data, ctx.scan(data), node_id)

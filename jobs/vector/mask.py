"""``PolygonMask``: a raster cube with the pixels inside (or outside) polygons replaced (mask_polygon).

The same pixel rule as aggregate_spatial: a pixel is inside when its centre is (``centre_mask``).
"""
from __future__ import annotations

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.plan.grid import TileGrid
from jobs.vector.zonal import centre_mask


class PolygonMask(LazyCube):
    """``upstream`` with ``replacement`` (None: nodata) where a pixel centre is outside the polygon
    given as WKB (inside it when ``inside``)."""

    def __init__(self, node_id: str, meta: CubeMeta, upstream: LazyCube, wkb: bytes, inside: bool = False,
                 replacement: float | None = None):
        self.node_id, self.meta, self.upstream, self.wkb = node_id, meta, upstream, wkb
        self.inside, self.replacement = inside, replacement

    def inputs(self):
        return (self.upstream,)

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        from shapely import wkb as shapely_wkb

        values = self.upstream.compute(grid, ctx)
        if grid.is_empty:
            return values
        within = centre_mask(shapely_wkb.loads(self.wkb), grid)
        keep = ~within if self.inside else within
        fill = np.nan if self.replacement is None else self.replacement
        return np.where(keep, values, fill).astype(np.result_type(values.dtype, np.float32))

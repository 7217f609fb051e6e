"""Spatial cube processes: filter_spatial, resample_spatial and resample_cube_spatial.

``filter_spatial`` crops the grid to the geometries' bounds and sets pixels whose centre lies
outside every polygon to nodata (rasterised per tile). ``resample_spatial`` fixes the new grid on
the driver (projection and/or resolution, aligned to the upper-left corner); per tile it first offers
the upstream cube the ``resample`` push-down hook (a loading leaf reads straight onto the new grid),
else it computes the upstream cube on the source-grid window covering the tile and warps it with
``rasterio.warp.reproject``. ``resample_cube_spatial`` does the same onto the target cube's grid.
"""
from __future__ import annotations

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.cube.derived import DerivedCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.plan.grid import TileGrid, Window
from jobs.plan.extent import transform_bounds
from jobs.processes.cubes import centres_within
from jobs.processes.registry import Param, process
from jobs.cube.warp import RESAMPLING_METHODS, onto, rasterio_crs, warp_scale
from sparkeo import geometry


# --- filter_spatial ----------------------------------------------------------------------------------------
@process("filter_spatial", Param("data", kind="cube"), Param("geometries"), kind="cube")
def filter_spatial(ctx, node_id, data: LazyCube, geometries):
    """The cube cropped to the geometries' bounds, pixels with centres outside the polygons nodata."""
    from jobs.processes.vector import in_grid_crs, polygon_union, user_reads
    from jobs.vector.geojson import read_geometries
    from jobs.vector.mask import PolygonMask

    meta = data.meta
    if meta.grid is None:
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")
    geoms = read_geometries(geometries, "geometries", user_reads(ctx))
    geom = polygon_union(in_grid_crs(geoms, meta.grid, "geometries"), "geometries")
    grid = meta.grid.crop(Window(0, 0, 0, 0)) if geom.is_empty else centres_within(meta.grid, geom.bounds)
    source = data.clip(grid, node_id) or DerivedCube(node_id, meta.replace(grid=grid), (data,), lambda a: a)
    keeps = meta.nodata is not None and not meta.dtype.startswith("float")
    return PolygonMask(node_id, source.meta if keeps else source.meta.computed(), source, geom.wkb)


# --- resample_spatial --------------------------------------------------------------------------------------
def target_grid(grid: TileGrid, resolution, projection) -> TileGrid:
    """The grid of resample_spatial: ``projection`` (None keeps the CRS), ``resolution`` (0 keeps/derives it)."""
    crs = grid.crs if projection is None else _crs(projection)
    rx, ry = _resolution_pair(resolution)
    transform_bounds(grid.bounds, grid.crs, crs, "projection")      # a transformation exists, or the user hears
    if not rx and not geometry.same_crs(crs, grid.crs):
        from rasterio.warp import calculate_default_transform

        # GDAL's suggested output resolution, as gdalwarp without -tr
        transform, _, _ = calculate_default_transform(rasterio_crs(grid.crs), rasterio_crs(crs),
                                                      grid.width, grid.height, *grid.bounds)
        rx, ry = abs(transform.a), abs(transform.e)
    return grid.to_crs(crs, (rx, ry) if rx else None)       # aligned upper-left


def _resolution_pair(resolution) -> tuple[float, float]:
    if isinstance(resolution, (list, tuple)):
        if len(resolution) != 2:
            raise ProcessGraphError(None, "resolution", f"expected a number or [x, y], got {resolution!r}")
        rx, ry = resolution
    else:
        rx = ry = resolution
    try:
        rx, ry = float(rx or 0), float(ry or 0)
    except (TypeError, ValueError):
        raise ProcessGraphError(None, "resolution", f"expected a number or [x, y], got {resolution!r}") from None
    if rx < 0 or ry < 0:
        raise ProcessGraphError(None, "resolution", f"resolution must be positive, got {resolution!r}")
    return rx, ry or rx


def _crs(projection):
    """resample_spatial's ``projection``: an EPSG code, WKT2 or PROJ text, as a pyproj CRS."""
    try:
        crs = geometry.crs_of(projection)
    except geometry.UnknownCRSError as e:
        raise ProcessGraphError(None, "projection", f"unknown projection {projection!r}: {e.reason}") from None
    epsg = geometry.epsg_code(crs)
    return geometry.crs_of(epsg) if epsg else crs

class Resampled(LazyCube):
    """``upstream`` warped onto a new grid; each tile pulls the covering window of the source grid."""

    def __init__(self, node_id: str, meta: CubeMeta, upstream: LazyCube, method: str):
        self.node_id, self.meta, self.upstream, self.method = node_id, meta, upstream, method
        self.scale = warp_scale(upstream.meta.grid, meta.grid)    # one kernel size for every tile

    def inputs(self):
        return (self.upstream,)

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        src = self.upstream.meta.grid
        bounds = grid.bounds_in(src.crs)
        rx, ry = src.resolution
        pad = 2 if self.method == "near" else 4            # kernel support of the wider methods
        window = src.clip_to((bounds[0] - pad * rx, bounds[1] - pad * ry, bounds[2] + pad * rx, bounds[3] + pad * ry))
        shape = self.meta.shape_for(grid)
        if window.is_empty:
            return np.full(shape, np.nan, dtype=np.float32)
        values = self.upstream.compute(window, ctx)
        return onto(values, window, grid, self.method, self.scale)


@process("resample_spatial", Param("data", kind="cube"), Param("resolution", 0), Param("projection", None),
         Param("method", "near", "string"), Param("align", "upper-left", "string"), kind="cube")
def resample_spatial(ctx, node_id, data: LazyCube, resolution=0, projection=None, method="near", align="upper-left"):
    """The cube on a new grid (projection and/or resolution) with resampling ``method``."""
    meta = data.meta
    if meta.grid is None:
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")
    if method not in RESAMPLING_METHODS:
        raise ProcessGraphError(None, "method", f"unknown method {method!r} (one of {', '.join(RESAMPLING_METHODS)})")
    if align != "upper-left":
        raise ProcessGraphError(None, "align", f"only align 'upper-left' is supported, got {align!r}")
    return onto_grid(node_id, data, target_grid(meta.grid, resolution, projection), method)


def onto_grid(node_id: str, data: LazyCube, grid: TileGrid, method: str) -> LazyCube:
    """``data`` on ``grid``: read straight onto it by a loading leaf, else its values warped."""
    meta = data.meta
    if grid == meta.grid:
        return data
    out = meta.replace(grid=grid)
    pushed = data.resample(grid, method, node_id)
    if pushed is not None:
        return pushed
    passes = method in ("near", "mode", "min", "max", "med") and not meta.dtype.startswith("float")
    return Resampled(node_id, out if passes else out.computed(), data, method)


@process("resample_cube_spatial", Param("data", kind="cube"), Param("target", kind="cube"),
         Param("method", "near", "string"), kind="cube")
def resample_cube_spatial(ctx, node_id, data: LazyCube, target: LazyCube, method="near"):
    """``data`` on ``target``'s grid (CRS, resolution, extent) with resampling ``method``."""
    for cube, argument in ((data, "data"), (target, "target")):
        if cube.meta.grid is None:
            raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument=argument)
    if method not in RESAMPLING_METHODS:
        raise ProcessGraphError(None, "method", f"unknown method {method!r} (one of {', '.join(RESAMPLING_METHODS)})")
    return onto_grid(node_id, data, target.meta.grid, method)

"""Put an in-memory array given on one grid onto another grid.

``onto(values, src, dst)``: when the grids align (same CRS, resolution and pixel anchor) this is a
window copy with NaN outside the source; otherwise each 2-D plane is warped with
``rasterio.warp.reproject`` (NaN as nodata on both sides). Leading axes (t, bands...) are kept.
"""
from __future__ import annotations

import functools

import numpy as np

from jobs.plan.grid import TileGrid
from sparkeo.geometry import crs_text, transform_bounds

# The one resampling table: openEO method names (resample_spatial's enum in processes 1.2.0, and the
# ``resampling`` job option) -> rasterio's ``Resampling`` member names; GDAL's "nearest" is taken too.
RESAMPLING = {"near": "nearest", "nearest": "nearest", "bilinear": "bilinear", "cubic": "cubic",
              "cubicspline": "cubic_spline", "lanczos": "lanczos", "average": "average", "mode": "mode",
              "max": "max", "min": "min", "med": "med", "q1": "q1", "q3": "q3", "sum": "sum", "rms": "rms"}
# what resample_spatial's ``method`` accepts (the spec's enum)
RESAMPLING_METHODS = tuple(name for name in RESAMPLING if name != "nearest")


def rasterio_resampling(name: str):
    """rasterio's ``Resampling`` for an openEO method name or a rasterio name ("cubicspline", "cubic_spline")."""
    from rasterio.enums import Resampling

    return Resampling[RESAMPLING.get(name, name)]


def rasterio_crs(crs):
    """rasterio's CRS for a grid's ``pyproj.CRS``; cached by text (from a pyproj object it costs ~0.4 ms
    through WKT, paid otherwise on every warped band read)."""
    return _rasterio_crs(crs_text(crs))


@functools.lru_cache(maxsize=256)
def _rasterio_crs(text: str):
    from rasterio.crs import CRS

    return CRS.from_user_input(text)


def onto(values: np.ndarray, src: TileGrid, dst: TileGrid, resampling: str = "near",
         scale: tuple[float, float] | None = None) -> np.ndarray:
    """``values`` (..., src rows, src cols) on ``dst``: (..., dst rows, dst cols), float32 (float64 stays), NaN outside.

    ``scale``: GDAL's XSCALE/YSCALE (destination pixels per source pixel). GDAL otherwise derives it
    from the window it is given, so kernels would differ from tile to tile; ``warp_scale`` gives the
    ratio of the whole grids.
    """
    values = np.asarray(values)
    values = values.astype(np.float64 if values.dtype == np.float64 else np.float32, copy=False)
    if src.aligned_with(dst) and src.transform[1] == 0 and src.transform[3] == 0:
        return _window_copy(values, src, dst)
    return _reproject(values, src, dst, resampling, scale)


def _window_copy(values: np.ndarray, src: TileGrid, dst: TileGrid) -> np.ndarray:
    col, row = (~src.affine) @ (dst.transform[2], dst.transform[5])
    row, col = int(round(row)), int(round(col))
    out = np.full(values.shape[:-2] + dst.shape, np.nan, dtype=values.dtype)
    h, w = dst.shape
    r0, c0 = max(row, 0), max(col, 0)
    r1, c1 = min(row + h, src.height), min(col + w, src.width)
    if r1 > r0 and c1 > c0:
        out[..., r0 - row:r1 - row, c0 - col:c1 - col] = values[..., r0:r1, c0:c1]
    return out


def warp_scale(src: TileGrid, dst: TileGrid) -> tuple[float, float]:
    """Destination pixels per source pixel along x and y, for whole grids ``src`` -> ``dst``."""
    left, bottom, right, top = transform_bounds(dst.bounds, dst.crs, src.crs)
    inv = ~src.affine
    c0, r0 = inv * (left, top)
    c1, r1 = inv * (right, bottom)
    (c0, c1), (r0, r1) = sorted((c0, c1)), sorted((r0, r1))
    return _gdal_scale(dst.width, c0, c1, src.width), _gdal_scale(dst.height, r0, r1, src.height)


def _gdal_scale(dst_size: int, lo: float, hi: float, src_size: int) -> float:
    """GDAL's dfXScale (gdalwarpkernel.cpp): destination size over the source extent clipped to the
    source (``dfSrcXSizeRaw``), a downsampling ratio within 0.05 of 1/n snapped to exactly 1/n."""
    raw = min(src_size - int(max(0.0, lo)), hi - lo)
    if raw <= 0:
        return 1.0
    scale = dst_size / raw
    if scale < 1.0:
        n = int(1.0 / scale + 0.5)
        if abs(1.0 / scale - n) < 0.05:
            scale = 1.0 / n
    return scale


def _reproject(values: np.ndarray, src: TileGrid, dst: TileGrid, resampling: str,
               scale: tuple[float, float] | None) -> np.ndarray:
    from rasterio.warp import reproject

    options = {"XSCALE": repr(scale[0]), "YSCALE": repr(scale[1])} if scale else {}
    lead = values.shape[:-2]
    planes = values.reshape((-1,) + values.shape[-2:])
    out = np.full((planes.shape[0],) + dst.shape, np.nan, dtype=np.float32)
    for i, plane in enumerate(planes):
        reproject(np.ascontiguousarray(plane), out[i], src_transform=src.affine, src_crs=rasterio_crs(src.crs),
                  dst_transform=dst.affine, dst_crs=rasterio_crs(dst.crs), src_nodata=np.nan,
                  dst_nodata=np.nan, resampling=rasterio_resampling(resampling), **options)
    return out.reshape(lead + dst.shape)

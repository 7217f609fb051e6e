"""netCDF output: the staged per-label GeoTIFFs of a job assembled into one CF-1.8 netCDF file.

One variable per band over ``(t, y, x)`` (or ``(y, x)`` when t was reduced), pixel-centre ``x``/``y``
coordinates, a CF ``spatial_ref`` grid mapping carrying the CRS as WKT, and each band's dtype and
nodata (``_FillValue``) as in the GeoTIFF output. Reads the staged files block by block, so memory
stays bounded by one label of one band.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Sequence

import numpy as np

from jobs.plan.formats import BY_NAME
from jobs.plan.grid import TileGrid
from sparkeo.geometry import crs_text

NETCDF_MEDIA_TYPE = BY_NAME["netCDF"].media_type
NETCDF_NAME = "result.nc"
EPOCH = dt.date(1970, 1, 1)


def write_netcdf(target: Path, staged: Sequence[tuple[str | None, np.ndarray]], bands: Sequence[str],
                 grid: TileGrid, dtype: str, nodata: float) -> None:
    """Write ``target`` from ``staged`` ``(time label or None, (height, width, bands) raster)`` pairs,
    in label order."""
    import netCDF4
    from rasterio.crs import CRS

    labels = [label for label, _ in staged if label is not None]
    with netCDF4.Dataset(target, "w", format="NETCDF4") as nc:
        nc.Conventions = "CF-1.8"
        nc.title = "sparkeo results"
        nc.createDimension("y", grid.height)
        nc.createDimension("x", grid.width)
        _coordinates(nc, grid, CRS.from_user_input(crs_text(grid.crs)))
        dims: tuple[str, ...] = ("y", "x")
        if labels:
            nc.createDimension("t", len(labels))
            time_axis(nc, labels)
            dims = ("t", "y", "x")
        fill = None if nodata is None else (np.float32(nodata) if dtype == "float32" else np.dtype(dtype).type(nodata))
        variables = []
        for name in bands:
            var = nc.createVariable(name, dtype, dims, zlib=True, complevel=4, fill_value=fill,
                                    chunksizes=(1,) * (len(dims) - 2) + (min(256, grid.height), min(256, grid.width)))
            var.grid_mapping = "spatial_ref"
            var.long_name = name
            variables.append(var)
        for ti, (_, raster) in enumerate(staged):
            for bi, var in enumerate(variables):
                values = np.ascontiguousarray(raster[:, :, bi])
                if labels:
                    var[ti, :, :] = values
                else:
                    var[:, :] = values


def _coordinates(nc, grid: TileGrid, crs) -> None:
    a, _, c, _, e, f = grid.transform
    geographic = crs.is_geographic
    x = nc.createVariable("x", "f8", ("x",))
    y = nc.createVariable("y", "f8", ("y",))
    x[:] = c + a * (np.arange(grid.width) + 0.5)
    y[:] = f + e * (np.arange(grid.height) + 0.5)
    x.standard_name, y.standard_name = (("longitude", "latitude") if geographic
                                        else ("projection_x_coordinate", "projection_y_coordinate"))
    x.units = y.units = "degrees" if geographic else "m"
    ref = nc.createVariable("spatial_ref", "i4")
    ref.crs_wkt = ref.spatial_ref = crs.to_wkt()
    ref.GeoTransform = " ".join(str(v) for v in (c, a, 0.0, f, 0.0, e))


def time_axis(nc, labels: Sequence[str]) -> None:
    """Dates become CF days since the epoch; period labels ("2023-06", "2023-djf") stay strings."""
    try:
        days = [(dt.date.fromisoformat(label[:10]) - EPOCH).days for label in labels]
    except ValueError:
        days = None
    if days is not None and all(len(label) >= 10 for label in labels):
        t = nc.createVariable("t", "i4", ("t",))
        t[:] = days
        t.units, t.calendar, t.standard_name = "days since 1970-01-01", "standard", "time"
        return
    t = nc.createVariable("t", str, ("t",))
    for i, label in enumerate(labels):
        t[i] = label
    t.long_name = "time period label"

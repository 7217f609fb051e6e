"""Vector cube results (aggregate_spatial): openEO time-series JSON, CSV, GeoParquet, netCDF (CF DSG).

The table is one value per geometry, time label and band. The tabular formats have one row per
geometry and time label: ``feature_index``, the feature's ``id`` (when the features have ids), its
properties, ``date`` (when the cube has time), one column per band, and the geometry (WKT in CSV,
GeoParquet's geometry column in its CRS). The JSON is the openEO time-series document the official
client reads (``{date: [[band values] per geometry]}``; a list per geometry when time was reduced).
The netCDF file is a CF 1.8 discrete sampling geometry of featureType ``timeSeries`` (orthogonal
multidimensional layout: each band over ``(feature, t)``), with each feature's id, WKT geometry and
a representative point's longitude/latitude as instance variables, and the geometries themselves in
a CF 1.8 geometry container (``geometry_container``, nodes in the features' CRS, its grid mapping
``crs``) that each band names in its ``geometry`` attribute, as cf_xarray reads them. NaN is nodata everywhere (null
in JSON, empty in CSV).

With aggregate_spatial's ``target_dimension`` the table has a last axis (``value``, ``total_count``,
``valid_count``) and the counts ride beside each band's values: ``[value, total_count, valid_count]``
in place of each band's value in the JSON; integer columns ``<band>_total_count`` and
``<band>_valid_count`` after each band's column in CSV and GeoParquet (a row stays a geometry and a
date, as geopandas users expect); int32 variables of those names over ``(feature, t)`` in netCDF, named
by the band's ``ancillary_variables``. Without it every format is as above, unchanged.

``VectorResultsWriter`` publishes the file like the raster ``ResultsWriter``: ``job_metadata.json``,
a STAC item and ``collection.json`` last, listing the file with its media type.
"""
from __future__ import annotations

import json
import math
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from jobs.plan.formats import OUTPUT_FORMATS
from jobs.results.checksum import multihash_sha256
from jobs.results.documents import OutputFile, is_date
from jobs.results.netcdf import time_axis
from jobs.results.writer import ResultsWriter, item_name, staging_folder
from jobs.vector.cube import AggregatedCube
from jobs.vector.geojson import Geometries
from jobs.vector.zonal import COUNT_LABELS
from sparkeo import storage
from sparkeo.contracts import COLLECTION_FILE, METADATA_FILE
from sparkeo.errors import UserError

# format -> (file name, media type), from the one table of output formats
VECTOR_FORMATS = {f.name: (f"timeseries{f.extension}", f.media_type) for f in OUTPUT_FORMATS if f.vector}


def vector_result_names(format: str) -> tuple[str, ...]:
    """Every file a vector run saving in ``format`` writes (for the location check before Spark)."""
    if format not in VECTOR_FORMATS:
        raise UserError(f"save_result: a vector cube (aggregate_spatial) is saved as "
                        f"{', '.join(VECTOR_FORMATS)}, not {format}")
    name = VECTOR_FORMATS[format][0]
    return name, item_name(name), METADATA_FILE, COLLECTION_FILE


def timestamp(label: str) -> str:
    """A time label as the time-series JSON keys it: an RFC 3339 date-time for a date."""
    return f"{label[:10]}T00:00:00Z" if len(label) == 10 and is_date(label) else label


def _number(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _cells(values: np.ndarray) -> list:
    """One geometry's values at one time label (bands[, 3]) as JSON: a number or null per band, or
    ``[value, total_count, valid_count]`` per band when the table has the counts."""
    if values.ndim == 1:
        return [_number(v) for v in values]
    return [[_number(v), int(total), int(valid)] for v, total, valid in values]


def write_timeseries_json(out: TextIO, table: np.ndarray, times: tuple[str, ...] | None) -> None:
    """openEO's time-series JSON of ``table`` (geometries, t, bands[, 3]) written to ``out`` a geometry
    row at a time (the document as a whole would hold ~100 bytes of Python objects per value)."""
    def rows(t: int) -> None:
        out.write("[")
        for g in range(table.shape[0]):
            out.write((", " if g else "") + json.dumps(_cells(table[g, t])))
        out.write("]")

    if times is None:
        rows(0)
        return
    out.write("{")
    for t, label in enumerate(times):
        out.write((", " if t else "") + json.dumps(timestamp(label)) + ": ")
        rows(t)
    out.write("}")


def _plain(value: Any) -> Any:
    """A property value a table cell can hold (nested values as JSON text)."""
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def table_frame(table: np.ndarray, geoms: Geometries, times: tuple[str, ...] | None, bands: tuple[str, ...]):
    """The rows (geometry x time label) as a GeoDataFrame in the geometries' own CRS; a table with the
    counts (geometries, t, bands, 3) gives each band its ``_total_count`` and ``_valid_count`` columns."""
    import geopandas

    n_times = table.shape[1]
    rows: dict[str, list] = {"feature_index": [g for g in range(len(geoms)) for _ in range(n_times)]}
    if any(i is not None for i in geoms.ids):
        rows["id"] = [geoms.ids[g] for g in rows["feature_index"]]
    for name in geoms.property_names():
        if name not in rows:
            rows[name] = [_plain(geoms.properties[g].get(name)) for g in rows["feature_index"]]
    if times is not None:
        rows["date"] = list(times) * len(geoms)
    flat = table.reshape(-1, *table.shape[2:])
    for b, name in enumerate(bands):
        if table.ndim == 3:
            rows[name] = flat[:, b]
            continue
        rows[name] = flat[:, b, 0]
        for k, label in enumerate(COUNT_LABELS[1:], 1):
            rows[f"{name}_{label}"] = flat[:, b, k].astype(np.int64)
    shapes = geoms.shapes()
    return geopandas.GeoDataFrame(rows, geometry=[shapes[g] for g in rows["feature_index"]],
                                  crs=_crs_text(geoms.crs))


def _crs_text(crs) -> str:
    from sparkeo.geometry import crs_text

    return crs_text(crs)


def write_table(path: Path, format: str, table: np.ndarray, geoms: Geometries, times, bands) -> None:
    """Write ``table`` (geometries, t, bands[, 3]) to ``path`` in ``format`` (a VECTOR_FORMATS key)."""
    if format == "JSON":
        with open(path, "w") as out:
            write_timeseries_json(out, table, times)
    elif format == "CSV":
        frame = table_frame(table, geoms, times, bands)
        frame.assign(geometry=frame.geometry.to_wkt()).to_csv(path, index=False)
    elif format == "GeoParquet":
        table_frame(table, geoms, times, bands).to_parquet(path, index=False)
    else:
        write_dsg(path, table, geoms, times, bands)


def write_dsg(path: Path, table: np.ndarray, geoms: Geometries, times, bands) -> None:
    """The CF discrete sampling geometry (featureType timeSeries) netCDF file, with the features'
    geometries in a CF 1.8 geometry container (``jobs.vector.cf``) in their own CRS."""
    import netCDF4

    points = [g.representative_point() for g in geoms.to_crs("EPSG:4326").shapes()]
    shapes = geoms.shapes()
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.Conventions = "CF-1.8"
        nc.featureType = "timeSeries"
        nc.title = "sparkeo aggregate_spatial results"
        nc.createDimension("feature", len(geoms))
        dims: tuple[str, ...] = ("feature",)
        if times is not None:
            nc.createDimension("t", len(times))
            time_axis(nc, times)
            dims = ("feature", "t")
        fid = nc.createVariable("feature_id", str, ("feature",))
        fid.cf_role = "timeseries_id"
        wkt = nc.createVariable("geometry_wkt", str, ("feature",))
        wkt.long_name = "the feature's geometry (WKT)"
        wkt.crs_wkt = _crs_text(geoms.crs)
        for i, shape in enumerate(shapes):
            fid[i] = str(geoms.ids[i] if geoms.ids[i] is not None else i)
            wkt[i] = shape.wkt
        for name, values, unit in (("lon", [p.x for p in points], "degrees_east"),
                                   ("lat", [p.y for p in points], "degrees_north")):
            var = nc.createVariable(name, "f8", ("feature",))
            var[:] = values
            var.units, var.standard_name = unit, "longitude" if name == "lon" else "latitude"
        container = _geometry_container(nc, shapes, geoms.crs)
        coordinates = "lat lon" + (" t" if times is not None else "")
        for b, name in enumerate(bands):
            var = nc.createVariable(name, "f8", dims, fill_value=np.nan)
            var.coordinates = coordinates
            if container:
                var.geometry = container
            values = table[:, :, b] if table.ndim == 3 else table[:, :, b, 0]
            var[:] = values if times is not None else values[:, 0]
            if table.ndim == 4:
                var.ancillary_variables = _write_counts(nc, name, table[:, :, b, 1:], dims, coordinates)


def _write_counts(nc, band: str, counts: np.ndarray, dims: tuple[str, ...], coordinates: str) -> str:
    """The band's ``_total_count`` and ``_valid_count`` variables (int32 over ``dims``, never missing)
    from ``counts`` (geometries, t, 2); their names, for the band's ``ancillary_variables``."""
    names = []
    for k, label in enumerate(COUNT_LABELS[1:]):
        var = nc.createVariable(f"{band}_{label}", "i4", dims, fill_value=False)
        var.coordinates = coordinates
        if label == "valid_count":
            var.standard_name = "number_of_observations"
            var.long_name = f"pixel centres inside the feature holding a valid {band} value"
        else:
            var.long_name = "pixel centres inside the feature, valid or not"
        values = counts[:, :, k].astype(np.int32)
        var[:] = values if len(dims) == 2 else values[:, 0]
        names.append(var.name)
    return " ".join(names)


def _geometry_container(nc, shapes, crs) -> str | None:
    """Write the features' CF 1.8 geometry container (its ragged node arrays and the CRS's grid
    mapping) into ``nc``; its name, or None when the features mix geometry types (WKT only then)."""
    from jobs.vector.cf import axis_attributes, encode, grid_mapping_attributes
    from sparkeo.geometry import crs_of

    cf = encode(shapes)
    if cf is None:
        return None
    crs = crs_of(crs)
    nc.createDimension("node", len(cf.x))
    attrs = {"geometry_type": cf.geometry_type, "node_count": "node_count", "node_coordinates": "x y",
             "grid_mapping": "crs", "coordinates": "lat lon"}
    for name, values, axis in (("x", cf.x, axis_attributes(crs)[0]), ("y", cf.y, axis_attributes(crs)[1])):
        var = nc.createVariable(name, "f8", ("node",))
        var.setncatts(axis)
        var[:] = values
    nc.createVariable("node_count", "i4", ("feature",))[:] = cf.node_count
    if cf.part_node_count is not None:
        nc.createDimension("part", len(cf.part_node_count))
        nc.createVariable("part_node_count", "i4", ("part",))[:] = cf.part_node_count
        attrs["part_node_count"] = "part_node_count"
        if cf.interior_ring is not None:
            nc.createVariable("interior_ring", "i4", ("part",))[:] = cf.interior_ring
            attrs["interior_ring"] = "interior_ring"
    nc.createVariable("crs", "i4", ()).setncatts(grid_mapping_attributes(crs))
    nc.createVariable("geometry_container", "i4", ()).setncatts(attrs)
    return "geometry_container"


class VectorResultsWriter(ResultsWriter):
    """A vector cube's results: ``receive`` the table, ``convert`` writes its file, ``publish`` (the
    raster writer's) writes the metadata and STAC documents, the collection last."""

    def __init__(self, output: str, cube: AggregatedCube, format: str):
        self.output, self.meta, self.grid, self.format = output, cube.meta, cube.grid, format
        self.cube, self.times, self.bands = cube, None, cube.bands
        self.dtype, self.nodata = "float64", math.nan
        self._local = not storage.is_s3(output)
        self.staging = staging_folder(output, vector_result_names(format))
        self._media_types: dict[str, str] = {}
        self._opening: Future = Future()
        self._opening.set_result(({}, None))        # nothing staged ahead: the table comes whole
        self._table: np.ndarray | None = None

    def receive(self, table: np.ndarray) -> None:
        """The finished table (geometries, t, bands[, 3]: ``AggregatedCube.empty_table``)."""
        self._table = table

    def convert(self) -> list[OutputFile]:
        """Write the table in the requested format."""
        name, media_type = VECTOR_FORMATS[self.format]
        target = self.staging / name
        write_table(target, self.format, self._table, self.cube.geometries, self.cube.times, self.bands)
        return [OutputFile(Path(name).stem, name, None, target.stat().st_size, multihash_sha256(str(target)),
                           media_type)]

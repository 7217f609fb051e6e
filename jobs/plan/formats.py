"""The output formats ``save_result`` writes, in one table: the graph reads the accepted spellings from
it, the run which formats a raster or a vector cube is saved in, the writers the media types and the
vector file names, and the web API's ``GET /file_formats`` the titles, GIS data types and the
``save_result`` options sparkeo reads (as openEO resource parameters: a description and a JSON Schema).

Pure data (no rasterio, no Spark), in ``jobs.plan`` because the layers above it all read it: ``jobs.graph``
(save_result) and ``jobs.results`` (the writers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

RASTER, VECTOR = "raster", "vector"

# the one format option sparkeo reads (jobs.plan.cells parses it, jobs.results.tiledwriter writes the cells)
TILE_GRID = {
    "description": "Cut the output into square cells of this size in the grid's CRS units, edges on multiples "
                   "of it (as openEO's geopyspark back-end names it): one COG and STAC item per cell that holds "
                   "data. Without it, one COG per time label.",
    "type": ["string", "null"],
    "examples": ["utm-10km", "20km", "5000m"],
    "default": None,
}


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its openEO name, what it holds, how its files are typed and named."""

    name: str
    title: str
    gis_data_types: tuple[str, ...]
    media_type: str
    extension: str                                  # of the data files, with the dot
    spellings: tuple[str, ...] = ()                 # other names save_result accepts, lower case
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def raster(self) -> bool:
        return RASTER in self.gis_data_types

    @property
    def vector(self) -> bool:
        return VECTOR in self.gis_data_types

    def to_json(self) -> dict:
        """The format as ``GET /file_formats`` lists it."""
        return {"title": self.title, "gis_data_types": list(self.gis_data_types),
                "parameters": {name: dict(schema) for name, schema in self.parameters.items()}}


OUTPUT_FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("GTiff", "Cloud-Optimized GeoTIFF (one per time label, or per tile_grid cell)", (RASTER,),
                 "image/tiff; application=geotiff; profile=cloud-optimized", ".tif", ("geotiff", "tiff"),
                 {"tile_grid": TILE_GRID}),
    OutputFormat("netCDF", "netCDF (CF 1.8): a raster cube, or a vector cube as a timeSeries discrete sampling "
                           "geometry", (RASTER, VECTOR), "application/x-netcdf", ".nc", ("nc",)),
    OutputFormat("JSON", "openEO time-series JSON ({date: [[band values] per geometry]})", (VECTOR,),
                 "application/json", ".json"),
    OutputFormat("CSV", "CSV, one row per geometry and date (geometry as WKT)", (VECTOR,), "text/csv", ".csv"),
    OutputFormat("GeoParquet", "GeoParquet, one row per geometry and date", (VECTOR,),
                 "application/vnd.apache.parquet", ".parquet", ("parquet",)),
)

#: the formats a raster cube (respectively a vector cube, from aggregate_spatial) is saved in
RASTER_FORMATS = tuple(f.name for f in OUTPUT_FORMATS if f.raster)
VECTOR_FORMAT_NAMES = tuple(f.name for f in OUTPUT_FORMATS if f.vector)
#: every accepted spelling, lower case -> the format's name
SPELLINGS = {s: f.name for f in OUTPUT_FORMATS for s in (f.name.lower(), *f.spellings)}
#: name -> format
BY_NAME = {f.name: f for f in OUTPUT_FORMATS}

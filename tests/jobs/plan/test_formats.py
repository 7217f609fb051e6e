"""The one table of output formats (``jobs.plan.formats``): what save_result accepts, what the writers
name and type, what ``GET /file_formats`` lists."""
from __future__ import annotations

import pytest

from jobs.errors import ProcessError
from jobs.graph.evaluate import normalise_format
from jobs.plan.formats import OUTPUT_FORMATS, RASTER_FORMATS, VECTOR_FORMAT_NAMES
from jobs.results.documents import COG_MEDIA_TYPE
from jobs.results.netcdf import NETCDF_MEDIA_TYPE
from jobs.results.vector import VECTOR_FORMATS, vector_result_names
from sparkeo.api.documents import file_formats


@pytest.mark.parametrize("spelling, name", [("GTiff", "GTiff"), ("geotiff", "GTiff"), ("TIFF", "GTiff"),
                                            ("netcdf", "netCDF"), ("nc", "netCDF"), ("json", "JSON"),
                                            ("CSV", "CSV"), ("parquet", "GeoParquet"), ("GeoParquet", "GeoParquet")])
def test_save_result_accepts_each_spelling(spelling, name):
    assert normalise_format(spelling, "save") == name


def test_an_unknown_format_names_the_ones_there_are():
    with pytest.raises(ProcessError) as err:
        normalise_format("PNG", "save")
    assert "GTiff or netCDF" in str(err.value) and "GeoParquet" in str(err.value)


def test_raster_and_vector_cubes_save_in_the_formats_the_writers_write():
    assert RASTER_FORMATS == ("GTiff", "netCDF")
    assert set(VECTOR_FORMATS) == set(VECTOR_FORMAT_NAMES) == {"JSON", "CSV", "GeoParquet", "netCDF"}
    assert VECTOR_FORMATS["GeoParquet"] == ("timeseries.parquet", "application/vnd.apache.parquet")
    assert VECTOR_FORMATS["netCDF"] == ("timeseries.nc", "application/x-netcdf") == ("timeseries.nc", NETCDF_MEDIA_TYPE)
    assert COG_MEDIA_TYPE == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert vector_result_names("CSV")[0] == "timeseries.csv"


def test_the_file_formats_document_lists_every_format_with_its_data_types_and_options():
    doc = file_formats(OUTPUT_FORMATS)
    assert doc["input"] == {}
    output = doc["output"]
    assert {name: f["gis_data_types"] for name, f in output.items()} == {
        "GTiff": ["raster"], "netCDF": ["raster", "vector"], "JSON": ["vector"], "CSV": ["vector"],
        "GeoParquet": ["vector"]}
    tile_grid = output["GTiff"]["parameters"]["tile_grid"]
    assert tile_grid["description"] and tile_grid["default"] is None and "string" in tile_grid["type"]
    assert all(f["parameters"] == {} for name, f in output.items() if name != "GTiff")

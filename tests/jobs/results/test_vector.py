"""Vector netCDF results read back with xarray and cf_xarray: the CF 1.8 geometry container gives
the input geometries (polygons with holes, multipolygons) in their CRS, beside the timeSeries
layout of the values; with aggregate_spatial's target dimension, every format (JSON, CSV, GeoParquet,
netCDF) read back carries each band's total and valid pixel counts."""
from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from jobs.results.vector import write_dsg
from jobs.vector.geojson import Geometries

HOLED = Polygon([(500000, 5100000), (500000, 5100400), (500400, 5100400), (500400, 5100000)],
                [[(500100, 5100100), (500200, 5100100), (500200, 5100200), (500100, 5100200)]])
SHAPES = [box(500500, 5100500, 500530, 5100520), HOLED,
          MultiPolygon([HOLED, box(501000, 5101000, 501100, 5101050)]).union(box(502000, 5100000, 502100, 5100100))]
TIMES = ("2021-06-01", "2021-06-11")
BANDS = ("B04", "B08")


def table(count: int) -> np.ndarray:
    values = np.arange(count * len(TIMES) * len(BANDS), dtype=np.float64).reshape(count, len(TIMES), len(BANDS))
    values[0, 1, 0] = np.nan
    return values


def write(tmp_path, shapes, crs="EPSG:32633"):
    geoms = Geometries(tuple(s.wkb for s in shapes), tuple(f"f{i}" for i in range(len(shapes))),
                       ({},) * len(shapes), crs)
    path = tmp_path / "timeseries.nc"
    write_dsg(path, table(len(shapes)), geoms, TIMES, BANDS)
    return path


def test_cf_xarray_reads_the_geometries_as_given(tmp_path):
    cf_xarray = pytest.importorskip("cf_xarray")
    import cf_xarray.geometry  # noqa: F401
    import xarray

    with xarray.open_dataset(write(tmp_path, SHAPES)) as ds:
        ds = ds.load()
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["featureType"] == "timeSeries"
    container = ds["geometry_container"].attrs
    assert container["geometry_type"] == "polygon" and container["grid_mapping"] == "crs"
    assert {"node_count", "part_node_count", "interior_ring"} <= set(container)
    assert ds["B04"].attrs["geometry"] == "geometry_container" and ds["B04"].dims == ("feature", "t")
    geoms = cf_xarray.geometry.cf_to_shapely(ds).values
    assert len(geoms) == len(SHAPES)
    for got, want in zip(geoms, SHAPES):
        assert got.geom_type == want.geom_type and shapely.equals(got, want), (got.wkt, want.wkt)
    assert "32633" in ds["crs"].attrs["crs_wkt"] or "UTM zone 33N" in ds["crs"].attrs["crs_wkt"]
    np.testing.assert_array_equal(np.stack([ds[b].values for b in BANDS], axis=-1), table(len(SHAPES)))


def test_mixed_geometry_types_keep_their_wkt_without_a_container(tmp_path):
    import netCDF4

    shapes = [box(500500, 5100500, 500530, 5100520), Point(500010, 5100010)]
    with netCDF4.Dataset(write(tmp_path, shapes)) as nc:
        assert "geometry_container" not in nc.variables and "geometry" not in nc["B04"].ncattrs()
        assert [shapely.from_wkt(w).equals(s) for w, s in zip(nc["geometry_wkt"][:], shapes)] == [True, True]


@pytest.mark.parametrize("times", [TIMES, None], ids=["time series", "time reduced"])
def test_the_time_series_json_is_written_row_by_row_as_the_openeo_document(tmp_path, times):
    import io
    import json

    from jobs.results.vector import write_timeseries_json

    values = table(3)[:, :len(times or (0,))]
    out = io.StringIO()
    write_timeseries_json(out, values, times)
    rows = [[[None if np.isnan(v) else v for v in values[g, t]] for g in range(3)] for t in range(values.shape[1])]
    expect = {f"{d}T00:00:00Z": r for d, r in zip(times, rows)} if times else rows[0]
    assert json.loads(out.getvalue()) == expect


def counted(count: int) -> np.ndarray:
    """A table with aggregate_spatial's target dimension: (geometries, t, bands, value/total/valid)."""
    values = table(count)
    total = np.broadcast_to(np.arange(count, dtype=np.float64)[:, None, None] * 10 + 7, values.shape)
    valid = total - np.arange(values.size).reshape(values.shape) % 5
    return np.stack([values, total, valid], axis=-1)


def geometries(shapes, crs="EPSG:32633") -> Geometries:
    return Geometries(tuple(s.wkb for s in shapes), tuple(f"f{i}" for i in range(len(shapes))),
                      tuple({"name": f"field {i}"} for i in range(len(shapes))), crs)


@pytest.mark.parametrize("times", [TIMES, None], ids=["time series", "time reduced"])
def test_the_json_gives_value_total_and_valid_count_per_band_with_a_target_dimension(tmp_path, times):
    import json

    from jobs.results.vector import write_table

    values = counted(3)[:, :len(times or (0,))]
    path = tmp_path / "timeseries.json"
    write_table(path, "JSON", values, geometries(SHAPES), times, BANDS)
    rows = [[[[None if np.isnan(v) else v, int(total), int(valid)] for v, total, valid in values[g, t]]
             for g in range(3)] for t in range(values.shape[1])]
    expect = {f"{d}T00:00:00Z": r for d, r in zip(times, rows)} if times else rows[0]
    got = json.loads(path.read_text())
    assert got == expect
    assert all(isinstance(c, int) for row in (got[next(iter(got))] if times else got) for band in row for c in band[1:])


@pytest.mark.parametrize("format", ["CSV", "GeoParquet"])
def test_tables_get_total_and_valid_count_columns_after_each_band(tmp_path, format):
    import geopandas
    import pandas

    from jobs.results.vector import write_table

    values = counted(len(SHAPES))
    path = tmp_path / ("timeseries.csv" if format == "CSV" else "timeseries.parquet")
    write_table(path, format, values, geometries(SHAPES), TIMES, BANDS)
    frame = pandas.read_csv(path) if format == "CSV" else geopandas.read_parquet(path)
    assert list(frame.columns) == ["feature_index", "id", "name", "date", "B04", "B04_total_count", "B04_valid_count",
                                   "B08", "B08_total_count", "B08_valid_count", "geometry"]
    assert len(frame) == len(SHAPES) * len(TIMES)               # still a row per geometry and date
    for b, band in enumerate(BANDS):
        for k, column in enumerate((band, f"{band}_total_count", f"{band}_valid_count")):
            expect = values[:, :, b, k].ravel()
            np.testing.assert_array_equal(frame[column].to_numpy(dtype=np.float64), expect, err_msg=column)
            if k:
                assert frame[column].dtype == np.int64, column
    if format == "GeoParquet":
        assert frame.crs.to_epsg() == 32633
        assert all(g.equals(s) for g, s in zip(frame.geometry.iloc[::len(TIMES)], SHAPES))


@pytest.mark.parametrize("times", [TIMES, None], ids=["time series", "time reduced"])
def test_netcdf_gets_count_variables_named_as_the_bands_ancillaries(tmp_path, times):
    import xarray

    values = counted(len(SHAPES))[:, :len(times or (0,))]
    path = tmp_path / "timeseries.nc"
    write_dsg(path, values, geometries(SHAPES), times, BANDS)
    with xarray.open_dataset(path) as ds:
        ds = ds.load()
    dims = ("feature", "t") if times else ("feature",)
    for b, band in enumerate(BANDS):
        assert ds[band].attrs["ancillary_variables"] == f"{band}_total_count {band}_valid_count"
        for k, name in enumerate((band, f"{band}_total_count", f"{band}_valid_count")):
            assert ds[name].dims == dims, name
            expect = values[:, :, b, k] if times else values[:, 0, b, k]
            np.testing.assert_array_equal(ds[name].values, expect, err_msg=name)
        assert ds[f"{band}_valid_count"].dtype == np.int32
        assert ds[f"{band}_valid_count"].attrs["standard_name"] == "number_of_observations"


def test_without_the_counts_no_count_columns_or_variables_are_written(tmp_path):
    import netCDF4
    import pandas

    from jobs.results.vector import write_table

    write_table(tmp_path / "t.csv", "CSV", table(len(SHAPES)), geometries(SHAPES), TIMES, BANDS)
    assert list(pandas.read_csv(tmp_path / "t.csv").columns) == ["feature_index", "id", "name", "date", "B04", "B08",
                                                                "geometry"]
    with netCDF4.Dataset(write(tmp_path, SHAPES)) as nc:
        assert not [v for v in nc.variables if v.endswith(("_total_count", "_valid_count"))]
        assert "ancillary_variables" not in nc["B04"].ncattrs()

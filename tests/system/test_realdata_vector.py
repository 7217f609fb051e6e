"""aggregate_spatial and mask_polygon on real Sentinel-2 L1C (5 dates) run on Spark, against rasterio's
geometry_mask (centre rule, all_touched=False) and numpy on the same GeoTIFFs; every result format
read back with its own reader (json, pandas, geopandas, netCDF4)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import geometry_mask
from shapely.geometry import box, mapping

from jobs.run import run_job
from sparkeo import geometry
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.stac_schemas import assert_valid_stac
from tests.system.test_realdata import call, ref, stack_files

BANDS = ("B04", "B08")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=32)


@pytest.fixture(scope="module")
def scene(realdata_stac_dir):
    """(transform, crs, shape, values (t, bands, y, x) float64) of the five L1C dates, read directly."""
    files = stack_files(Path(realdata_stac_dir), "eolearn-s2-l1c")
    stack = []
    for path, _ in files:
        with rasterio.open(path) as ds:
            index = {name: i + 1 for i, name in enumerate(ds.descriptions)}
            stack.append(np.stack([ds.read(index[b]).astype(np.float64) for b in BANDS]))
            transform, crs, shape = ds.transform, ds.crs, ds.shape
    return transform, crs, shape, np.stack(stack)


def pixel_box(transform, c0, r0, c1, r1):
    """A box given in pixel columns/rows, in the scene's CRS."""
    x0, y0 = transform * (c0, r0)
    x1, y1 = transform * (c1, r1)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def cases(transform) -> dict:
    ring = pixel_box(transform, 40.3, 40.4, 90.2, 90.6)
    return {
        "inside one tile": pixel_box(transform, 2.2, 3.4, 9.7, 8.1),
        "spanning 4+ tiles": pixel_box(transform, 10.4, 12.2, 80.6, 75.3),
        "overlapping": pixel_box(transform, 60.2, 50.1, 99.4, 70.8),
        "touching the edge": pixel_box(transform, 90.0, 0.0, 100.0, 20.0),
        "multipolygon with a hole": ring.difference(pixel_box(transform, 55.1, 55.3, 70.2, 75.8))
                                        .union(pixel_box(transform, 0.6, 85.2, 20.3, 99.9)),
        "sub-pixel": pixel_box(transform, 30.1, 30.2, 30.3, 30.4),
        "outside": pixel_box(transform, 200, 200, 210, 220),
        # its top pixel is in a tile right of others it covers: merged tile by tile, not row-major
        "diagonal": shapely.Polygon([transform * (45.3, 1.2), transform * (3.1, 30.7), transform * (60.2, 28.9)]),
    }


def features(transform, crs, to="EPSG:4326") -> tuple[dict, list]:
    """The cases as a FeatureCollection in ``to`` (not the raster's CRS), and the polygons moved back
    into the raster's CRS as sparkeo sees them."""
    there, back = geometry.transformer(crs.to_string(), to), geometry.transformer(to, crs.to_string())
    out, local = [], []
    for i, (name, g) in enumerate(cases(transform).items()):
        moved = shapely.transform(g, lambda x, y: there.transform(x, y), interleaved=False)
        local.append(shapely.transform(moved, lambda x, y: back.transform(x, y), interleaved=False))
        out.append({"type": "Feature", "id": f"field-{i}", "properties": {"name": name, "crop": i % 3},
                    "geometry": mapping(moved)})
    return {"type": "FeatureCollection", "features": out}, local


def expected(scene, local, reducer) -> np.ndarray:
    transform, _, shape, values = scene
    out = []
    for g in local:
        inside = geometry_mask([g], out_shape=shape, transform=transform, invert=True, all_touched=False)
        px = values[:, :, inside]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(reducer(px) if px.shape[-1] else np.full(values.shape[:2], np.nan))
    return np.stack(out)


def aggregate_graph(collection: dict, reducer: str, fmt: str) -> dict:
    return {"process_graph": {
        "load": call("load_collection", id="eolearn-s2-l1c", bands=list(BANDS)),
        "agg": call("aggregate_spatial", data=ref("load"), geometries=collection,
                    reducer={"process_graph": {"r": {**call(reducer, data={"from_parameter": "data"}),
                                                     "result": True}}}),
        "save": {**call("save_result", data=ref("agg"), format=fmt), "result": True}}}


def from_json(doc: dict) -> np.ndarray:
    """(geometries, t, bands) out of the openEO time-series JSON."""
    dates = sorted(doc)
    return np.array([[[np.nan if v is None else v for v in doc[d][g]] for d in dates]
                     for g in range(len(doc[dates[0]]))], dtype=np.float64)


@pytest.mark.parametrize("reducer, numpy_fn", [
    ("mean", lambda p: np.nanmean(p, axis=-1)),
    ("median", lambda p: np.nanmedian(p, axis=-1)),
])
def test_aggregate_spatial_on_real_data_equals_geometry_mask_and_numpy_whatever_the_tile_size(
        spark, settings, realdata_catalog, scene, tmp_path, reducer, numpy_fn):
    collection, local = features(scene[0], scene[1])
    expect = expected(scene, local, numpy_fn)
    names = list(cases(scene[0]))
    assert np.isnan(expect[names.index("outside")]).all() and np.isnan(expect[names.index("sub-pixel")]).all()
    results = []
    for tile_size in (16, 48):
        out = tmp_path / f"{reducer}-{tile_size}"
        run_job(json.dumps(aggregate_graph(collection, reducer, "JSON")), str(out), f"agg-{tile_size}",
                realdata_catalog, {"tile_size": tile_size}, settings, Caller(), spark=spark)
        results.append(from_json(json.loads((out / "timeseries.json").read_text())))
    np.testing.assert_allclose(results[0], expect, rtol=1e-9, equal_nan=True)
    # the same pixels: only the order of the partial sums differs (float64 rounding)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-13, equal_nan=True)


def test_every_format_keeps_geometries_and_properties_and_is_listed_in_the_results_stac(
        spark, settings, realdata_catalog, realdata_stac_dir, scene, tmp_path):
    import geopandas
    import netCDF4
    import pandas

    collection, local = features(scene[0], scene[1], "EPSG:3857")
    collection["crs"] = {"type": "name", "properties": {"name": "EPSG:3857"}}
    expect = expected(scene, local, lambda p: np.nanstd(p, axis=-1, ddof=1))
    dates = sorted(item["properties"]["datetime"][:10] for _, item in stack_files(Path(realdata_stac_dir),
                                                                               "eolearn-s2-l1c"))
    media = {"CSV": "text/csv", "GeoParquet": "application/vnd.apache.parquet", "netCDF": "application/x-netcdf"}
    for fmt, name in (("CSV", "timeseries.csv"), ("GeoParquet", "timeseries.parquet"), ("netCDF", "timeseries.nc")):
        out = tmp_path / fmt
        run_job(json.dumps(aggregate_graph(collection, "sd", fmt)), str(out), f"sd-{fmt.lower()}",
                realdata_catalog, None, settings, Caller(), spark=spark)
        doc = json.loads((out / "collection.json").read_text())
        assert_valid_stac(doc, fmt)
        assert doc["assets"]["timeseries"]["type"] == media[fmt] and doc["assets"]["timeseries"]["href"] == f"./{name}"
        assert_valid_stac(json.loads((out / "timeseries.json").read_text()), f"{fmt} item")
        if fmt == "netCDF":
            with netCDF4.Dataset(out / name) as nc:
                assert nc.featureType == "timeSeries" and nc["feature_id"].cf_role == "timeseries_id"
                assert list(nc["feature_id"][:]) == [f"field-{i}" for i in range(len(local))]
                got = np.stack([nc[b][:].filled(np.nan) for b in BANDS], axis=-1)
            np.testing.assert_allclose(got[:, :len(dates)], expect, rtol=1e-9, equal_nan=True)
            continue
        frame = pandas.read_csv(out / name) if fmt == "CSV" else geopandas.read_parquet(out / name)
        assert len(frame) == len(local) * len(dates)
        assert list(frame["id"][::len(dates)]) == [f"field-{i}" for i in range(len(local))]
        assert list(frame["name"][::len(dates)]) == list(cases(scene[0]))
        assert list(frame["date"][:len(dates)]) == dates
        got = frame[list(BANDS)].to_numpy().reshape(len(local), len(dates), len(BANDS))
        np.testing.assert_allclose(got, expect, rtol=1e-9, equal_nan=True)
        if fmt == "GeoParquet":          # the geometries as given, in their declared CRS
            assert frame.crs.to_epsg() == 3857
            assert frame.geometry.iloc[0].equals_exact(shapely.geometry.shape(collection["features"][0]["geometry"]), 1e-6)


def test_mask_polygon_inside_and_outside_with_a_replacement(spark, settings, realdata_catalog, scene, tmp_path):
    collection, local = features(scene[0], scene[1])
    transform, _, shape, values = scene
    union = shapely.union_all([local[1], local[4]])
    mask = {"type": "FeatureCollection", "features": [collection["features"][1], collection["features"][4]]}
    inside = geometry_mask([union], out_shape=shape, transform=transform, invert=True)
    for inside_flag, replacement in ((False, None), (True, -1)):
        graph = {"process_graph": {
            "load": call("load_collection", id="eolearn-s2-l1c", bands=["B04"],
                         temporal_extent=["2015-07-11", "2015-07-12"]),
            "masked": call("mask_polygon", data=ref("load"), mask=mask, inside=inside_flag, replacement=replacement),
            "save": {**call("save_result", data=ref("masked"), format="GTiff"), "result": True}}}
        out = tmp_path / f"mask-{inside_flag}"
        run_job(json.dumps(graph), str(out), "mask", realdata_catalog, None, settings, Caller(), spark=spark)
        with rasterio.open(next(out.glob("*.tif"))) as ds:
            got = ds.read(1).astype(np.float64)
        keep = ~inside if inside_flag else inside
        fill = np.nan if replacement is None else replacement
        expect = np.where(keep, values[0, 0], fill)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
        np.testing.assert_array_equal(got[~np.isnan(got)], expect[~np.isnan(expect)])


def test_the_openeo_clients_aggregate_spatial_mean_graph_runs_unchanged(spark, settings, realdata_catalog, scene,
                                                                       tmp_path):
    import openeo
    from openeo.rest.conversions import timeseries_json_to_pandas

    collection, local = features(scene[0], scene[1])
    cube = openeo.DataCube.load_collection("eolearn-s2-l1c", bands=list(BANDS), connection=None)
    graph = cube.aggregate_spatial(geometries=collection, reducer="mean").save_result(format="JSON").to_json()
    run_job(graph, str(tmp_path / "client"), "client-agg", realdata_catalog, None, settings, Caller(), spark=spark)
    doc = json.loads((tmp_path / "client" / "timeseries.json").read_text())
    np.testing.assert_allclose(from_json(doc), expected(scene, local, lambda p: np.nanmean(p, axis=-1)),
                               rtol=1e-9, equal_nan=True)
    frame = timeseries_json_to_pandas(doc)          # the client reads it back: dates x (polygon, band)
    assert frame.shape == (len(doc), len(local) * len(BANDS))


def test_sparkeo_validate_names_an_invalid_feature_in_one_line_and_exits_2(realdata_catalog, scene, tmp_path):
    import subprocess
    import sys

    collection, _ = features(scene[0], scene[1])
    bowtie = {"type": "Polygon", "coordinates": [[[14.5, 46.0], [14.6, 46.1], [14.6, 46.0], [14.5, 46.1], [14.5, 46.0]]]}
    collection["features"][2]["geometry"] = bowtie
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps(aggregate_graph(collection, "mean", "CSV")))
    cli = [sys.executable, "-m", "sparkeo.cli.main", "validate", str(graph), "--catalog", realdata_catalog]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "node 'agg'" in lines[0] and "feature 2 (id 'field-2')" in lines[0], lines
    assert "Self-intersection" in lines[0]
    # a raster format for a vector cube is refused before Spark as well
    graph.write_text(json.dumps(aggregate_graph(features(scene[0], scene[1])[0], "mean", "GTiff")))
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "vector cube" in done.stderr, done.stderr
    graph.write_text(json.dumps(aggregate_graph(features(scene[0], scene[1])[0], "median", "GeoParquet")))
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_polygons_all_outside_the_data_give_nodata_not_an_error(spark, settings, realdata_catalog, scene, tmp_path):
    transform, crs = scene[0], scene[1]
    far = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": crs.to_string()}},
           "features": [{"type": "Feature", "properties": {}, "geometry": mapping(pixel_box(transform, *b))}
                        for b in ((300, 300, 320, 330), (-50, -50, -10, -10))]}
    run_job(json.dumps(aggregate_graph(far, "median", "JSON")), str(tmp_path / "far"), "far", realdata_catalog, None,
            settings, Caller(), spark=spark)
    table = from_json(json.loads((tmp_path / "far" / "timeseries.json").read_text()))
    assert table.shape == (2, 5, 2) and np.isnan(table).all()

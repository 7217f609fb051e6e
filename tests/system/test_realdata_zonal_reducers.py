"""Every aggregate_spatial reducer on real Sentinel-2 L1C (5 dates, 2 bands) run on Spark, against
rasterio's geometry_mask (centre rule, all_touched=False) and numpy on the same GeoTIFFs, over the
polygons of ``test_realdata_vector.cases`` (inside one tile, spanning 4+ tiles, overlapping, touching
the edge, a multipolygon with a hole, a diagonal triangle, sub-pixel, outside) given in EPSG:4326, not
the raster's CRS;
and ``load_geojson`` feeding aggregate_spatial. The L1C GeoTIFFs have no nodata, so the reducers run
on them with every value divisible by 5 made nodata first (``apply``, a fifth of the pixels scattered
over every polygon): reducers must ignore nodata (count, first/last skip it).

A graph has one result and only its dependencies run (``jobs.graph.evaluate``), so each reducer is one
job over all the polygons at once."""
from __future__ import annotations

import json

import numpy as np
import pytest

from jobs.errors import ProcessGraphError
from jobs.results.vector import VECTOR_FORMATS
from jobs.run import run_job
from sparkeo.identity import Caller
from tests.fixtures.cubes import callback
from tests.system.test_realdata import call, ref
from tests.system.test_realdata_vector import (BANDS, cases, expected, features, from_json, scene,  # noqa: F401
                                               settings)                           # (scene, settings: fixtures)

DATA = {"from_parameter": "data"}
# apply's callback: nodata where x % 5 == 0
SCATTERED_NODATA = callback(("m", "mod", {"x": {"from_parameter": "x"}, "y": 5}),
                            ("k", "neq", {"x": {"from_node": "m"}, "y": 0}),
                            ("v", "if", {"value": {"from_node": "k"}, "accept": {"from_parameter": "x"}}))
# tiles of 16 px: the "spanning" polygon covers 5 x 5 tiles, so its pixels come from many map tasks
JOB_OPTIONS = {"tile_size": 16}


def nth_valid(px: np.ndarray, last: bool) -> np.ndarray:
    """The first (last) valid pixel value of each (t, band) of ``px`` (t, bands, pixels), in the
    pixels' row-major order on the raster: the order sparkeo documents (``zonal.Pixels.ordered``)."""
    valid = ~np.isnan(px)
    pick = px.shape[-1] - 1 - np.argmax(valid[..., ::-1], axis=-1) if last else np.argmax(valid, axis=-1)
    out = np.take_along_axis(px, pick[..., None], axis=-1)[..., 0]
    return np.where(valid.any(axis=-1), out, np.nan)


def spread() -> dict:
    """(max - min) / mean of the pixels: a composed callback (no partial sums: the pixels themselves)."""
    return callback(("mx", "max", {"data": DATA}), ("mn", "min", {"data": DATA}), ("m", "mean", {"data": DATA}),
                    ("d", "subtract", {"x": {"from_node": "mx"}, "y": {"from_node": "mn"}}),
                    ("r", "divide", {"x": {"from_node": "d"}, "y": {"from_node": "m"}}))


def single(name: str, **arguments) -> dict:
    return callback(("r", name, {"data": DATA, **arguments}))


# name -> (reducer callback, numpy reference over (t, bands, pixels) float64, rtol). Moments reducers
# sum in float64; pixel reducers work on float32 pixels (uint16 exactly), interpolating in float32.
REDUCERS = {
    "mean": (single("mean"), lambda p: np.nanmean(p, axis=-1), 1e-9),
    "median": (single("median"), lambda p: np.nanmedian(p, axis=-1), 1e-9),
    "min": (single("min"), lambda p: np.nanmin(p, axis=-1), 0),
    "max": (single("max"), lambda p: np.nanmax(p, axis=-1), 0),
    "sum": (single("sum"), lambda p: np.where(np.isnan(p).all(-1), np.nan, np.nansum(p, axis=-1)), 1e-9),
    "count": (single("count"), lambda p: (~np.isnan(p)).sum(axis=-1).astype(np.float64), 0),
    "sd": (single("sd"), lambda p: np.nanstd(p, axis=-1, ddof=1), 1e-9),
    "variance": (single("variance"), lambda p: np.nanvar(p, axis=-1, ddof=1), 1e-9),
    "quantiles": (single("quantiles", probabilities=[0.25]), lambda p: np.nanquantile(p, 0.25, axis=-1), 1e-6),
    "first": (single("first"), lambda p: nth_valid(p, last=False), 0),
    "last": (single("last"), lambda p: nth_valid(p, last=True), 0),
    "(max - min) / mean": (spread(),
                           lambda p: (np.nanmax(p, -1) - np.nanmin(p, -1)) / np.nanmean(p, -1), 1e-5),
}


@pytest.fixture(scope="module")
def holed(scene):
    """``scene`` with SCATTERED_NODATA's nodata (NaN)."""
    *grid, values = scene
    return (*grid, np.where(values % 5 != 0, values, np.nan))


def graph(geometries: dict | None, reducer: dict, fmt: str, *, load_geojson: dict | None = None,
          nodata: bool = False) -> dict:
    """load_collection (-> apply(SCATTERED_NODATA) with ``nodata``) -> aggregate_spatial(geometries,
    reducer) -> save_result(fmt); with ``load_geojson`` (its arguments) the geometries come from a
    load_geojson node instead."""
    nodes = {"load": call("load_collection", id="eolearn-s2-l1c", bands=list(BANDS))}
    cube = "load"
    if nodata:
        nodes["holed"], cube = call("apply", data=ref("load"), process=SCATTERED_NODATA), "holed"
    if load_geojson is not None:
        nodes["geoms"] = call("load_geojson", **load_geojson)
        geometries = ref("geoms")
    nodes["agg"] = call("aggregate_spatial", data=ref(cube), geometries=geometries, reducer=reducer)
    nodes["save"] = {**call("save_result", data=ref("agg"), format=fmt), "result": True}
    return {"process_graph": nodes}


def run(spark, tmp_path, name: str, doc: dict, catalog: str, settings):
    """Run ``doc`` as job ``name`` on Spark; returns its results folder."""
    out = tmp_path / name
    run_job(json.dumps(doc), str(out), name, catalog, JOB_OPTIONS, settings, Caller(), spark=spark)
    return out


@pytest.mark.parametrize("name", list(REDUCERS))
def test_every_reducer_over_every_kind_of_polygon_equals_geometry_mask_and_numpy(
        spark, settings, realdata_catalog, scene, holed, tmp_path, name):
    reducer, numpy_fn, rtol = REDUCERS[name]
    collection, local = features(scene[0], scene[1])
    expect = expected(holed, local, numpy_fn)                   # (geometries, t, bands)
    names = list(cases(scene[0]))
    has_pixels = [i for i, n in enumerate(names) if n not in ("sub-pixel", "outside")]
    assert np.isfinite(expect[has_pixels]).all() and expect.shape == (len(names), 5, len(BANDS))
    out = run(spark, tmp_path, f"zonal-{list(REDUCERS).index(name)}",
              graph(collection, reducer, "JSON", nodata=True), realdata_catalog, settings)
    got = from_json(json.loads((out / "timeseries.json").read_text()))
    np.testing.assert_allclose(got, expect, rtol=rtol, atol=0, equal_nan=True, err_msg=name)


def test_the_reference_tells_first_from_last_and_from_min_on_these_polygons(scene, holed):
    """Else a wrong pixel order (or first and last swapped) could pass the test above."""
    _, local = features(scene[0], scene[1])
    has_pixels = [i for i, n in enumerate(cases(scene[0])) if n not in ("sub-pixel", "outside")]
    first, last, lo = (expected(holed, local, fn)[has_pixels] for fn in (
        lambda p: nth_valid(p, last=False), lambda p: nth_valid(p, last=True), lambda p: np.nanmin(p, axis=-1)))
    assert (first != last).mean() > 0.5 and (first != lo).mean() > 0.5


def test_quantiles_with_several_probabilities_are_refused_before_spark_naming_the_reducer(
        settings, realdata_catalog, scene, tmp_path):
    collection, _ = features(scene[0], scene[1])
    doc = graph(collection, single("quantiles", probabilities=[0.25, 0.5, 0.75]), "JSON")
    with pytest.raises(ProcessGraphError) as info:
        run_job(json.dumps(doc), str(tmp_path / "q3"), "q3", realdata_catalog, None, settings, Caller())
    message = str(info.value)
    assert "'agg'" in message and "reducer" in message and "returns 3 values" in message, message
    assert not (tmp_path / "q3" / "timeseries.json").exists()


def test_load_geojson_feeds_aggregate_spatial_like_inline_geojson_keeping_the_asked_properties(
        spark, settings, realdata_catalog, scene, tmp_path):
    import geopandas
    import pandas

    collection, local = features(scene[0], scene[1])
    path = tmp_path / "fields.geojson"
    path.write_text(json.dumps(collection))
    mean = REDUCERS["mean"]

    def table(name: str, fmt: str, read, **load_geojson):
        doc = graph(None if load_geojson else collection, mean[0], fmt, load_geojson=load_geojson or None)
        return read(run(spark, tmp_path, name, doc, realdata_catalog, settings) / VECTOR_FORMATS[fmt][0])

    inline = table("inline", "CSV", pandas.read_csv)
    loaded = {"CSV": table("geojson-csv", "CSV", pandas.read_csv, data=collection, properties=["name"]),
              # from a path this time, every property kept (properties left out: all of them)
              "GeoParquet": table("geojson-parquet", "GeoParquet", geopandas.read_parquet, data=str(path))}
    expect = expected(scene, local, mean[1]).reshape(-1, len(BANDS))
    np.testing.assert_allclose(inline[list(BANDS)].to_numpy(), expect, rtol=1e-9, equal_nan=True)
    assert {"name", "crop"} <= set(inline.columns)
    for fmt, frame in loaded.items():
        # the same values (CSV's decimal text may round the last binary digit: hence no exact equality)
        np.testing.assert_allclose(frame[list(BANDS)].to_numpy(), inline[list(BANDS)].to_numpy(), rtol=1e-15,
                                   equal_nan=True, err_msg=fmt)
        for column in ("feature_index", "id", "date", "name"):
            assert list(frame[column]) == list(inline[column]), (fmt, column)
    assert "crop" not in loaded["CSV"].columns                        # only the properties asked for
    assert list(loaded["GeoParquet"]["crop"]) == list(inline["crop"])
    assert loaded["GeoParquet"].crs.to_epsg() == 4326


def test_target_dimension_counts_on_real_data_with_nodata_equal_geometry_mask(
        spark, settings, realdata_catalog, scene, holed, tmp_path):
    """target_dimension (2.0.0-rc.2): each band's value with the pixel centres inside the polygon
    (total_count) and those not nodata (valid_count), through Spark into CSV columns."""
    import pandas

    collection, local = features(scene[0], scene[1])
    doc = graph(collection, single("median"), "CSV", nodata=True)
    doc["process_graph"]["agg"]["arguments"]["target_dimension"] = "stats"
    frame = pandas.read_csv(run(spark, tmp_path, "zonal-stats", doc, realdata_catalog, settings) / "timeseries.csv")
    count = len(BANDS)
    got = {column: frame[[f"{b}{column}" for b in BANDS]].to_numpy().reshape(len(local), -1, count)
           for column in ("", "_total_count", "_valid_count")}
    total = expected(holed, local, lambda p: np.full(p.shape[:2], float(p.shape[-1])))
    valid = expected(holed, local, lambda p: (~np.isnan(p)).sum(axis=-1).astype(np.float64))
    np.testing.assert_array_equal(got["_total_count"], np.nan_to_num(total))      # 0 where no centre is inside
    np.testing.assert_array_equal(got["_valid_count"], np.nan_to_num(valid))
    assert (got["_valid_count"] < got["_total_count"]).any()                    # the nodata is seen
    np.testing.assert_allclose(got[""], expected(holed, local, REDUCERS["median"][1]), rtol=1e-9, equal_nan=True)

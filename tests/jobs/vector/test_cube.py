"""aggregate_spatial's AggregatedCube against rasterio's geometry_mask (centre rule) and numpy,
for every reducer and polygons inside one tile, across many, overlapping, touching the edge, with a
hole, outside the data and thinner than a pixel; tiles of several sizes give the same results; with a
``target_dimension``, the pixel counts of each value against the same reference."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from rasterio.features import geometry_mask
from shapely.geometry import box, mapping, Polygon
import shapely

from jobs.cube.arraycube import ArrayCube
from jobs.cube.lazy import TileContext
from jobs.errors import ProcessError, ProcessGraphError
from jobs.plan.grid import TileGrid
from jobs.vector.cube import AggregatedCube
from jobs.vector.zonal import merge_into
from sparkeo import geometry
from tests.fixtures.cubes import ArraySource, callback

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5100000.0), (40, 50))
DATES = ("2021-06-01", "2021-06-11", "2021-06-21")
BANDS = ("B04", "B08")


def values(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.uniform(100, 3000, (len(DATES), len(BANDS), *GRID.shape)).astype(np.float32)
    v[rng.random(v.shape) < 0.15] = np.nan
    return v


def utm(x0, y0, x1, y1) -> Polygon:
    """A box in pixel coordinates (col, row) of GRID, as UTM metres."""
    a, _, c, _, e, f = GRID.transform
    return box(c + a * x0, f + e * y1, c + a * x1, f + e * y0)


def polygons() -> dict[str, object]:
    ring = utm(10, 10, 40, 30)
    hole = utm(18, 15, 30, 25)
    return {
        "inside one tile": utm(1.3, 1.2, 5.6, 4.9),
        "spanning tiles": utm(3.2, 2.7, 46.4, 37.1),
        "overlapping": utm(20.5, 5.5, 35.5, 20.5),
        "touching the edge": utm(44.0, 30.0, 50.0, 40.0),
        "with a hole": ring.difference(hole).union(utm(0.1, 35.2, 4.2, 39.8)),
        "sub-pixel": utm(7.1, 7.1, 7.4, 7.4),
        "outside": utm(60, 60, 70, 70),
        "diagonal": Polygon([GRID.affine @ (2.5, 20.1), GRID.affine @ (30.2, 39.3), GRID.affine @ (12.7, 24.9)]),
    }


def feature_collection(crs: str = "EPSG:4326") -> dict:
    """The polygons as GeoJSON in ``crs`` (EPSG:4326: a CRS other than the raster's)."""
    t = geometry.transformer(GRID.crs, crs)
    features = []
    for i, (name, geom) in enumerate(polygons().items()):
        moved = shapely.transform(geom, lambda x, y: t.transform(x, y), interleaved=False)
        features.append({"type": "Feature", "id": f"f{i}", "properties": {"name": name}, "geometry": mapping(moved)})
    doc = {"type": "FeatureCollection", "features": features}
    if crs != "EPSG:4326":
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return doc


def reference(reducer, via: str | None = "EPSG:4326") -> np.ndarray:
    """Each polygon (moved to ``via`` and back, as sparkeo sees it: a pixel centre on an edge may fall
    either side) rasterised over the whole grid with the centre rule, then ``reducer`` over its
    pixels with numpy; (polygons, t, bands)."""
    to, back = geometry.transformer(GRID.crs, via or GRID.crs), geometry.transformer(via or GRID.crs, GRID.crs)
    v = values()
    out = []
    for geom in polygons().values():
        g = shapely.transform(geom, lambda x, y: back.transform(*to.transform(x, y)), interleaved=False)
        inside = geometry_mask([g], out_shape=GRID.shape, transform=GRID.affine, invert=True)
        px = v[:, :, inside]                     # (t, bands, pixels), row-major
        if px.shape[-1] == 0:
            out.append(np.full(v.shape[:2], np.nan))
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(reducer(px.astype(np.float64)))
    return np.stack(out)


def first_valid(px):
    out = np.full(px.shape[:2], np.nan)
    for t in range(px.shape[0]):
        for b in range(px.shape[1]):
            valid = px[t, b][~np.isnan(px[t, b])]
            out[t, b] = valid[0] if valid.size else np.nan
    return out


REDUCERS = {
    "mean": lambda p: np.nanmean(p, axis=-1),
    "sum": lambda p: np.where(np.isnan(p).all(-1), np.nan, np.nansum(p, axis=-1)),
    "count": lambda p: (~np.isnan(p)).sum(-1).astype(float),
    "min": lambda p: np.nanmin(p, axis=-1),
    "max": lambda p: np.nanmax(p, axis=-1),
    "sd": lambda p: np.nanstd(p, axis=-1, ddof=1),
    "variance": lambda p: np.nanvar(p, axis=-1, ddof=1),
    "median": lambda p: np.nanmedian(p, axis=-1),
    "first": first_valid,
}


def aggregate(reducer: dict, geometries=None, **arguments) -> AggregatedCube:
    from jobs.graph.evaluate import build
    from jobs.graph.parse import ProcessGraph

    cube = ArrayCube(values(), ("t", "bands", "y", "x"), {"t": DATES, "bands": BANDS}, GRID, node_id="c")
    graph = {"load": {"process_id": "load_collection", "arguments": {"id": "c"}},
             "agg": {"process_id": "aggregate_spatial", "result": True,
                     "arguments": {"data": {"from_node": "load"}, "reducer": reducer,
                                   "geometries": geometries or feature_collection(), **arguments}}}
    return build(ProcessGraph.parse({"process_graph": graph}), ArraySource({"c": cube})).output


def tiled(cube: AggregatedCube, size: int) -> np.ndarray:
    """The cube's table computed tile by tile (in-process, as the Spark tasks do)."""
    merged: dict = {}
    for _, window, grid in cube.grid.tiles(size):
        indices = cube.assign([grid])[0]
        merge_into(merged, cube.partials(grid, (window.row_off, window.col_off), indices, TileContext()))
    return cube.finish(merged)


def reducer_of(name: str, **arguments) -> dict:
    return callback(("r", name, {"data": {"from_parameter": "data"}, **arguments}))


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_every_reducer_matches_numpy_on_the_centre_rule_whatever_the_tile_size(name):
    cube = aggregate(reducer_of(name))
    expect = reference(REDUCERS[name])
    assert (cube.reducer is not None) == (name not in ("median", "first"))     # partial sums where they merge
    for size in (7, 16, 64):
        # partial sums in float64; median and first pick float32 pixel values
        np.testing.assert_allclose(tiled(cube, size), expect, rtol=1e-9 if cube.reducer else 1e-6, equal_nan=True,
                                   err_msg=f"{name}, tiles of {size} px")


def test_outside_and_sub_pixel_polygons_are_nodata_and_the_others_have_pixels():
    table = tiled(aggregate(reducer_of("count")), 16)
    names = list(polygons())
    assert np.isnan(table[names.index("outside")]).all()
    assert np.isnan(table[names.index("sub-pixel")]).all()
    others = [i for i, n in enumerate(names) if n not in ("outside", "sub-pixel")]
    assert (table[others] > 0).all()


def test_quantiles_and_a_composed_callback():
    q = aggregate(reducer_of("quantiles", probabilities=[0.25]))
    expect = reference(lambda p: np.nanquantile(p, 0.25, axis=-1))
    np.testing.assert_allclose(tiled(q, 9), expect, rtol=1e-6, equal_nan=True)
    # (max - min) / 2: no partial sums, the pixels themselves
    composed = callback(("mx", "max", {"data": {"from_parameter": "data"}}),
                        ("mn", "min", {"data": {"from_parameter": "data"}}),
                        ("d", "subtract", {"x": {"from_node": "mx"}, "y": {"from_node": "mn"}}),
                        ("h", "divide", {"x": {"from_node": "d"}, "y": 2}))
    expect = reference(lambda p: (np.nanmax(p, -1) - np.nanmin(p, -1)) / 2)
    np.testing.assert_allclose(tiled(aggregate(composed), 11), expect, rtol=1e-6, equal_nan=True)


def test_geometries_in_the_raster_crs_declared_in_the_document():
    cube = aggregate(reducer_of("mean"), feature_collection("EPSG:32633"))
    np.testing.assert_allclose(tiled(cube, 16), reference(REDUCERS["mean"], None), rtol=1e-6, equal_nan=True)


def test_vector_cube_dimensions_and_properties():
    cube = aggregate(reducer_of("mean"))
    assert cube.meta.dims == ("geometry", "t", "bands")
    assert cube.times == DATES and cube.bands == BANDS
    assert cube.geometries.ids[0] == "f0" and cube.geometries.properties[1] == {"name": "spanning tiles"}


def test_a_broken_reducer_fails_on_the_driver_naming_the_argument():
    with pytest.raises((ProcessError, ProcessGraphError)) as info:
        aggregate(callback(("e", "array_element", {"data": {"from_parameter": "data"}, "label": "nope"})))
    assert info.value.node_id == "agg/e"


@pytest.mark.parametrize("target", [None, "stats"])
@pytest.mark.parametrize("name", ["mean", "median"])
def test_sorted_partials_merged_in_runs_and_finished_in_small_batches_give_the_table(name, target):
    from jobs.vector.zonal import finish_stream, merge_runs

    cube = aggregate(reducer_of(name), target_dimension=target)
    pairs = []
    for _, window, grid in cube.grid.tiles(7):
        pairs.extend(cube.partials(grid, (window.row_off, window.col_off), cube.assign([grid])[0], TileContext()).items())
    pairs.sort(key=lambda pair: pair[0])           # what the shuffle's sort gives a reduce task
    table = cube.empty_table()
    for index, values in finish_stream(merge_runs(pairs), cube.reducer, cube.reduce_pixels, batch_values=50,
                                       counts=target is not None):
        table[index] = values
    np.testing.assert_allclose(table, tiled(cube, 7), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", ["mean", "median"])
def test_a_target_dimension_gives_each_value_its_total_and_valid_pixel_counts(name):
    cube = aggregate(reducer_of(name), target_dimension="stats")
    assert cube.meta.dims == ("geometry", "t", "bands", "stats")
    assert cube.meta.labels["stats"] == ("value", "total_count", "valid_count")
    assert cube.meta.dim_types["stats"] == "other"
    # the references give NaN for a polygon covering no pixel centre: its counts are 0
    total = np.nan_to_num(reference(lambda p: np.full(p.shape[:2], float(p.shape[-1]))))
    valid = np.nan_to_num(reference(REDUCERS["count"]))
    assert (valid < total).any() and (valid > 0).any()          # the 15 % NaN pixels are counted apart
    for size in (7, 64):
        table = tiled(cube, size)
        assert table.shape == (len(polygons()), len(DATES), len(BANDS), 3)
        np.testing.assert_allclose(table[..., 0], reference(REDUCERS[name]), rtol=1e-6, equal_nan=True)
        np.testing.assert_array_equal(table[..., 1], total, err_msg=f"total_count, tiles of {size} px")
        np.testing.assert_array_equal(table[..., 2], valid, err_msg=f"valid_count, tiles of {size} px")
    outside = list(polygons()).index("outside")
    assert np.isnan(table[outside, ..., 0]).all() and (table[outside, ..., 1:] == 0).all()


def test_without_a_target_dimension_the_table_holds_the_values_only_and_result_is_just_a_name():
    cube = aggregate(reducer_of("mean"))
    assert cube.target_dimension is None and tiled(cube, 16).shape == (len(polygons()), len(DATES), len(BANDS))
    named = aggregate(reducer_of("mean"), target_dimension="result")       # openEO 1.2.0's default, given
    assert named.meta.dims == ("geometry", "t", "bands", "result") and "result_meta" not in named.meta.dims


@pytest.mark.parametrize("name", ["bands", "t", "x", "geometry"])
def test_a_target_dimension_the_cube_has_is_target_dimension_exists(name):
    with pytest.raises(ProcessError) as info:
        aggregate(reducer_of("mean"), target_dimension=name)
    assert info.value.code == "TargetDimensionExists"
    assert (info.value.node_id, info.value.argument) == ("agg", "target_dimension")

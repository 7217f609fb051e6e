"""trim_cube: the labels, rows and columns that remain come from a first Spark pass over the input;
on real data whose valid pixels (NDVI below -0.1: water and shadow) lie inside the grid and in the
first half of the year, the run writes the cube numpy trims, whatever the tile size; the rest of the
graph runs on the trimmed cube; a dry run plans the untrimmed one."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.errors import ProcessGraphError
from jobs.graph.evaluate import build
from jobs.graph.parse import ProcessGraph
from jobs.plan.grid import Window
from jobs.plan.planner import ItemFootprint, plan_tiles
from jobs.run import load_catalog, prepare, run_job
from jobs.spark.scan import scan_tiles
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.cubes import UTM_GRID, ArraySource, callback
from tests.fixtures.realdata import band_series

COLLECTION = "eolearn-s2-l1c-ndvi"
INTERVAL = ["2016-01-01", "2017-01-01"]
THRESHOLD = -0.1


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), read_retry_delay=0.0)


def graph(after_trim: dict | None = None) -> dict:
    """NDVI below THRESHOLD (else nodata), trimmed, then ``after_trim`` (a node on ``{"from_node": "trim"}``)."""
    nodes = {
        "load": {"process_id": "load_collection", "arguments": {
            "id": COLLECTION, "spatial_extent": None, "temporal_extent": INTERVAL, "bands": ["NDVI"]}},
        "low": {"process_id": "apply", "arguments": {"data": {"from_node": "load"}, "process": callback(
            ("lt", "lt", {"x": {"from_parameter": "x"}, "y": THRESHOLD}),
            ("if", "if", {"value": {"from_node": "lt"}, "accept": {"from_parameter": "x"}}))}},
        "trim": {"process_id": "trim_cube", "arguments": {"data": {"from_node": "low"}}},
    }
    last = "trim"
    if after_trim is not None:
        nodes["after"] = after_trim
        last = "after"
    nodes["save"] = {"process_id": "save_result", "arguments": {"data": {"from_node": last}, "format": "GTiff"},
                     "result": True}
    return {"process_graph": nodes}


def numpy_trim(values: np.ndarray) -> tuple[np.ndarray, slice, slice, slice]:
    """(trimmed (t, y, x), t, row and column slices): nodata-only border slices removed."""
    valid = ~np.isnan(values)
    t, r, c = (np.flatnonzero(valid.any(axis=axes)) for axes in ((1, 2), (0, 2), (0, 1)))
    where = tuple(slice(a[0], a[-1] + 1) for a in (t, r, c))
    return values[where], *where


@pytest.fixture(scope="module")
def expected(realdata_stac_dir):
    values = band_series(realdata_stac_dir, COLLECTION, INTERVAL)
    low = np.where(values < THRESHOLD, values, np.nan)
    out = numpy_trim(low)
    trimmed, t, rows, cols = out
    # the data must have nodata borders on every side and at the end of the series for this test to mean anything
    assert (t.stop < len(values) and rows.start > 0 and rows.stop < values.shape[1] and cols.start > 0
            and cols.stop < values.shape[2]), (t, rows, cols)
    return out


def read_results(folder) -> tuple[list[str], np.ndarray, rasterio.Affine]:
    files = sorted(folder.glob("*.tif"))
    planes = []
    for path in files:
        with rasterio.open(path) as ds:
            planes.append(ds.read(1, masked=True).filled(np.nan).astype(np.float64))
            transform = ds.transform
    return [p.name for p in files], np.stack(planes), transform


@pytest.mark.parametrize("tile", [32, 64])
def test_a_run_trims_the_real_cube_as_numpy_does_for_any_tile_size(spark, realdata_catalog, settings, expected,
                                                                   tmp_path, tile):
    want, t, rows, cols = expected
    summary = run_job(json.dumps(graph()), str(tmp_path / "out"), f"trim-{tile}", realdata_catalog,
                      {"tile_size": tile}, settings, Caller(), spark=spark)
    names, got, transform = read_results(tmp_path / "out")
    assert len(names) == want.shape[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    untrimmed = prepare(json.dumps(graph()), load_catalog(realdata_catalog, settings), Caller(), settings,
                        {"tile_size": tile}).plan.grid
    assert summary.plan.grid == untrimmed.crop(Window(rows.start, cols.start, want.shape[1], want.shape[2]))
    assert tuple(transform)[:6] == tuple(summary.plan.grid.transform)
    # the first pass reads the input once more: its bytes count in the job's usage, its tiles do not
    assert summary.usage["tiles"] == len(summary.plan.tasks)


def test_the_rest_of_the_graph_runs_on_the_trimmed_cube(spark, realdata_catalog, settings, expected, tmp_path):
    want, *_ = expected
    count = {"process_id": "reduce_dimension", "arguments": {"data": {"from_node": "trim"}, "dimension": "t",
                                                              "reducer": callback(("n", "count", {"data": {"from_parameter": "data"}}))}}
    run_job(json.dumps(graph(count)), str(tmp_path / "out"), "trim-count", realdata_catalog, {"tile_size": 64},
            settings, Caller(), spark=spark)
    _, got, _ = read_results(tmp_path / "out")
    np.testing.assert_array_equal(got[0], (~np.isnan(want)).sum(axis=0))


def test_a_dry_run_plans_the_untrimmed_cube(realdata_catalog, settings, expected):
    prep = prepare(json.dumps(graph()), load_catalog(realdata_catalog, settings), Caller(), settings, {})
    assert prep.plan.grid.shape == (101, 100)
    assert len(prep.built.output.meta.labels["t"]) > expected[0].shape[0]


def in_process_build(cube: ArrayCube, tile: int = 3):
    """trim_cube over ``cube`` built with the scan's task function run here, over ``tile`` px tiles."""
    def scanner(data):
        whole = ItemFootprint("all", data.meta.grid.bounds, 1, 1.0, 4.0)
        part = scan_tiles(data, plan_tiles(data.meta.grid, tile, [whole]).tasks, Settings(), {})
        assert part.error is None
        return part.validity

    doc = {"process_graph": {"load": {"process_id": "load_collection", "arguments": {"id": "c"}},
                             "trim": {"process_id": "trim_cube", "arguments": {"data": {"from_node": "load"}},
                                      "result": True}}}
    return build(ProcessGraph.parse(doc), ArraySource({"c": cube}), scanner).output


@pytest.mark.parametrize("tile", [2, 3, 16])
def test_borders_of_ordered_dimensions_and_every_empty_band_go(tile):
    rng = np.random.default_rng(3)
    values = rng.normal(size=(5, 4, 7, 9)).astype(np.float32)
    values[[0, 2, 4]] = np.nan             # t: the border dates go, the empty one in the middle stays
    values[:, [1, 3]] = np.nan             # bands: categorical, the empty band in the middle goes too
    values[..., :2, :] = np.nan            # two empty rows at the top
    values[..., :, 7:] = np.nan            # two empty columns on the right
    values[1, 0, 6, 0] = np.nan            # a hole at a corner keeps the row and column of other pixels
    dates = ("2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04", "2020-01-05")
    cube = ArrayCube(values, ("t", "bands", "y", "x"), {"t": dates, "bands": ("a", "b", "c", "d")},
                     grid_of((7, 9)), node_id="c")
    out = in_process_build(cube, tile)
    assert out.meta.labels == {"t": dates[1:4], "bands": ("a", "c")}
    assert out.meta.grid == cube.meta.grid.crop(Window(2, 0, 5, 7))
    np.testing.assert_array_equal(materialize(out), values[1:4][:, [0, 2]][..., 2:, :7])


def test_a_cube_without_a_valid_value_names_the_node():
    cube = ArrayCube(np.full((2, 3, 4), np.nan, dtype=np.float32), ("t", "y", "x"), {"t": ("2020-01-01", "2020-01-02")},
                     grid_of((3, 4)), node_id="c")
    with pytest.raises(ProcessGraphError) as info:
        in_process_build(cube)
    assert (info.value.node_id, info.value.argument) == ("trim", "data") and "no valid value" in str(info.value)


def test_a_cube_without_x_and_y_is_refused():
    cube = ArrayCube(np.ones((2,), dtype=np.float32), ("t",), {"t": ("2020-01-01", "2020-01-02")}, None, node_id="c")
    with pytest.raises(ProcessGraphError) as info:
        in_process_build(cube)
    assert (info.value.node_id, info.value.argument) == ("trim", "data") and "no x and y" in str(info.value)


def grid_of(shape):
    return UTM_GRID.__class__(UTM_GRID.crs, UTM_GRID.transform, shape)

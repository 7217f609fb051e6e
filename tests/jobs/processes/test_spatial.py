"""filter_spatial and resample_spatial against numpy and rasterio's own reproject."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.cube.lazy import TileContext
from jobs.errors import ProcessGraphError
from jobs.graph.evaluate import build
from jobs.graph.parse import ProcessGraph
from jobs.plan.grid import TileGrid
from tests.fixtures.cubes import ArraySource

GRID = TileGrid("EPSG:32631", (10.0, 0.0, 600000.0, 0.0, -10.0, 5000080.0), (8, 10))


def _cube() -> ArrayCube:
    rng = np.random.default_rng(5)
    values = rng.uniform(0, 100, (2, 8, 10)).astype(np.float32)
    return ArrayCube(values, ("t", "y", "x"), {"t": ("2021-06-01", "2021-06-11")}, GRID, node_id="c")


def _run(process_id: str, **arguments):
    flat = {"load": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                                   "temporal_extent": None}},
            "p": {"process_id": process_id, "arguments": {"data": {"from_node": "load"}, **arguments}, "result": True}}
    return build(ProcessGraph.parse(flat), ArraySource({"c": _cube()})).output


def _centres(grid: TileGrid):
    xs = grid.transform[2] + grid.transform[0] * (np.arange(grid.width) + 0.5)
    ys = grid.transform[5] + grid.transform[4] * (np.arange(grid.height) + 0.5)
    return np.meshgrid(xs, ys)


# --- filter_spatial -------------------------------------------------------------------------------------
def test_filter_spatial_triangle_in_the_cube_crs():
    # a right triangle: x >= 600010, y <= 5000070, (x - 600010) + (5000070 - y) <= 83 (no centre on an edge)
    tri = [[600010, 5000070], [600093, 5000070], [600010, 4999987], [600010, 5000070]]
    geometry = {"type": "Polygon", "coordinates": [tri], "crs": {"type": "name", "properties": {"name": "EPSG:32631"}}}
    cube = _run("filter_spatial", geometries=geometry)
    grid = cube.meta.grid
    assert grid.bounds == (600010.0, 5000000.0, 600090.0, 5000070.0)      # rows/cols with centres inside
    x, y = _centres(grid)
    inside = (x - 600010) + (5000070 - y) <= 83
    window = GRID.window_of(grid.bounds)
    expected = np.where(inside, _cube().values[:, window.slices[0], window.slices[1]], np.nan)
    np.testing.assert_array_equal(materialize(cube), expected)


def test_filter_spatial_wgs84_rectangle_equals_filter_bbox():
    from pyproj import Transformer

    to_ll = Transformer.from_crs(32631, 4326, always_xy=True)
    (w, n), (e, s) = to_ll.transform(600021, 5000059), to_ll.transform(600069, 5000021)
    ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
    feature_collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    spatial = _run("filter_spatial", geometries=feature_collection)
    bbox = _run("filter_bbox", extent={"west": w, "south": s, "east": e, "north": n})
    assert spatial.meta.grid == bbox.meta.grid
    np.testing.assert_array_equal(materialize(spatial), materialize(bbox))
    np.testing.assert_array_equal(materialize(bbox), _cube().values[:, 2:6, 2:7])


def test_filter_spatial_needs_polygons():
    with pytest.raises(ProcessGraphError) as info:
        _run("filter_spatial", geometries={"type": "Point", "coordinates": [3.0, 45.0]})
    assert (info.value.node_id, info.value.argument) == ("p", "geometries")


def test_filter_spatial_names_an_unknown_geometry_crs():
    # the GeoJSON's own "crs" member is user input: a pyproj error must not escape as a traceback
    geometry = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                "crs": {"type": "name", "properties": {"name": "EPSG:999999"}}}
    with pytest.raises(ProcessGraphError) as info:
        _run("filter_spatial", geometries=geometry)
    assert (info.value.node_id, info.value.argument) == ("p", "geometries")
    assert "EPSG:999999" in str(info.value)


# --- resample_spatial -----------------------------------------------------------------------------------------
def test_resample_to_coarser_resolution_with_average():
    cube = _run("resample_spatial", resolution=20, method="average")
    assert cube.meta.grid == TileGrid("EPSG:32631", (20.0, 0.0, 600000.0, 0.0, -20.0, 5000080.0), (4, 5))
    values = _cube().values.astype(np.float64)
    expected = values.reshape(2, 4, 2, 5, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(materialize(cube), expected, rtol=1e-5)


def test_reprojection_to_wgs84_equals_rasterio_reproject_tile_by_tile():
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    cube = _run("resample_spatial", projection=4326, method="bilinear")
    grid = cube.meta.grid
    assert grid.crs == "EPSG:4326"
    expected = np.full((2,) + grid.shape, np.nan, dtype=np.float32)
    for i, plane in enumerate(_cube().values):
        reproject(plane, expected[i], src_transform=GRID.affine, src_crs=CRS.from_epsg(32631),
                  dst_transform=grid.affine, dst_crs=CRS.from_epsg(4326), src_nodata=np.nan, dst_nodata=np.nan,
                  resampling=Resampling.bilinear)
    got = np.full_like(expected, np.nan)
    ctx = TileContext()
    for _, window, tile in grid.tiles(4):
        got[:, window.slices[0], window.slices[1]] = cube.compute(tile, ctx)
    valid = ~np.isnan(expected)
    assert valid.sum() > 0.5 * valid.size
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[valid], expected[valid], rtol=1e-4)


def test_resample_spatial_rejects_unknown_method_and_projection():
    with pytest.raises(ProcessGraphError) as info:
        _run("resample_spatial", resolution=20, method="fancy")
    assert (info.value.node_id, info.value.argument) == ("p", "method")
    with pytest.raises(ProcessGraphError) as info:
        _run("resample_spatial", projection="EPSG:999999")
    assert (info.value.node_id, info.value.argument) == ("p", "projection")


def test_resample_offers_the_push_down_hook_first():
    seen = []

    class ReadsOnto(ArrayCube):
        def resample(self, grid, method, node_id):
            seen.append((grid, method, node_id))
            return ArrayCube(np.zeros((2,) + grid.shape), self.meta.dims, self.meta.labels, grid, node_id=node_id)

    class Source(ArraySource):
        def load_collection(self, node_id, *args):
            base = _cube()
            return ReadsOnto(base.values, base.meta.dims, base.meta.labels, base.meta.grid, node_id=node_id)

    flat = {"load": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                                   "temporal_extent": None}},
            "p": {"process_id": "resample_spatial", "arguments": {"data": {"from_node": "load"}, "resolution": 20,
                                                                  "method": "bilinear"}, "result": True}}
    out = build(ProcessGraph.parse(flat), Source({})).output
    assert [(m, n) for _, m, n in seen] == [("bilinear", "p")]
    assert out.meta.grid == seen[0][0] and out.meta.grid.resolution == (20.0, 20.0)


def _spec_methods() -> list[str]:
    import json

    from tests.shared_location import SHARED

    doc = json.loads((SHARED / "spec" / "openeo-processes" / "v1.2.0" / "resample_spatial.json").read_text())
    return next(p for p in doc["parameters"] if p["name"] == "method")["schema"]["enum"]


@pytest.mark.parametrize("method", _spec_methods())
def test_resample_spatial_warps_with_every_method_of_the_1_2_0_enum(method):
    # an upstream without the push-down hook: the tile is warped by jobs.cube.warp ("cubicspline" used
    # to reach rasterio as Resampling["cubicspline"], which does not exist: it is "cubic_spline")
    cube = _run("resample_spatial", resolution=20, method=method)
    values = materialize(cube)
    assert values.shape == (2, 4, 5)
    assert np.isfinite(values).any()
    top = 4 * 100 if method == "sum" else 150               # 2 x 2 source pixels of [0, 100) per pixel
    assert np.nanmin(values) >= -50 and np.nanmax(values) <= top


# --- resample_cube_spatial --------------------------------------------------------------------------------
def test_resample_cube_spatial_takes_the_target_cubes_grid():
    coarse = TileGrid("EPSG:32631", (20.0, 0.0, 600020.0, 0.0, -20.0, 5000060.0), (3, 4))
    target = ArrayCube(np.zeros((1, 3, 4)), ("t", "y", "x"), {"t": ("2021-01-01",)}, coarse, node_id="target")
    flat = {"load": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                                   "temporal_extent": None}},
            "tgt": {"process_id": "load_collection", "arguments": {"id": "target", "spatial_extent": None,
                                                                  "temporal_extent": None}},
            "p": {"process_id": "resample_cube_spatial", "arguments": {
                "data": {"from_node": "load"}, "target": {"from_node": "tgt"}, "method": "average"}, "result": True}}
    cube = build(ProcessGraph.parse(flat), ArraySource({"c": _cube(), "target": target})).output
    assert cube.meta.grid == coarse and cube.meta.labels["t"] == ("2021-06-01", "2021-06-11")
    values = _cube().values.astype(np.float64)[:, 2:8, 2:10]       # the target starts two pixels in
    np.testing.assert_allclose(materialize(cube), values.reshape(2, 3, 2, 4, 2).mean(axis=(2, 4)), rtol=1e-5)
    with pytest.raises(ProcessGraphError) as info:
        build(ProcessGraph.parse({**flat, "p": {**flat["p"], "arguments": {**flat["p"]["arguments"], "method": "xx"}}}),
              ArraySource({"c": _cube(), "target": target}))
    assert (info.value.node_id, info.value.argument) == ("p", "method")

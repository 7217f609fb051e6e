"""execute_zonal on the shared local Spark session: the same table as the in-process tile loop, tiles
no polygon meets never run, an unreadable asset in a tile fails the job with its href, the pixel
counts of a target dimension come through the shuffle, and what the tasks receive holds only their
own tiles' polygons (a worker's memory does not follow the polygon count)."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import ArrayCube
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.errors import UnreadableAssetError
from jobs.plan.planner import TileTask
from jobs.spark.zonal import execute_zonal
from jobs.vector.cube import AggregatedCube
from sparkeo.settings import Settings
from tests.jobs.vector.test_cube import BANDS, DATES, GRID, aggregate, polygons, reducer_of, tiled, utm, values
from jobs.vector.geojson import Geometries


def tasks_of(grid, size: int) -> list[TileTask]:
    return [TileTask(index, window, tile, 1) for index, window, tile in grid.tiles(size)]


@pytest.mark.parametrize("target", [None, "stats"], ids=["values", "with counts"])
@pytest.mark.parametrize("reducer", ["mean", "median"])
def test_spark_gives_the_table_of_the_in_process_tile_loop(spark, tmp_path, reducer, target):
    cube = aggregate(reducer_of(reducer), target_dimension=target)
    got = []
    execute_zonal(spark, cube, tasks_of(cube.grid, 8), Settings(cache_dir=str(tmp_path)), {}, got.append)
    expect = tiled(cube, 8)
    assert got[0].shape == expect.shape == (cube.shape + ((3,) if target else ()))
    # the counts crossed the shuffle: polygons spanning tiles add up every tile's pixels
    np.testing.assert_allclose(got[0], expect, rtol=1e-12, equal_nan=True)


class Unreadable(LazyCube):
    """A source whose tiles east of column 25 cannot be read."""

    def __init__(self):
        self.node_id, self.meta = "u", CubeMeta(("t", "bands", "y", "x"), {"t": DATES, "bands": BANDS}, GRID)
        self.computed: list = []

    def _compute(self, grid, ctx):
        if grid.bounds[0] >= GRID.bounds[0] + 250:
            raise UnreadableAssetError("/data/east.tif", "not a TIFF file")
        return ArrayCube(values(), ("t", "bands", "y", "x"), {"t": DATES, "bands": BANDS}, GRID)._compute(grid, ctx)


def polygons_cube(*boxes) -> AggregatedCube:
    geoms = Geometries(tuple(b.wkb for b in boxes), (None,) * len(boxes), ({},) * len(boxes), GRID.crs)
    return AggregatedCube("agg", Unreadable(), geoms, "mean", None)


def test_only_tiles_under_a_polygon_run_and_an_unreadable_one_fails_with_its_href(spark, tmp_path):
    settings = Settings(cache_dir=str(tmp_path))
    west = polygons_cube(utm(1, 1, 9, 9))
    tasks = tasks_of(GRID, 10)
    assert [t.index for t, _ in west.tile_work(tasks)] == [(0, 0)]
    got, events = [], []
    ran = execute_zonal(spark, west, tasks, settings, {}, got.append, events.append)
    assert ran.usage.tiles == 1 and [e.index for e in events] == [(0, 0)]   # the east is never read
    assert got[0].shape == (1, len(DATES), len(BANDS)) and not np.isnan(got[0]).all()
    with pytest.raises(UnreadableAssetError) as info:
        execute_zonal(spark, polygons_cube(utm(1, 1, 9, 9), utm(30, 1, 45, 9)), tasks, settings, {}, got.append)
    assert info.value.href == "/data/east.tif"


def test_pixel_reducers_run_on_the_executors_and_the_driver_gets_one_row_per_geometry(spark, tmp_path):
    import os

    cube = aggregate(reducer_of("median"))
    median = cube.reduce_pixels
    cube.reduce_pixels = lambda values: median(values) * 0 + os.getpid()    # the process that reduces
    got = []
    execute_zonal(spark, cube, tasks_of(cube.grid, 8), Settings(cache_dir=str(tmp_path)), {}, got.append)
    reduced = got[0][~np.isnan(got[0])]
    assert reduced.size and os.getpid() not in set(reduced.tolist())        # a Python worker, not the driver


def test_the_partials_are_shuffled_into_ranges_of_about_a_tiles_bytes(monkeypatch):
    from jobs.spark import zonal

    tile = 8 * 8
    assert zonal.reduce_partitions(aggregate(reducer_of("mean")), tile, 2) == 2    # a few numbers each: one per core
    cube = aggregate(reducer_of("median"))
    monkeypatch.setattr(zonal, "MIN_REDUCE_BYTES", 1)
    ranges = zonal.reduce_partitions(cube, tile, 1)
    assert ranges == min(len(cube.geometries), -(-cube.partial_bytes() // (tile * len(DATES) * len(BANDS) * 4)))


def lattice_cube(count: int) -> AggregatedCube:
    """``count`` boxes of 1.5 x 1.5 px, 2 px apart, over the same source cube whatever ``count``."""
    source = ArrayCube(values(), ("t", "bands", "y", "x"), {"t": DATES, "bands": BANDS}, GRID, node_id="c")
    boxes = [utm(2 * (k % 20) + 0.2, 2 * (k // 20) + 0.2, 2 * (k % 20) + 1.7, 2 * (k // 20) + 1.7)
             for k in range(count)]
    geoms = Geometries(tuple(b.wkb for b in boxes), (None,) * count, ({},) * count, GRID.crs)
    return AggregatedCube("agg", source, geoms, "mean", None)


def test_what_every_task_unpickles_holds_no_geometry_whatever_the_polygon_count(spark, tmp_path, monkeypatch):
    from jobs.spark import zonal

    shared = []
    real_ship = zonal.ship
    monkeypatch.setattr(zonal, "ship", lambda sc, payload, *rest: shared.append(payload) or real_ship(sc, payload, *rest))
    few, many = lattice_cube(4), lattice_cube(400)
    for cube in (few, many):
        got = []
        execute_zonal(spark, cube, tasks_of(GRID, 10), Settings(cache_dir=str(tmp_path)), {}, got.append)
        np.testing.assert_allclose(got[0], tiled(cube, 10), rtol=1e-12, equal_nan=True)
    assert len(shared[0]) == len(shared[1])
    assert not any(wkb in shared[1] for wkb in many.geometries.wkb)


def test_a_task_gets_the_polygons_of_its_own_tiles_as_wkb_in_the_raster_crs():
    import shapely

    from jobs.spark.zonal import group_payload

    cube = aggregate(reducer_of("mean"))              # the polygons come in EPSG:4326
    work = cube.tile_work(tasks_of(cube.grid, 16))
    groups = [[t for t, _ in work[:2]], [t for t, _ in work[2:]]]
    utm_polygons = list(polygons().values())          # what they are in the raster's CRS
    payload = group_payload(cube, work, groups)
    assert [g for g, _ in payload] == [0, 1]
    for (_, tiles), group in zip(payload, groups):
        assert [t.index for t, _ in tiles] == [t.index for t in group]
        for task, given in tiles:
            tile = shapely.box(*task.grid.bounds)
            assert [i for i, _ in given] == [i for i, g in enumerate(utm_polygons)
                                              if g.intersects(tile)]
            for i, wkb in given:
                assert isinstance(wkb, bytes) and shapely.from_wkb(wkb).equals_exact(utm_polygons[i], 1e-3)

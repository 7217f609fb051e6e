"""jobs.plan.planner: output grid choice, same-day time slices, tiles, estimates and budgets (pure)."""
from __future__ import annotations

import datetime as dt

import pytest

from jobs.plan.grid import TileGrid, Window
from jobs.plan.planner import ItemFootprint, check_budget, choose_grid, plan_tiles, time_slices
from jobs.errors import BudgetExceeded
from layercatalog.model import AssetBand, ItemRecord

UTC = dt.timezone.utc


def asset(crs="EPSG:32633", res=10.0, x0=500000.0, y0=5000000.0, shape=(100, 100)):
    return AssetBand(href="x.tif", band_index=1, crs=crs, transform=(res, 0.0, x0, 0.0, -res, y0), shape=shape,
                     dtype="uint16")


def item(iid, when, bbox=(14.0, 46.0, 14.1, 46.1), **props):
    return ItemRecord(iid, "c", when, bbox, {"B04": asset()}, properties=props)


def whole(bounds):
    return lambda crs: bounds


def test_grid_takes_most_common_crs_and_its_finest_resolution():
    assets = [asset(res=20.0), asset(res=10.0, x0=500003.0), asset(crs="EPSG:32634", res=5.0)]
    grid = choose_grid(assets, whole((500100.0, 4999000.0, 500900.0, 4999900.0)))
    assert grid.crs == "EPSG:32633"
    assert grid.resolution == (10.0, 10.0)
    # snapped to the 10 m asset's native pixel edges (x anchor 3 m), covering the requested bounds
    assert grid.anchor[0] == pytest.approx(3.0)
    left, bottom, right, top = grid.bounds
    assert left <= 500100.0 < left + 10 and right - 10 < 500900.0 <= right
    assert bottom <= 4999000.0 and top >= 4999900.0


def test_grid_is_independent_of_asset_order():
    assets = [asset(res=20.0), asset(res=10.0, x0=500003.0), asset(crs="EPSG:32634", res=10.0)]
    area = whole((500100.0, 4999000.0, 500900.0, 4999900.0))
    assert choose_grid(assets, area) == choose_grid(list(reversed(assets)), area)


def test_grid_counts_one_crs_written_as_code_and_as_wkt_together():
    from pyproj import CRS

    wkt = CRS.from_epsg(32633).to_wkt()
    # 32633: one asset as "EPSG:32633" and two as its WKT (three in all) against two in 32632
    assets = [asset(), asset(crs=wkt), asset(crs=wkt), asset(crs="EPSG:32632"), asset(crs="EPSG:32632")]
    grid = choose_grid(assets, whole((500100.0, 4999000.0, 500900.0, 4999900.0)))
    assert grid.crs.to_epsg() == 32633


def test_same_solar_day_items_share_one_label_and_are_ordered():
    t = dt.datetime(2021, 6, 1, 10, 0, tzinfo=UTC)
    a = item("a", t + dt.timedelta(seconds=5), bbox=(14.0, 46.0, 14.1, 46.1))
    b = item("b", t, bbox=(14.1, 46.0, 14.2, 46.1))            # adjacent granule, same pass
    c = item("c", t + dt.timedelta(days=5))
    slices = time_slices([c, a, b])
    assert [s.label for s in slices] == ["2021-06-01", "2021-06-06"]
    assert [i.id for i in slices[0].items] == ["b", "a"]


def test_labels_written_by_a_job_come_back_as_they_were_in_their_order():
    # a job's results: seasons (which sort "djf" < "jja" < "mam" alphabetically) and a date-time label
    seasons = [item(f"s{n}", dt.datetime(2022, month, 1, tzinfo=UTC), **{"sparkeo:time_label": label})
               for n, (month, label) in enumerate([(6, "2022-jja"), (12, "2022-djf"), (3, "2022-mam")])]
    assert [s.label for s in time_slices(seasons)] == ["2022-mam", "2022-jja", "2022-djf"]
    late = item("t", dt.datetime(2021, 6, 1, 23, 30, tzinfo=UTC), bbox=(149.9, -30, 150.1, -29.9),
                **{"sparkeo:time_label": "2021-06-01T23:30:00Z"})
    assert time_slices([late])[0].label == "2021-06-01T23:30:00Z"     # not moved to its solar day


def test_solar_day_not_utc_day():
    # 23:30 UTC at longitude 150 E is the next local day
    late = ItemRecord("x", "c", dt.datetime(2021, 6, 1, 23, 30, tzinfo=UTC), (149.9, -30, 150.1, -29.9), {})
    assert time_slices([late])[0].label == "2021-06-02"


def test_newer_processing_replaces_older_duplicate():
    t = dt.datetime(2021, 6, 1, 10, 0, tzinfo=UTC)
    old = item("S2_old", t, **{"s2:processing_baseline": "04.00", "s2:mgrs_tile": "33TVM"})
    new = item("S2_new", t + dt.timedelta(seconds=1), **{"s2:processing_baseline": "05.09", "s2:mgrs_tile": "33TVM"})
    other = item("S2_other", t, **{"s2:processing_baseline": "04.00", "s2:mgrs_tile": "33TWM"})
    (day,) = time_slices([new, old, other])
    assert {i.id for i in day.items} == {"S2_new", "S2_other"}


def test_tiles_only_where_items_are_and_estimates():
    grid = TileGrid("EPSG:32633", (10.0, 0.0, 0.0, 0.0, -10.0, 2000.0), (200, 300))   # 3000 m x 2000 m
    # one item covering the left 1000 m x 1000 m top block at 20 m with 2 uint16 bands
    fp = ItemFootprint("i1", (0.0, 1000.0, 1000.0, 2000.0), bands=2, pixel_area=400.0, bytes_per_pixel=4)
    plan = plan_tiles(grid, 64, [fp])
    assert plan.tiles_total == 4 * 5
    # rows 0..99 and cols 0..99 of the grid: tiles (0,0),(0,1),(1,0),(1,1)
    assert sorted(t.index for t in plan.tasks) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    native = (1000 * 1000) / 400.0
    assert plan.input_pixels == round(native * 2)
    assert plan.input_bytes == round(native * 4)
    assert plan.item_ids == ("i1",)


@pytest.mark.parametrize("size", [64, 100, 128], ids=["64", "100", "128"])
def test_tile_index_plan_equals_checking_every_tile(size):
    from jobs.plan.planner import intersect

    grid = TileGrid("EPSG:32633", (10.0, 0.0, 0.0, 0.0, -10.0, 4000.0), (400, 500))
    fps = [ItemFootprint("a", (0.0, 2000.0, 2500.0, 4000.0), 1, 100.0, 2),
           ItemFootprint("b", (1234.5, 5.0, 4999.0, 3333.3), 2, 400.0, 4),
           ItemFootprint("c", (-500.0, -500.0, 10.0, 10.0), 1, 100.0, 2),     # one corner pixel
           ItemFootprint("d", (6000.0, 0.0, 7000.0, 100.0), 1, 100.0, 2)]     # outside the grid
    plan = plan_tiles(grid, size, fps)
    brute = [(index, sum(intersect(tile.bounds, fp.bounds) is not None for fp in fps))
             for index, _, tile in grid.tiles(size)]
    assert [(t.index, t.items) for t in plan.tasks] == [(i, n) for i, n in brute if n]
    assert all(t.grid == grid.crop(t.window) for t in plan.tasks)
    assert plan.tiles_total == len(brute)
    assert plan.item_ids == ("a", "b", "c", "d")


def test_budget_caps_refuse_with_the_estimate():
    grid = TileGrid("EPSG:32633", (10.0, 0.0, 0.0, 0.0, -10.0, 100.0), (10, 10))
    plan = plan_tiles(grid, 512, [ItemFootprint("i", (0, 0, 100, 100), 1, 100.0, 2)])
    check_budget(plan, {"max_input_pixels": 100})
    with pytest.raises(BudgetExceeded) as err:
        check_budget(plan, {"max_input_bytes": 199})
    assert err.value.exit_code == 2
    assert "200" in str(err.value) and "max_input_bytes=199" in str(err.value)


def test_midnight_timestamps_are_dates_not_shifted_to_the_previous_solar_day():
    # Landsat scene lists carry dates only (00:00 UTC); at 107 W the solar shift would say "the day before"
    date_only = ItemRecord("LT5", "c", dt.datetime(2008, 4, 19, tzinfo=UTC), (-106.93, 40.28, -106.90, 40.30), {})
    timed = ItemRecord("LT5b", "c", dt.datetime(2008, 4, 19, 3, 0, tzinfo=UTC), (-106.93, 40.28, -106.90, 40.30), {})
    assert [s.label for s in time_slices([date_only, timed])] == ["2008-04-18", "2008-04-19"]


def test_halo_grows_the_estimates_and_the_read_regions_inside_the_grid():
    grid = TileGrid("EPSG:32633", (10.0, 0.0, 0.0, 0.0, -10.0, 2000.0), (200, 300))
    fp = ItemFootprint("i1", grid.bounds, bands=1, pixel_area=100.0, bytes_per_pixel=2)
    plain, focal = plan_tiles(grid, 100, [fp]), plan_tiles(grid, 100, [fp], halo=(1, 2))
    assert plain.input_pixels == 200 * 300
    # each of the 2 x 3 tiles reads 1 row and 2 columns more on every side that is not the grid's edge:
    # rows 101 + 101, columns 102 + 104 + 102
    assert focal.input_pixels == (101 + 101) * (102 + 104 + 102)
    assert focal.input_bytes == 2 * focal.input_pixels
    task = next(t for t in focal.tasks if t.index == (0, 1))
    assert task.halo == (1, 2)
    region = task.read_region(grid)
    assert region == grid.crop(Window(0, 98, 101, 104))     # grown, but not past the grid's top edge
    assert plain.tasks[1].read_region(grid) == plain.tasks[1].region

"""jobs.cube.load: the leaf cube of load_collection on tiny real GeoTIFFs (no Spark): same-day mosaics,
reprocessed duplicates, per-tile item selection, push-down of band/time/bbox filters."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from jobs.cube.lazy import TileContext
from jobs.plan.grid import TileGrid
from jobs.cube.load import LoadedCollection
from jobs.plan.planner import time_slices
from layercatalog.model import AssetBand, BandInfo, CollectionInfo, DataSource, ItemRecord
from sparkeo.settings import Settings

CRS = "EPSG:32633"
UTC = dt.timezone.utc
COLLECTION = CollectionInfo("c", "c", "", (BandInfo("B04", nodata=0, dtype="uint16"),), (14, 45, 16, 47),
                            (None, None), DataSource("stac", "x"))


def granule(tmp_path, name, value, x0, width=10, height=10, nodata_cols=0):
    arr = np.full((height, width), value, dtype=np.uint16)
    arr[:, :nodata_cols] = 0
    transform = from_origin(x0, 5000100.0, 10.0, 10.0)
    path = tmp_path / f"{name}.tif"
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="uint16", crs=CRS,
                       transform=transform, nodata=0) as ds:
        ds.write(arr, 1)
    return AssetBand(str(path), 1, CRS, tuple(transform)[:6], (height, width), nodata=0, dtype="uint16")


def item(iid, when, asset, **props):
    # the 4326 bbox follows the granule, so adjacent granules are told apart from duplicates
    x0 = 15.0 + (asset.transform[2] - 500000.0) * 1e-5
    return ItemRecord(iid, "c", when, (x0, 45.0, x0 + 0.001, 45.001), {"B04": asset}, properties=props)


def leaf(items, grid):
    bounds = {i.id: TileGrid(a.crs, a.transform, a.shape).bounds for i in items for a in i.assets.values()}
    return LoadedCollection("load", COLLECTION, COLLECTION.bands, time_slices(items), grid, bounds)


GRID = TileGrid(CRS, (10.0, 0.0, 500000.0, 0.0, -10.0, 5000100.0), (10, 18))
T0 = dt.datetime(2021, 6, 1, 10, 0, tzinfo=UTC)


def test_adjacent_granules_of_one_day_are_mosaicked_first_valid_wins(tmp_path):
    west = granule(tmp_path, "w", 100, 500000.0, nodata_cols=2)              # cols 0..9, 0-1 nodata
    east = granule(tmp_path, "e", 200, 500080.0)                              # cols 8..17 (overlap 8,9)
    items = [item("east", T0 + dt.timedelta(seconds=20), east), item("west", T0, west)]
    cube = leaf(items, GRID)
    assert cube.meta.labels["t"] == ("2021-06-01",)
    assert cube.meta.dtype == "uint16" and cube.meta.nodata == 0
    got = cube.compute(GRID, TileContext(settings=Settings()))[0, 0]
    expect = np.full((10, 18), 200.0, np.float32)
    expect[:, 0:2] = np.nan              # nodata in the only granule there
    expect[:, 2:10] = 100.0              # the earlier acquisition wins the overlap
    np.testing.assert_array_equal(got, expect)


def test_newer_processing_of_the_same_scene_replaces_the_older(tmp_path):
    old = granule(tmp_path, "old", 111, 500000.0, width=18)
    new = granule(tmp_path, "new", 222, 500000.0, width=18, nodata_cols=3)
    items = [item("old", T0, old, **{"s2:processing_baseline": "04.00"}),
             item("new", T0, new, **{"s2:processing_baseline": "05.09"})]
    got = leaf(items, GRID).compute(GRID, TileContext(settings=Settings()))[0, 0]
    assert np.isnan(got[:, :3]).all()            # the old scene does not fill the new one's gaps
    assert (got[:, 3:] == 222).all()


def test_a_tile_reads_only_the_items_touching_it(tmp_path):
    west = granule(tmp_path, "w", 100, 500000.0, width=5)
    east = granule(tmp_path, "e", 200, 500130.0, width=5)
    cube = leaf([item("w", T0, west), item("e", T0 + dt.timedelta(days=1), east)], GRID)
    tile = GRID.crop(GRID.window_of((500000.0, 5000000.0, 500050.0, 5000100.0)))
    ctx = TileContext(settings=Settings())
    got = cube.compute(tile, ctx)
    assert got.shape == (2, 1, 10, 5)
    assert (got[0, 0] == 100).all() and np.isnan(got[1, 0]).all()
    assert ctx.usage.input_pixels == 50 and ctx.usage.bytes_read == 100


def test_push_down_narrows_bands_time_and_grid(tmp_path):
    a = granule(tmp_path, "a", 1, 500000.0, width=18)
    b = granule(tmp_path, "b", 2, 500000.0, width=18)
    cube = leaf([item("a", T0, a), item("b", T0 + dt.timedelta(days=10), b)], GRID)
    later = cube.select_time(dt.datetime(2021, 6, 5), None, "ft")
    assert later.meta.labels["t"] == ("2021-06-11",) and [i.id for i in later.items] == ["b"]
    assert cube.select_bands(("B04",), "fb").meta.labels["bands"] == ("B04",)
    assert cube.select_bands(("B99",), "fb") is None
    small = GRID.crop(GRID.window_of((500000.0, 5000050.0, 500050.0, 5000100.0)))
    clipped = cube.clip(small, "bbox")
    assert clipped.meta.grid == small
    assert (clipped.compute(small, TileContext(settings=Settings()))[1, 0] == 2).all()


def test_footprints_feed_the_planner(tmp_path):
    a = granule(tmp_path, "a", 1, 500000.0, width=18)
    (fp,) = leaf([item("a", T0, a)], GRID).footprints
    assert fp.item_id == "a" and fp.bands == 1 and fp.pixel_area == pytest.approx(100.0)
    assert fp.bytes_per_pixel == 2 and fp.bounds == GRID.bounds


def test_resampling_job_option_reaches_the_reader(tmp_path):
    coarse = np.array([[10, 20], [30, 40]], dtype=np.uint16)
    path = tmp_path / "coarse.tif"
    transform = from_origin(500000.0, 5000100.0, 20.0, 20.0)
    with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint16", crs=CRS,
                       transform=transform, nodata=0) as ds:
        ds.write(coarse, 1)
    asset = AssetBand(str(path), 1, CRS, tuple(transform)[:6], (2, 2), nodata=0, dtype="uint16")
    grid = TileGrid(CRS, (10.0, 0.0, 500000.0, 0.0, -10.0, 5000100.0), (4, 4))
    cube = leaf([item("c", T0, asset)], grid)
    near = cube.compute(grid, TileContext(settings=Settings(), job_options={"resampling": {"B04": "near"}}))
    np.testing.assert_array_equal(near[0, 0], np.kron(coarse, np.ones((2, 2))))
    smooth = cube.compute(grid, TileContext(settings=Settings()))           # continuous: bilinear
    assert len(np.unique(smooth[0, 0])) > 4


_LookalikeBandError = type("UnknownBandError", (Exception,), {})


@pytest.mark.parametrize("make, argument", [
    (lambda e: e.UnknownBandError("c", "B99", ["B02"]), "bands"),
    (lambda e: type("AliasError", (e.UnknownBandError,), {})("c", "B99", ["B02"]), "bands"),
    (lambda e: e.PropertyFilterError("eo:cloud_cover", "not a number"), "properties"),
    (lambda e: e.EmptyQueryError("c", (0, 0, 1, 1), (None, None)), "temporal_extent"),
    (lambda e: _LookalikeBandError("B99"), "spatial_extent"),
], ids=["unknown-band", "subclass", "property-filter", "empty-query", "same-name-other-type"])
def test_a_catalog_error_names_its_argument_by_type(make, argument):
    from jobs.cube.load import _argument_of
    from layercatalog import errors

    assert _argument_of(make(errors)) == argument

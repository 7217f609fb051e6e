"""catalog summary figures against independent computations (rasterio windows, file sizes, areas)."""
from __future__ import annotations

import datetime as dt
import math
import os

import pytest
import rasterio
from rasterio.warp import transform_bounds
from rasterio.windows import from_bounds

from layercatalog.catalog import LayerCatalog
from layercatalog.query import make_query
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.catalogs import layer_entry, stac_item, write_layer_catalog, write_static_catalog

UTC = dt.timezone.utc


def test_summary_of_the_sample_matches_rasterio(sample_small, tmp_path):
    cat = LayerCatalog.load(sample_small, Settings(cache_dir=str(tmp_path / "cache")))
    query = make_query("sample-s2", bbox=(500200, 5099000, 500900, 5099700), bbox_crs="EPSG:32633",
                       interval=(dt.datetime(2023, 4, 1, tzinfo=UTC), dt.datetime(2023, 9, 1, 10, 0, 31, tzinfo=UTC)),
                       bands=["red", "nir"])
    summary = cat.summary(query, Caller())
    items = cat.search(query, Caller())
    assert summary.item_count == len(items) == 5        # Apr, May, Jun, Jul, Aug; 1 Sep 10:00:31 excluded
    assert summary.dates == ("2023-04-04", "2023-05-04", "2023-06-03", "2023-07-03", "2023-08-02")
    assert summary.bands == ("B04", "B08")
    pixels = nbytes = 0.0
    for item in items:
        for band in ("B04", "B08"):
            href = item.assets[band].href
            with rasterio.open(href) as ds:
                assert ds.crs.to_string() == "EPSG:32633"      # the query's own CRS: no reprojection
                win = from_bounds(500200, 5099000, 500900, 5099700, transform=ds.transform)
                c0, c1 = max(0, math.floor(win.col_off)), min(ds.width, math.ceil(win.col_off + win.width))
                r0, r1 = max(0, math.floor(win.row_off)), min(ds.height, math.ceil(win.row_off + win.height))
                n = max(0, c1 - c0) * max(0, r1 - r0)
                pixels += n
                nbytes += os.path.getsize(href) * n / (ds.width * ds.height)
    assert summary.input_pixels == pixels == 5 * 2 * 70 * 70
    assert summary.input_bytes == pytest.approx(nbytes, abs=2)
    # The bbox is well inside the image; the orbit-edge swath is at the top-right corner, far away.
    assert summary.coverage == 1.0


def test_summary_coverage_and_file_size(tmp_path):
    items = [stac_item("a", dt.datetime(2023, 1, 1, tzinfo=UTC), (0, 0, 1, 1), "c", file_size=40_000),
             stac_item("b", dt.datetime(2023, 1, 2, tzinfo=UTC), (0, 0, 1, 0.5), "c", file_size=40_000)]
    url = write_static_catalog(tmp_path / "stac", {"c": items})
    cat = LayerCatalog.load(write_layer_catalog(tmp_path / "lc.json", [layer_entry("c", url)]),
                            Settings(cache_dir=str(tmp_path / "cache")))
    s = cat.summary(make_query("c", bbox=(0.5, 0.0, 1.5, 1.0), bands=["B04"]), Caller())
    assert s.item_count == 2 and s.coverage == pytest.approx(0.5)
    # a: 50 of 100 columns x 100 rows; b: 100x100 grid over half the height, 50 columns: 5000 each.
    assert s.input_pixels == 5000 + 5000
    assert s.input_bytes == 20_000 + 20_000 and s.unknown_sizes == 0       # file:size x fraction, no stat
    empty = cat.summary(make_query("c", bbox=(0.5, 0.0, 1.5, 1.0), interval=(dt.datetime(2024, 1, 1, tzinfo=UTC), None)),
                        Caller())
    assert (empty.item_count, empty.input_pixels, empty.coverage) == (0, 0, 0.0)


def test_multiband_asset_bytes_count_only_the_bands_read(tmp_path):
    item = stac_item("m", dt.datetime(2023, 1, 1, tzinfo=UTC), (0, 0, 1, 1), "c", bands=("B02", "B04", "B08", "SCL"),
                     file_size=80_000, multiband=True)
    url = write_static_catalog(tmp_path / "stac", {"c": [item]})
    cat = LayerCatalog.load(write_layer_catalog(tmp_path / "lc.json", [layer_entry("c", url, bands=("B02", "B04", "B08", "SCL"))]),
                            Settings(cache_dir=str(tmp_path / "cache")))
    s = cat.summary(make_query("c", bands=["B04"]), Caller())
    assert s.input_pixels == 100 * 100 and s.input_bytes == 80_000 // 4
    (found,) = cat.search(make_query("c", bands=["red", "SCL"]), Caller())
    assert (found.assets["B04"].band_index, found.assets["SCL"].band_index) == (2, 4)
    assert found.assets["B04"].asset_key == "data" and found.assets["B04"].asset_bands == 4


def test_lonlat_bbox_is_reprojected_onto_the_item_grid(sample_small, tmp_path):
    """A lon/lat bbox: pixel windows from the bbox reprojected with GDAL (rasterio) onto the UTM grid."""
    cat = LayerCatalog.load(sample_small, Settings(cache_dir=str(tmp_path / "cache")))
    query = make_query("sample-s2", bbox=(15.002, 46.045, 15.008, 46.05), bands=["B08"])
    summary = cat.summary(query, Caller())
    pixels = 0
    for item in cat.search(query, Caller()):
        with rasterio.open(item.assets["B08"].href) as ds:
            box = transform_bounds("EPSG:4326", ds.crs, *query.bbox, densify_pts=21)
            win = from_bounds(*box, transform=ds.transform)
            c0, c1 = max(0, math.floor(win.col_off)), min(ds.width, math.ceil(win.col_off + win.width))
            r0, r1 = max(0, math.floor(win.row_off)), min(ds.height, math.ceil(win.row_off + win.height))
            pixels += max(0, c1 - c0) * max(0, r1 - r0)
    assert summary.item_count == 8 and summary.input_pixels == pixels > 0

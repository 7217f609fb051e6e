"""STAC item dicts -> index records -> ItemRecords: band mapping, raster:bands overrides, grids."""
from __future__ import annotations

import datetime as dt

from layercatalog.items import compact_item, item_bands, match_bands, parse_datetime, to_item_record
from layercatalog.model import BandInfo, CollectionInfo, DataSource

UTC = dt.timezone.utc


def collection(*bands: BandInfo, rewrites=()) -> CollectionInfo:
    return CollectionInfo("c", "c", "", tuple(bands), (-180, -90, 180, 90), (None, None),
                          DataSource("stac", "/x/catalog.json"), href_rewrites=rewrites)


def earth_search_item() -> dict:
    """Shaped like an Earth Search v1 item: asset keys red/nir/scl, 20 m SCL with its own proj:*."""
    return {
        "type": "Feature", "id": "S2B_33TVM_20230601_0_L2A", "bbox": [15, 46, 16, 47],
        "geometry": {"type": "Polygon", "coordinates": [[[15, 46], [16, 46], [16, 47], [15, 47], [15, 46]]]},
        "properties": {"datetime": "2023-06-01T10:05:00.123Z", "proj:epsg": 32633, "eo:cloud_cover": 3.5,
                       "proj:shape": [10980, 10980], "proj:transform": [10, 0, 500000, 0, -10, 5200020]},
        "assets": {
            "red": {"href": "s3://sentinel-cogs/S2B/B04.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"], "eo:bands": [{"name": "B04", "common_name": "red"}],
                    "raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}]},
            "nir": {"href": "s3://sentinel-cogs/S2B/B08.tif", "type": "image/tiff; application=geotiff",
                    "roles": ["data"], "eo:bands": [{"name": "B08", "common_name": "nir"}]},
            "rededge1": {"href": "../B05.tif", "type": "image/tiff", "eo:bands": [{"name": "B05", "common_name": "rededge"}]},
            "rededge2": {"href": "../B06.tif", "type": "image/tiff", "eo:bands": [{"name": "B06", "common_name": "rededge"}]},
            "scl": {"href": "s3://sentinel-cogs/S2B/SCL.tif", "type": "image/tiff; application=geotiff", "roles": ["data"],
                    "proj:shape": [5490, 5490], "proj:transform": [20, 0, 500000, 0, -20, 5200020],
                    "raster:bands": [{"nodata": 0, "data_type": "uint8",
                                      "classification:classes": [{"value": 4, "name": "vegetation"}]}]},
            "thumbnail": {"href": "s3://sentinel-cogs/S2B/preview.jpg", "type": "image/jpeg", "roles": ["thumbnail"]},
            "visual": {"href": "s3://sentinel-cogs/S2B/TCI.tif", "type": "image/tiff", "roles": ["visual"]},
        },
    }


def test_compact_item_keeps_raster_bands_only():
    rec = compact_item(earth_search_item(), "/cat/items/x.json", "sentinel-2-l2a")
    assert sorted(rec["assets"]) == ["nir", "red", "rededge1", "rededge2", "scl"]
    assert "classification:classes" not in rec["assets"]["scl"]["raster:bands"][0]     # bulky lists dropped
    bands = item_bands(rec)
    names = [b["name"] for b in bands]
    assert names == ["B04", "B08", "B05", "B06", "scl"]              # no thumbnail, no visual
    scl = bands[-1]
    assert scl["shape"] == [5490, 5490] and scl["transform"][0] == 20 and scl["categorical"]
    assert "crs" not in bands[0] and bands[2]["href"] == "../B05.tif"     # resolved when read
    coll = collection(BandInfo("B04"), BandInfo("B05"))
    item = to_item_record(coll, rec, None)
    assert item.assets["B04"].crs == "EPSG:32633" and item.assets["B04"].shape == (10980, 10980)
    assert item.assets["B05"].href == "/cat/B05.tif" and item.assets["B04"].href == "s3://sentinel-cogs/S2B/B04.tif"
    assert parse_datetime(rec["datetime"]) == dt.datetime(2023, 6, 1, 10, 5, 0, 123000, tzinfo=UTC)


def test_bands_match_by_name_alias_and_unique_common_name():
    coll = collection(BandInfo("B04", "red", nodata=1, scale=2.0), BandInfo("B08", "nir"),
                      BandInfo("SCL", aliases=("scl",), categorical=True), BandInfo("B05", "rededge"),
                      BandInfo("B07", "rededge"))
    rec = compact_item(earth_search_item(), "/cat/items/x.json", "c")
    matched = match_bands(coll, item_bands(rec))
    assert {k: v["name"] for k, v in matched.items()} == {"B04": "B04", "B08": "B08", "SCL": "scl", "B05": "B05"}
    # B07 has common name "rededge" like B05 and B06: ambiguous, not matched.
    item = to_item_record(coll, rec, ("B04", "SCL", "B07"))
    assert list(item.assets) == ["B04", "SCL"]
    red = item.assets["B04"]
    assert (red.nodata, red.scale, red.offset, red.dtype) == (0, 0.0001, -0.1, "uint16")   # item overrides collection
    nir = to_item_record(coll, rec, ("B08",)).assets["B08"]
    assert (nir.nodata, nir.scale) == (None, 1.0)
    assert item.assets["SCL"].shape == (5490, 5490) and item.assets["SCL"].categorical
    assert to_item_record(coll, rec, ("B07",)) is None


def test_href_rewrites_and_collection_defaults():
    coll = collection(BandInfo("B08", "nir", nodata=0, scale=0.0001),
                      rewrites=(("s3://sentinel-cogs/", "/vsis3/sentinel-cogs/"),))
    item = to_item_record(coll, compact_item(earth_search_item(), "/x.json", "c"), None)
    assert list(item.assets) == ["B08"]
    b08 = item.assets["B08"]
    assert b08.href == "/vsis3/sentinel-cogs/S2B/B08.tif" and (b08.nodata, b08.scale) == (0, 0.0001)
    assert item.solar_day == dt.date(2023, 6, 1)


def test_items_without_time_or_footprint_are_skipped():
    doc = earth_search_item()
    doc["properties"]["datetime"] = None
    assert compact_item(doc, "/x.json", "c") is None
    doc = earth_search_item()
    del doc["bbox"]
    assert compact_item(doc, "/x.json", "c")["bbox"] == [15, 46, 16, 47]     # from the geometry
    doc["geometry"] = None
    assert compact_item(doc, "/x.json", "c") is None

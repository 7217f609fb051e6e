"""load_stac's ad-hoc collections: a STAC item, collection or catalog named by URL (local, http://)
searched and described through the layer catalog like a catalogued collection."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from layercatalog.catalog import LayerCatalog
from layercatalog.errors import InvalidCatalogError
from layercatalog.model import ItemQuery
from layercatalog.stacurl import band_names, entry_for_url, is_static_url
from sparkeo.errors import StorageError
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from sparkeo.testing.webserver import serve_folder
from tests.fixtures.catalogs import UTC, stac_item, write_layer_catalog, write_static_catalog

ITEMS = [stac_item(f"i{n}", dt.datetime(2023, 6, 1 + n, 10, tzinfo=UTC), (10.0, 45.0, 10.1, 45.1), "s2")
         for n in range(3)]


@pytest.fixture
def static_catalog(tmp_path) -> str:
    return write_static_catalog(tmp_path / "stac", {"s2": ITEMS, "other": [
        stac_item("o1", dt.datetime(2023, 6, 1, tzinfo=UTC), (0, 0, 1, 1), "other")]})


@pytest.fixture
def catalog(tmp_path) -> LayerCatalog:
    """An empty layer catalog: load_stac needs none of its entries."""
    return LayerCatalog.load(write_layer_catalog(tmp_path / "layercatalog.json", []),
                             Settings(cache_dir=str(tmp_path / "cache")))


def ids(catalog, collection, **query) -> list[str]:
    return [i.id for i in catalog.search(ItemQuery(collection.id, **query), Caller(), allow_empty=True)]


def test_a_collection_url_is_searched_and_its_bands_come_from_the_items(catalog, static_catalog):
    url = str(Path(static_catalog).parent / "s2" / "collection.json")
    collection = catalog.stac_url(url)
    assert collection.id == url and collection.data_source.collection == "s2"
    # the collection document names no bands: they and their nodata/dtype come from the items
    assert [(b.name, b.nodata, b.dtype, b.source) for b in collection.bands] == [
        ("B04", 0, "uint16", "items"), ("B08", 0, "uint16", "items")]
    assert ids(catalog, collection) == ["i0", "i1", "i2"]
    start = dt.datetime(2023, 6, 2, tzinfo=UTC)
    assert ids(catalog, collection, interval=(start, None)) == ["i1", "i2"]
    # never listed: an ad-hoc collection is not part of the operator's catalog
    assert catalog.collections(Caller()) == []


def test_a_single_item_url_and_a_relative_path(catalog, static_catalog, monkeypatch):
    item_path = Path(static_catalog).parent / "s2" / "i1" / "i1.json"
    monkeypatch.chdir(item_path.parent)
    collection = catalog.stac_url("i1.json")
    assert collection.id == str(item_path)            # one key whatever the working directory
    assert collection.bbox == (10.0, 45.0, 10.1, 45.1)
    assert ids(catalog, collection) == ["i1"]
    # the item is edited in place: the next catalog (the next job) sees the edit
    doc = json.loads(item_path.read_text())
    doc["properties"]["datetime"] = "2024-01-01T00:00:00Z"
    item_path.write_text(json.dumps(doc))
    os.utime(item_path, ns=(item_path.stat().st_mtime_ns + 10**9,) * 2)
    again = LayerCatalog.load(catalog.uri, catalog.settings)
    [record] = again.search(ItemQuery(again.stac_url(str(item_path)).id), Caller())
    assert record.datetime == dt.datetime(2024, 1, 1, tzinfo=UTC)


def test_a_catalog_url_loads_all_its_items_whatever_their_collections(catalog, tmp_path, static_catalog):
    url = write_static_catalog(tmp_path / "one", {"s2": ITEMS})
    assert ids(catalog, catalog.stac_url(url)) == ["i0", "i1", "i2"]
    assert ids(catalog, catalog.stac_url(static_catalog)) == ["o1", "i0", "i1", "i2"]


def test_a_static_catalog_over_http(catalog, static_catalog):
    with serve_folder(str(Path(static_catalog).parent)) as web:
        collection = catalog.stac_url(web.url_of("s2/collection.json"))
        records = catalog.search(ItemQuery(collection.id), Caller())
    assert [r.id for r in records] == ["i0", "i1", "i2"]
    # asset hrefs resolve against the item's URL, as GDAL reads them (/vsicurl/)
    assert records[0].assets["B04"].href == web.url_of("s2/i0/i0_B04.tif")


def test_bad_urls_are_errors_naming_the_url(catalog, tmp_path):
    with pytest.raises(InvalidCatalogError, match="nothing.json: document not found"):
        catalog.stac_url(str(tmp_path / "nothing.json"))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InvalidCatalogError, match="list.json.*expected a JSON object"):
        catalog.stac_url(str(tmp_path / "list.json"))
    (tmp_path / "geojson.json").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(InvalidCatalogError, match="not a STAC Item, Collection or Catalog"):
        catalog.stac_url(str(tmp_path / "geojson.json"))
    with serve_folder(str(tmp_path)) as web:
        with pytest.raises(InvalidCatalogError, match="missing.json: document not found"):
            catalog.stac_url(web.url_of("missing.json"))
        closed = web.url
    with pytest.raises(StorageError, match="127.0.0.1"):       # the server is gone: unreachable
        catalog.stac_url(f"{closed}/collection.json")


def test_api_and_static_urls_are_told_apart():
    assert is_static_url("/data/catalog.json") and is_static_url("s3://b/c/collection.json")
    assert is_static_url("https://example.com/stac/collection.json?sig=1")
    assert not is_static_url("https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a")


def test_band_order_from_cube_dimensions_then_summaries():
    assert band_names({"cube:dimensions": {"b": {"type": "bands", "values": ["x", "y"]}},
                       "summaries": {"eo:bands": [{"name": "y"}]}}) == ["x", "y"]
    assert band_names({"summaries": {"bands": [{"name": "red"}, {"name": "nir"}]}}) == ["red", "nir"]
    assert band_names({"summaries": {}}) == []


def test_an_item_entry_is_a_valid_layer_entry(static_catalog):
    entry = entry_for_url(str(Path(static_catalog).parent / "s2" / "i0" / "i0.json"))
    assert entry["_sparkeo"]["data_source"] == {"type": "stac", "url": entry["id"]}
    assert entry["extent"]["spatial"]["bbox"] == [[10.0, 45.0, 10.1, 45.1]]


def test_a_stac_api_collection_url_becomes_an_api_data_source_described_by_its_item_assets(catalog, tmp_path):
    # what GET {api}/collections/{id} answers; searched through the catalog's STAC API client
    folder = tmp_path / "api" / "v1" / "collections"
    folder.mkdir(parents=True)
    (folder / "s2-l2a").write_text(json.dumps({
        "type": "Collection", "id": "sentinel-2-l2a", "description": "S2", "license": "proprietary",
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [["2015-06-27T00:00:00Z", None]]}},
        "item_assets": {"red": {"type": "image/tiff; application=geotiff; profile=cloud-optimized", "roles": ["data"],
                                "eo:bands": [{"name": "B04", "common_name": "red"}],
                                "raster:bands": [{"nodata": 0, "data_type": "uint16"}]}},
        "links": [{"rel": "items", "href": "./s2-l2a/items"}]}))
    (folder / "not-an-api").write_text(json.dumps({"type": "Collection", "id": "x", "description": "x",
                                                   "license": "CC0-1.0", "extent": {}, "links": []}))
    with serve_folder(str(tmp_path / "api")) as web:
        url = web.url_of("v1/collections/s2-l2a")
        collection = catalog.stac_url(url)
        with pytest.raises(InvalidCatalogError, match="neither"):
            catalog.stac_url(web.url_of("v1/collections/not-an-api"))
    assert collection.data_source.url == url and collection.data_source.collection == "sentinel-2-l2a"
    assert [(b.name, b.common_name, b.nodata, b.dtype, b.source) for b in collection.bands] == [
        ("B04", "red", 0, "uint16", "item_assets")]
    assert collection.band("red") is not None

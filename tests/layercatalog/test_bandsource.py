"""Bands of collections whose layer catalog entry lists none, from catalogs built the way other tools
write them (pystac directly): bands only in ``item_assets`` (Earth Search), only on the items (STAC 1.0
``eo:bands``/``raster:bands``, STAC 1.1 ``bands`` with asset-level ``nodata``/``data_type``), one file per
band and multi-band assets. Checked through search, ``catalog describe`` and a real run whose output is
compared with rasterio's reading of the source files."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from click.testing import CliRunner
from affine import Affine

from layercatalog.catalog import LayerCatalog
from layercatalog.query import make_query
from sparkeo.cli.main import cli
from sparkeo.errors import UserError
from sparkeo.identity import Caller
from sparkeo.settings import Settings

UTC = dt.timezone.utc
WHO = Caller("anna")
W, N, PX = 15.0, 46.0, 0.001            # 20 x 20 px of 0.001 degree in EPSG:4326
BBOX = (W, N - 20 * PX, W + 20 * PX, N)
TIF = pystac.MediaType.COG


def raster(path: Path, values: np.ndarray, nodata) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=20, height=20, count=values.shape[0], dtype=values.dtype,
                       crs="EPSG:4326", transform=Affine(PX, 0, W, 0, -PX, N), nodata=nodata) as ds:
        ds.write(values)


def pystac_catalog(root: Path, item_assets: dict | None, item_asset_fields, files, stac_extensions=()) -> str:
    """A static catalog written by pystac: one collection ``coll`` with two items whose assets are
    ``files`` (asset key -> (bands, dtype, nodata)) and carry ``item_asset_fields(key)``."""
    catalog = pystac.Catalog("root", "written with pystac")
    collection = pystac.Collection("coll", "a collection", pystac.Extent(
        pystac.SpatialExtent([list(BBOX)]), pystac.TemporalExtent([[dt.datetime(2023, 6, 1, tzinfo=UTC), None]])))
    if item_assets is not None:
        collection.extra_fields["item_assets"] = item_assets
    catalog.add_child(collection)
    rng = np.random.default_rng(3)
    for day in (1, 11):
        item = pystac.Item(f"scene-{day}", {"type": "Polygon", "coordinates": [[
            [BBOX[0], BBOX[1]], [BBOX[2], BBOX[1]], [BBOX[2], BBOX[3]], [BBOX[0], BBOX[3]], [BBOX[0], BBOX[1]]]]},
            list(BBOX), dt.datetime(2023, 6, day, 10, tzinfo=UTC),
            {"proj:code": "EPSG:4326", "proj:shape": [20, 20], "proj:transform": [PX, 0, W, 0, -PX, N]},
            stac_extensions=list(stac_extensions))
        folder = root / "data" / item.id
        folder.mkdir(parents=True)
        for key, (count, dtype, nodata) in files.items():
            values = rng.integers(1, 10000, (count, 20, 20)).astype(dtype)
            raster(folder / f"{key}.tif", values, nodata)
            item.add_asset(key, pystac.Asset(str(folder / f"{key}.tif"), media_type=TIF, roles=["data"],
                                             extra_fields=item_asset_fields(key)))
        collection.add_item(item)
    catalog.normalize_hrefs(str(root / "stac"))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return str(root / "stac" / "catalog.json")


def plain_entry(url: str, **extra) -> dict:
    """A layer catalog entry that is a plain STAC collection document: no summaries, no cube:dimensions."""
    return {"type": "Collection", "id": "coll", "stac_version": "1.1.0", "description": "plain", "license": "CC0-1.0",
            "extent": {"spatial": {"bbox": [list(BBOX)]}, "temporal": {"interval": [[None, None]]}},
            "links": [], **extra, "_sparkeo": {"data_source": {"type": "stac", "url": url}}}


def load(tmp_path, entry) -> LayerCatalog:
    path = tmp_path / "layercatalog.json"
    path.write_text(json.dumps([entry]))
    return LayerCatalog.load(str(path), Settings(cache_dir=str(tmp_path / "cache")))


# Earth Search: one file per band, bands described only in the collection's item_assets (STAC 1.0)
EARTH_SEARCH_ITEM_ASSETS = {
    key: {"type": TIF, "roles": ["data"], "eo:bands": [{"name": name, "common_name": common}],
          "raster:bands": [{"nodata": nodata, "data_type": dtype, "scale": scale, "offset": offset}]}
    for key, name, common, nodata, dtype, scale, offset in (
        ("green", "B03", "green", 0, "uint16", 0.0001, -0.1), ("red", "B04", "red", 0, "uint16", 0.0001, -0.1),
        ("scl", "SCL", None, 0, "uint8", 1, 0))}
EARTH_SEARCH_FILES = {"green": (1, "uint16", 0), "red": (1, "uint16", 0), "scl": (1, "uint8", 0)}


@pytest.fixture
def earth_search(tmp_path) -> str:
    return pystac_catalog(tmp_path, EARTH_SEARCH_ITEM_ASSETS, lambda key: {}, EARTH_SEARCH_FILES)


def test_bands_only_in_the_stac_collections_item_assets(tmp_path, earth_search):
    cat = load(tmp_path, plain_entry(earth_search))
    c = cat.get("coll", WHO)
    assert [b.name for b in c.bands] == ["B03", "B04", "SCL"]
    b04 = c.band("red")                                     # common name and asset key answer too
    assert (b04.name, b04.nodata, b04.dtype, b04.scale, b04.offset) == ("B04", 0, "uint16", 0.0001, -0.1)
    assert (b04.source, b04.asset, b04.index) == ("item_assets", "red", 1)
    assert c.band("SCL").categorical and not b04.categorical
    # items whose assets carry no band names still serve B04 from the asset of item_assets
    items = cat.search(make_query("coll", bands=["B04", "SCL"]), WHO)
    assert [i.id for i in items] == ["scene-1", "scene-11"]
    a = items[0].assets["B04"]
    assert a.href.endswith("scene-1/red.tif") and a.band_index == 1 and a.nodata == 0 and a.scale == 0.0001


def test_bands_in_the_entrys_own_item_assets(tmp_path, earth_search):
    entry = plain_entry(earth_search, item_assets={"red": EARTH_SEARCH_ITEM_ASSETS["red"]})
    c = load(tmp_path, entry).get("coll", WHO)
    assert [(b.name, b.source) for b in c.bands] == [("B04", "item_assets")]


# STAC 1.1: one multi-band asset per item, bands only on the items, nodata/data_type on the asset
def stac11_fields(key):
    return {"nodata": 0, "data_type": "uint16",
            "bands": [{"name": "B3", "eo:common_name": "green", "scale": 0.0001},
                      {"name": "B4", "eo:common_name": "red", "scale": 0.0001},
                      {"name": "B5", "eo:common_name": "nir", "scale": 0.0001, "offset": -0.2}]}


@pytest.fixture
def stac11(tmp_path) -> str:
    return pystac_catalog(tmp_path, None, stac11_fields, {"data": (3, "uint16", 0)})


def test_stac11_bands_on_the_items_of_a_multiband_asset(tmp_path, stac11):
    c = load(tmp_path, plain_entry(stac11)).get("coll", WHO)
    assert [(b.name, b.source, b.asset, b.index) for b in c.bands] == [
        ("B3", "items", "data", 1), ("B4", "items", "data", 2), ("B5", "items", "data", 3)]
    b5 = c.band("nir")
    assert (b5.name, b5.nodata, b5.dtype, b5.scale, b5.offset) == ("B5", 0, "uint16", 0.0001, -0.2)


# STAC 1.0 Landsat-like: one file per band, eo:bands + raster:bands on each item asset, FMASK
def landsat_fields(key):
    return {"eo:bands": [{"name": key.upper()}],
            "raster:bands": [{"nodata": 1 if key == "fmask" else 0, "data_type": "uint8" if key == "fmask" else "int16",
                              "scale": 1 if key == "fmask" else 0.0001}]}


def test_stac10_bands_on_the_items_one_file_per_band_and_describe_says_so(tmp_path):
    url = pystac_catalog(tmp_path, None, landsat_fields,
                         {"b3": (1, "int16", 0), "b4": (1, "int16", 0), "b5": (1, "int16", 0), "fmask": (1, "uint8", 1)})
    entry = plain_entry(url)
    cat = load(tmp_path, entry)
    c = cat.get("coll", WHO)
    assert [b.name for b in c.bands] == ["B3", "B4", "B5", "FMASK"]
    fmask = c.band("FMASK")
    assert fmask.categorical and fmask.nodata == 1 and fmask.dtype == "uint8"
    assert cat.check_query(make_query("coll", bands=["B3"]), WHO) is not None   # was: has no band 'B3' (bands: )
    result = CliRunner().invoke(cli, ["catalog", "describe", "coll", "--catalog", cat.uri],
                                env={"SPARKEO_CACHE": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.strip().startswith("B3"))
    assert "nodata=0" in line and "int16" in line and "[from the items, asset 'b3' band 1]" in line
    described = json.loads(CliRunner().invoke(cli, ["catalog", "describe", "coll", "--catalog", cat.uri, "--json"],
                                              env={"SPARKEO_CACHE": str(tmp_path / "cache")}).output)
    assert [(b["name"], b["source"]) for b in described["sparkeo:bands"]][-1] == ("FMASK", "items")


def test_entry_bands_still_win(tmp_path, stac11):
    entry = plain_entry(stac11, summaries={"eo:bands": [{"name": "B4", "nodata": 7}]})
    c = load(tmp_path, entry).get("coll", WHO)
    assert [(b.name, b.nodata, b.source) for b in c.bands] == [("B4", 7, "collection")]


def test_a_run_reads_bands_described_only_in_item_assets(spark, tmp_path, earth_search):
    from jobs.run import run_job

    cat = load(tmp_path, plain_entry(earth_search))
    graph = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "coll", "spatial_extent": None, "temporal_extent": ["2023-06-01", "2023-06-02"], "bands": ["B04"]}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "load"}, "format": "GTiff"},
                 "result": True}}}
    out = tmp_path / "out"
    run_job(json.dumps(graph), str(out), "bands-job", cat.uri, None,
            Settings(cache_dir=str(tmp_path / "cache"), tile_size=64), WHO, spark=spark)
    with rasterio.open(out / "2023-06-01.tif") as got, rasterio.open(tmp_path / "data" / "scene-1" / "red.tif") as src:
        assert got.descriptions == ("B04",) and got.dtypes == ("uint16",) and got.nodata == 0
        np.testing.assert_array_equal(got.read(1), src.read(1))


def test_list_keeps_an_entry_whose_items_cannot_be_read(tmp_path, stac11):
    broken = {**plain_entry(str(tmp_path / "missing" / "catalog.json")), "id": "broken"}
    path = tmp_path / "layercatalog.json"
    path.write_text(json.dumps([plain_entry(stac11), broken]))
    cat = LayerCatalog.load(str(path), Settings(cache_dir=str(tmp_path / "cache")))
    assert [(c.id, len(c.bands)) for c in cat.collections(WHO)] == [("broken", 0), ("coll", 3)]
    with pytest.raises(UserError, match="missing"):
        cat.get("broken", WHO)

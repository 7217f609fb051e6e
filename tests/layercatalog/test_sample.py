"""The sample catalog: realistic, deterministic, compressed like real data, and loadable.

Properties are measured from the written files (rasterio), not taken from the generator.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio

from layercatalog.catalog import LayerCatalog
from layercatalog.query import make_query
from layercatalog.sample import COLLECTION_ID, ensure_sample_catalog, write_sample
from sparkeo.errors import ConfigError
from sparkeo.identity import Caller
from sparkeo.settings import Settings

CLOUD = (8, 9, 10)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def item_dirs(root: Path) -> list[Path]:
    return sorted(p for p in (root / COLLECTION_ID).iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def full_sample(tmp_path_factory) -> Path:
    """The default sample (512 px, 8 dates), as ``make demo`` writes it."""
    return Path(write_sample(str(tmp_path_factory.mktemp("sample")))).parent


def test_default_sample_layout_and_files(full_sample):
    dirs = item_dirs(full_sample)
    assert len(dirs) >= 8
    with rasterio.open(dirs[0] / "B04.tif") as ds:
        assert (ds.width, ds.height, ds.dtypes[0], ds.nodata) == (512, 512, "uint16", 0)
        assert ds.crs.to_epsg() == 32633 and ds.res == (10.0, 10.0)
        assert ds.block_shapes[0] == (256, 256) and ds.compression.name.lower() == "deflate"
    with rasterio.open(dirs[0] / "SCL.tif") as ds:
        assert ds.dtypes[0] == "uint8" and ds.nodata == 0


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_compression_ratio_is_realistic_whatever_the_seed(tmp_path, seed):
    """Raw bytes / file bytes in 1.5-2.5 (real S2 L2A deflate GeoTIFFs), for all bands and for reflectance.

    The generator's texture decides this: flat fields compress far better, white noise hardly at all
    (seed 0 gives 1.95 overall and 1.75 for reflectance). A property of the generator, so it is checked
    on several seeds' series, not on the one ``make demo`` writes."""
    sample = Path(write_sample(str(tmp_path / "sample"), seed=seed)).parent
    raw = files = raw_refl = files_refl = 0
    for d in item_dirs(sample):
        for tif in d.glob("*.tif"):
            with rasterio.open(tif) as ds:
                nbytes = ds.width * ds.height * np.dtype(ds.dtypes[0]).itemsize
            raw += nbytes
            files += tif.stat().st_size
            if tif.stem != "SCL":
                raw_refl += nbytes
                files_refl += tif.stat().st_size
    assert 1.5 <= raw / files <= 2.5, raw / files
    assert 1.5 <= raw_refl / files_refl <= 2.5, raw_refl / files_refl


def test_clouds_shadows_nodata_and_season(full_sample):
    fractions, shadows, strips = [], [], []
    ndvi_by_month = {}
    for d in item_dirs(full_sample):
        scl = read(d / "SCL.tif")
        red, nir, blue = (read(d / f"{b}.tif").astype(float) for b in ("B04", "B08", "B02"))
        valid = scl != 0
        cloud = np.isin(scl, CLOUD) & valid
        fractions.append(cloud.sum() / valid.sum())
        shadows.append(((scl == 3) & valid).sum())
        nodata = ~valid
        strips.append(nodata.sum())
        # nodata: all bands 0 exactly where SCL is 0
        assert np.array_equal(red == 0, nodata) and np.array_equal(nir == 0, nodata)
        if cloud.any():   # clouds are bright in every band, shadows darker than clear land
            clear = np.isin(scl, (4, 5))
            assert blue[cloud].mean() > 2 * blue[clear].mean()
            if (scl == 3).any():
                assert red[scl == 3].mean() < red[clear].mean()
        item = json.loads((d / f"{d.name}.json").read_text())
        assert item["properties"]["eo:cloud_cover"] == pytest.approx(100 * fractions[-1], abs=0.01)
        land = np.isin(scl, (4, 5))
        ndvi_by_month[int(d.name.split("_")[2][4:6])] = float(np.median((nir[land] - red[land]) / (nir[land] + red[land])))
    assert min(fractions) < 0.05 and 0.4 < max(fractions) <= 0.6
    assert all(0 <= f <= 0.6 for f in fractions)
    assert sum(s > 0 for s in shadows) >= len(shadows) - 1        # every cloudy date casts shadows
    assert sum(s > 0 for s in strips) >= 1 and min(strips) == 0    # orbit-edge swath on some dates
    # Seasonal NDVI: green-up from March to summer, lower again in autumn than at the peak.
    peak = max(ndvi_by_month, key=ndvi_by_month.get)
    assert 6 <= peak <= 8 and ndvi_by_month[3] < ndvi_by_month[peak] - 0.2


def test_smooth_spatial_structure(full_sample):
    """Neighbouring pixels correlate strongly (not white noise)."""
    nir = read(item_dirs(full_sample)[0] / "B08.tif").astype(float)[300:, :300]
    corr = np.corrcoef(nir[:, :-1].ravel(), nir[:, 1:].ravel())[0, 1]
    assert corr > 0.8


def test_same_seed_same_pixels_other_seed_other_pixels(tmp_path):
    a = Path(write_sample(str(tmp_path / "a"), size=64, dates=3, seed=7)).parent
    b = Path(write_sample(str(tmp_path / "b"), size=64, dates=3, seed=7)).parent
    c = Path(write_sample(str(tmp_path / "c"), size=64, dates=3, seed=8)).parent
    for band in ("B04", "SCL"):
        for da, db, dc in zip(item_dirs(a), item_dirs(b), item_dirs(c)):
            assert np.array_equal(read(da / f"{band}.tif"), read(db / f"{band}.tif"))
        assert not all(np.array_equal(read(da / f"{band}.tif"), read(dc / f"{band}.tif"))
                       for da, dc in zip(item_dirs(a), item_dirs(c)))


def test_stac_items_and_layer_catalog(sample_small, tmp_path):
    root = Path(sample_small).parent
    doc = json.loads(Path(sample_small).read_text())
    (entry,) = doc
    assert entry["_sparkeo"]["data_source"] == {"type": "stac", "url": "catalog.json", "collection": COLLECTION_ID}
    bands = {b["name"]: b for b in entry["summaries"]["eo:bands"]}
    assert bands["B04"]["aliases"] == ["red"] and bands["B08"]["common_name"] == "nir"
    assert bands["SCL"]["categorical"] and bands["B02"]["scale"] == 0.0001
    first = item_dirs(root)[0]
    item_path = first / f"{first.name}.json"
    item = json.loads(item_path.read_text())
    props = item["properties"]
    assert props["proj:code"] == "EPSG:32633" and props["proj:shape"] == [128, 128]
    assert "eo:cloud_cover" in props and item["assets"]["B04"]["raster:bands"][0]["scale"] == 0.0001
    assert item["assets"]["B04"]["href"] == "./B04.tif"          # self-contained: relative hrefs
    cat = LayerCatalog.load(sample_small, Settings(cache_dir=str(tmp_path / "cache")))
    items = cat.search(make_query(COLLECTION_ID, bands=["red", "nir", "SCL"]), Caller())
    assert len(items) == 8 and items[0].assets["SCL"].categorical
    assert items[0].assets["B04"].href == str(item_path.parent / "B04.tif")


def test_band_subset_and_bad_options(tmp_path):
    lc = write_sample(str(tmp_path / "s"), size=32, dates=2, bands=("B04", "SCL"))
    first = item_dirs(Path(lc).parent)[0]
    assert sorted(p.name for p in first.glob("*.tif")) == ["B04.tif", "SCL.tif"]
    with pytest.raises(ConfigError, match="B99"):
        write_sample(str(tmp_path / "t"), bands=("B99",))


def test_ensure_sample_catalog_generates_once(tmp_path, monkeypatch):
    settings = Settings(cache_dir=str(tmp_path / "cache"))
    import layercatalog.sample as sample

    calls = []
    real = sample.write_sample
    monkeypatch.setattr(sample, "write_sample", lambda d, **kw: calls.append(d) or real(d, size=32, dates=2))
    path = ensure_sample_catalog(settings)
    assert path == str(tmp_path / "cache" / "sample" / "layercatalog.json") and os.path.exists(path)
    assert ensure_sample_catalog(settings) == path and len(calls) == 1
    assert sample.default_catalog(settings.replace(catalog="s3://b/lc.json")) == "s3://b/lc.json"


@pytest.mark.parametrize("block, shape, tiled, overviews", [
    ("256", (256, 256), True, False), ("512", (512, 512), True, True), ("1024", (1024, 1024), True, False),   # no overview of an image smaller than a block
    ("strip", (6, 600), False, False)], ids=["256", "512", "1024", "strip"])
def test_block_layouts_are_written_as_other_tools_write_them(tmp_path, block, shape, tiled, overviews):
    """512/1024: GDAL's COG driver (deflate, internal overviews); strip: GDAL's default strips of at
    most 8 KB (6 rows of 600 uint16)."""
    lc = write_sample(str(tmp_path / block), size=600, dates=1, bands=("B04",), block=block)
    with rasterio.open(next(Path(lc).parent.glob("sample-s2/*/B04.tif"))) as ds:
        assert ds.block_shapes[0] == shape and ds.profile["tiled"] == tiled
        assert bool(ds.overviews(1)) == overviews and ds.compression.name.lower() == "deflate"
        same = ds.read(1)
    with rasterio.open(next(Path(write_sample(str(tmp_path / "ref"), size=600, dates=1, bands=("B04",)))
                            .parent.glob("sample-s2/*/B04.tif"))) as ref:
        np.testing.assert_array_equal(same, ref.read(1))
    with pytest.raises(ConfigError, match="block"):
        write_sample(str(tmp_path / "bad"), size=32, dates=1, block="300")


def test_series_above_scene_max_mirror_the_smaller_series(tmp_path, monkeypatch):
    """Above SCENE_MAX the series is the SCENE_MAX px one mirrored at its edges (a 10980 px series
    in seconds): its top-left corner is that series, the rest its mirror image, the footprint the
    whole square, and the size limit is above one Sentinel-2 tile."""
    from layercatalog import sample

    monkeypatch.setattr(sample, "SCENE_MAX", 32)
    small = Path(write_sample(str(tmp_path / "s"), size=32, dates=2, bands=("B04", "SCL"), seed=5)).parent
    big = Path(write_sample(str(tmp_path / "b"), size=56, dates=2, bands=("B04", "SCL"), seed=5, block="1024")).parent
    for ds, db in zip(item_dirs(small), item_dirs(big)):
        for band in ("B04", "SCL"):
            a, b = read(ds / f"{band}.tif"), read(db / f"{band}.tif")
            assert b.shape == (56, 56)
            assert np.array_equal(b[:32, :32], a)
            assert np.array_equal(b[32:, :32], a[::-1][:24]) and np.array_equal(b[:32, 32:], a[:, ::-1][:, :24])
        ring = json.loads((db / f"{db.name}.json").read_text())["geometry"]["coordinates"][0]
        assert len(ring) == 5             # the whole square, though every other date has a nodata swath
    assert sample.MAX_SIZE >= 10980
    with pytest.raises(ConfigError, match="size"):
        write_sample(str(tmp_path / "t"), size=sample.MAX_SIZE + 1)

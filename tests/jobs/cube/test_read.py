"""jobs.cube.read: windows of real GeoTIFFs onto tile grids, nodata, scale, warping, errors, retries."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from jobs.cube import read as read_mod
from jobs.plan.grid import TileGrid
from jobs.cube.read import read_band
from jobs.errors import TransientReadError, UnreadableAssetError
from layercatalog.model import AssetBand
from sparkeo.settings import Settings

SETTINGS = Settings(read_retries=2, read_retry_delay=0.0)
CRS = "EPSG:32633"


def write_tif(path, arr, res=10.0, x0=500000.0, y0=5000000.0, nodata=None, crs=CRS):
    arr = arr if arr.ndim == 3 else arr[None]
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=arr.dtype, crs=crs, transform=from_origin(x0, y0, res, res), nodata=nodata) as ds:
        ds.write(arr)
    return AssetBand(str(path), 1, crs, tuple(from_origin(x0, y0, res, res))[:6], arr.shape[1:],
                     nodata=nodata, dtype=str(arr.dtype))


@pytest.fixture
def ramp(tmp_path):
    arr = (np.arange(40 * 50, dtype=np.uint16).reshape(40, 50) % 997)
    arr[0, 0] = 0          # a real zero: data, since no nodata is declared
    return arr, write_tif(tmp_path / "ramp.tif", arr)


def test_aligned_window_with_outside_as_nan(ramp):
    arr, a = ramp
    # a grid starting 5 px left of and 3 px below the raster's top-left, 20x20
    grid = TileGrid(CRS, (10.0, 0, 500000.0 - 50, 0, -10.0, 5000000.0 - 30), (20, 20))
    got = read_band(a, grid, SETTINGS)
    expect = np.full((20, 20), np.nan, np.float32)
    expect[:, 5:] = arr[3:23, 0:15]
    np.testing.assert_array_equal(got.values, expect)
    assert got.pixels == 20 * 15 and got.bytes == 20 * 15 * 2
    assert got.values[0, 5] == arr[3, 0]


def test_zero_is_data_unless_declared_nodata(ramp, tmp_path):
    arr, a = ramp
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (2, 2))
    assert read_band(a, grid, SETTINGS).values[0, 0] == 0.0
    b = write_tif(tmp_path / "nd.tif", arr, nodata=0)
    assert np.isnan(read_band(b, grid, SETTINGS).values[0, 0])
    assert np.isnan(read_band(b, grid, SETTINGS).values).sum() == 1


def test_nodata_to_nan_whether_few_or_most_pixels_are_nodata(tmp_path):
    # few no-data pixels take the masked store, most of them the division by the valid mask
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (8, 8))
    rng = np.random.default_rng(3)
    for share in (0.0, 0.05, 0.6, 1.0):
        arr = rng.integers(1, 4000, (8, 8)).astype(np.uint16)
        arr[rng.random((8, 8)) < share] = 0
        v = read_band(write_tif(tmp_path / f"nd{share}.tif", arr, nodata=0), grid, SETTINGS).values
        np.testing.assert_array_equal(np.isnan(v), arr == 0)
        np.testing.assert_array_equal(v[arr != 0], arr[arr != 0].astype(np.float32))


def test_per_band_nodata_from_the_asset_overrides_the_file(tmp_path):
    arr = np.array([[-9999, 5], [7, 255]], dtype=np.int16)
    a = write_tif(tmp_path / "ls.tif", arr, nodata=-9999)
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (2, 2))
    v = read_band(a, grid, SETTINGS).values
    assert np.isnan(v[0, 0]) and v[1, 1] == 255
    v = read_band(AssetBand(**{**a.__dict__, "nodata": 255}), grid, SETTINGS).values
    assert v[0, 0] == -9999 and np.isnan(v[1, 1])


def test_scale_offset_only_when_asked(tmp_path):
    arr = np.array([[1000, 0]], dtype=np.uint16)
    a = write_tif(tmp_path / "s.tif", arr, nodata=0)
    a = AssetBand(**{**a.__dict__, "scale": 1e-4, "offset": -0.1})
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (1, 2))
    assert read_band(a, grid, SETTINGS).values[0, 0] == 1000
    scaled = read_band(a, grid, SETTINGS, apply_scale=True).values
    assert scaled[0, 0] == pytest.approx(0.0, abs=1e-6) and np.isnan(scaled[0, 1])


def test_categorical_upsampling_is_nearest(tmp_path):
    scl = np.array([[4, 8], [3, 9]], dtype=np.uint8)
    a = write_tif(tmp_path / "scl.tif", scl, res=20.0)
    a = AssetBand(**{**a.__dict__, "categorical": True})
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (4, 4))
    got = read_band(a, grid, SETTINGS).values
    np.testing.assert_array_equal(got, np.kron(scl, np.ones((2, 2))).astype(np.float32))


def test_continuous_upsampling_is_bilinear_and_stays_in_range(tmp_path):
    arr = np.array([[0, 100], [100, 200]], dtype=np.uint16)
    a = write_tif(tmp_path / "c.tif", arr, res=20.0, nodata=65535)
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (4, 4))
    got = read_band(a, grid, SETTINGS).values
    assert not np.isnan(got).any()
    assert got.min() >= 0 and got.max() <= 200
    assert len(np.unique(got)) > 4        # interpolated, not replicated


def test_other_crs_is_warped(tmp_path):
    arr = np.full((50, 50), 42, dtype=np.uint16)
    a = write_tif(tmp_path / "utm34.tif", arr, crs="EPSG:32634", x0=200000.0, y0=5000000.0, nodata=0)
    # a grid in EPSG:4326 well inside the raster's footprint
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True).transform(200250.0, 4999750.0)
    grid = TileGrid("EPSG:4326", (0.0005, 0, lon - 0.001, 0, -0.0005, lat + 0.001), (4, 4))
    got = read_band(a, grid, SETTINGS).values
    np.testing.assert_array_equal(got, np.full((4, 4), 42, np.float32))


def test_corrupt_and_missing_assets_are_unreadable_with_href(tmp_path, ramp):
    _, a = ramp
    bad = tmp_path / "corrupt.tif"
    bad.write_bytes(open(a.href, "rb").read()[:300])
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (4, 4))
    for href in (str(bad), str(tmp_path / "missing.tif")):
        with pytest.raises(UnreadableAssetError) as err:
            read_band(AssetBand(**{**a.__dict__, "href": href}), grid, SETTINGS)
        assert err.value.href == href and href in str(err.value)
        assert err.value.exit_code == 1


def test_transient_errors_are_retried_then_final(monkeypatch, ramp):
    _, a = ramp
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (4, 4))
    real = read_mod._read_once
    calls = []

    def flaky(asset, *args):
        calls.append(1)
        if len(calls) <= 2:
            raise TransientReadError(asset.href, "HTTP 503")
        return real(asset, *args)

    monkeypatch.setattr(read_mod, "_read_once", flaky)
    got = read_band(a, grid, SETTINGS)
    assert got.retries == 2 and not np.isnan(got.values).any()
    calls.clear()
    with pytest.raises(UnreadableAssetError, match="after 1 retries"):
        read_band(a, grid, SETTINGS, retries=1)


def test_resampling_override_per_band(tmp_path):
    from jobs.cube.read import resampling_override

    assert resampling_override({"SCL": "near"}, "SCL") == "nearest"
    assert resampling_override({"SCL": "near"}, "B04") is None
    assert resampling_override("cubicspline", "B04") == "cubic_spline"
    with pytest.raises(ValueError, match="'fancy'"):
        resampling_override({"B04": "fancy"}, "B04")
    arr = np.array([[0, 100], [100, 200]], dtype=np.uint16)
    a = write_tif(tmp_path / "c.tif", arr, res=20.0, nodata=65535)
    grid = TileGrid(CRS, (10.0, 0, 500000.0, 0, -10.0, 5000000.0), (4, 4))
    got = read_band(a, grid, SETTINGS, resampling="nearest").values
    np.testing.assert_array_equal(got, np.kron(arr, np.ones((2, 2))).astype(np.float32))


def test_keep_open_reads_the_same_values_opening_each_asset_once(ramp, tmp_path, monkeypatch):
    arr, a = ramp
    grids = [TileGrid(CRS, (10.0, 0, 500000.0 + 100 * i, 0, -10.0, 5000000.0), (20, 10)) for i in range(4)]
    expected = [read_band(a, g, SETTINGS).values for g in grids]
    opened = []
    real_open = rasterio.open
    monkeypatch.setattr(rasterio, "open", lambda href, *args, **kw: opened.append(href) or real_open(href, *args, **kw))
    with read_mod.keep_open():
        got = [read_band(a, g, SETTINGS).values for g in grids]
        kept = list(read_mod._OPEN.values())
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    assert opened == [a.href] and len(kept) == 1 and kept[0].closed
    assert read_mod._OPEN is None                          # outside the block: open per read again
    missing = AssetBand(str(tmp_path / "gone.tif"), 1, CRS, a.transform, a.shape)
    with read_mod.keep_open(), pytest.raises(UnreadableAssetError, match="gone.tif"):
        read_band(missing, grids[0], SETTINGS)


def test_keep_open_with_settings_enters_their_gdal_env_once_for_the_block(ramp, monkeypatch):
    import dataclasses

    import sparkeo.rasterenv as rasterenv

    arr, a = ramp
    grids = [TileGrid(CRS, (10.0, 0, 500000.0 + 100 * i, 0, -10.0, 5000000.0), (20, 10)) for i in range(3)]
    entered = []
    real_env = rasterenv.rasterio_env

    def counting_env(settings):
        entered.append(settings)
        return real_env(settings)
    monkeypatch.setattr(rasterenv, "rasterio_env", counting_env)
    with read_mod.keep_open(SETTINGS):
        got = [read_band(a, g, SETTINGS).values for g in grids]
        assert rasterio.env.getenv()["GDAL_CACHEMAX"] == rasterenv.gdal_options(SETTINGS)["GDAL_CACHEMAX"]
        other = dataclasses.replace(SETTINGS, read_retries=SETTINGS.read_retries + 1)
        read_band(a, grids[0], other)                      # other settings: their own Env, as before
    assert entered == [SETTINGS, other]
    for g, values in zip(grids, got):
        np.testing.assert_array_equal(values, read_band(a, g, SETTINGS).values)
    assert read_mod._ENV_SETTINGS is None


def test_read_into_a_given_slot_converts_in_place_and_pads_with_nan(ramp, tmp_path):
    arr, _ = ramp
    b = write_tif(tmp_path / "nd.tif", arr, nodata=0)
    grid = TileGrid(CRS, (10.0, 0, 499950.0, 0, -10.0, 5000000.0), (4, 8))   # 5 columns left of the asset
    stack = np.full((2, 4, 8), -1.0, np.float32)
    got = read_band(b, grid, SETTINGS, out=stack[1])
    assert np.shares_memory(got.values, stack[1]) and (stack[0] == -1).all()   # the other slot untouched
    expect = np.full((4, 8), np.nan, np.float32)
    expect[:, 5:] = np.where(arr[:4, :3] == 0, np.nan, arr[:4, :3])
    np.testing.assert_array_equal(stack[1], expect)

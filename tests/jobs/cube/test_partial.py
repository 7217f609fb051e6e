"""The top rows of a DEFLATE block inflated alone equal GDAL's decoding of them, for the layouts it
handles (no predictor, horizontal differencing of integers, several dtypes, multi-band); other
layouts are left to GDAL (None)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from jobs.cube.partial import top_rows


def write(path, values: np.ndarray, **options) -> str:
    bands, height, width = values.shape
    profile = {"driver": "GTiff", "height": height, "width": width, "count": bands, "dtype": values.dtype.name,
               "tiled": True, "blockxsize": 32, "blockysize": 32, "compress": "deflate", "interleave": "band",
               **options}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(values)
    return str(path)


def values(dtype: str, bands: int = 1) -> np.ndarray:
    rng = np.random.default_rng(4)
    smooth = np.cumsum(rng.integers(-3, 4, (bands, 70, 90)), axis=2)       # compressible, with negatives
    return (smooth * (0.37 if dtype.startswith("float") else 1)).astype(dtype)


@pytest.mark.parametrize("dtype, predictor", [("uint16", 1), ("uint16", 2), ("int16", 2), ("uint8", 2),
                                              ("float32", 1), ("int32", 2)])
def test_top_rows_equal_gdal(tmp_path, dtype, predictor):
    path = write(tmp_path / "a.tif", values(dtype, bands=2), predictor=predictor)
    with rasterio.open(path) as ds:
        for band in (1, 2):
            for block in [(0, 0), (1, 2), (2, 1)]:           # (2, *) and (*, 2): the raster's partial edge blocks
                for rows in (1, 3, 8):
                    got = top_rows(ds, band, block, (32, 32), rows)
                    r0, c0 = block[0] * 32, block[1] * 32
                    width = min(32, ds.width - c0)
                    want = ds.read(band, window=Window(c0, r0, width, min(rows, ds.height - r0)))
                    assert got is not None and got.dtype == want.dtype
                    np.testing.assert_array_equal(got[:want.shape[0], :width], want)


@pytest.mark.parametrize("options", [{"compress": "lzw"}, {"predictor": 3, "dtype": "float32"},
                                     {"interleave": "pixel"}])
def test_other_layouts_are_left_to_gdal(tmp_path, options):
    dtype = options.pop("dtype", "uint16")
    path = write(tmp_path / "b.tif", values(dtype, bands=2), **options)
    with rasterio.open(path) as ds:
        assert top_rows(ds, 1, (0, 0), (32, 32), 2) is None


def test_a_short_first_read_is_extended_until_the_rows_are_inflated(tmp_path):
    from jobs.cube.partial import _inflate

    data = np.random.default_rng(1).integers(0, 255, 5000).astype("uint8").tobytes()
    stream = zlib.compress(data)
    path = tmp_path / "s.bin"
    path.write_bytes(b"head" + stream + b"tail")
    assert _inflate(str(path), 4, len(stream), 3000, first=16) == data[:3000]      # 16, 32, 64 ... bytes read
    assert _inflate(str(path), 4, len(stream) // 2, 4900, first=16) is None       # the stream ends short

"""jobs.results.cog: COGs GDAL reads back pixel for pixel, laid out as GDAL's COG validator requires, with
overviews equal to GDAL's own AVERAGE and to a plain-Python MODE."""
from __future__ import annotations

import io
import math
import os
from collections import Counter

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine

from jobs.results.cog import MAX_ENCODE_THREADS, CogLayout, GdalTags, encode_threads, write_cog
from jobs.results.overviews import reduce2x2

UTM = "EPSG:32633"
TRANSFORM = (10.0, 0.0, 500000.0, 0.0, -10.0, 5100000.0)


def write(path, values, nodata, resampling="average", crs=UTM, transform=TRANSFORM, names=None, **kw):
    h, w, b = values.shape
    layout = CogLayout(w, h, b, values.dtype.name, nodata, resampling, **kw)
    with open(path, "wb") as fh:
        tags = GdalTags.for_image(crs, transform, names or [f"b{i}" for i in range(b)])
        write_cog(fh, layout, values, tags, path.parent)
    return layout


def cog_layout_errors(path) -> list[str]:
    """The layout rules of GDAL's validate_cloud_optimized_geotiff.py, read through GDAL's own
    TIFF metadata (IFD and block offsets): IFDs first, full resolution first, then the data from the
    smallest overview to the full resolution, each level's blocks in row-major order."""
    errors = []
    with rasterio.open(path) as ds:
        if ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") != "COG":
            errors.append("no COG layout in GDAL's structural metadata")
        levels = [None] + list(range(len(ds.overviews(1))))
        ifds = [int(ds.get_tag_item("IFD_OFFSET", "TIFF", bidx=1, ovr=o)) for o in levels]
        if ifds != sorted(ifds):
            errors.append(f"IFDs out of order: {ifds}")
        firsts = []
        for o in levels:
            shape = (ds.height, ds.width) if o is None else _ovr_shape(ds, o)
            rows, cols = -(-shape[0] // 256), -(-shape[1] // 256)
            offsets = [int(ds.get_tag_item(f"BLOCK_OFFSET_{c}_{r}", "TIFF", bidx=1, ovr=o))
                       for r in range(rows) for c in range(cols)]
            if offsets != sorted(offsets):
                errors.append(f"level {o}: blocks not in row-major order")
            if min(offsets) <= max(ifds):
                errors.append(f"level {o}: data before the last IFD")
            firsts.append(offsets[0])
        if firsts != sorted(firsts, reverse=True):
            errors.append(f"data of a larger level before a smaller one: {firsts}")
    return errors


def _ovr_shape(ds, o):
    with rasterio.open(ds.name, overview_level=o) as ovr:
        return ovr.height, ovr.width


def test_levels_halve_until_one_block_like_gdal():
    assert CogLayout(2048, 2048, 1, "float32", math.nan).levels == ((2048, 2048), (1024, 1024), (512, 512),
                                                                     (256, 256))
    assert CogLayout(600, 257, 1, "float32", math.nan).levels == ((257, 600), (129, 300), (65, 150))
    assert CogLayout(90, 70, 1, "float32", math.nan).levels == ((70, 90),)


def test_float_cog_reads_back_exactly_with_gdal_overviews_and_layout(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.random((700, 600, 1)).astype(np.float32)
    values[100:180, 50:400] = np.nan                          # clouds: nodata
    values[0:3, 0:3] = np.nan
    path = tmp_path / "mine.tif"
    write(path, values, math.nan, names=["ndvi"])
    assert cog_layout_errors(path) == []
    # GDAL's own COG of the same pixels is the reference for the average overviews
    ref = tmp_path / "gdal.tif"
    with rasterio.open(tmp_path / "src.tif", "w", driver="GTiff", width=600, height=700, count=1, dtype="float32",
                       crs=UTM, transform=Affine(*TRANSFORM), nodata=math.nan) as src:
        src.write(values[:, :, 0], 1)
    rasterio.shutil.copy(tmp_path / "src.tif", ref, driver="COG", BLOCKSIZE=256, OVERVIEW_RESAMPLING="AVERAGE")
    with rasterio.open(path) as got, rasterio.open(ref) as want:
        assert got.crs == want.crs and got.transform == want.transform
        assert math.isnan(got.nodata) and got.dtypes == ("float32",) and got.descriptions == ("ndvi",)
        assert got.compression.name == "deflate" and got.block_shapes == [(256, 256)]
        np.testing.assert_array_equal(got.read(1), values[:, :, 0])
        assert got.overviews(1) == want.overviews(1) == [2, 4]
        for level in range(2):
            with rasterio.open(path, overview_level=level) as a, rasterio.open(ref, overview_level=level) as b:
                np.testing.assert_array_equal(a.read(1), b.read(1))


def mode_reference(values: np.ndarray, nodata) -> np.ndarray:
    """2 x 2 mode in plain Python: most common valid value, the first seen on a tie."""
    h, w = values.shape
    out = np.full((-(-h // 2), -(-w // 2)), nodata, values.dtype)
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            seen = [v for v in values[2 * r:2 * r + 2, 2 * c:2 * c + 2].ravel() if v != nodata]
            if seen:
                counts = Counter(seen)
                out[r, c] = max(seen, key=lambda v: (counts[v], -seen.index(v)))
    return out


def test_class_map_keeps_dtype_and_nodata_and_overviews_take_the_mode(tmp_path):
    rng = np.random.default_rng(5)
    classes = rng.integers(0, 6, size=(301, 515, 1)).astype(np.uint8)   # odd sizes: partial windows
    path = tmp_path / "scl.tif"
    layout = write(path, classes, 0.0, "mode", names=["SCL"])
    assert cog_layout_errors(path) == []
    assert layout.levels[1] == (151, 258)
    with rasterio.open(path) as ds:
        assert ds.dtypes == ("uint8",) and ds.nodata == 0
        np.testing.assert_array_equal(ds.read(1), classes[:, :, 0])
    with rasterio.open(path, overview_level=0) as ovr:
        np.testing.assert_array_equal(ovr.read(1), mode_reference(classes[:, :, 0], 0))


def test_mode_ties_go_to_the_first_valid_value_and_nodata_never_wins():
    values = np.array([[7, 3, 0, 0, 5, 5],
                       [3, 7, 0, 4, 0, 9]], np.int16)[:, :, np.newaxis]
    got = reduce2x2(values, 0, "mode")[:, :, 0]
    np.testing.assert_array_equal(got, [[7, 4, 5]])


def test_average_skips_nodata_and_all_nodata_stays_nodata():
    values = np.array([[1.0, np.nan, np.nan, np.nan, 4.0],
                       [3.0, np.nan, np.nan, np.nan, 6.0],
                       [8.0, 8.0, 1.0, 2.0, np.nan]], np.float32)[:, :, np.newaxis]
    got = reduce2x2(values, math.nan, "average")[:, :, 0]
    np.testing.assert_array_equal(got[0], [2.0, np.nan, 5.0])
    np.testing.assert_array_equal(got[1], [8.0, 1.5, np.nan])


def test_multiband_is_pixel_interleaved_with_names_and_a_wkt_crs(tmp_path):
    # a CRS without an EPSG code: GDAL's geokeys carry it, as GDAL would have written them
    wkt = ('PROJCS["custom LAEA",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
           'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Lambert_Azimuthal_Equal_Area"],'
           'PARAMETER["latitude_of_center",52],PARAMETER["longitude_of_center",10],PARAMETER["false_easting",0],'
           'PARAMETER["false_northing",0],UNIT["metre",1]]')
    values = np.arange(3 * 40 * 50, dtype=np.int16).reshape(40, 50, 3) - 100
    transform = (20.0, 0.0, -1000.0, 0.0, -20.0, 2000.0)
    path = tmp_path / "rgb.tif"
    write(path, values, -9999.0, "mode", crs=wkt, transform=transform, names=["red", "nir & <swir>", "blue"])
    with rasterio.open(path) as ds:
        assert ds.descriptions == ("red", "nir & <swir>", "blue")
        assert ds.nodata == -9999 and ds.interleaving.value == "PIXEL"
        assert ds.crs == rasterio.crs.CRS.from_wkt(wkt) and tuple(ds.transform)[:6] == transform
        np.testing.assert_array_equal(np.moveaxis(ds.read(), 0, -1), values)


def test_bigtiff_layout_reads_back_the_same(tmp_path, monkeypatch):
    """Files past 4 GB switch to BigTIFF (8-byte offsets); forced here on a small raster."""
    import jobs.results.cog

    monkeypatch.setattr(jobs.results.cog, "CLASSIC_TIFF_LIMIT", 0)
    values = np.random.default_rng(1).random((520, 300, 2)).astype(np.float32)
    path = tmp_path / "big.tif"
    write(path, values, math.nan)
    assert path.read_bytes()[:4] == b"II+\0"
    assert cog_layout_errors(path) == []
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(np.moveaxis(ds.read(), 0, -1), values)


def test_a_seekable_buffer_gets_the_same_bytes_as_a_file(tmp_path):
    values = np.random.default_rng(4).random((300, 280, 1)).astype(np.float32)
    layout = write(tmp_path / "file.tif", values, math.nan, names=["x"])
    buf = io.BytesIO()
    write_cog(buf, layout, values, GdalTags.for_image(UTM, TRANSFORM, ["x"]), tmp_path)
    assert buf.getvalue() == (tmp_path / "file.tif").read_bytes()


@pytest.mark.parametrize("threads", [1, 3])
def test_any_encode_thread_count_writes_the_same_bytes(tmp_path, threads):
    values = np.random.default_rng(5).random((600, 520, 2)).astype(np.float32)
    layout = write(tmp_path / "default.tif", values, math.nan, names=["x", "y"])
    buf = io.BytesIO()
    write_cog(buf, layout, values, GdalTags.for_image(UTM, TRANSFORM, ["x", "y"]), tmp_path, threads=threads)
    assert buf.getvalue() == (tmp_path / "default.tif").read_bytes()


def test_encode_threads_default_to_one_per_core_up_to_eight():
    assert encode_threads(0) == min(MAX_ENCODE_THREADS, os.cpu_count() or 2) and encode_threads(3) == 3


@pytest.mark.parametrize("dtype,nodata", [("uint16", 0.0), ("int32", -1.0), ("float32", math.nan)])
def test_partial_edge_blocks_read_back_exactly_for_each_dtype(tmp_path, dtype, nodata):
    values = np.random.default_rng(2).integers(1, 1000, size=(257, 300, 1)).astype(dtype)
    path = tmp_path / "edge.tif"
    write(path, values, nodata)
    with rasterio.open(path) as ds:
        assert ds.dtypes == (dtype,)
        np.testing.assert_array_equal(ds.read(1), values[:, :, 0])
        corner = ds.read(1, window=rasterio.windows.Window(256, 256, 44, 1))
        np.testing.assert_array_equal(corner, values[256:, 256:, 0])

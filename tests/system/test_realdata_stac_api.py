"""The real-data composites give the same pixels whether their items come from the static catalog or
from the STAC API (stac-fastapi-pgstac holding the same items)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from jobs.run import run_job
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.system.test_realdata import landsat_ndvi_graph, s2_median_graph


@pytest.mark.slow
@pytest.mark.parametrize("graph", [s2_median_graph, landsat_ndvi_graph], ids=["s2-median", "landsat-ndvi"])
def test_realdata_composite_same_pixels_via_stac_api(spark, realdata_catalog, realdata_stac_api_catalog, graph,
                                                     tmp_path):
    settings = Settings(cache_dir=str(tmp_path / "cache"), tile_size=64)
    results = {}
    for name, catalog in (("static", realdata_catalog), ("api", realdata_stac_api_catalog)):
        out = tmp_path / name
        run_job(json.dumps(graph()), str(out), f"rd-{name}", catalog, None, settings, Caller(), spark=spark)
        with rasterio.open(out / "result.tif") as ds:
            results[name] = (ds.read(), ds.crs, ds.transform, ds.descriptions)
        inputs = json.loads((out / "job_metadata.json").read_text())["inputs"]
        results[name + "-inputs"] = sorted(inputs if isinstance(inputs[0], str) else (i["id"] for i in inputs))
    (got, *grid), (expect, *expect_grid) = results["api"], results["static"]
    assert grid == expect_grid
    np.testing.assert_array_equal(got, expect)          # NaN where NaN, every other pixel identical
    assert results["api-inputs"] == results["static-inputs"]


@pytest.mark.slow
def test_realdata_load_stac_of_a_stac_api_collection_url_equals_load_collection(
        spark, realdata_catalog, realdata_stac_api_catalog, stac_api, tmp_path):
    """load_stac given the API's ``.../collections/{id}`` URL searches the API itself (no layer catalog
    entry) and gives the static catalog's load_collection pixels."""
    settings = Settings(cache_dir=str(tmp_path / "cache"), tile_size=64)
    by_collection = s2_median_graph()
    by_url = s2_median_graph()
    load = by_url["process_graph"]["load"]
    load["process_id"] = "load_stac"
    load["arguments"] = {"url": stac_api.collection_url("eolearn-s2-l1c"), "bands": load["arguments"]["bands"]}
    results = {}
    for name, graph, catalog in (("collection", by_collection, realdata_catalog),
                                 ("load_stac", by_url, realdata_stac_api_catalog)):
        out = tmp_path / name
        run_job(json.dumps(graph), str(out), f"rd-{name.replace('_', '-')}", catalog, None, settings, Caller(),
                spark=spark)
        with rasterio.open(out / "result.tif") as ds:
            results[name] = (ds.read(), ds.crs, ds.transform, ds.descriptions)
    (got, *grid), (expect, *expect_grid) = results["load_stac"], results["collection"]
    assert grid == expect_grid
    assert np.isfinite(expect).any()
    np.testing.assert_array_equal(got, expect)

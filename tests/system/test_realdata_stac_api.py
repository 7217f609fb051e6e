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

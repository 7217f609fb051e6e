"""One composite, read four ways with real parts: local files, an s3fs FUSE mount, GDAL's /vsis3/ and
rasterio's own ``s3://`` (the catalog's ``href_rewrites`` choose), from a STAC catalog and a layer
catalog that both live on a moto S3 server. All give bit-identical results, equal to a numpy median
over the same pixels. Results go to S3 with S3 asset hrefs.
"""
from __future__ import annotations

import json

import numpy as np

from layercatalog.catalog import LayerCatalog
from layercatalog.model import ItemQuery
from sparkeo import storage
from sparkeo.identity import Caller
from tests.fixtures.eodata import BANDS, COLLECTION, DATES, result_array, run_median, settings_for


def test_catalog_on_s3_loads_and_rewrites_hrefs(eodata, aws_env, tmp_path):
    uri = eodata.layer_catalog("clean", f"/vsis3/{eodata.bucket.name}/")
    catalog = LayerCatalog.load(uri, settings_for(aws_env, tmp_path / "cache"))
    caller = Caller.from_values("tester", "")
    assert [c.id for c in catalog.collections(caller)] == [COLLECTION]
    items = catalog.search(ItemQuery(COLLECTION, bands=BANDS), caller)
    assert len(items) == DATES
    hrefs = [a.href for item in items for a in item.assets.values() if a is not None]
    assert len(hrefs) == DATES * len(BANDS)
    assert all(h.startswith(f"/vsis3/{eodata.bucket.name}/clean/{COLLECTION}/") for h in hrefs)


def test_four_read_paths_give_identical_results(spark, eodata, aws_env, s3fs_mount, tmp_path):
    settings = settings_for(aws_env, tmp_path / "cache")
    bucket = eodata.bucket
    mount = s3fs_mount(bucket)
    runs = {  # separate prefixes: no read path is served from another one's GDAL cache
        "local": (str(eodata.local / "layercatalog.json"), str(tmp_path / "out-local")),
        "fuse": (eodata.layer_catalog("paths-fuse", f"{mount}/"), bucket.uri("jobs/fuse")),
        "vsis3": (eodata.layer_catalog("paths-vsis3", f"/vsis3/{bucket.name}/"), bucket.uri("jobs/vsis3")),
        "s3": (eodata.layer_catalog("paths-s3", None), bucket.uri("jobs/s3")),
    }
    results, usage = {}, {}
    for name, (catalog, output) in runs.items():
        usage[name] = run_median(spark, catalog, output, settings, job_id=f"paths-{name}").usage
        results[name] = result_array(output, tmp_path)
    reference = eodata.numpy_median()
    np.testing.assert_array_equal(np.isnan(results["local"]), np.isnan(reference))
    np.testing.assert_allclose(results["local"], reference, rtol=1e-6, equal_nan=True)
    for name in ("fuse", "vsis3", "s3"):
        assert results[name].tobytes() == results["local"].tobytes(), f"{name} differs from local"
        assert usage[name]["input_pixels"] == usage["local"]["input_pixels"] > 0
        assert usage[name]["read_retries"] == 0
    # Results on S3 name their assets by S3 URL; the metadata went up before the document.
    doc = json.loads(storage.read_text(bucket.uri("jobs/vsis3/collection.json")))
    assert doc["assets"]["result"]["href"] == bucket.uri("jobs/vsis3/result.tif")
    meta = json.loads(storage.read_text(bucket.uri("jobs/vsis3/job_metadata.json")))
    assert meta["skipped_assets"] == [] and meta["usage"]["tiles"] == 4
    objects = bucket.objects("jobs/vsis3/")
    assert sorted(objects) == [f"jobs/vsis3/{n}" for n in ("collection.json", "job_metadata.json", "result.json",
                                                            "result.tif")]
    # Publication order is job_metadata.json, the COG, its item, collection.json; S3 stamps to the
    # second, so equal stamps are allowed but the first file can be no newer and the last no older.
    written = {key.rsplit("/", 1)[1]: obj["LastModified"] for key, obj in objects.items()}
    assert written["job_metadata.json"] == min(written.values())
    assert written["collection.json"] == max(written.values())

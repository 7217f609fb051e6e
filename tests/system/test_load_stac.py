"""load_stac end to end on the shared Spark session: a job's results (local folder, S3) load back as
the same cube, pixel for pixel; a static catalog served over real HTTP loads as the catalogued
collection does; a graph from the official openEO client runs unchanged; bad URLs are user errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from jobs.run import run_job
from sparkeo import storage
from sparkeo.errors import UserError
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from sparkeo.testing.webserver import serve_folder
from tests.fixtures.eodata import settings_for
from tests.shared_location import CHECKOUT

DEMO = CHECKOUT / "examples" / "ndvi_median.json"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), tile_size=64, read_retry_delay=0.0)


def graph(load: dict, *steps: tuple[str, str, dict]) -> dict:
    """``load`` then each ``(node, process, arguments)`` on the previous node, then save_result GTiff."""
    nodes, last = {"load": load}, "load"
    for node, process, arguments in steps:
        nodes[node] = {"process_id": process, "arguments": {"data": {"from_node": last}, **arguments}}
        last = node
    nodes["save"] = {"process_id": "save_result", "arguments": {"data": {"from_node": last}, "format": "GTiff"},
                     "result": True}
    return {"process_graph": nodes}


def load_stac(url: str, **arguments) -> dict:
    return {"process_id": "load_stac", "arguments": {"url": url, **arguments}}


SAMPLE_BANDS = {"process_id": "load_collection", "arguments": {"id": "sample-s2", "bands": ["B04", "B08"]}}
MONTHLY_MEAN = ("months", "aggregate_temporal_period", {
    "period": "month", "reducer": {"process_graph": {"mean": {
        "process_id": "mean", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}})


def run(spark, settings, catalog, output, doc, job_id):
    return run_job(json.dumps(doc), str(output), job_id, catalog, None, settings, Caller(), spark=spark)


def rasters(location: str, workdir: Path) -> dict[str, tuple[dict, tuple, np.ndarray]]:
    """Every GeoTIFF of a results location: name -> (profile, band descriptions, pixels)."""
    doc = json.loads(storage.read_text(storage.join(location, "collection.json")))
    out = {}
    for asset in doc["assets"].values():
        name = asset["href"].rsplit("/", 1)[1]
        local = workdir / f"{abs(hash(location)):x}-{name}"
        storage.download(storage.resolve(storage.join(location, "collection.json"), asset["href"]), str(local))
        with rasterio.open(local) as ds:
            profile = {k: ds.profile[k] for k in ("crs", "transform", "width", "height", "count", "dtype")}
            profile["nodata"] = "nan" if ds.nodata is not None and np.isnan(ds.nodata) else ds.nodata
            out[name] = (profile, ds.descriptions, ds.read())
    return out


def assert_same_rasters(first: dict, second: dict) -> None:
    assert sorted(first) == sorted(second)          # file names carry the t labels
    for name, (profile, descriptions, values) in first.items():
        profile2, descriptions2, values2 = second[name]
        assert profile2 == profile and descriptions2 == descriptions, name
        np.testing.assert_array_equal(values2, values, err_msg=name)      # NaN == NaN here


@pytest.mark.parametrize("steps, dtype, nodata", [
    ((MONTHLY_MEAN,), "float32", "nan"),        # period labels (2023-03), computed float32 with NaN
    ((), "uint16", 0.0),                        # date labels, a band passed through with its dtype and nodata
])
def test_results_load_back_as_the_same_cube(spark, settings, sample_small, tmp_path, steps, dtype, nodata):
    first = tmp_path / "first"
    run(spark, settings, sample_small, first, graph(SAMPLE_BANDS, *steps), "first")
    second = tmp_path / "second"
    run(spark, settings, sample_small, second, graph(load_stac(str(first / "collection.json"))), "second")
    one, two = rasters(str(first), tmp_path), rasters(str(second), tmp_path)
    assert_same_rasters(one, two)
    profile, descriptions, _ = next(iter(one.values()))
    assert (profile["dtype"], profile["nodata"], descriptions) == (dtype, nodata, ("B04", "B08"))
    if steps:
        assert all(len(Path(name).stem) == 7 for name in one)          # YYYY-MM: the period labels came back
    # and the second job's documents describe each file as the first job's did (periods included)
    for name in one:
        docs = [json.loads((out / f"{Path(name).stem}.json").read_text()) for out in (first, second)]
        kept = [{k: d["properties"].get(k) for k in ("datetime", "start_datetime", "end_datetime",
                                                     "sparkeo:time_label", "sparkeo:observations")} for d in docs]
        assert kept[0] == kept[1], name
    assert json.loads((first / "collection.json").read_text())["cube:dimensions"] == \
        json.loads((second / "collection.json").read_text())["cube:dimensions"]
    # the second job's documents say where its input came from: the first job's result items
    meta = json.loads((second / "job_metadata.json").read_text())
    assert sorted(meta["inputs"]) == sorted(f"first_{Path(name).stem}" for name in one)


def test_a_composite_without_t_and_bands_loads_back_without_them(spark, settings, sample_small, tmp_path):
    first = tmp_path / "first"
    run(spark, settings, sample_small, first, json.loads(DEMO.read_text()), "first")     # ndvi, median over t
    second = tmp_path / "second"
    ndvi_plus_one = ("plus", "apply", {"process": {"process_graph": {"add": {
        "process_id": "add", "arguments": {"x": {"from_parameter": "x"}, "y": 1}, "result": True}}}})
    run(spark, settings, sample_small, second, graph(load_stac(str(first / "collection.json")), ndvi_plus_one),
        "second")
    one, two = rasters(str(first), tmp_path), rasters(str(second), tmp_path)
    assert list(one) == list(two) == ["result.tif"]          # no t label came back: one file, as before
    assert two["result.tif"][1] == ("ndvi",)                 # and no bands dimension: the band keeps its name
    np.testing.assert_array_equal(two["result.tif"][2], one["result.tif"][2] + 1)
    dims = json.loads((second / "collection.json").read_text())["cube:dimensions"]
    assert sorted(dims) == ["x", "y"]


def test_results_load_back_with_extents_and_bands(spark, settings, sample_small, tmp_path):
    first = tmp_path / "first"
    run(spark, settings, sample_small, first, graph(SAMPLE_BANDS), "first")
    labels = sorted(Path(n).stem for n in rasters(str(first), tmp_path))
    doc = json.loads((first / "collection.json").read_text())
    w, s, e, n = doc["extent"]["spatial"]["bbox"][0]
    half = {"west": w, "south": s, "east": (w + e) / 2, "north": n}
    second = tmp_path / "second"
    run(spark, settings, sample_small, second,
        graph(load_stac(str(first / "collection.json"), bands=["B08"], spatial_extent=half,
                        temporal_extent=[labels[1], labels[3]])), "second")
    got = rasters(str(second), tmp_path)
    assert sorted(Path(n).stem for n in got) == labels[1:3]
    whole = rasters(str(first), tmp_path)
    for name, (profile, descriptions, values) in got.items():
        assert descriptions == ("B08",)
        assert profile["width"] < whole[name][0]["width"]
        col = round((profile["transform"].c - whole[name][0]["transform"].c) / profile["transform"].a)
        np.testing.assert_array_equal(values[0], whole[name][2][1, :, col:col + profile["width"]])


def test_results_on_s3_load_back(spark, sample_small, aws_env, s3, tmp_path):
    settings = settings_for(aws_env, tmp_path / "cache", tile_size=64)
    first = s3.uri("jobs/first")
    run(spark, settings, sample_small, first, graph(SAMPLE_BANDS, MONTHLY_MEAN), "first")
    second = tmp_path / "second"
    run(spark, settings, sample_small, second, graph(load_stac(storage.join(first, "collection.json"))), "second")
    assert_same_rasters(rasters(first, tmp_path), rasters(str(second), tmp_path))


def test_a_static_collection_over_http_equals_load_collection(spark, settings, sample_small, tmp_path):
    root = Path(sample_small).parent
    direct = tmp_path / "direct"
    run(spark, settings, sample_small, direct, graph(SAMPLE_BANDS, MONTHLY_MEAN), "direct")
    with serve_folder(str(root)) as web:
        via_http = tmp_path / "http"
        run(spark, settings, sample_small, via_http,
            graph(load_stac(web.url_of("sample-s2/collection.json"), bands=["B04", "B08"]), MONTHLY_MEAN), "http")
    assert_same_rasters(rasters(str(direct), tmp_path), rasters(str(via_http), tmp_path))


def test_openeo_client_graph_runs_unchanged(spark, settings, sample_small, tmp_path):
    import openeo

    first = tmp_path / "first"
    run(spark, settings, sample_small, first, graph(SAMPLE_BANDS, MONTHLY_MEAN), "first")
    cube = openeo.DataCube.load_stac(str(first / "collection.json"), connection=None, bands=["B08"])
    second = tmp_path / "second"
    run(spark, settings, sample_small, second, json.loads(cube.save_result("GTiff").to_json()), "second")
    got = rasters(str(second), tmp_path)
    for name, (_, _, values) in rasters(str(first), tmp_path).items():
        np.testing.assert_array_equal(got[name][2][0], values[1])


def test_openeo_client_load_stac_with_extents_and_properties_equals_load_collection(spark, settings, sample_small,
                                                                                  tmp_path):
    import openeo

    collection = str(Path(sample_small).parent / "sample-s2" / "collection.json")
    arguments = dict(temporal_extent=["2023-01-01", "2024-01-01"], bands=["B08"],
                     properties={"eo:cloud_cover": lambda x: x <= 30})
    cubes = {"stac": openeo.DataCube.load_stac(collection, connection=None, **arguments),
             "collection": openeo.DataCube.load_collection("sample-s2", connection=None, **arguments)}
    inputs = {}
    for name, cube in cubes.items():
        doc = json.loads(cube.reduce_dimension(dimension="t", reducer="max").save_result("GTiff").to_json())
        run(spark, settings, sample_small, tmp_path / name, doc, name)
        inputs[name] = json.loads((tmp_path / name / "job_metadata.json").read_text())["inputs"]
    assert 0 < len(inputs["stac"]) < 8 and inputs["stac"] == inputs["collection"]     # the filter mattered
    assert_same_rasters(rasters(str(tmp_path / "stac"), tmp_path), rasters(str(tmp_path / "collection"), tmp_path))


def test_bad_urls_and_empty_selections_are_user_errors_naming_node_and_argument(spark, settings, sample_small,
                                                                                tmp_path):
    def refused(url, **arguments):
        with pytest.raises(UserError) as err:       # exit 2, one line naming node and argument
            run(spark, settings, sample_small, tmp_path / "out", graph(load_stac(url, **arguments)), "bad")
        assert str(err.value).startswith("node 'load', argument ") and "\n" not in str(err.value)
        return str(err.value)

    missing = str(tmp_path / "nowhere" / "collection.json")
    assert "'url'" in refused(missing) and missing in refused(missing)
    with serve_folder(str(tmp_path)) as web:
        gone = web.url_of("collection.json")
    assert "'url'" in refused(gone) and "127.0.0.1" in refused(gone)
    collection = str(Path(sample_small).parent / "sample-s2" / "collection.json")
    assert "no items" in refused(collection, temporal_extent=["1990-01-01", "1991-01-01"])
    assert "'bands'" in refused(collection, bands=["B99"])
    assert "'url'" in refused(42)

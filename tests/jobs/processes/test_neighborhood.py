"""apply_kernel and apply_neighborhood on real data: tile sizes 64, 100 and 256 give what one whole-array
scipy.ndimage computation gives; the halo is read from the neighbouring source pixels, counted in the
plan, and costs no more bytes than its area. Argument errors name the argument."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.cube.usage import Usage
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.evaluate import build
from jobs.graph.parse import ProcessGraph
from jobs.plan.planner import grown
from jobs.run import load_catalog, prepare
from jobs.spark.execute import run_tile
from jobs.spark.transport import TileTransport
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.fixtures.cubes import ArraySource, s2_cube
from tests.fixtures.realdata import band_series
from tests.jobs.cube.test_regions import compute as compute_tiles

COLLECTION = "eolearn-s2-l1c-ndvi"
INTERVAL = ["2016-05-01", "2016-08-01"]
# asymmetric weights: a flipped kernel (a convolution instead of openEO's correlation) fails
WEIGHTS = [[1.0, 2.0, 0.5], [0.0, 4.0, -1.0], [1.5, 2.0, 1.0]]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), read_retry_delay=0.0)


@pytest.fixture(scope="module")
def ndvi(realdata_stac_dir) -> np.ndarray:
    """(t, y, x) NDVI of the interval's dates, read with rasterio."""
    values = band_series(realdata_stac_dir, COLLECTION, INTERVAL)
    assert len(values) >= 4
    return values


def graph(focal: dict | None) -> dict:
    nodes = {"load": {"process_id": "load_collection",
                      "arguments": {"id": COLLECTION, "spatial_extent": None, "temporal_extent": INTERVAL,
                                    "bands": ["NDVI"]}}}
    last = "load"
    if focal is not None:
        nodes["focal"] = {"process_id": focal["process_id"],
                          "arguments": {"data": {"from_node": "load"}, **focal["arguments"]}}
        last = "focal"
    nodes["save"] = {"process_id": "save_result", "arguments": {"data": {"from_node": last}, "format": "GTiff"},
                     "result": True}
    return {"process_graph": nodes}


def compute(catalog, settings, doc, tile_size):
    """(plan, (t, y, x) values, usage) of every planned tile, in the groups and tasks Spark would run."""
    plan, out, usage = compute_tiles(catalog, settings, doc, {"tile_size": tile_size})
    return plan, out.reshape(-1, *plan.grid.shape), usage          # one band: (t, y, x)


def kernel_graph(border=0) -> dict:
    return graph({"process_id": "apply_kernel", "arguments": {"kernel": WEIGHTS, "factor": 0.5, "border": border}})


@pytest.mark.parametrize("border, mode", [(0, "constant"), ("reflect_pixel", "mirror")])
@pytest.mark.parametrize("tile", [64, 100, 256])
def test_apply_kernel_any_tile_size_equals_scipy_on_the_whole_array(realdata_catalog, settings, ndvi, tile,
                                                                    border, mode):
    _, got, _ = compute(realdata_catalog, settings, kernel_graph(border), tile)
    expect = 0.5 * ndimage.correlate(np.nan_to_num(ndvi, nan=0.0), np.asarray(WEIGHTS)[np.newaxis], mode=mode)
    assert got.shape == expect.shape
    np.testing.assert_allclose(got, expect, rtol=0, atol=2e-5)


def test_the_halo_is_in_the_plan_and_costs_no_more_bytes_than_its_area(realdata_catalog, settings):
    plain_plan, _, plain = compute(realdata_catalog, settings, graph(None), 64)
    plan, _, focal = compute(realdata_catalog, settings, kernel_graph(), 64)
    assert all(t.halo == (1, 1) for t in plan.tasks) and all(t.halo == (0, 0) for t in plain_plan.tasks)
    halo_pixels = sum(grown(plan.grid, t.grid, (1, 1)).shape[0] * grown(plan.grid, t.grid, (1, 1)).shape[1]
                      - t.grid.shape[0] * t.grid.shape[1] for t in plan.tasks)
    per_pixel = plain_plan.input_bytes / (plain_plan.grid.shape[0] * plain_plan.grid.shape[1])
    assert plan.input_bytes == pytest.approx(plain_plan.input_bytes + halo_pixels * per_pixel, rel=1e-6)
    assert plan.input_pixels > plain_plan.input_pixels
    assert plain.bytes_read < focal.bytes_read <= plain.bytes_read + halo_pixels * per_pixel
    # without read regions every tile reads its own grown window: exactly the halo's area more
    tasks = tuple(dataclasses.replace(t, region=None) for t in plan.tasks)
    prep = prepare(json.dumps(kernel_graph()), load_catalog(realdata_catalog, settings), Caller(), settings,
                   {"tile_size": 64})
    usage = Usage()
    for task in tasks:
        usage.add(run_tile(prep.built.output, task, settings, {}, TileTransport(compress=False)).usage)
    assert usage.bytes_read == pytest.approx(plain.bytes_read + halo_pixels * per_pixel, rel=1e-6)


def neighbourhood_graph(overlap: int) -> dict:
    """Chunks of 32 px with ``overlap``, each smoothed by a 5x5 kernel inside the callback."""
    callback = {"k": {"process_id": "apply_kernel", "result": True,
                      "arguments": {"data": {"from_parameter": "data"}, "kernel": [[1.0] * 5] * 5, "factor": 0.04}}}
    return graph({"process_id": "apply_neighborhood", "arguments": {
        "process": {"process_graph": callback},
        "size": [{"dimension": "x", "value": 32, "unit": "px"}, {"dimension": "y", "value": 320, "unit": "m"},
                 {"dimension": "t", "value": None}],
        "overlap": [{"dimension": "x", "value": overlap, "unit": "px"}, {"dimension": "y", "value": overlap,
                                                                         "unit": "px"}]}})


@pytest.mark.parametrize("tile", [64, 100, 256])
def test_apply_neighborhood_with_overlap_any_tile_size_equals_scipy(realdata_catalog, settings, ndvi, tile):
    plan, got, _ = compute(realdata_catalog, settings, neighbourhood_graph(overlap=4), tile)
    # the overlap (>= the kernel's reach of 2) hides the chunk edges: the whole-array 5x5 mean, its
    # border no-data (replaced by 0, as apply_kernel's default border 0)
    expect = ndimage.correlate(np.nan_to_num(ndvi, nan=0.0), np.full((1, 5, 5), 0.04), mode="constant")
    np.testing.assert_allclose(got, expect, rtol=0, atol=2e-5)
    assert all(t.halo == (31 + 4, 31 + 4) for t in plan.tasks)


SMOOTHING_UDF = """
import numpy as np
from scipy import ndimage
from openeo.udf import XarrayDataCube


def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    array = cube.get_array()
    values = np.nan_to_num(array.values, nan=0.0)
    weights = np.full((1,) * (values.ndim - 2) + (5, 5), context["weight"])
    return XarrayDataCube(array.copy(data=ndimage.correlate(values, weights, mode="constant")))
"""


@pytest.mark.parametrize("tile", [64, 100])
def test_apply_neighborhood_udf_with_overlap_any_tile_size_equals_scipy(realdata_catalog, settings, ndvi, tile):
    udf = {"u": {"process_id": "run_udf", "result": True, "arguments": {
        "data": {"from_parameter": "data"}, "udf": SMOOTHING_UDF, "runtime": "Python",
        "context": {"weight": 0.04}}}}
    doc = graph({"process_id": "apply_neighborhood", "arguments": {
        "process": {"process_graph": udf},
        "size": [{"dimension": "x", "value": 32, "unit": "px"}, {"dimension": "y", "value": 32, "unit": "px"},
                 {"dimension": "t", "value": None}],
        "overlap": [{"dimension": "x", "value": 4, "unit": "px"}, {"dimension": "y", "value": 4, "unit": "px"}]}})
    _, got, _ = compute(realdata_catalog, settings, doc, tile)
    expect = ndimage.correlate(np.nan_to_num(ndvi, nan=0.0), np.full((1, 5, 5), 0.04), mode="constant")
    np.testing.assert_allclose(got, expect, rtol=0, atol=2e-5)


def test_apply_neighborhood_without_overlap_shows_the_chunk_edges(realdata_catalog, settings, ndvi):
    _, got, _ = compute(realdata_catalog, settings, neighbourhood_graph(overlap=0), 64)
    expect = ndimage.correlate(np.nan_to_num(ndvi, nan=0.0), np.full((1, 5, 5), 0.04), mode="constant")
    differs = np.abs(got - expect) > 1e-4
    # inside the first chunk's core nothing changes; next to its edges (x or y = 32) the kernel lacks pixels
    assert not differs[:, 2:30, 2:30].any()
    assert differs[:, 2:30, 30:34].all() and differs[:, 30:34, 2:30].all()


# --- argument errors (in-memory cubes) -----------------------------------------------------------------------
def _build(process_id: str, **arguments):
    flat = {"load": {"process_id": "load_collection", "arguments": {"id": "s2", "spatial_extent": None,
                                                                    "temporal_extent": None}},
            "p": {"process_id": process_id, "arguments": {"data": {"from_node": "load"}, **arguments}, "result": True}}
    return build(ProcessGraph.parse(flat), ArraySource({"s2": s2_cube()})).output


def test_kernel_errors_name_the_argument():
    with pytest.raises(ProcessError, match="KernelDimensionsUneven") as e:
        _build("apply_kernel", kernel=[[1, 1], [1, 1]])
    assert e.value.node_id == "p" and e.value.argument == "kernel"
    with pytest.raises(ProcessGraphError, match="border") as e:
        _build("apply_kernel", kernel=[[1]], border="mirror")
    assert e.value.argument == "border"
    with pytest.raises(ProcessGraphError, match="rectangular") as e:
        _build("apply_kernel", kernel=[[1, 2, 3], [1]])
    assert e.value.argument == "kernel"


def _identity():
    return {"process_graph": {"a": {"process_id": "apply", "result": True, "arguments": {
        "data": {"from_parameter": "data"},
        "process": {"process_graph": {"x": {"process_id": "absolute", "arguments": {"x": {"from_parameter": "x"}},
                                            "result": True}}}}}}}


def test_apply_neighborhood_errors_name_the_argument():
    xy = [{"dimension": "x", "value": 4, "unit": "px"}, {"dimension": "y", "value": 4, "unit": "px"}]
    with pytest.raises(ProcessGraphError, match="along 't'") as e:
        _build("apply_neighborhood", process=_identity(), size=xy + [{"dimension": "t", "value": 2}])
    assert e.value.argument == "size"
    with pytest.raises(ProcessGraphError, match="at least one pixel") as e:
        _build("apply_neighborhood", process=_identity(), size=[{"dimension": "x", "value": 4, "unit": "m"}])
    assert e.value.argument == "size"
    reducer = {"process_graph": {"r": {"process_id": "reduce_dimension", "result": True, "arguments": {
        "data": {"from_parameter": "data"}, "dimension": "t",
        "reducer": {"process_graph": {"m": {"process_id": "max", "arguments": {"data": {"from_parameter": "data"}},
                                            "result": True}}}}}}}
    with pytest.raises(ProcessError, match="DataCubePropertiesImmutable"):
        _build("apply_neighborhood", process=reducer, size=xy)


def test_apply_neighborhood_callback_sees_the_chunk_as_a_cube():
    cube = s2_cube()
    out = _build("apply_neighborhood", process=_identity(), size=[{"dimension": "x", "value": 4, "unit": "px"}],
                 overlap=[{"dimension": "y", "value": 1, "unit": "px"}])
    np.testing.assert_array_equal(materialize(out), np.abs(cube.values))
    assert isinstance(cube, ArrayCube) and out.meta.dims == cube.meta.dims


def test_validate_shows_the_halo_and_counts_it_in_the_estimate(realdata_catalog, tmp_path):
    from click.testing import CliRunner

    from sparkeo.cli.main import cli

    env = {"SPARKEO_CACHE": str(tmp_path / "cache")}
    docs = {}
    for name, doc in (("plain", graph(None)), ("focal", kernel_graph())):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(doc))
        text = CliRunner().invoke(cli, ["validate", str(path), "--catalog", realdata_catalog,
                                        "--job-options", '{"tile_size": 64}'], env=env)
        assert text.exit_code == 0, text.output
        assert ("halo: each tile also reads 1 row(s) and 1 column(s) around it" in text.output) == (name == "focal")
        docs[name] = json.loads(CliRunner().invoke(cli, ["validate", str(path), "--catalog", realdata_catalog,
                                                         "--job-options", '{"tile_size": 64}', "--json"],
                                                   env=env).output)
    assert docs["focal"]["halo"] == [1, 1] and "halo" not in docs["plain"]
    assert docs["focal"]["input_bytes"] > docs["plain"]["input_bytes"]
    assert docs["focal"]["input_pixels"] > docs["plain"]["input_pixels"]

"""Building the lazy DAG (``jobs.graph.evaluate.build``) on ArrayCube sources, checked against numpy."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.cube.lazy import LazyCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.evaluate import SaveSpec, build
from jobs.graph.parse import ProcessGraph
from tests.fixtures.cubes import s2_values


def _cb(process_id: str, **arguments) -> dict:
    return {"process_graph": {"n": {"process_id": process_id, "arguments": arguments, "result": True}}}


DATA = {"from_parameter": "data"}


def cloud_mask_graph(save: bool = True, bands=("B04", "B08", "SCL")) -> dict:
    """The Sentinel-2 cloud-masked median NDVI exactly as a user writes it."""
    scl = {"from_node": "scl"}
    graph = {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "s2", "spatial_extent": {"west": 3.0, "south": 45.0, "east": 3.1, "north": 45.1},
            "temporal_extent": ["2021-05-01", "2021-09-01"], "bands": list(bands),
            "properties": {"eo:cloud_cover": _cb("lte", x={"from_parameter": "value"}, y=50)}}},
        "clouds": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "bands", "reducer": {"process_graph": {
                "scl": {"process_id": "array_element", "arguments": {"data": DATA, "label": "SCL"}},
                "is3": {"process_id": "eq", "arguments": {"x": scl, "y": 3}},
                "is8": {"process_id": "eq", "arguments": {"x": scl, "y": 8}},
                "is9": {"process_id": "eq", "arguments": {"x": scl, "y": 9}},
                "or89": {"process_id": "or", "arguments": {"x": {"from_node": "is8"}, "y": {"from_node": "is9"}}},
                "any": {"process_id": "or", "arguments": {"x": {"from_node": "is3"}, "y": {"from_node": "or89"}},
                        "result": True}}}}},
        "ndvi": {"process_id": "ndvi", "arguments": {"data": {"from_node": "load"}}},
        "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "ndvi"}, "mask": {"from_node": "clouds"}}},
        "median": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "masked"}, "dimension": "t", "reducer": _cb("median", data=DATA)}},
    }
    if save:
        graph["save"] = {"process_id": "save_result", "arguments": {"data": {"from_node": "median"}, "format": "gtiff"},
                         "result": True}
    else:
        graph["median"]["result"] = True
    return {"process_graph": graph}


def numpy_cloud_masked_median_ndvi(values: np.ndarray) -> np.ndarray:
    red, nir, scl = values[:, 0].astype(np.float64), values[:, 1].astype(np.float64), values[:, 2]
    ndvi = (nir - red) / (nir + red)
    ndvi[np.isin(scl, (3, 8, 9))] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)        # all-NaN pixels stay NaN
        return np.nanmedian(ndvi, axis=0)


def test_cloud_masked_median_ndvi_equals_numpy(s2_source):
    job = build(ProcessGraph.parse(cloud_mask_graph()), s2_source)
    assert job.save == SaveSpec("save", "GTiff", {})
    assert job.output.meta.dims == ("y", "x") and job.output.meta.dtype == "float32"
    got = materialize(job.output)
    expected = numpy_cloud_masked_median_ndvi(s2_values())
    assert np.isnan(expected).any() and not np.isnan(expected).all()      # the test data exercises both
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.nanmax(np.abs(got - expected)) <= 1e-5


def test_tiles_compute_the_same_values_as_the_whole(s2_source):
    job = build(ProcessGraph.parse(cloud_mask_graph()), s2_source)
    whole = materialize(job.output)
    grid = job.output.meta.grid
    from jobs.cube.lazy import TileContext

    ctx = TileContext()
    for _, window, tile in grid.tiles(4):
        part = job.output.compute(tile, ctx)
        np.testing.assert_array_equal(part, whole[window.slices])


def test_load_collection_gets_the_arguments_as_given(s2_source):
    build(ProcessGraph.parse(cloud_mask_graph()), s2_source)
    (call,) = s2_source.calls
    assert call["node_id"] == "load" and call["id"] == "s2"
    assert call["temporal_extent"] == ["2021-05-01", "2021-09-01"]
    assert call["bands"] == ["B04", "B08", "SCL"]
    # property filters come back in their openEO JSON form
    assert call["properties"]["eo:cloud_cover"]["process_graph"]["n"]["process_id"] == "lte"


def test_graph_without_save_result_has_no_save(s2_source):
    job = build(ProcessGraph.parse(cloud_mask_graph(save=False)), s2_source)
    assert job.save is None and isinstance(job.output, LazyCube)


@pytest.mark.parametrize("given, normalised", [("GTIFF", "GTiff"), ("netcdf", "netCDF"), ("GeoTIFF", "GTiff")])
def test_save_formats_are_normalised(s2_source, given, normalised):
    doc = cloud_mask_graph()
    doc["process_graph"]["save"]["arguments"]["format"] = given
    assert build(ProcessGraph.parse(doc), s2_source).save.format == normalised


def test_unsupported_save_format(s2_source):
    doc = cloud_mask_graph()
    doc["process_graph"]["save"]["arguments"]["format"] = "JPEG2000"
    with pytest.raises(ProcessError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    assert (info.value.code, info.value.node_id, info.value.argument) == ("FormatUnsuitable", "save", "format")


def test_unknown_label_in_a_callback_fails_at_build_with_the_callback_node(s2_source):
    doc = cloud_mask_graph()
    doc["process_graph"]["clouds"]["arguments"]["reducer"]["process_graph"]["scl"]["arguments"]["label"] = "SLC"
    with pytest.raises(ProcessError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    assert info.value.node_id == "clouds/scl" and info.value.exit_code == 2
    assert info.value.code == "LabelNotAvailable" or "SLC" in str(info.value)


def test_unknown_dimension_names_node_and_argument(s2_source):
    doc = cloud_mask_graph()
    doc["process_graph"]["median"]["arguments"]["dimension"] = "time"
    with pytest.raises(ProcessError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    err = info.value
    assert (err.code, err.node_id, err.argument) == ("DimensionNotAvailable", "median", "dimension")
    assert str(err).startswith("node 'median', argument 'dimension': DimensionNotAvailable")


@pytest.mark.parametrize("argument, value, expected", [
    ("dimension", 3, "expected a string, got int 3"),
    ("reducer", "median", "expected a process graph (callback)"),
    ("data", 5, "expected a data cube"),
])
def test_ill_typed_arguments(s2_source, argument, value, expected):
    doc = cloud_mask_graph()
    doc["process_graph"]["median"]["arguments"][argument] = value
    with pytest.raises(ProcessGraphError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    assert (info.value.node_id, info.value.argument) == ("median", argument)
    assert expected in info.value.reason


def test_unknown_collection_error_from_the_source_keeps_its_location(s2_source):
    doc = cloud_mask_graph()
    doc["process_graph"]["load"]["arguments"]["id"] = "s3"
    with pytest.raises(ProcessGraphError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    assert (info.value.node_id, info.value.argument) == ("load", "id")


def test_array_process_on_a_cube_is_rejected(s2_source):
    doc = cloud_mask_graph(save=False)
    doc["process_graph"]["median"]["result"] = False
    doc["process_graph"]["plus"] = {"process_id": "add", "arguments": {"x": {"from_node": "median"}, "y": 1},
                                    "result": True}
    with pytest.raises(ProcessGraphError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    assert (info.value.node_id, info.value.argument) == ("plus", "x") and "apply" in info.value.reason


def test_result_that_is_not_a_cube(s2_source):
    doc = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}}}
    with pytest.raises(ProcessGraphError) as info:
        build(ProcessGraph.parse(doc), s2_source)
    assert info.value.node_id == "a" and "not a data cube" in info.value.reason


def test_values_from_top_level_array_processes_feed_cube_processes(s2_source):
    doc = cloud_mask_graph(save=False)
    doc["process_graph"]["three"] = {"process_id": "add", "arguments": {"x": 1, "y": 2}}
    clouds = doc["process_graph"]["clouds"]["arguments"]["reducer"]["process_graph"]
    doc["process_graph"]["clouds"]["arguments"]["context"] = {"from_node": "three"}
    clouds["is3"]["arguments"]["y"] = {"from_parameter": "context"}
    job = build(ProcessGraph.parse(doc), s2_source)
    np.testing.assert_array_equal(np.isnan(materialize(job.output)),
                                  np.isnan(numpy_cloud_masked_median_ndvi(s2_values())))


def test_unreachable_nodes_are_validated_but_not_built(s2_source):
    doc = cloud_mask_graph()
    doc["process_graph"]["other"] = {"process_id": "load_collection",
                                     "arguments": {"id": "missing", "spatial_extent": None, "temporal_extent": None}}
    build(ProcessGraph.parse(doc), s2_source)
    assert [c["node_id"] for c in s2_source.calls] == ["load"]


def test_the_built_dag_survives_cloudpickle_like_a_spark_closure(s2_source):
    import pickle

    from pyspark import cloudpickle

    job = build(ProcessGraph.parse(cloud_mask_graph()), s2_source)
    shipped = pickle.loads(cloudpickle.dumps(job.output))
    np.testing.assert_array_equal(materialize(shipped), materialize(job.output))


def test_an_unexpected_failure_while_building_is_a_run_error_naming_the_node(s2_source):
    from jobs.errors import BuildError

    class Broken:
        def load_collection(self, node_id, *args):
            raise ZeroDivisionError("division by zero")

    with pytest.raises(BuildError) as info:
        build(ProcessGraph.parse(cloud_mask_graph()), Broken())
    assert info.value.exit_code == 1 and str(info.value).startswith("node 'load': process 'load_collection' failed")

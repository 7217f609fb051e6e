"""rename_dimension, dimension_labels and filter_labels on cubes; their errors name the argument."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.evaluate import BuildContext
from jobs.graph.parse import ProcessGraph
from tests.fixtures.cubes import S2_DATES, UTM_GRID, built, callback, s2_cube, s2_values


def _rename(source, target):
    return built({"r": {"process_id": "rename_dimension", "arguments": {
        "data": {"from_node": "load"}, "source": source, "target": target}}})


def test_rename_dimension_keeps_type_labels_and_values():
    cube = _rename("t", "time")
    assert cube.meta.dims == ("time", "bands", "y", "x")
    assert cube.meta.labels["time"] == S2_DATES and cube.meta.dim_types["time"] == "temporal"
    np.testing.assert_array_equal(materialize(cube), s2_values())


@pytest.mark.parametrize("source, target, error, argument", [
    ("foo", "bar", ProcessError, "source"), ("t", "bands", ProcessError, "target"),
    ("x", "lon", ProcessGraphError, "source"), ("t", "y", ProcessError, "target"),
])
def test_rename_dimension_errors(source, target, error, argument):
    with pytest.raises(error) as e:
        _rename(source, target)
    assert e.value.argument == argument and e.value.node_id == "r"


def _labels(dimension):
    graph = ProcessGraph.parse({"process_graph": {"l": {"process_id": "dimension_labels", "result": True,
                                                        "arguments": {"data": None, "dimension": dimension}}}})
    node = graph.result
    return node.spec.fn(BuildContext(None, graph), "l", data=s2_cube(), dimension=dimension)


def test_dimension_labels_of_every_dimension():
    assert _labels("t") == list(S2_DATES)
    assert _labels("x")[:2] == [600005.0, 600015.0] and len(_labels("x")) == UTM_GRID.width
    assert _labels("y")[0] == 5000095.0
    with pytest.raises(ProcessError) as e:
        _labels("z")
    assert e.value.code == "DimensionNotAvailable"


def test_filter_labels_needs_a_non_spatial_dimension():
    condition = callback(("c", "constant", {"x": True}))
    with pytest.raises(ProcessGraphError, match="spatial"):
        built({"f": {"process_id": "filter_labels", "arguments": {
            "data": {"from_node": "load"}, "dimension": "x", "condition": condition}}})


"""Callback evaluation (``jobs.graph.callback``): vectorised over pixels, parameters, error locations."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.graph.callback import Callback, evaluate_callback
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.parse import ProcessGraph
from jobs.processes.labeled import LabeledArray


def _reducer(flat: dict, parent: str = "reduce1") -> Callback:
    doc = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                               "temporal_extent": None}},
        parent: {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "bands", "reducer": {"process_graph": flat}}, "result": True}}}
    return Callback(ProcessGraph.parse(doc).nodes[parent].arguments["reducer"])


SCL_MASK = {
    "scl": {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"}, "label": "SCL"}},
    "is3": {"process_id": "eq", "arguments": {"x": {"from_node": "scl"}, "y": 3}},
    "is8": {"process_id": "eq", "arguments": {"x": {"from_node": "scl"}, "y": 8}},
    "any": {"process_id": "or", "arguments": {"x": {"from_node": "is3"}, "y": {"from_node": "is8"}}, "result": True},
}


def test_reducer_runs_vectorised_over_pixels():
    rng = np.random.default_rng(1)
    scl = rng.choice([3, 4, 8, 9], size=(5, 6)).astype(np.float32)
    data = LabeledArray(np.stack([rng.random((5, 6), dtype=np.float32), scl]), ("B04", "SCL"))
    got = np.asarray(_reducer(SCL_MASK)(data=data, context=None))
    assert got.shape == (5, 6)
    np.testing.assert_array_equal(got.astype(bool), np.isin(scl, (3, 8)))


def test_context_parameter_reaches_the_nodes():
    flat = {"m": {"process_id": "multiply", "arguments": {"x": {"from_parameter": "context"}, "y": 2}, "result": True}}
    assert _reducer(flat)(data=LabeledArray(np.zeros(2)), context=21) == 42


def test_missing_parameter_at_run_time_names_the_callback_node():
    with pytest.raises(ProcessGraphError) as info:
        _reducer(SCL_MASK)(context=None)
    assert (info.value.node_id, info.value.argument) == ("reduce1/scl", "data")


def test_process_errors_are_located_at_the_callback_node():
    flat = dict(SCL_MASK)
    flat["scl"] = {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"}, "label": "QA"}}
    data = LabeledArray(np.zeros((2, 3, 3), np.float32), ("B04", "SCL"))
    with pytest.raises(ProcessError) as info:
        _reducer(flat)(data=data, context=None)
    assert info.value.node_id == "reduce1/scl" and info.value.exit_code == 2
    assert str(info.value).startswith("node 'reduce1/scl'")


def test_cube_process_inside_a_callback_is_rejected():
    flat = {"l": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                                 "temporal_extent": None}, "result": True}}
    graph = ProcessGraph._from_flat(flat, path="p", scope=None)
    with pytest.raises(ProcessGraphError) as info:
        evaluate_callback(graph, {})
    assert info.value.node_id == "p/l" and "cannot run inside a callback" in info.value.reason


@pytest.mark.parametrize("flat, expected", [
    ({"m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}, "median"),
    ({"m": {"process_id": "max", "arguments": {"data": {"from_parameter": "data"}, "ignore_nodata": False},
            "result": True}}, None),
    (SCL_MASK, None),
])
def test_single_process_detection(flat, expected):
    assert _reducer(flat).single_process("data") == expected


def test_defaults_of_optional_parameters_are_filled_in():
    # median's ignore_nodata defaults to true: NaN pixels are skipped
    flat = {"m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}
    values = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, 5.0]], dtype=np.float32)
    got = _reducer(flat)(data=LabeledArray(values), context=None)
    np.testing.assert_allclose(got, [2.0, 5.0])


FIVE_CLASSES = {
    "scl": {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"}, "label": "SCL"}},
    **{f"is{c}": {"process_id": "eq", "arguments": {"x": {"from_node": "scl"}, "y": c}} for c in (0, 3, 8, 9, 10)},
    "o1": {"process_id": "or", "arguments": {"x": {"from_node": "is0"}, "y": {"from_node": "is3"}}},
    "o2": {"process_id": "or", "arguments": {"x": {"from_node": "o1"}, "y": {"from_node": "is8"}}},
    "o3": {"process_id": "or", "arguments": {"x": {"from_node": "o2"}, "y": {"from_node": "is9"}}},
    "o4": {"process_id": "or", "arguments": {"x": {"from_node": "o3"}, "y": {"from_node": "is10"}}, "result": True},
}


@pytest.mark.parametrize("flat, constants", [(FIVE_CLASSES, (0, 3, 8, 9, 10)), (SCL_MASK, (3, 8))])
@pytest.mark.parametrize("with_nodata", [False, True], ids=["complete", "nodata"])
def test_or_chain_of_eq_runs_as_one_membership_test(flat, constants, with_nodata):
    """The isin fast path gives what node-by-node evaluation gives: bool, or 1/0/NaN with no-data."""
    rng = np.random.default_rng(7)
    scl = rng.choice([0, 3, 4, 5, 8, 9, 10, 11], size=(4, 6, 7)).astype(np.float32)
    if with_nodata:
        scl[rng.random(scl.shape) < 0.2] = np.nan
    data = LabeledArray(np.stack([rng.random(scl.shape, dtype=np.float32), scl]), ("B04", "SCL"))
    callback = _reducer(flat)
    assert callback._membership is not None and callback._membership.constants == constants
    got = callback(data=data, context=None)
    expected = evaluate_callback(callback.graph, {"data": data, "context": None})
    assert got.dtype == expected.dtype == (np.float32 if with_nodata else bool)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("flat", [
    {"a": {"process_id": "eq", "arguments": {"x": {"from_parameter": "data"}, "y": 3}},
     "b": {"process_id": "eq", "arguments": {"x": {"from_parameter": "context"}, "y": 8}},
     "o": {"process_id": "or", "arguments": {"x": {"from_node": "a"}, "y": {"from_node": "b"}}, "result": True}},
    {"a": {"process_id": "eq", "arguments": {"x": {"from_parameter": "data"}, "y": 3, "delta": 1}},
     "b": {"process_id": "eq", "arguments": {"x": {"from_parameter": "data"}, "y": 8}},
     "o": {"process_id": "or", "arguments": {"x": {"from_node": "a"}, "y": {"from_node": "b"}}, "result": True}},
    {"a": {"process_id": "eq", "arguments": {"x": {"from_parameter": "data"}, "y": 3}},
     "b": {"process_id": "gt", "arguments": {"x": {"from_parameter": "data"}, "y": 8}},
     "o": {"process_id": "or", "arguments": {"x": {"from_node": "a"}, "y": {"from_node": "b"}}, "result": True}},
], ids=["two-operands", "delta", "not-eq"])
def test_other_or_graphs_evaluate_node_by_node(flat):
    assert _reducer(flat)._membership is None

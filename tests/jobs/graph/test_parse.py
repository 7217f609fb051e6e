"""Parsing and validating process graphs (``jobs.graph.parse``): forms, and each error named precisely."""
from __future__ import annotations

import copy
import json

import pytest

from jobs.errors import ProcessGraphError
from jobs.graph.parse import FromNode, FromParameter, ProcessGraph
from sparkeo.errors import UserError


def _median_graph() -> dict:
    return {
        "load": {"process_id": "load_collection", "arguments": {"id": "s2", "spatial_extent": None,
                                                               "temporal_extent": ["2021-06-01", "2021-07-01"]}},
        "ndvi1": {"process_id": "ndvi", "arguments": {"data": {"from_node": "load"}, "nir": "B08", "red": "B04"}},
        "median": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "ndvi1"}, "dimension": "t",
            "reducer": {"process_graph": {"m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}},
                                                "result": True}}}}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "median"}, "format": "GTiff"},
                 "result": True},
    }


def _error(doc, source="<graph>") -> ProcessGraphError:
    with pytest.raises(ProcessGraphError) as info:
        ProcessGraph.parse(doc, source)
    assert isinstance(info.value, UserError) and info.value.exit_code == 2
    return info.value


# --- accepted forms -------------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["flat", "process_graph", "job_body", "json_text", "json_bytes"])
def test_parse_forms_give_the_same_graph(form):
    flat = _median_graph()
    doc = {
        "flat": flat,
        "process_graph": {"process_graph": flat},
        "job_body": {"process": {"process_graph": flat}, "title": "x"},
        "json_text": json.dumps({"process_graph": flat}, indent=2),
        "json_bytes": json.dumps({"process_graph": flat}).encode(),
    }[form]
    graph = ProcessGraph.parse(doc)
    assert graph.result_node == "save"
    assert set(graph.nodes) == {"load", "ndvi1", "median", "save"}
    assert graph.order.index("load") < graph.order.index("ndvi1") < graph.order.index("median") < graph.order.index("save")
    assert graph.nodes["ndvi1"].arguments["data"] == FromNode("load")
    assert graph.sha256() == ProcessGraph.parse({"process_graph": flat}).sha256()


def test_job_options_at_top_level_and_inside_process():
    flat = _median_graph()
    top = ProcessGraph.parse({"process": {"process_graph": flat}, "job_options": {"soft_errors": 0.1}})
    inner = ProcessGraph.parse({"process": {"process_graph": flat, "job_options": {"tile_size": 256}}})
    assert top.job_options == {"soft_errors": 0.1}
    assert inner.job_options == {"tile_size": 256}


def test_callback_nodes_are_parsed_with_parent_paths():
    graph = ProcessGraph.parse(_median_graph())
    reducer = graph.nodes["median"].arguments["reducer"]
    assert isinstance(reducer, ProcessGraph)
    assert reducer.nodes["m"].path == "median/m"
    assert reducer.nodes["m"].arguments["data"] == FromParameter("data")
    assert [n.path for n in graph.walk()] == ["load", "ndvi1", "median", "median/m", "save"]


def test_sha256_ignores_key_order_and_whitespace_but_not_content():
    flat = _median_graph()
    reordered = dict(reversed(list(copy.deepcopy(flat).items())))
    a = ProcessGraph.parse(json.dumps({"process_graph": flat}, indent=4))
    b = ProcessGraph.parse({"process_graph": reordered})
    changed = copy.deepcopy(flat)
    changed["ndvi1"]["arguments"]["nir"] = "B8A"
    assert a.sha256() == b.sha256()
    assert len(a.sha256()) == 64
    assert ProcessGraph.parse(changed).sha256() != a.sha256()


# --- errors ---------------------------------------------------------------------------------------------
def test_bad_json_names_line_and_column():
    text = '{\n  "process_graph": {\n    "a": {"process_id": "load_collection",,}\n  }\n}'
    err = _error(text, "graph.json")
    assert "graph.json" in str(err) and "line 3" in str(err) and "column" in str(err)


@pytest.mark.parametrize("results, expected", [(0, "found none"), (2, "found 2")])
def test_exactly_one_result_node(results, expected):
    flat = _median_graph()
    flat["save"]["result"] = results > 0
    flat["median"]["result"] = results > 1
    assert expected in str(_error(flat))


def test_missing_process_id_and_arguments_name_the_node():
    flat = _median_graph()
    del flat["ndvi1"]["process_id"]
    err = _error(flat)
    assert err.node_id == "ndvi1" and "process_id" in err.reason
    flat = _median_graph()
    del flat["ndvi1"]["arguments"]
    assert _error(flat).node_id == "ndvi1"


def test_unknown_process():
    flat = _median_graph()
    flat["ndvi1"]["process_id"] = "ndvi_magic"
    err = _error(flat)
    assert (err.node_id, err.argument) == ("ndvi1", None)
    assert str(err) == "node 'ndvi1': unknown process 'ndvi_magic'"


def test_unknown_and_missing_arguments_name_node_and_argument():
    flat = _median_graph()
    flat["ndvi1"]["arguments"]["nri"] = "B08"
    err = _error(flat)
    assert (err.node_id, err.argument) == ("ndvi1", "nri")
    assert str(err).startswith("node 'ndvi1', argument 'nri': ")
    flat = _median_graph()
    del flat["median"]["arguments"]["dimension"]
    err = _error(flat)
    assert (err.node_id, err.argument) == ("median", "dimension") and "missing required" in err.reason


@pytest.mark.parametrize("reference, named", [({"from_node": "lod"}, "'lod'"), ({"from_parameter": "data"}, "'data'")],
                         ids=["from-node-missing", "from-parameter-undefined-at-top-level"])
def test_a_reference_to_nothing_names_the_node_argument_and_reference(reference, named):
    flat = _median_graph()
    flat["ndvi1"]["arguments"]["data"] = reference
    err = _error(flat)
    assert (err.node_id, err.argument) == ("ndvi1", "data") and named in err.reason


def test_cycle_names_the_nodes_on_it():
    flat = _median_graph()
    flat["ndvi1"]["arguments"]["data"] = {"from_node": "median"}
    err = _error(flat)
    assert "cycle" in err.reason
    cycle = err.reason.split(": ", 1)[1].split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {"ndvi1", "median"}
    assert "load" not in err.reason and "save" not in err.reason


def test_self_reference_is_a_cycle():
    flat = _median_graph()
    flat["ndvi1"]["arguments"]["data"] = {"from_node": "ndvi1"}
    assert "ndvi1 -> ndvi1" in _error(flat).reason


def test_from_parameter_of_a_process_parameter_is_defined():
    flat = _median_graph()
    flat["ndvi1"]["arguments"]["nir"] = {"from_parameter": "nir_band"}
    graph = ProcessGraph.parse({"process_graph": flat, "parameters": [{"name": "nir_band", "default": "B08"}]})
    assert graph.parameters == {"nir_band": "B08"}


def test_from_parameter_in_callback_must_be_one_of_its_parameters():
    flat = _median_graph()
    flat["median"]["arguments"]["reducer"]["process_graph"]["m"]["arguments"]["data"] = {"from_parameter": "x"}
    err = _error(flat)
    assert (err.node_id, err.argument) == ("median/m", "data")
    assert "context, data" in err.reason


def test_callback_errors_use_parent_child_ids():
    flat = _median_graph()
    flat["median"]["arguments"]["reducer"]["process_graph"]["m"]["process_id"] = "medain"
    assert _error(flat).node_id == "median/m"
    flat = _median_graph()
    flat["median"]["arguments"]["reducer"]["process_graph"]["m"]["result"] = False
    err = _error(flat)
    assert err.node_id == "median" and "callback" in err.reason


def test_nested_callbacks_see_the_enclosing_parameters():
    flat = _median_graph()
    # apply's callback (x, context) inside reduce_dimension's reducer (data, context) may read both
    flat["median"]["arguments"]["reducer"]["process_graph"] = {
        "m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}},
        "s": {"process_id": "add", "arguments": {"x": {"from_node": "m"}, "y": {"from_parameter": "context"}},
              "result": True}}
    ProcessGraph.parse(flat)


def test_no_graph_in_document():
    assert "no process graph" in str(_error({"title": "nothing"}))
    assert "JSON object" in str(_error("[1, 2]"))


def test_callbacks_nested_400_deep_are_refused_not_a_recursion_error():
    inner = {"x": {"process_id": "absolute", "arguments": {"x": {"from_parameter": "x"}}, "result": True}}
    for _ in range(400):    # built as objects: what the web API hands over after parsing
        inner = {"a": {"process_id": "apply", "result": True,
                       "arguments": {"data": {"from_parameter": "x"}, "process": {"process_graph": inner}}}}
    with pytest.raises(ProcessGraphError, match="nested more than 200 levels deep"):
        ProcessGraph.parse({"process_graph": inner, "parameters": [{"name": "x"}]}, "deep.json")

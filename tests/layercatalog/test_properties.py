"""openEO ``properties`` callbacks and CLI filter expressions -> PropertyFilter."""
from __future__ import annotations

import pytest

from layercatalog.errors import PropertyFilterError
from layercatalog.model import PropertyFilter
from layercatalog.properties import filters_from_openeo, parse_filter_expression

VALUE = {"from_parameter": "value"}


def callback(process_id: str, **arguments) -> dict:
    return {"process_graph": {"cc": {"process_id": process_id, "arguments": arguments, "result": True}}}


@pytest.mark.parametrize("process_id", ["eq", "neq", "lt", "lte", "gt", "gte"])
def test_comparison_with_value_on_the_left(process_id):
    assert filters_from_openeo({"eo:cloud_cover": callback(process_id, x=VALUE, y=50)}) == (
        PropertyFilter("eo:cloud_cover", process_id, 50),)


@pytest.mark.parametrize("process_id, mirrored", [("lt", "gt"), ("lte", "gte"), ("gt", "lt"), ("gte", "lte"),
                                                  ("eq", "eq"), ("neq", "neq")])
def test_reversed_operands_mirror_the_operator(process_id, mirrored):
    (f,) = filters_from_openeo({"eo:cloud_cover": callback(process_id, x=50, y=VALUE)})
    assert f == PropertyFilter("eo:cloud_cover", mirrored, 50)
    # Same truth table as the original expression "50 <op> value".
    truth = {"lt": 50 < 70, "lte": 50 <= 70, "gt": 50 > 70, "gte": 50 >= 70, "eq": False, "neq": True}
    assert f.matches(70) == truth[process_id]


def test_between_and_exclude_max():
    (f,) = filters_from_openeo({"eo:cloud_cover": callback("between", x=VALUE, min=10, max=20)})
    assert f == PropertyFilter("eo:cloud_cover", "between", (10, 20)) and f.matches(20) and not f.matches(21)
    pair = filters_from_openeo({"eo:cloud_cover": callback("between", x=VALUE, min=10, max=20, exclude_max=True)})
    assert pair == (PropertyFilter("eo:cloud_cover", "gte", 10), PropertyFilter("eo:cloud_cover", "lt", 20))


def test_and_of_comparisons_and_several_properties():
    graph = {"process_graph": {
        "a": {"process_id": "gte", "arguments": {"x": VALUE, "y": 5}},
        "b": {"process_id": "lt", "arguments": {"x": VALUE, "y": 30}},
        "both": {"process_id": "and", "arguments": {"x": {"from_node": "a"}, "y": {"from_node": "b"}}, "result": True},
    }}
    platform = callback("eq", x=VALUE, y="sentinel-2a")
    out = filters_from_openeo({"eo:cloud_cover": graph, "platform": platform})
    assert out == (PropertyFilter("eo:cloud_cover", "gte", 5), PropertyFilter("eo:cloud_cover", "lt", 30),
                   PropertyFilter("platform", "eq", "sentinel-2a"))


def test_array_contains():
    (f,) = filters_from_openeo({"platform": callback("array_contains", data=["s2a", "s2b"], value=VALUE)})
    assert f.op == "in" and f.matches("s2b") and not f.matches("s2c")


@pytest.mark.parametrize("prop, cb, reason", [
    ("eo:cloud_cover", callback("or", x={"from_node": "a"}, y={"from_node": "b"}), "'or' is not supported"),
    ("eo:cloud_cover", callback("lte", x=VALUE, y=VALUE), "with a constant"),
    ("eo:cloud_cover", {"process_graph": {}}, "expected a callback"),
    ("view:sun_elevation", 42, "expected a callback"),
    ("eo:cloud_cover", {"process_graph": {"a": {"process_id": "lte", "arguments": {"x": VALUE, "y": 1}}}},
     "exactly one result node"),
])
def test_unsupported_callbacks_name_the_property(prop, cb, reason):
    with pytest.raises(PropertyFilterError) as err:
        filters_from_openeo({prop: cb})
    assert repr(prop) in str(err.value) and reason in str(err.value) and err.value.exit_code == 2


@pytest.mark.parametrize("text, expected", [
    ("eo:cloud_cover<=50", PropertyFilter("eo:cloud_cover", "lte", 50)),
    ("eo:cloud_cover > 12.5", PropertyFilter("eo:cloud_cover", "gt", 12.5)),
    ("platform=sentinel-2a", PropertyFilter("platform", "eq", "sentinel-2a")),
    ("s2:processing_baseline!='05.09'", PropertyFilter("s2:processing_baseline", "neq", "05.09")),
])
def test_filter_expressions(text, expected):
    assert parse_filter_expression(text) == expected


def test_bad_filter_expression():
    with pytest.raises(PropertyFilterError, match="PROPERTY OP VALUE"):
        parse_filter_expression("cloudy")

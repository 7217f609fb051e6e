"""flatten_dimensions / unflatten_dimension: labels joined and split, values reshaped as numpy does."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError, ProcessGraphError
from tests.fixtures.cubes import S2_BANDS, S2_DATES, built, s2_values


def _flat(dimensions, target="tb", **extra):
    return {"flat": {"process_id": "flatten_dimensions", "arguments": {
        "data": {"from_node": "load"}, "dimensions": dimensions, "target_dimension": target, **extra}}}


def test_flatten_joins_labels_in_the_order_given():
    cube = built(_flat(["bands", "t"], "bands", label_separator="|"))
    assert cube.meta.dims == ("bands", "y", "x") and cube.meta.dim_types["bands"] == "bands"
    assert cube.meta.labels["bands"][:2] == (f"{S2_BANDS[0]}|{S2_DATES[0]}", f"{S2_BANDS[0]}|{S2_DATES[1]}")
    values = s2_values()
    np.testing.assert_array_equal(materialize(cube), np.swapaxes(values, 0, 1).reshape(-1, 7, 9))


def test_unflatten_restores_the_cube():
    cube = built({**_flat(["t", "bands"]), "back": {"process_id": "unflatten_dimension", "arguments": {
        "data": {"from_node": "flat"}, "dimension": "tb", "target_dimensions": ["t", "bands"]}}})
    assert cube.meta.dims == ("t", "bands", "y", "x")
    assert cube.meta.labels["t"] == tuple(S2_DATES) and cube.meta.labels["bands"] == tuple(S2_BANDS)
    np.testing.assert_array_equal(materialize(cube), s2_values())


def test_flatten_and_unflatten_errors_name_the_node():
    with pytest.raises(ProcessError) as info:
        built(_flat(["t", "bands"], "bands2") | {"flat2": {"process_id": "flatten_dimensions", "arguments": {
            "data": {"from_node": "flat"}, "dimensions": ["bands2"], "target_dimension": "x"}}})
    assert (info.value.code, info.value.node_id) == ("TargetDimensionExists", "flat2")
    with pytest.raises(ProcessError) as info:
        built(_flat(["t", "time"]))
    assert info.value.code == "DimensionNotAvailable"
    with pytest.raises(ProcessGraphError) as info:
        built({"un": {"process_id": "unflatten_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "bands", "target_dimensions": ["a", "b"]}}})
    assert (info.value.node_id, info.value.argument) == ("un", "target_dimensions")

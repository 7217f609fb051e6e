"""array_find, array_contains, array_labels, array_find_label: strict matches, per pixel on stacks."""
from __future__ import annotations

import numpy as np

from jobs.cube.arraycube import materialize
from jobs.processes.arraysearch import array_contains, array_find, array_find_label, array_labels
from jobs.processes.labeled import LabeledArray
from tests.fixtures.cubes import S2_DATES, built, callback, s2_values

DATA = {"from_parameter": "data"}


def test_strict_types_and_temporal_strings_as_text():
    assert array_find([1, "1", True, 1.0], 1, reverse=True) == 3
    assert array_contains(["2020-01-01T00:00:00Z"], "2020-01-01") is False
    assert array_contains([1, None], None) is False and array_find([[1]], [1]) is None


def test_position_of_each_pixels_maximum_over_t():
    reducer = callback(("mx", "max", {"data": DATA}),
                       ("at", "array_find", {"data": DATA, "value": {"from_node": "mx"}}))
    cube = built({"r": {"process_id": "reduce_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "reducer": reducer}}})
    expect = np.nanargmax(np.where(np.isnan(s2_values()), -np.inf, s2_values()), axis=0).astype(np.float32)
    got = materialize(cube)
    np.testing.assert_array_equal(got, expect)


def test_array_contains_per_pixel_and_labels():
    stack = LabeledArray(np.array([[1, 2], [3, np.nan]], dtype=np.float32), ("a", "b"))
    np.testing.assert_array_equal(array_contains(stack, 3), [True, False])
    np.testing.assert_array_equal(array_find(stack, 2), [np.nan, 0])
    assert array_labels(stack) == ["a", "b"] and array_find_label(stack, "b") == 1
    assert array_labels(LabeledArray(stack.values)) == [0, 1]


def test_array_labels_inside_a_callback_over_t():
    reducer = callback(("l", "array_labels", {"data": DATA}),
                       ("i", "array_find", {"data": {"from_node": "l"}, "value": S2_DATES[2]}),
                       ("e", "array_element", {"data": DATA, "index": {"from_node": "i"}}))
    cube = built({"r": {"process_id": "reduce_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "reducer": reducer}}})
    np.testing.assert_array_equal(materialize(cube), s2_values()[2])

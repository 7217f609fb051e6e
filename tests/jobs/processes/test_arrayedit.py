"""array_append, array_concat, array_create_labeled, array_modify on JSON arrays and pixel stacks."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError
from jobs.processes.arrayedit import array_append, array_concat, array_create_labeled, array_modify
from jobs.processes.labeled import LabeledArray
from tests.fixtures.cubes import built, callback, s2_values

DATA = {"from_parameter": "data"}


def test_append_a_computed_band_in_apply_dimension():
    process = callback(("r", "array_element", {"data": DATA, "label": "B04"}),
                       ("n", "array_element", {"data": DATA, "label": "B08"}),
                       ("nd", "normalized_difference", {"x": {"from_node": "n"}, "y": {"from_node": "r"}}),
                       ("ap", "array_append", {"data": DATA, "value": {"from_node": "nd"}}))
    cube = built({"a": {"process_id": "apply_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "bands", "process": process}}})
    values = s2_values()
    assert cube.meta.labels["bands"] == (0, 1, 2, 3)
    got = materialize(cube)
    np.testing.assert_array_equal(got[:, :3], values)
    np.testing.assert_allclose(got[:, 3], (values[:, 1] - values[:, 0]) / (values[:, 1] + values[:, 0]), rtol=1e-6)


def test_stacks_broadcast_scalars_and_nulls():
    stack = LabeledArray(np.ones((2, 3), dtype=np.float32), ("a", "b"))
    got = array_concat(stack, [5, None])
    assert got.labels is None
    np.testing.assert_array_equal(got.values, [[1, 1, 1], [1, 1, 1], [5, 5, 5], [np.nan] * 3])
    modified = array_modify(stack, [7], index=1, length=0)
    np.testing.assert_array_equal(modified.values, [[1, 1, 1], [7, 7, 7], [1, 1, 1]])
    assert array_create_labeled(stack, ["x", "y"]).labels == ("x", "y")


def test_append_labels_only_with_a_label():
    labeled = LabeledArray.from_list([1, 2], ["a", "b"])
    assert array_append(labeled, 3) == [1, 2, 3]                 # 1.2.0: labels discarded
    assert array_append(labeled, 3, label="c").labels == ("a", "b", "c")


@pytest.mark.parametrize("call, code", [
    (lambda: array_create_labeled([1, 2], ["a"]), "ArrayLengthMismatch"),
    (lambda: array_modify([1], [], index=2), "ArrayElementNotAvailable"),
    (lambda: array_append([1], 2, label="x"), "ArrayNotLabeled"),
    (lambda: array_append(LabeledArray.from_list([1], ["x"]), 2, label="x"), "LabelExists"),
])
def test_errors(call, code):
    with pytest.raises(ProcessError) as e:
        call()
    assert e.value.code == code

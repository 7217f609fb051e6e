"""``LabeledArray``, ``array_element`` and the ``is_*`` tests on pixel stacks and JSON values."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError
from jobs.processes.arrays import array_element, is_nan, is_nodata, is_valid
from jobs.processes.labeled import LabeledArray
from tests.fixtures.cubes import built, callback, s2_values


@pytest.fixture()
def bands() -> LabeledArray:
    values = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)
    values[1, 0, 0] = np.nan
    return LabeledArray(values, ("B04", "B08", "SCL"))


def test_array_element_by_label_and_index_returns_pixels(bands):
    np.testing.assert_array_equal(array_element(bands, label="B08"), bands.values[1])
    np.testing.assert_array_equal(array_element(bands, index=2), bands.values[2])


@pytest.mark.parametrize("kwargs, code", [
    ({}, "ArrayElementParameterMissing"),
    ({"index": 0, "label": "B04"}, "ArrayElementParameterConflict"),
    ({"label": "B02"}, "ArrayElementNotAvailable"),
    ({"index": 3}, "ArrayElementNotAvailable"),
    ({"index": -1}, "ArrayElementNotAvailable"),
])
def test_array_element_errors(bands, kwargs, code):
    with pytest.raises(ProcessError) as e:
        array_element(bands, **kwargs)
    assert e.value.code == code


def test_array_element_error_names_the_labels(bands):
    with pytest.raises(ProcessError, match="'B02'.*B04, B08, SCL"):
        array_element(bands, label="B02")


def test_array_element_return_nodata(bands):
    missing = array_element(bands, label="B02", return_nodata=True)
    assert missing.shape == (2, 2) and np.isnan(missing).all()
    assert array_element([1, 2], index=5, return_nodata=True) is None


def test_array_element_label_on_unlabelled_array():
    with pytest.raises(ProcessError) as e:
        array_element(np.zeros((2, 3)), label="B04")
    assert e.value.code == "ArrayNotLabeled"


def test_json_list_elements_keep_null_and_nan_apart():
    data = LabeledArray.from_list([1.5, None, float("nan")], ["a", "b", "c"])
    assert array_element(data, label="a") == 1.5
    assert array_element(data, label="b") is None
    assert np.isnan(array_element(data, label="c"))
    assert array_element(LabeledArray.from_list([4, 5], [1, 2]), label=1.0) == 4


def test_is_tests_on_pixels_treat_nan_as_nodata():
    x = np.array([1.0, np.nan, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(is_nodata(x), [False, True, False])
    np.testing.assert_array_equal(is_nan(x), [False, True, False])
    np.testing.assert_array_equal(is_valid(x), [True, False, False])
    np.testing.assert_array_equal(is_valid(np.array([1, 2], dtype=np.uint16)), [True, True])


@pytest.mark.parametrize("value, nodata, valid, nan", [
    (None, True, False, True),
    (1, False, True, False),
    (float("nan"), False, False, True),
    ("Test", False, True, True),          # 1.2.0: is_nan is true for non-numbers
    ([None, None], False, True, True),
])
def test_is_tests_on_json_values(value, nodata, valid, nan):
    assert (is_nodata(value), is_valid(value), is_nan(value)) == (nodata, valid, nan)


def test_labeled_array_checks_label_count():
    with pytest.raises(ValueError, match="2 labels"):
        LabeledArray(np.zeros((3, 2)), ("a", "b"))


def test_array_create_stacks_pixel_arrays_and_repeats_json_arrays():
    from jobs.processes.arrays import array_create

    tile = np.array([[1.0, 2.0]], dtype=np.float32)
    stacked = array_create([tile, None, 3], repeat=2)
    assert stacked.shape == (6, 1, 2) and stacked.dtype == np.float32
    np.testing.assert_array_equal(stacked[:3], [[[1.0, 2.0]], [[np.nan, np.nan]], [[3.0, 3.0]]])
    assert array_create([1, None], repeat=2) == [1, None, 1, None]
    assert array_create() == []


def test_is_infinite_and_nan_inside_apply():
    x = {"from_parameter": "x"}
    process = callback(("d", "divide", {"x": x, "y": 0}), ("inf", "is_infinite", {"x": {"from_node": "d"}}),
                       ("n", "nan", {}), ("if", "if", {"value": {"from_node": "inf"}, "accept": {"from_node": "n"},
                                                       "reject": 1}))
    cube = built({"a": {"process_id": "apply", "arguments": {"data": {"from_node": "load"}, "process": process}}})
    values = s2_values()
    np.testing.assert_array_equal(materialize(cube), np.where(np.isnan(values), 1, np.nan))

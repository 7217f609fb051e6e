"""all, any, between and if: on JSON values (the conformance suite has more) and vectorised on cubes."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.processes.labeled import LabeledArray
from jobs.processes.logic import all_, any_, between, if_
from tests.fixtures.cubes import built, callback, s2_values

X = {"from_parameter": "x"}
DATA = {"from_parameter": "data"}


@pytest.fixture()
def stack() -> LabeledArray:
    # per pixel (columns): all true, one false, true + no-data, all no-data
    return LabeledArray(np.array([[1, 1, 1, np.nan], [1, 0, np.nan, np.nan]], dtype=np.float32))


@pytest.mark.parametrize("fn, ignore, expect", [
    (all_, True, [1, 0, 1, np.nan]),
    (all_, False, [1, 0, np.nan, np.nan]),
    (any_, True, [1, 1, 1, np.nan]),
    (any_, False, [1, 1, 1, np.nan]),
])
def test_all_any_on_pixel_stacks_use_three_valued_logic(stack, fn, ignore, expect):
    np.testing.assert_array_equal(fn(stack, ignore_nodata=ignore), np.array(expect, dtype=np.float32))


def test_all_of_an_empty_array_is_nodata_as_in_1_2_0():
    assert all_([]) is None and any_([]) is None and all_([], ignore_nodata=False) is None


def test_between_with_a_date_bound_covers_the_whole_day():
    assert between("2018-12-31T17:22:45Z", "2018-01-01", "2018-12-31") is True
    assert between("2018-12-31T17:22:45Z", "2018-01-01", "2018-12-31", exclude_max=True) is False
    assert between("2019-01-01", "2018-01-01", "2018-12-31T23:59:59Z") is False


def test_if_in_apply_picks_per_pixel_and_nodata_conditions_reject():
    process = callback(("gt", "gt", {"x": X, "y": 0.3}), ("if", "if", {"value": {"from_node": "gt"}, "accept": X}))
    cube = built({"a": {"process_id": "apply", "arguments": {"data": {"from_node": "load"}, "process": process}}})
    values = s2_values()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(materialize(cube), np.where(values > 0.3, values, np.nan))
    assert np.isnan(values).any()           # no-data conditions took the reject branch (null)


def test_between_over_bands_in_reduce_dimension():
    reducer = callback(("b8", "array_element", {"data": DATA, "label": "B08"}),
                       ("in", "between", {"x": {"from_node": "b8"}, "min": 0.2, "max": 0.4, "exclude_max": True}))
    cube = built({"r": {"process_id": "reduce_dimension",
                        "arguments": {"data": {"from_node": "load"}, "dimension": "bands", "reducer": reducer}}})
    b8 = s2_values()[:, 1]
    with np.errstate(invalid="ignore"):
        expect = np.where(np.isnan(b8), np.nan, (b8 >= 0.2) & (b8 < 0.4))
    np.testing.assert_array_equal(materialize(cube), expect.astype(np.float32))


def test_if_with_scalar_condition_returns_the_branch_as_given():
    assert if_(True, [1, 2]) == [1, 2] and if_(None, "A", "B") == "B" and if_(False, 1) is None

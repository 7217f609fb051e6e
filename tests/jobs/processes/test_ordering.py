"""order, sort, rearrange: stable in both directions, no-data placement, per pixel on stacks."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.processes.labeled import LabeledArray
from jobs.processes.ordering import order, rearrange, sort
from tests.fixtures.cubes import built, callback, s2_values

DATA = {"from_parameter": "data"}


def test_temporal_strings_sort_as_instants():
    data = ["2020-01-01T01:00:00+02:00", "2020-01-01", "2019-12-31T23:30:00Z"]
    assert order(data) == [0, 2, 1]                  # 2019-12-31T23:00Z, 23:30Z, 2020-01-01T00:00Z
    assert sort(data, asc=False) == [data[1], data[2], data[0]]


@pytest.mark.parametrize("asc, nodata", [(True, None), (False, None), (True, True), (False, False)])
def test_pixel_stacks_sort_each_pixel_like_python(asc, nodata):
    rng = np.random.default_rng(5)
    stack = rng.integers(0, 4, (7, 3, 5)).astype(np.float32)          # ties on purpose
    stack[rng.random(stack.shape) < 0.3] = np.nan
    got_order, got_sort = order(LabeledArray(stack), asc, nodata), sort(LabeledArray(stack), asc, nodata)
    width = len(stack)                              # dropped no-data pads each pixel to the input's length
    assert got_order.shape == got_sort.shape == (width, 3, 5)
    for r in range(3):
        for c in range(5):
            items = [None if np.isnan(v) else float(v) for v in stack[:, r, c]]
            expect = order(items, asc, nodata)
            pad = [np.nan] * (width - len(expect))
            np.testing.assert_array_equal(got_order[:, r, c], expect + pad)
            np.testing.assert_array_equal(got_sort[:, r, c], [np.nan if items[i] is None else items[i]
                                                              for i in expect] + pad)


def test_rearrange_with_per_pixel_order_is_sort():
    stack = s2_values()[:, 0]
    np.testing.assert_array_equal(rearrange(LabeledArray(stack), order(LabeledArray(stack))),
                                  sort(LabeledArray(stack)))
    assert rearrange(LabeledArray.from_list([5, 4, 3], ["a", "b", "c"]), [2, 0]).labels == ("c", "a")


def test_sort_over_t_in_apply_dimension_pads_with_nodata():
    process = callback(("s", "sort", {"data": DATA, "asc": False}))
    cube = built({"a": {"process_id": "apply_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "process": process}}})
    got = materialize(cube)
    values = s2_values()
    expect = -np.sort(-values, axis=0)                 # descending, NaN last
    np.testing.assert_array_equal(got, expect)

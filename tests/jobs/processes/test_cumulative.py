"""cumsum, cumproduct, cummin, cummax: no-data skipped and kept, or poisoning what follows; over t on a cube."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.processes.cumulative import cummax, cummin, cumproduct, cumsum
from jobs.processes.labeled import LabeledArray
from tests.fixtures.cubes import S2_DATES, built, callback, s2_values

STACK = np.array([[1, 2], [np.nan, 3], [4, np.nan], [2, 1]], dtype=np.float32)


@pytest.mark.parametrize("fn, skipped, poisoned", [
    (cumsum, [[1, 2], [np.nan, 5], [5, np.nan], [7, 6]], [[1, 2], [np.nan, 5], [np.nan, np.nan], [np.nan, np.nan]]),
    (cumproduct, [[1, 2], [np.nan, 6], [4, np.nan], [8, 6]], [[1, 2], [np.nan, 6], [np.nan, np.nan], [np.nan, np.nan]]),
    (cummin, [[1, 2], [np.nan, 2], [1, np.nan], [1, 1]], [[1, 2], [np.nan, 2], [np.nan, np.nan], [np.nan, np.nan]]),
    (cummax, [[1, 2], [np.nan, 3], [4, np.nan], [4, 3]], [[1, 2], [np.nan, 3], [np.nan, np.nan], [np.nan, np.nan]]),
])
def test_pixel_stacks(fn, skipped, poisoned):
    labels = ("a", "b", "c", "d")
    got = fn(LabeledArray(STACK, labels))
    assert got.labels == labels and got.values.dtype == np.float32
    np.testing.assert_array_equal(got.values, np.array(skipped, dtype=np.float32))
    np.testing.assert_array_equal(fn(LabeledArray(STACK), ignore_nodata=False).values,
                                  np.array(poisoned, dtype=np.float32))


def test_json_nan_propagates_but_null_is_skipped():
    assert cumsum([1, None, float("nan"), 2])[:2] == [1.0, None]
    assert np.isnan(cumsum([1, None, float("nan"), 2])[3])


def test_cumsum_over_t_in_apply_dimension():
    process = callback(("c", "cumsum", {"data": {"from_parameter": "data"}}))
    cube = built({"a": {"process_id": "apply_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "process": process}}})
    values = s2_values()
    expect = np.where(np.isnan(values), np.nan, np.nancumsum(values, axis=0))
    assert cube.meta.labels["t"] == S2_DATES
    np.testing.assert_allclose(materialize(cube), expect, rtol=1e-6)

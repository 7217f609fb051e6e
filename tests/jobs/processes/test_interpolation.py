"""array_interpolate_linear: by date on irregular series, vectorised over pixels, and over t on a cube."""
from __future__ import annotations

from datetime import date

import numpy as np

from jobs.cube.arraycube import materialize
from jobs.processes.interpolation import array_interpolate_linear
from jobs.processes.labeled import LabeledArray
from tests.fixtures.cubes import S2_DATES, built, callback, s2_values


def _reference(stack: np.ndarray, x: np.ndarray) -> np.ndarray:
    """np.interp per pixel over its valid values; leading/trailing gaps stay NaN."""
    out = stack.astype(np.float64).copy()
    flat = out.reshape(len(out), -1)
    for p in range(flat.shape[1]):
        v = flat[:, p]
        ok = np.flatnonzero(~np.isnan(v))
        if len(ok) >= 2:
            inner = np.arange(ok[0], ok[-1] + 1)
            flat[inner, p] = np.interp(x[inner], x[ok], v[ok])
    return out


def _days(labels) -> np.ndarray:
    return np.array([date.fromisoformat(d).toordinal() for d in labels], dtype=np.float64)


def test_gaps_are_filled_by_date_not_by_position():
    # 2021-06-01 .. 06-11 (10 days) .. 06-21 .. 07-01: the 06-11 gap is 1/3 of the way from 06-01 to 07-01
    data = LabeledArray.from_list([0.0, None, None, 3.0], ["2021-06-01", "2021-06-11", "2021-06-21", "2021-07-01"])
    got = array_interpolate_linear(data)
    assert got.labels == data.labels
    np.testing.assert_allclose([got.element(i) for i in range(4)], [0.0, 1.0, 2.0, 3.0])
    uneven = LabeledArray.from_list([0.0, None, 3.0], ["2021-06-01", "2021-06-04", "2021-06-13"])
    assert array_interpolate_linear(uneven).element(1) == 0.75


def test_pixel_stack_equals_numpy_interp_per_pixel():
    rng = np.random.default_rng(3)
    stack = rng.uniform(0, 1, (9, 5, 4)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.4] = np.nan
    labels = ("2020-01-01", "2020-01-03", "2020-01-04", "2020-02-01", "2020-02-02", "2020-03-15", "2020-03-16",
              "2020-05-01", "2020-05-30")
    got = array_interpolate_linear(LabeledArray(stack, labels))
    assert got.values.dtype == np.float32 and got.labels == labels
    np.testing.assert_allclose(got.values, _reference(stack, _days(labels)), rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(got.values), np.isnan(_reference(stack, _days(labels))))


def test_apply_dimension_over_t_fills_the_cube_time_series():
    process = callback(("i", "array_interpolate_linear", {"data": {"from_parameter": "data"}}))
    cube = built({"a": {"process_id": "apply_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "process": process}}})
    assert cube.meta.labels["t"] == S2_DATES
    values = s2_values()
    expect = np.stack([_reference(values[:, b], _days(S2_DATES)) for b in range(values.shape[1])], axis=1)
    got = materialize(cube)
    assert np.isnan(values).sum() > np.isnan(got).sum()
    np.testing.assert_allclose(got, expect, rtol=1e-6)

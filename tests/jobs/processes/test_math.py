"""Element-wise processes on pixel arrays (NaN = no-data) against numpy, and their no-data rules.

The scalar spec cases (IEEE 754 corner cases, null handling) run in test_conformance.py; here the
engine's path: float32 tiles, broadcasting with scalars, labels kept, three-valued booleans.
"""
from __future__ import annotations

import numpy as np
import pytest

from jobs.errors import ProcessError
from jobs.processes import math as m
from jobs.processes.labeled import LabeledArray


@pytest.fixture(scope="module")
def tiles() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    a = rng.uniform(-2, 2, (30, 40)).astype(np.float32)
    b = rng.uniform(-2, 2, (30, 40)).astype(np.float32)
    a[rng.random(a.shape) < 0.2] = np.nan
    b[:3] = 0.0
    return a, b


@pytest.mark.parametrize("process, reference", [
    (m.add, np.add), (m.subtract, np.subtract), (m.multiply, np.multiply), (m.divide, np.divide),
    (m.normalized_difference, lambda x, y: (x - y) / (x + y)),
])
def test_binary_arithmetic_equals_numpy_and_stays_float32(tiles, process, reference):
    a, b = tiles
    got = process(x=a, y=b)
    with np.errstate(all="ignore"):
        want = reference(a, b)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_scalars_broadcast_without_widening(tiles):
    a, _ = tiles
    got = m.multiply(x=a, y=2)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, a * np.float32(2))
    assert np.isnan(m.add(x=a, y=None)).all()            # a null constant is no-data everywhere


@pytest.mark.parametrize("process, reference", [
    (m.absolute, np.abs), (m.sqrt, np.sqrt), (m.exp, np.exp), (m.ln, np.log),
])
def test_unary_math_equals_numpy(tiles, process, reference):
    a, _ = tiles
    got = process(a) if process is not m.exp else process(p=a)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, reference(a))


def test_log_power_clip_linear_scale_range(tiles):
    a, _ = tiles
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(m.log(x=a, base=10), np.log10(a))
        np.testing.assert_allclose(m.log(x=a, base=3), np.log(a) / np.log(3), rtol=1e-6)
        np.testing.assert_array_equal(m.power(base=a, p=2), a ** 2)
    np.testing.assert_array_equal(m.clip(x=a, min=-1, max=1), np.clip(a, -1, 1))
    scaled = m.linear_scale_range(x=a, inputMin=-2, inputMax=2, outputMin=0, outputMax=255)
    np.testing.assert_allclose(scaled, (np.clip(a, -2, 2) + 2) / 4 * 255, rtol=1e-6)
    assert m.clip(x=5, min=-1, max=1) == 1
    with pytest.raises(ProcessError) as e:
        m.clip(x=a, min=2, max=1)
    assert e.value.code == "MinMaxSwapped"


def test_comparisons_return_bool_without_nodata_and_nan_with_it(tiles):
    a, b = tiles
    full = np.nan_to_num(a)
    got = m.gt(x=full, y=b)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, full > b)
    with_nodata = m.lte(x=a, y=0.5)
    assert with_nodata.dtype == np.float32
    assert np.array_equal(np.isnan(with_nodata), np.isnan(a))
    valid = ~np.isnan(a)
    np.testing.assert_array_equal(with_nodata[valid], (a[valid] <= 0.5).astype(np.float32))


def test_eq_with_delta_on_pixels():
    x = np.array([1.0, 1.004, 1.02, np.nan], dtype=np.float32)
    got = m.eq(x=x, y=1, delta=0.01)
    np.testing.assert_array_equal(got[:3], [1.0, 1.0, 0.0])
    assert np.isnan(got[3])
    neq = m.neq(x=x, y=1, delta=0.01)
    np.testing.assert_array_equal(neq[:3], [0.0, 0.0, 1.0])
    assert np.isnan(neq[3])


def test_three_valued_logic_on_pixels():
    nan = np.nan
    x = np.array([1, 1, 1, 0, 0, 0, nan, nan, nan], dtype=np.float32)
    y = np.array([1, 0, nan, 1, 0, nan, 1, 0, nan], dtype=np.float32)
    np.testing.assert_array_equal(m.and_(x, y), [1, 0, nan, 0, 0, 0, nan, 0, nan])
    np.testing.assert_array_equal(m.or_(x, y), [1, 1, 1, 1, 0, nan, 1, nan, nan])
    np.testing.assert_array_equal(m.xor(x, y), [0, 1, nan, 1, 0, nan, nan, nan, nan])
    np.testing.assert_array_equal(m.not_(x), [0, 0, 0, 1, 1, 1, nan, nan, nan])
    np.testing.assert_array_equal(m.and_(np.array([True, False]), True), [True, False])


def test_scl_cloud_mask_expression():
    """The Sentinel-2 mask callback: or(eq(scl, 3), gte(scl, 8)), scl with a no-data pixel."""
    scl = np.array([[3, 4, 8], [9, 10, np.nan]], dtype=np.float32)
    cloudy = m.or_(m.eq(scl, 3), m.gte(scl, 8))
    np.testing.assert_array_equal(cloudy[0], [1, 0, 1])
    np.testing.assert_array_equal(cloudy[1, :2], [1, 1])
    assert np.isnan(cloudy[1, 2])


def test_labels_survive_element_wise_processes():
    data = LabeledArray(np.arange(6, dtype=np.float32).reshape(3, 2), ("B02", "B04", "B08"))
    got = m.multiply(data, 10)
    assert isinstance(got, LabeledArray) and got.labels == ("B02", "B04", "B08")
    np.testing.assert_array_equal(got.values, data.values * 10)
    assert m.gt(data, 2).labels == data.labels


def test_type_errors_are_process_errors():
    with pytest.raises(ProcessError) as e:
        m.add(x="a", y=1)
    assert e.value.code == "ProcessParameterInvalid" and "'x'" in str(e.value)
    with pytest.raises(ProcessError):
        m.and_(x=1, y=True)


@pytest.mark.parametrize("process, x, y, expected", [
    (m.eq, "2018-01-01T00:00:00Z", "2018-01-01T00:00:00+00:00", True),
    (m.eq, "2018-01-01T01:00:00+01:00", "2018-01-01T00:00:00Z", True),
    (m.neq, "2018-01-01", "2018-01-01T00:00:00Z", False),
    (m.gt, "2018-01-02T00:00:00Z", "2018-01-01T23:00:00Z", True),
    (m.lt, "2018-01-02T00:00:00+02:00", "2018-01-01T23:00:00Z", True),
    (m.lte, "2018-01-01T00:00:00Z", "2018-01-01T00:00:00+00:00", True),
    (m.gt, "b", "a", False),                      # plain strings are not ordered
    (m.gte, "a", "a", True),                      # ... but gte/lte are true when eq is
])
def test_temporal_strings_compare_as_instants_in_1_2(process, x, y, expected):
    assert process(x=x, y=y) is expected


def test_boolean_pixels_compare_with_boolean_constants():
    flags = np.array([True, False, True])
    np.testing.assert_array_equal(m.eq(flags, True), [True, False, True])
    np.testing.assert_array_equal(m.neq(np.array([1.0, 0.0, np.nan], dtype=np.float32), False)[:2], [1.0, 0.0])

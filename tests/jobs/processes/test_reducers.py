"""Reducers on pixel stacks (the engine's path) against numpy, plus the JSON-list no-data rules.

The upstream spec cases run in test_conformance.py; here: (t, y, x) float32 stacks with NaN as
no-data, as a reducer callback over ``t`` sees them, compared with numpy's nan-functions.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from jobs.errors import ProcessError
from jobs.processes import reducers
from jobs.processes.labeled import LabeledArray


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """12 dates of 40x50 float32 pixels, ~30% no-data, some pixels with no valid date at all."""
    rng = np.random.default_rng(42)
    values = rng.normal(0.3, 0.2, (12, 40, 50)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    values[:, 0, :5] = np.nan                       # never observed
    values[:, 1, :5] = np.nan
    values[3, 1, :5] = 0.25                         # observed once
    return values


def _nan_reference(fn, values, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN slices
        return fn(values, axis=0, **kw)


@pytest.mark.parametrize("process, reference", [
    (reducers.median, np.nanmedian),
    (reducers.min_, np.nanmin),
    (reducers.max_, np.nanmax),
])
def test_order_statistics_equal_numpy_exactly(stack, process, reference):
    got = process(LabeledArray(stack))
    assert got.dtype == np.float32 and got.shape == stack.shape[1:]
    np.testing.assert_array_equal(got, _nan_reference(reference, stack))


@pytest.mark.parametrize("process, reference", [
    (reducers.mean, np.nanmean),
    (reducers.sum_, np.nansum),
    (reducers.sd, lambda v, axis: np.nanstd(v.astype(np.float64), axis=axis, ddof=1)),
    (reducers.variance, lambda v, axis: np.nanvar(v.astype(np.float64), axis=axis, ddof=1)),
])
def test_moments_equal_numpy(stack, process, reference):
    got = process(LabeledArray(stack))
    want = _nan_reference(reference, stack)
    if process is reducers.sum_:                      # openEO: no valid element -> no-data, not 0
        want = np.where(np.isnan(stack).all(axis=0), np.nan, want)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, equal_nan=True)
    assert np.array_equal(np.isnan(got), np.isnan(want))


def test_median_even_and_odd_counts_and_no_valid_pixel(stack):
    got = reducers.median(LabeledArray(stack))
    assert np.isnan(got[0, :5]).all()
    np.testing.assert_array_equal(got[1, :5], np.float32(0.25))


def test_quantiles_equal_numpy_linear(stack):
    probs = [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]
    got = reducers.quantiles(LabeledArray(stack), probabilities=probs)
    want = _nan_reference(np.nanquantile, stack.astype(np.float64), q=probs)
    assert got.shape == (len(probs),) + stack.shape[1:]
    # float32 interpolation: within float32 resolution of the operands (~0.5 -> 6e-8)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, equal_nan=True)
    np.testing.assert_array_equal(reducers.quantiles(LabeledArray(stack), q=2)[0], reducers.median(LabeledArray(stack)))


def test_ignore_nodata_false_gives_nodata_where_any_date_is_missing(stack):
    got = reducers.mean(LabeledArray(stack), ignore_nodata=False)
    complete = ~np.isnan(stack).any(axis=0)
    assert np.array_equal(~np.isnan(got), complete)
    np.testing.assert_allclose(got[complete], stack.mean(axis=0)[complete], rtol=1e-6)


def test_first_and_last_pick_the_first_and_last_valid_date(stack):
    first = reducers.first(LabeledArray(stack))
    last = reducers.last(LabeledArray(stack))
    for (y, x) in [(5, 5), (10, 20), (1, 2), (0, 0)]:
        valid = stack[:, y, x][~np.isnan(stack[:, y, x])]
        if valid.size:
            assert first[y, x] == valid[0] and last[y, x] == valid[-1]
        else:
            assert np.isnan(first[y, x]) and np.isnan(last[y, x])
    np.testing.assert_array_equal(reducers.first(LabeledArray(stack), ignore_nodata=False), stack[0])


def test_count_valid_all_and_with_a_condition(stack):
    data = LabeledArray(stack)
    np.testing.assert_array_equal(reducers.count(data), (~np.isnan(stack)).sum(axis=0))
    np.testing.assert_array_equal(reducers.count(data, condition=True), np.full(stack.shape[1:], 12))
    above = reducers.count(data, condition=lambda x, context: np.greater(x, context), context=0.3)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(above, (stack > 0.3).sum(axis=0))


def test_boolean_stack_counts_and_sums():
    clear = np.array([[[True, False]], [[True, True]], [[False, False]]])
    np.testing.assert_array_equal(reducers.sum_(LabeledArray(clear)), [[2.0, 1.0]])
    np.testing.assert_array_equal(reducers.count(LabeledArray(clear)), [[3, 3]])


def test_json_lists_keep_nan_apart_from_nodata():
    nan = float("nan")
    assert reducers.median([None, 3, 1]) == 2.0
    assert np.isnan(reducers.median([nan, 3, 1]))
    assert reducers.max_([None, None]) is None
    assert reducers.mean([1, None], ignore_nodata=False) is None
    assert reducers.first([None, "A"]) == "A"
    assert reducers.quantiles([], probabilities=[0.5]) == [None]


def test_empty_stack_is_nodata_everywhere():
    empty = LabeledArray(np.zeros((0, 2, 3), dtype=np.float32))
    for process in (reducers.median, reducers.mean, reducers.max_, reducers.first, reducers.sd):
        assert np.isnan(process(empty)).all()


@pytest.mark.parametrize("kwargs, code", [
    ({}, "QuantilesParameterMissing"),
    ({"probabilities": [0.5], "q": 2}, "QuantilesParameterConflict"),
    ({"probabilities": [1.5]}, "ProcessParameterInvalid"),
])
def test_quantiles_parameter_errors(kwargs, code):
    with pytest.raises(ProcessError) as e:
        reducers.quantiles([1, 2, 3], **kwargs)
    assert e.value.code == code


def test_numeric_reducer_rejects_strings():
    with pytest.raises(ProcessError, match="numbers"):
        reducers.mean(["a", 1])


def test_reducers_over_a_list_of_pixel_arrays():
    """An overlap resolver ``sum(data=[x, y])``: a JSON array whose elements are tiles."""
    x = np.array([[1.0, np.nan], [3.0, np.nan]], dtype=np.float32)
    y = np.array([[10.0, 20.0], [np.nan, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(reducers.sum_([x, y]), [[11.0, 20.0], [3.0, np.nan]])
    np.testing.assert_array_equal(reducers.mean([x, 1.0]), [[1.0, 1.0], [2.0, 1.0]])
    np.testing.assert_array_equal(reducers.extrema([x, y]), [[[1.0, 20.0], [3.0, np.nan]],
                                                             [[10.0, 20.0], [3.0, np.nan]]])


def test_probabilities_as_number_of_intervals_like_q():
    """openEO 2.0's integer ``probabilities`` is accepted as 1.2.0's ``q``."""
    data = [2, 4, 4, 4, 5, 5, 7, 9]
    assert reducers.quantiles(data, probabilities=4) == reducers.quantiles(data, q=4) == [4.0, 4.5, 5.5]


def test_count_with_a_callback_condition_over_a_stack(stack):
    """The engine path: count's condition is a parsed callback run vectorised on the whole stack."""
    from jobs.graph.callback import Callback
    from jobs.graph.parse import ProcessGraph

    graph = ProcessGraph.parse({"process_graph": {"c": {"process_id": "count", "result": True, "arguments": {
        "data": {"from_parameter": "data"},
        "condition": {"process_graph": {"gt": {"process_id": "gt", "result": True, "arguments": {
            "x": {"from_parameter": "x"}, "y": {"from_parameter": "context"}}}}},
        "context": 0.3}}}, "parameters": [{"name": "data"}]})
    got = Callback(graph)(data=LabeledArray(stack))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(got, (stack > 0.3).sum(axis=0))


@pytest.mark.parametrize("dates", [2, 3, 5, 12, 17, 32, 33])
def test_sorting_network_median_and_quantiles_equal_numpy(dates, monkeypatch):
    """Stacks up to NETWORK_MAX dates sort by a sorting network (33: np.sort); infinities are values.
    Median against np.nanmedian; quantiles exactly as with np.sort (numpy interpolates infinities
    differently, with or without the network)."""
    rng = np.random.default_rng(dates)
    values = rng.normal(0, 1, (dates, 30, 20)).astype(np.float32)
    values[rng.random(values.shape) < 0.35] = np.nan
    values[:, 0, :3] = np.nan                               # never observed
    values[0, 1, :4] = np.inf                               # real infinities stay values
    values[-1, 2, :4] = -np.inf
    values[:, 3, :2] = 0.5                                  # ties
    got = reducers.median(LabeledArray(values))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, _nan_reference(np.nanmedian, values).astype(np.float32))
    probs = [0.1, 0.5, 0.9]
    got_q = reducers.quantiles(LabeledArray(values), probabilities=probs)
    finite = np.where(np.isinf(values), np.nan, values)
    np.testing.assert_allclose(reducers.quantiles(LabeledArray(finite), probabilities=probs),
                               _nan_reference(np.nanquantile, finite.astype(np.float64), q=probs), rtol=1e-6, atol=1e-6)
    monkeypatch.setattr(reducers, "NETWORK_MAX", 0)
    np.testing.assert_array_equal(got_q, reducers.quantiles(LabeledArray(values), probabilities=probs))


@pytest.mark.parametrize("n", range(1, 33))
def test_sorting_network_sorts_every_zero_one_input(n):
    """The 0-1 principle: a comparator network sorting all 0/1 inputs sorts every input (n <= 16
    exhaustively, larger n on 4096 random 0/1 inputs)."""
    if n <= 16:
        inputs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).T
    else:
        inputs = np.random.default_rng(n).integers(0, 2, (n, 4096))
    rows = list(inputs.astype(np.int8))
    for i, j in reducers.sorting_network(n):
        rows[i], rows[j] = np.minimum(rows[i], rows[j]), np.maximum(rows[i], rows[j])
    assert (np.diff(np.array(rows), axis=0) >= 0).all()


@pytest.mark.parametrize("n", [2, 5, 12, 16])
def test_selection_network_orders_the_lowest_positions_of_every_zero_one_input(n):
    """The pruned network (median: positions 0..n//2) leaves those positions exactly as a full sort."""
    keep = n // 2 + 1
    inputs = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).T.astype(np.float32)
    got = reducers._lowest(inputs, keep)
    assert len(got) == keep
    np.testing.assert_array_equal(np.array(got), np.sort(inputs, axis=0)[:keep])
    assert len(reducers.selection_network(n, keep)) <= len(reducers.sorting_network(n))

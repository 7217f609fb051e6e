"""Cumulative processes (1.2.0 proposals): ``cumsum``, ``cumproduct``, ``cummin``, ``cummax``.

The result has the input's length and labels. With ``ignore_nodata`` (the default) no-data elements
are skipped and stay no-data in the result; without it, the first no-data makes every later element
no-data. Vectorised along axis 0 of pixel stacks (a callback over ``t`` in ``apply_dimension``).
"""
from __future__ import annotations

import numpy as np

from jobs.processes.labeled import LabeledArray, assemble
from jobs.processes.reducers import numbers
from jobs.processes.registry import Param, process

_PARAMS = (Param("data", kind="array"), Param("ignore_nodata", True, kind="boolean"))


def _cumulative(data, ignore_nodata: bool, accumulate, identity: float):
    arr = LabeledArray.of(data)
    nums = numbers(arr)
    # no-data contributes the identity, so it is skipped; a NaN value still propagates
    totals = accumulate(np.where(nums.missing, identity, nums.values), axis=0)
    gone = nums.missing if ignore_nodata else np.logical_or.accumulate(nums.missing, axis=0)
    if nums.scalar:
        return assemble([None if g else float(v) for v, g in zip(totals, gone)], arr.labels)
    return LabeledArray(np.where(gone, np.nan, totals).astype(nums.dtype), arr.labels)


@process("cumsum", *_PARAMS)
def cumsum(data, ignore_nodata=True):
    """Cumulative sums: each element is the sum of it and all before it."""
    return _cumulative(data, ignore_nodata, np.cumsum, 0.0)


@process("cumproduct", *_PARAMS)
def cumproduct(data, ignore_nodata=True):
    """Cumulative products: each element is the product of it and all before it."""
    return _cumulative(data, ignore_nodata, np.cumprod, 1.0)


@process("cummin", *_PARAMS)
def cummin(data, ignore_nodata=True):
    """Cumulative minima: each element is the smallest of it and all before it."""
    return _cumulative(data, ignore_nodata, np.minimum.accumulate, np.inf)


@process("cummax", *_PARAMS)
def cummax(data, ignore_nodata=True):
    """Cumulative maxima: each element is the largest of it and all before it."""
    return _cumulative(data, ignore_nodata, np.maximum.accumulate, -np.inf)

"""``array_interpolate_linear`` (1.2.0 proposal): fill the gaps of an array by linear interpolation.

The interpolants' x are the labels when they are numbers or dates (so an irregular time series is
interpolated by time, not by position: a gap 3 days after one observation and 9 days before the next
gets 3/12 of the way), else the positions. Leading and trailing gaps stay as they are. A gap is
no-data, or NaN (the upstream tests count NaN too; in engine arrays NaN *is* no-data).

Vectorised over a pixel stack (axis 0 the array): the nearest valid neighbours on both sides come
from running maxima/minima of their positions, one pass each way, so a 68-date series over a tile
costs a few array passes instead of a Python loop over pixels.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from jobs.processes.labeled import LabeledArray, assemble, elements, is_number
from jobs.processes.reducers import numbers
from jobs.processes.registry import Param, process
from jobs.plan.timelabels import parse_instant


def positions(labels: Sequence | None, n: int) -> np.ndarray:
    """The x of each element: numeric labels, dates as seconds, else 0..n-1."""
    if labels is not None and n:
        if all(is_number(v) for v in labels):
            return np.asarray(labels, dtype=np.float64)
        try:
            return np.array([parse_instant(v).timestamp() for v in labels], dtype=np.float64)
        except (TypeError, ValueError, AttributeError):
            pass
    return np.arange(n, dtype=np.float64)


def interpolate(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``values`` (n, ...) with interior NaN runs filled linearly along axis 0 at positions ``x`` (n,)."""
    n = len(values)
    if n < 3:
        return values
    shape = (n,) + (1,) * (values.ndim - 1)
    gap = np.isnan(values)
    at = np.arange(n).reshape(shape)
    before = np.maximum.accumulate(np.where(gap, -1, at), axis=0)
    after = np.minimum.accumulate(np.where(gap, n, at)[::-1], axis=0)[::-1]
    inner = gap & (before >= 0) & (after < n)
    if not inner.any():
        return values
    lo, hi = np.clip(before, 0, n - 1), np.clip(after, 0, n - 1)
    xs = np.broadcast_to(x.reshape(shape), values.shape)
    x0, x1 = np.take_along_axis(xs, lo, axis=0), np.take_along_axis(xs, hi, axis=0)
    y0, y1 = np.take_along_axis(values, lo, axis=0), np.take_along_axis(values, hi, axis=0)
    with np.errstate(all="ignore"):
        w = (xs - x0) / (x1 - x0)
        # the weighted sum rather than y0 + w * (y1 - y0): -inf to 0.1 gives -inf there, not NaN
        filled = y0 * (1 - w) + y1 * w
    return np.where(inner, filled.astype(values.dtype, copy=False), values)


@process("array_interpolate_linear", Param("data", kind="array"))
def array_interpolate_linear(data):
    """``data`` with every gap between two values filled by linear interpolation (labels kept)."""
    arr = LabeledArray.of(data)
    nums = numbers(arr)
    filled = interpolate(nums.values, positions(arr.labels, len(arr)))
    if nums.scalar:
        items = elements(arr)
        done = ~np.isnan(filled) & np.isnan(nums.values)
        return assemble([float(f) if d else v for f, d, v in zip(filled, done, items)], arr.labels)
    return LabeledArray(filled, arr.labels)

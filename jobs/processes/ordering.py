"""Sorting (1.2.0): ``order`` (the permutation that sorts), ``sort`` and ``rearrange``.

Elements are numbers or temporal strings (compared as instants, ``jobs.plan.timelabels``); ties keep
their original order in both directions. No-data (``null``; NaN in pixel stacks) is dropped by
default, put last with ``nodata=true`` and first with ``nodata=false``.

On a pixel stack every pixel sorts on its own (``np.argsort`` along axis 0, stable). Dropping no-data
gives pixels arrays of different lengths: they are padded with no-data to the input's length
(``labeled.compact``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from jobs.errors import ProcessError
from jobs.processes.elementwise import unwrap
from jobs.processes.labeled import LabeledArray, assemble, compact, elements, is_number
from jobs.processes.registry import Param, process
from jobs.plan.timelabels import parse_instant

_DATA = Param("data", kind="array")
_ASC = Param("asc", True, kind="boolean")
_NODATA = Param("nodata", None, kind="boolean")


def _key(value: Any) -> float:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return parse_instant(value).timestamp()
        except (TypeError, ValueError):
            pass
    raise ProcessError("ProcessParameterInvalid", f"parameter 'data': cannot sort {value!r} "
                                                  "(only numbers and temporal strings)")


def _permutation(items: list[Any], asc: bool, nodata: bool | None) -> list[int]:
    present = [i for i, v in enumerate(items) if v is not None]
    missing = [i for i, v in enumerate(items) if v is None]
    keys = {i: _key(items[i]) for i in present}
    present.sort(key=keys.__getitem__, reverse=not asc)     # Python's sort stays stable when reversed
    if nodata is None:
        return present
    return present + missing if nodata else missing + present


def _pixel_permutation(values: np.ndarray, asc: bool, nodata: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """(indices sorting each pixel along axis 0, which of them point at a value rather than no-data)."""
    missing = np.isnan(values)
    index = np.argsort(values if asc else -values, axis=0, kind="stable")      # NaN sorts last either way
    valid = ~np.take_along_axis(missing, index, axis=0)
    if nodata is False:                                                          # no-data first
        first = np.argsort(valid, axis=0, kind="stable")
        index, valid = np.take_along_axis(index, first, axis=0), np.take_along_axis(valid, first, axis=0)
    return index, valid


@process("order", _DATA, _ASC, _NODATA)
def order(data, asc=True, nodata=None):
    """The zero-based positions that sort ``data`` (ascending by default)."""
    arr = LabeledArray.of(data)
    if not arr.pixel_shape:
        return _permutation(elements(arr), asc, nodata)
    index, valid = _pixel_permutation(arr.engine_values().astype(np.float64), asc, nodata)
    if nodata is None:
        return compact(index, valid)
    return index.astype(np.float32)


@process("sort", _DATA, _ASC, _NODATA)
def sort(data, asc=True, nodata=None):
    """``data`` sorted (ascending by default); labels are dropped."""
    arr = LabeledArray.of(data)
    if not arr.pixel_shape:
        items = elements(arr)
        return [items[i] for i in _permutation(items, asc, nodata)]
    values = arr.engine_values()
    index, valid = _pixel_permutation(values, asc, nodata)
    ordered = np.take_along_axis(values, index, axis=0)
    return compact(ordered, valid) if nodata is None else ordered


@process("rearrange", _DATA, Param("order", kind="array"))
def rearrange(data, order):
    """The elements of ``data`` at the positions of ``order`` (a permutation from ``order()``)."""
    arr = LabeledArray.of(data)
    positions, _ = unwrap(order)
    if isinstance(positions, np.ndarray) and positions.ndim > 1:       # per-pixel permutations
        if not arr.pixel_shape:
            raise ProcessError("ProcessParameterInvalid", "parameter 'order': per-pixel positions need "
                                                          "a pixel array as data")
        missing = np.isnan(positions)
        index = np.where(missing, 0, positions).astype(np.int64)
        _check(index, len(arr))
        values = np.take_along_axis(arr.engine_values(), index, axis=0).astype(np.float32)
        values[missing] = np.nan
        return values
    index = [int(p) for p in positions]
    _check(np.asarray(index, dtype=np.int64), len(arr))
    items = elements(arr)
    labels = None if arr.labels is None else [arr.labels[i] for i in index]
    return assemble([items[i] for i in index], labels)


def _check(index: np.ndarray, n: int) -> None:
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ProcessError("ArrayElementNotAvailable", f"parameter 'order': positions must lie in 0..{n - 1}")

"""Array access and value tests (1.2.0): ``array_element``, ``array_create``, ``is_nan``, ``is_nodata``,
``is_valid``, ``is_infinite``.

``array_element`` picks one element of a ``LabeledArray`` by index or label; inside a callback over
``bands`` that is one band's pixel array (``array_element(data, label="B08")``).

The ``is_*`` tests are element-wise on pixel arrays, where NaN is the engine's no-data marker, so
there ``is_nodata`` and ``is_nan`` are both ``isnan`` and ``is_valid`` is ``isfinite``. On JSON
values they follow the spec: ``null`` is no-data, NaN is not, and an array is a value, not no-data.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from jobs.errors import ProcessError
from jobs.processes.elementwise import rewrap, unwrap
from jobs.processes.labeled import LabeledArray, is_number, stack_pixels
from jobs.processes.registry import Param, process


@process("array_element", Param("data", kind="array"), Param("index", None, kind="number"),
         Param("label", None), Param("return_nodata", False, kind="boolean"))
def array_element(data, index=None, label=None, return_nodata=False):
    """The element at ``index`` or with ``label``; no-data instead of an error with ``return_nodata``."""
    if index is None and label is None:
        raise ProcessError("ArrayElementParameterMissing", "either 'index' or 'label' must be given")
    if index is not None and label is not None:
        raise ProcessError("ArrayElementParameterConflict", "only one of 'index' and 'label' may be given")
    arr = LabeledArray.of(data)
    if label is not None:
        if arr.labels is None:
            raise ProcessError("ArrayNotLabeled", f"the array has no labels, cannot select label {label!r}")
        position = arr.index_of(label)
        wanted = f"label {label!r} (labels: {', '.join(map(str, arr.labels))})"
    else:
        if not is_number(index) or int(index) != index:
            raise ProcessError("ProcessParameterInvalid", f"parameter 'index' must be an integer, got {index!r}")
        position = int(index) if 0 <= index < len(arr) else None
        wanted = f"index {index!r} (length {len(arr)})"
    if position is None:
        if return_nodata:
            return None if not arr.pixel_shape else np.full(arr.pixel_shape, np.nan, dtype=np.float32)
        raise ProcessError("ArrayElementNotAvailable", f"the array has no element with {wanted}")
    return arr.element(position)


@process("array_create", Param("data", [], kind="array"), Param("repeat", 1, kind="number"))
def array_create(data=(), repeat=1):
    """The array ``data`` repeated ``repeat`` times; elements that are pixel arrays are stacked."""
    if not is_number(repeat) or int(repeat) != repeat or repeat < 1:
        raise ProcessError("ProcessParameterInvalid", f"parameter 'repeat' must be an integer >= 1, got {repeat!r}")
    items = list(data) * int(repeat)
    if any(isinstance(v, (np.ndarray, LabeledArray)) for v in items):
        return stack_pixels(items)
    return items


def _test(x: Any, on_pixels, on_scalar) -> Any:
    value, template = unwrap(x)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc":
            return rewrap(on_pixels(value), template)
        return rewrap(np.full(value.shape, on_pixels is np.isfinite), template)
    return on_scalar(value)


@process("is_nan", Param("x"))
def is_nan(x):
    """True for NaN and (1.2.0) for every value that is not a number, null included."""
    return _test(x, np.isnan, lambda v: not is_number(v) or math.isnan(v))


@process("is_nodata", Param("x"))
def is_nodata(x):
    """True for no-data: null, or NaN in a pixel array (the engine's no-data marker)."""
    return _test(x, np.isnan, lambda v: v is None)


@process("is_valid", Param("x"))
def is_valid(x):
    """False for no-data and non-finite numbers (NaN, +-inf); arrays, objects, strings are valid."""
    return _test(x, np.isfinite, lambda v: v is not None and (not is_number(v) or math.isfinite(v)))


@process("is_infinite", Param("x"))
def is_infinite(x):
    """True for +-inf; false for every other value (NaN, no-data, strings, arrays)."""
    return _test(x, np.isinf, lambda v: is_number(v) and math.isinf(v))

"""Finding values and labels in arrays (1.2.0 and proposals): ``array_contains``, ``array_find``,
``array_find_label``, ``array_labels``.

Values compare strictly as the spec says: numbers by value (1 equals 1.0), strings and booleans
exactly (temporal strings are not interpreted), never across types; searching for no-data, an array
or an object finds nothing. On a pixel stack (axis 0 the array, trailing axes pixels) the value may be
a number or a pixel array (``array_find(data, max(data))``: the position of each pixel's maximum);
the result is one boolean or index per pixel, NaN where nothing matches.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from jobs.processes.elementwise import unwrap
from jobs.processes.labeled import LabeledArray, elements, is_number
from jobs.processes.registry import Param, process


def same_value(a: Any, b: Any) -> bool:
    """Strict equality of JSON values: numbers by value, strings and booleans exactly, no cross-type match."""
    if is_number(a) and is_number(b):
        return bool(a == b)
    if isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def _unsearchable(value: Any) -> bool:
    return value is None or isinstance(value, (list, tuple, dict))


def _hits(arr: LabeledArray, value: Any) -> np.ndarray:
    """(n, *pixels) booleans: where the elements equal ``value``."""
    if not arr.pixel_shape:
        return np.array([same_value(v, value) for v in elements(arr)], dtype=bool)
    target, _ = unwrap(value)
    if isinstance(target, (bool, np.bool_)):
        target = float(target)          # engine booleans are 1/0
    if not (is_number(target) or isinstance(target, np.ndarray)):
        return np.zeros(arr.values.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(arr.engine_values() == target)


@process("array_contains", Param("data", kind="array"), Param("value"))
def array_contains(data, value):
    """Whether ``data`` holds ``value`` (false for no-data, arrays and objects)."""
    arr = LabeledArray.of(data)
    if _unsearchable(value):
        return False if not arr.pixel_shape else np.zeros(arr.pixel_shape, dtype=bool)
    found = _hits(arr, value).any(axis=0)
    return bool(found) if not arr.pixel_shape else found


@process("array_find", Param("data", kind="array"), Param("value"), Param("reverse", False, kind="boolean"))
def array_find(data, value, reverse=False):
    """The index of the first (``reverse``: last) element equal to ``value``, or no-data."""
    arr = LabeledArray.of(data)
    if _unsearchable(value):
        return None if not arr.pixel_shape else np.full(arr.pixel_shape, np.nan, dtype=np.float32)
    hits = _hits(arr, value)
    if len(arr) == 0:
        return None
    found = hits.any(axis=0)
    index = len(arr) - 1 - np.argmax(hits[::-1], axis=0) if reverse else np.argmax(hits, axis=0)
    if not arr.pixel_shape:
        return int(index) if found else None
    return np.where(found, index, np.nan).astype(np.float32)


@process("array_find_label", Param("data", kind="array"), Param("label"))
def array_find_label(data, label):
    """The index of ``label`` in a labelled array; no-data when absent or the array has no labels."""
    return LabeledArray.of(data).index_of(label)


@process("array_labels", Param("data", kind="array"))
def array_labels(data):
    """The labels of a labelled array, else the indices 0..n-1."""
    arr = LabeledArray.of(data)
    return list(arr.labels) if arr.labels is not None else list(range(len(arr)))

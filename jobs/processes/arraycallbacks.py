"""Array processes with a callback per element (1.2.0): ``array_apply`` and ``array_filter``.

The callback receives ``x`` (the element), ``index``, ``label`` and ``context``. On a JSON array it
runs once per element. On a pixel stack (a ``LabeledArray`` handed over by a callback over a cube
dimension: axis 0 the dimension, trailing axes pixels) it runs once on the whole stack when it reads
neither ``index`` nor ``label`` (element-wise processes broadcast), else once per element with that
element's pixel array.

``array_filter`` keeps elements per pixel: a condition that does not read ``x`` (labels, indices)
selects the same elements everywhere and the result keeps their labels; a condition on values puts
each pixel's kept values first and pads with no-data to the input's length (``labeled.compact``):
reducers skip the padding, and every tile has the same length.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from jobs.graph.callback import Callback
from jobs.cube.derived import as_float
from jobs.processes.labeled import LabeledArray, assemble, compact, elements, to_python
from jobs.processes.registry import Param, process

ELEMENT_PARAMS = ("x", "index", "label", "context")


def _each(arr: LabeledArray, callback: Callback, context: Any) -> list[Any]:
    labels = arr.labels
    return [callback(x=value, index=i, label=None if labels is None else labels[i], context=context)
            for i, value in enumerate(elements(arr))]


def _stacked(arr: LabeledArray, callback: Callback, context: Any) -> list[Any] | Any:
    """The callback's outcome on a pixel stack: one call on the whole stack, or per element."""
    if callback.uses("index", "label"):
        return np.stack([np.broadcast_to(as_float(_engine(o)), arr.pixel_shape) for o in _each(arr, callback, context)])
    outcome = callback(x=arr.engine_values(), index=None, label=None, context=context)
    return np.broadcast_to(as_float(_engine(outcome)), arr.values.shape)


def _engine(value: Any) -> Any:
    return value.engine_values() if isinstance(value, LabeledArray) else value


@process("array_apply", Param("data", kind="array"),
         Param("process", kind="callback", callback_params=ELEMENT_PARAMS), Param("context", None))
def array_apply(data, process, context=None):
    """``process`` applied to every element; labels are kept."""
    arr = LabeledArray.of(data)
    if not arr.pixel_shape:
        return assemble([to_python(o) for o in _each(arr, process, context)], arr.labels)
    return LabeledArray(np.array(_stacked(arr, process, context)), arr.labels)


def _true(outcome: Any) -> Any:
    """Where a condition's outcome is true (no-data is not true)."""
    value = _engine(outcome)
    if isinstance(value, np.ndarray):
        if value.dtype == bool:
            return value
        with np.errstate(invalid="ignore"):
            return (value != 0) & ~np.isnan(value)
    return to_python(value) is True


@process("array_filter", Param("data", kind="array"),
         Param("condition", kind="callback", callback_params=ELEMENT_PARAMS), Param("context", None))
def array_filter(data, condition, context=None):
    """The elements for which ``condition`` is true, in order (labels kept)."""
    arr = LabeledArray.of(data)
    if not arr.pixel_shape:
        keep = [i for i, outcome in enumerate(_each(arr, condition, context)) if _true(outcome)]
        items = elements(arr)
        return assemble([items[i] for i in keep], None if arr.labels is None else [arr.labels[i] for i in keep])
    if not condition.uses("x"):
        # a condition on labels or indices keeps the same elements in every pixel of every tile
        keep = [i for i, outcome in enumerate(_each(arr, condition, context)) if np.all(_true(outcome))]
        labels = None if arr.labels is None else tuple(arr.labels[i] for i in keep)
        return LabeledArray(arr.engine_values()[keep], labels)
    return LabeledArray(compact(arr.engine_values(), _true(_stacked(arr, condition, context))))

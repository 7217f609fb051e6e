"""``LabeledArray``: the openEO array that array processes (reducers, ``array_element``) work on.

Inside a callback over a dimension the engine hands ``data`` over as a ``LabeledArray``: axis 0 is
that dimension (``labels`` are its labels, e.g. band names or dates) and the trailing axes are
pixels. Engine arrays are float32 with NaN as nodata, so NaN *is* the no-data marker there.

The openEO specification also knows JSON arrays (a Python ``list``) in which ``null`` (``None``) is
no-data and NaN is an ordinary number that must propagate (``median([NaN, 3]) -> NaN`` but
``median([null, 3]) -> 3``). ``LabeledArray.of`` turns such a list into values plus an explicit
``nodata`` mask, so one vectorised kernel serves both: ``missing()`` is the mask when given, NaN
otherwise.

Scalars follow the JSON conventions too: ``None`` is no-data and ``float('nan')`` is NaN.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True, eq=False)
class LabeledArray:
    """An openEO (labelled) array: axis 0 of ``values`` is the array, trailing axes are pixels.

    ``labels`` is None for a plain array. ``nodata`` is an optional boolean mask of ``values``'
    shape (True = no-data); without it, NaN in a float array marks no-data (the engine's rule).
    """

    values: np.ndarray
    labels: tuple | None = None
    nodata: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != self.values.shape[0]:
            raise ValueError(f"{len(self.labels)} labels for an array of length {self.values.shape[0]}")

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def pixel_shape(self) -> tuple[int, ...]:
        """The shape of one element (``()`` for a plain list of numbers)."""
        return tuple(self.values.shape[1:])

    def missing(self) -> np.ndarray:
        """Boolean mask of no-data elements, same shape as ``values``."""
        if self.nodata is not None:
            return self.nodata
        if self.values.dtype.kind == "f":
            return np.isnan(self.values)
        if self.values.dtype.kind == "O":
            return np.frompyfunc(lambda v: v is None, 1, 1)(self.values).astype(bool)
        return np.zeros(self.values.shape, dtype=bool)

    def index_of(self, label: Any) -> int | None:
        """Position of ``label`` (numbers compare by value), None when absent or unlabelled."""
        if self.labels is None:
            return None
        for i, own in enumerate(self.labels):
            if _same_label(own, label):
                return i
        return None

    def element(self, index: int) -> Any:
        """Element ``index``: a pixel array, or a Python scalar (None for no-data)."""
        if self.pixel_shape:
            value = self.values[index]
            if self.nodata is not None and self.nodata[index].any():
                value = np.where(self.nodata[index], np.nan, value)
            return value
        if self.missing()[index]:
            return None
        return to_python(self.values[index])

    def engine_values(self) -> np.ndarray:
        """``values`` with no-data as NaN (the engine convention), float when a mask is explicit."""
        if self.nodata is None or not self.nodata.any():
            return self.values
        return np.where(self.nodata, np.nan, self.values.astype(np.float64))

    def with_values(self, values: np.ndarray) -> "LabeledArray":
        """Same labels, new values (NaN marks no-data in them)."""
        return LabeledArray(values, self.labels if len(values) == len(self) else None)

    @classmethod
    def of(cls, data: Any) -> "LabeledArray":
        """Normalise an array argument: ``LabeledArray``, ``np.ndarray`` or a JSON ``list``."""
        if isinstance(data, LabeledArray):
            return data
        if isinstance(data, np.ndarray):
            return cls(data if data.ndim else data.reshape(1))
        if isinstance(data, (list, tuple)):
            if any(isinstance(v, (np.ndarray, LabeledArray)) for v in data):
                return cls(stack_pixels(data))
            return cls.from_list(list(data))
        raise TypeError(f"expected an array, got {type(data).__name__}")

    @classmethod
    def from_list(cls, items: Sequence[Any], labels: Sequence | None = None) -> "LabeledArray":
        """A JSON array: ``None`` becomes an explicit no-data mask, NaN stays a number."""
        mask = np.array([v is None for v in items], dtype=bool)
        present = [v for v in items if v is not None]
        if all(is_number(v) for v in present):
            values = np.array([np.nan if v is None else float(v) for v in items], dtype=np.float64)
        else:
            values = np.empty(len(items), dtype=object)
            values[:] = list(items)
        return cls(values, tuple(labels) if labels is not None else None, mask)


def stack_pixels(items: Sequence[Any]) -> np.ndarray:
    """A JSON array whose elements are pixel arrays (``sum([x, y])`` in a callback) as one stack.

    Scalars broadcast over the pixels and ``None`` becomes NaN (no-data), as in engine arrays.
    """
    layers = [v.engine_values() if isinstance(v, LabeledArray) else v for v in items]
    pixels = [v for v in layers if isinstance(v, np.ndarray)]
    shape = np.broadcast_shapes(*(p.shape for p in pixels))
    dtype = np.result_type(*pixels, np.float32)
    return np.stack([np.broadcast_to(np.asarray(np.nan if v is None else v, dtype=dtype), shape)
                     for v in layers])


def is_number(value: Any) -> bool:
    """A JSON number (booleans are not numbers in openEO)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def to_python(value: Any) -> Any:
    """A numpy scalar as the matching Python scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same_label(a: Any, b: Any) -> bool:
    if is_number(a) and is_number(b):
        return float(a) == float(b) or (math.isnan(float(a)) and math.isnan(float(b)))
    if is_number(a) != is_number(b):
        return False
    return a == b


def compact(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """A per-pixel selection along axis 0 as one stack of the input's length: each pixel's kept
    elements first, in order, then NaN (no-data).

    A filter on values or a no-data-dropping sort gives each pixel an array of its own length;
    padded with no-data they fit one float stack, and reducers (which skip no-data) see exactly each
    pixel's array. The length stays the input's so that every tile of a cube gets the same one.
    """
    keep = np.broadcast_to(np.asarray(keep, dtype=bool), values.shape)
    order = np.argsort(~keep, axis=0, kind="stable")
    out = np.take_along_axis(values, order, axis=0).astype(np.result_type(values.dtype, np.float32))
    position = np.arange(len(values)).reshape((len(values),) + (1,) * (values.ndim - 1))
    out[np.broadcast_to(position >= keep.sum(axis=0), out.shape)] = np.nan
    return out


def elements(arr: LabeledArray) -> list[Any]:
    """The elements of ``arr``: pixel arrays (NaN = no-data), or Python values (None = no-data)."""
    return [arr.element(i) for i in range(len(arr))]


def assemble(items: Sequence[Any], labels: Sequence | None = None) -> Any:
    """An array from elements: a pixel stack (``LabeledArray``) when one element is a pixel array,
    else a ``LabeledArray`` of JSON values when labelled, else a plain list."""
    if any(isinstance(v, (np.ndarray, LabeledArray)) for v in items):
        return LabeledArray(stack_pixels(items), tuple(labels) if labels is not None else None)
    if labels is not None:
        return LabeledArray.from_list(list(items), labels)
    return list(items)

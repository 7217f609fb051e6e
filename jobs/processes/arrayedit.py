"""Building and editing arrays (1.2.0 proposals): ``array_append``, ``array_concat``,
``array_create_labeled``, ``array_modify``.

They work on the elements (``labeled.elements``) and assemble the result the same way for JSON
arrays and pixel stacks: an element that is a pixel array makes the result a stack, scalars
broadcast over its pixels and ``null`` becomes no-data (NaN). As in 1.2.0, appending, concatenating
and modifying discard the labels; ``array_append`` keeps them only when given a ``label`` (a 2.0
parameter, accepted because a 1.2.0 graph never passes it).
"""
from __future__ import annotations

from jobs.errors import ProcessError
from jobs.processes.labeled import LabeledArray, assemble, elements, is_number
from jobs.processes.registry import Param, process

_DATA = Param("data", kind="array")


@process("array_append", _DATA, Param("value"), Param("label", None))
def array_append(data, value, label=None):
    """``data`` with ``value`` added at the end."""
    arr = LabeledArray.of(data)
    items = elements(arr) + [value]
    if label is None:
        return assemble(items)
    if arr.labels is None:
        raise ProcessError("ArrayNotLabeled", f"cannot append with label {label!r}: the array has no labels")
    if arr.index_of(label) is not None:
        raise ProcessError("LabelExists", f"label {label!r} exists already in the array")
    return assemble(items, tuple(arr.labels) + (label,))


@process("array_concat", Param("array1", kind="array"), Param("array2", kind="array"))
def array_concat(array1, array2):
    """The elements of ``array1`` followed by those of ``array2`` (labels discarded)."""
    return assemble(elements(LabeledArray.of(array1)) + elements(LabeledArray.of(array2)))


@process("array_create_labeled", Param("data", kind="array"), Param("labels", kind="array"))
def array_create_labeled(data, labels):
    """A labelled array: ``labels[i]`` is the label of ``data[i]``."""
    arr = LabeledArray.of(data)
    if len(arr) != len(labels):
        raise ProcessError("ArrayLengthMismatch", f"{len(arr)} values but {len(labels)} labels")
    if arr.pixel_shape:
        return LabeledArray(arr.engine_values(), tuple(labels))
    return LabeledArray.from_list(elements(arr), labels)


@process("array_modify", _DATA, Param("values", kind="array"), Param("index", kind="number"),
         Param("length", 1, kind="number"))
def array_modify(data, values, index, length=1):
    """``length`` elements from ``index`` on replaced by ``values`` (removal when empty, insertion for 0)."""
    for name, v in (("index", index), ("length", length)):
        if not is_number(v) or int(v) != v or v < 0:
            raise ProcessError("ProcessParameterInvalid", f"parameter {name!r} must be an integer >= 0, got {v!r}")
    items = elements(LabeledArray.of(data))
    index, length = int(index), int(length)
    if index > len(items):
        raise ProcessError("ArrayElementNotAvailable", f"index {index} is beyond the array's {len(items)} elements")
    return assemble(items[:index] + elements(LabeledArray.of(values)) + items[index + length:])

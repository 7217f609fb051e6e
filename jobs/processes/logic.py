"""Boolean aggregation and choice (1.2.0): ``all``, ``any``, ``between`` and ``if``.

``all``/``any`` reduce an array of booleans with openEO's three-valued logic: over a JSON list
(``null`` = no-data) they give a Python bool or None; over a pixel stack (a ``LabeledArray`` from a
callback over a dimension, axis 0 the dimension) they give one boolean per pixel, as a ``bool``
array or float32 1/0/NaN when some pixel is no-data (``elementwise.boolean_result``).

``if`` picks per pixel when its ``value`` is a pixel array (``np.where``), so ``if(gt(ndvi, 0.3),
ndvi, null)`` runs vectorised inside ``apply``; a no-data condition picks ``reject``, as the spec's
"returns reject if value is not true" says.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from jobs.errors import ProcessError
from jobs.processes.dates import within
from jobs.processes.elementwise import boolean_result, rewrap, unwrap
from jobs.processes.labeled import LabeledArray
from jobs.processes.math import and_, gte, lt, lte
from jobs.processes.registry import Param, process

_DATA = Param("data", kind="array")
_IGNORE = Param("ignore_nodata", True, kind="boolean")


def _booleans(data: Any) -> tuple[np.ndarray, np.ndarray]:
    """(is true, is no-data) of every element of a boolean array, shape (n, *pixels)."""
    arr = LabeledArray.of(data)
    missing = arr.missing()
    values = arr.values
    if values.dtype.kind == "O":
        present = [v for v, m in zip(values.ravel(), missing.ravel()) if not m]
        if not all(isinstance(v, (bool, np.bool_)) for v in present):
            raise ProcessError("ProcessParameterInvalid", "parameter 'data' must be an array of booleans")
        values = np.where(missing, False, values).astype(bool)
    with np.errstate(invalid="ignore"):
        true = (values != 0) & ~missing
    return true, missing


@process("all", _DATA, _IGNORE)
def all_(data, ignore_nodata=True):
    """True if every value is true; no-data when the array is empty or (by default) all no-data."""
    true, missing = _booleans(data)
    false = (~true & ~missing).any(axis=0)
    if ignore_nodata:
        unknown = ~false & missing.all(axis=0)
    else:
        unknown = ~false & (missing.any(axis=0) | (len(true) == 0))
    return boolean_result(~false, unknown)


@process("any", _DATA, _IGNORE)
def any_(data, ignore_nodata=True):
    """True if at least one value is true; no-data when the array is empty or (by default) all no-data."""
    true, missing = _booleans(data)
    hit = true.any(axis=0)
    if ignore_nodata:
        unknown = ~hit & missing.all(axis=0)
    else:
        unknown = ~hit & (missing.any(axis=0) | (len(true) == 0))
    return boolean_result(hit, unknown)


@process("between", Param("x"), Param("min"), Param("max"), Param("exclude_max", False, kind="boolean"))
def between(x, min, max, exclude_max=False):  # noqa: A002 (openEO parameter names)
    """``min <= x <= max`` (``< max`` with ``exclude_max``), i.e. and(gte(x, min), lte(x, max)):
    numbers or temporal strings (a date bound covers its whole day); other types give false, no-data
    gives no-data."""
    if all(isinstance(v, str) for v in (x, min, max)):
        try:
            return within(x, min, max, exclude_max)
        except ProcessError:
            pass                    # times of day compare below; other strings are not ordered
    upper = lt(x, max) if exclude_max else lte(x, max)
    return and_(gte(x, min), upper)


@process("if", Param("value", kind="boolean"), Param("accept"), Param("reject", None))
def if_(value, accept, reject=None):
    """``accept`` where ``value`` is true, else ``reject`` (no-data counts as not true)."""
    condition, _ = unwrap(value)
    if not isinstance(condition, np.ndarray):
        return accept if condition is True or condition is np.True_ else reject
    with np.errstate(invalid="ignore"):
        chosen = (condition != 0) & ~np.isnan(condition) if condition.dtype.kind == "f" else condition.astype(bool)
    (a, ta), (r, tr) = unwrap(accept), unwrap(reject)
    a, r = _pixels(a, "accept"), _pixels(r, "reject")
    template = value if isinstance(value, LabeledArray) else ta or tr
    return rewrap(np.where(chosen, a, r), template)


def _pixels(value: Any, name: str) -> Any:
    """A value that ``np.where`` can broadcast against a pixel array: no-data becomes NaN."""
    if value is None:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.ndarray, np.generic)):
        return value
    raise ProcessError("ProcessParameterInvalid", f"parameter {name!r}: a per-pixel choice needs numbers or "
                                                  f"no-data, got {value!r}"[:200])

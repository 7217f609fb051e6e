"""Element-wise application with openEO's no-data rules, shared by the math and logic processes.

Arguments are Python scalars (``None`` = no-data, NaN = a number), numpy arrays of pixels (NaN =
no-data, the engine convention) or ``LabeledArray`` (the result keeps its labels). Scalars give
scalars, arrays broadcast. Python scalars stay Python scalars when mixed with arrays, so a float32
pixel array stays float32 (NEP 50).

Booleans with no-data: a boolean pixel array cannot hold no-data, so a comparison or logic result
is a ``bool`` array when no pixel is no-data and otherwise a float32 array of 1.0 / 0.0 / NaN.
``truth`` reads both forms back (non-zero = true).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from jobs.errors import ProcessError
from jobs.processes.labeled import LabeledArray, is_number


def unwrap(value: Any) -> tuple[Any, LabeledArray | None]:
    """(value with a LabeledArray replaced by its NaN-nodata values, the LabeledArray or None)."""
    if isinstance(value, LabeledArray):
        return value.engine_values(), value
    if isinstance(value, np.generic):
        return value.item(), None
    return value, None


def rewrap(result: Any, template: LabeledArray | None) -> Any:
    """``result`` as a LabeledArray shaped like ``template`` when there is one."""
    if template is None or not isinstance(result, np.ndarray) or result.ndim == 0:
        return result
    if result.shape[0] != len(template):
        return result
    return template.with_values(result)


def check_number(value: Any, name: str) -> None:
    """Raise unless ``value`` is a number, a pixel array or no-data."""
    if value is None or isinstance(value, np.ndarray) or is_number(value):
        return
    raise ProcessError("ProcessParameterInvalid", f"parameter {name!r} must be a number, got {value!r}")


def numeric(fn: Callable[..., Any], names: tuple[str, ...], *args: Any) -> Any:
    """Apply the numpy function ``fn`` to number/array arguments; no-data in -> no-data out."""
    values, template = [], None
    for name, arg in zip(names, args):
        value, labeled = unwrap(arg)
        check_number(value, name)
        values.append(value)
        template = template or labeled
    if not any(isinstance(v, np.ndarray) for v in values):
        if any(v is None for v in values):
            return None
        with np.errstate(all="ignore"):
            return float(fn(*[np.float64(v) for v in values]))
    # an array operand: None (a null constant) is no-data in every pixel, i.e. NaN
    operands = [np.nan if v is None else (float(v) if is_number(v) else v) for v in values]
    with np.errstate(all="ignore"):
        return rewrap(np.asarray(fn(*operands)), template)


def unary(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The implementation of a one-argument process ``x`` that applies the numpy function ``fn``."""

    def apply(x):
        return numeric(fn, ("x",), x)

    return apply


def binary(fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The implementation of a two-argument process ``x``, ``y`` that applies the numpy function ``fn``."""

    def apply(x, y):
        return numeric(fn, ("x", "y"), x, y)

    return apply


def pixel_missing(value: Any) -> np.ndarray | bool:
    """No-data mask of an array operand (NaN in floats), or whether a scalar is no-data."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return np.isnan(value)
        return np.zeros(value.shape, dtype=bool)
    return value is None


def boolean_result(result: Any, missing: Any, template: LabeledArray | None = None) -> Any:
    """A boolean outcome with no-data: bool array, float32 1/0/NaN array, or True/False/None."""
    result, missing = np.asarray(result, dtype=bool), np.asarray(missing, dtype=bool)
    if result.ndim == 0 and missing.ndim == 0:
        return None if missing else bool(result)
    result, missing = np.broadcast_arrays(result, missing)
    if missing.any():
        out = result.astype(np.float32)
        out[missing] = np.nan
        return rewrap(out, template)
    return rewrap(np.array(result), template)


def truth(value: Any, name: str) -> tuple[Any, Any]:
    """(is true, is no-data) of a boolean operand: scalar or array (bool, or numbers non-zero)."""
    value, _ = unwrap(value)
    if value is None:
        return False, True
    if isinstance(value, (bool, np.bool_)):
        return bool(value), False
    if isinstance(value, np.ndarray):
        missing = pixel_missing(value)
        if value.dtype == bool:
            return value, missing
        with np.errstate(invalid="ignore"):
            return (value != 0) & ~missing, missing
    raise ProcessError("ProcessParameterInvalid", f"parameter {name!r} must be a boolean, got {value!r}")

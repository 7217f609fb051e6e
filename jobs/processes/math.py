"""Element-wise openEO processes: arithmetic, math functions, comparisons and logic (1.2.0).

Each works on Python scalars (``None`` = no-data) and on pixel arrays (NaN = no-data), see
``jobs.processes.elementwise``. Arithmetic follows IEEE 754 (``divide(1, 0)`` is +inf, no error).
Comparisons and logic return booleans with three-valued no-data: a ``bool`` array when no pixel is
no-data, otherwise float32 1/0/NaN.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

import numpy as np

from jobs.errors import ProcessError
from jobs.processes.elementwise import (
    binary, boolean_result, check_number, numeric, pixel_missing, truth, unary, unwrap,
)
from jobs.processes.labeled import is_number
from jobs.processes.registry import Param, process

X = Param("x", kind="number")
XY = (X, Param("y", kind="number"))


def _normalized_difference(a, b):
    """(a - b) / (a + b) with one temporary less: the quotient goes into the difference."""
    diff = np.subtract(a, b)
    if not isinstance(diff, np.ndarray) or diff.ndim == 0 or diff.dtype.kind != "f":
        return diff / np.add(a, b)      # integers divide into a new float array
    return np.divide(diff, np.add(a, b), out=diff)


# --- arithmetic ------------------------------------------------------------------------------
add = process("add", *XY, summary="x + y.")(binary(np.add))
subtract = process("subtract", *XY, summary="x - y.")(binary(np.subtract))
multiply = process("multiply", *XY, summary="x * y.")(binary(np.multiply))
divide = process("divide", *XY, summary="x / y; division by zero gives +-inf or NaN (IEEE 754).")(
    binary(np.true_divide))
normalized_difference = process("normalized_difference", *XY, summary="(x - y) / (x + y).")(
    binary(_normalized_difference))


# --- math functions --------------------------------------------------------------------------
absolute = process("absolute", X, summary="|x|.")(unary(np.abs))
sqrt = process("sqrt", X, summary="Square root; NaN for negative x.")(unary(np.sqrt))
ln = process("ln", X, summary="Natural logarithm; ln(0) is -inf.")(unary(np.log))


@process("power", Param("base", kind="number"), Param("p", kind="number"))
def power(base, p):
    """base ** p."""
    return numeric(np.power, ("base", "p"), base, p)


@process("exp", Param("p", kind="number"))
def exp(p):
    """e ** p."""
    return numeric(np.exp, ("p",), p)


@process("log", Param("x", kind="number"), Param("base", kind="number"))
def log(x, base):
    """Logarithm of x to ``base``."""
    exact = {10.0: np.log10, 2.0: np.log2}      # exact for powers of the base
    if is_number(base) and float(base) in exact:
        return numeric(exact[float(base)], ("x",), x)
    return numeric(lambda a, b: np.log(a) / np.log(b), ("x", "base"), x, base)


@process("clip", Param("x", kind="number"), Param("min", kind="number"), Param("max", kind="number"))
def clip(x, min, max):  # noqa: A002 (openEO parameter names)
    """x limited to [min, max]; NaN bounds give NaN."""
    if is_number(min) and is_number(max) and min > max:
        raise ProcessError("MinMaxSwapped", f"min {min!r} is greater than max {max!r}")
    return numeric(lambda v, lo, hi: np.minimum(np.maximum(v, lo), hi), ("x", "min", "max"), x, min, max)


@process("linear_scale_range", Param("x", kind="number"), Param("inputMin", kind="number"),
         Param("inputMax", kind="number"), Param("outputMin", 0, kind="number"),
         Param("outputMax", 1, kind="number"))
def linear_scale_range(x, inputMin, inputMax, outputMin=0, outputMax=1):  # noqa: N803
    """x clipped to the input range, mapped linearly onto the output range."""

    def scale(v, in_min, in_max, out_min, out_max):
        lo, hi = np.minimum(in_min, in_max), np.maximum(in_min, in_max)
        v = np.minimum(np.maximum(v, lo), hi)
        return (v - in_min) / (in_max - in_min) * (out_max - out_min) + out_min

    return numeric(scale, ("x", "inputMin", "inputMax", "outputMin", "outputMax"),
                   x, inputMin, inputMax, outputMin, outputMax)


# --- comparisons -----------------------------------------------------------------------------
# RFC 3339 full-date, date-time and time (the latter two need their offset; without one a string is
# not temporal and compares as text, as the 1.2.0 examples of eq say)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_OFFSET = r"(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}" + _OFFSET)
_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}" + _OFFSET)


def _temporal(value: Any) -> datetime | None:
    """A temporal string as an aware datetime (1.2.0 compares them as instants), else None."""
    if not isinstance(value, str):
        return None
    try:
        if _DATE.match(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=timezone.utc)
        if _DATE_TIME.match(value):
            return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        if _TIME.match(value):     # a time of day: an instant on a fixed day, so offsets still count
            return datetime.fromisoformat("1970-01-02T" + value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    return None


def _scalar_eq(x: Any, y: Any, delta: Any, case_sensitive: bool) -> bool:
    if is_number(x) and is_number(y):
        return bool(x == y or (delta is not None and abs(x - y) <= delta))
    if isinstance(x, str) and isinstance(y, str):
        tx, ty = _temporal(x), _temporal(y)
        if tx is not None and ty is not None:
            return tx == ty
        return x == y if case_sensitive else x.casefold() == y.casefold()
    if isinstance(x, bool) and isinstance(y, bool):
        return x == y
    return False          # different types, arrays, objects


def _ordered(x: Any, y: Any) -> tuple[Any, Any] | None:
    """Operands that can be ordered: numbers, or two temporal strings; None otherwise."""
    if is_number(x) and is_number(y):
        return x, y
    tx, ty = _temporal(x), _temporal(y)
    if tx is not None and ty is not None:
        return tx, ty
    return None


def _compare(op, x, y, *, equal_counts: bool, delta=None, case_sensitive=True) -> Any:
    (x, tx), (y, ty) = unwrap(x), unwrap(y)
    template = tx or ty
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        for name, v in (("x", x), ("y", y)):
            if not isinstance(v, (bool, np.bool_)):      # boolean pixels are 1/0: eq(mask, true) works
                check_number(v, name)
        missing = np.logical_or(pixel_missing(x), pixel_missing(y))
        a = np.nan if x is None else x
        b = np.nan if y is None else y
        with np.errstate(invalid="ignore"):
            result = op(a, b)
            if delta is not None:
                result = result | (np.abs(np.subtract(a, b)) <= delta)
        return boolean_result(result, missing, template)
    if x is None or y is None:
        return None
    if equal_counts and _scalar_eq(x, y, delta, case_sensitive):
        return True
    pair = _ordered(x, y)
    if pair is None:
        return False
    return bool(op(*pair))


@process("eq", *XY, Param("delta", None, kind="number"), Param("case_sensitive", True, kind="boolean"))
def eq(x, y, delta=None, case_sensitive=True):
    """x == y (strict types; ``delta`` tolerance for numbers; temporal strings as instants)."""
    (sx, _), (sy, _) = unwrap(x), unwrap(y)
    if not isinstance(sx, np.ndarray) and not isinstance(sy, np.ndarray):
        return None if sx is None or sy is None else _scalar_eq(sx, sy, delta, case_sensitive)
    return _compare(np.equal, x, y, equal_counts=False, delta=delta)


@process("neq", *XY, Param("delta", None, kind="number"), Param("case_sensitive", True, kind="boolean"))
def neq(x, y, delta=None, case_sensitive=True):
    """not eq(x, y); no-data stays no-data, and arrays or objects are never "not equal" (1.2.0)."""
    if any(isinstance(unwrap(v)[0], (list, tuple, dict)) for v in (x, y)):
        return False
    return not_(eq(x, y, delta, case_sensitive))


def _ordering(ufunc, equal_counts: bool):
    """The implementation of an ordering comparison of x and y by ``ufunc``; ``equal_counts``: true
    also when eq(x, y) (gte, lte)."""

    def apply(x, y):
        return _compare(ufunc, x, y, equal_counts=equal_counts)

    return apply


_ORDER_SUMMARY = "(numbers or temporal strings; other types -> false)."
gt = process("gt", *XY, summary=f"x > y {_ORDER_SUMMARY}")(_ordering(np.greater, False))
gte = process("gte", *XY, summary="x >= y, also true when eq(x, y).")(_ordering(np.greater_equal, True))
lt = process("lt", *XY, summary=f"x < y {_ORDER_SUMMARY}")(_ordering(np.less, False))
lte = process("lte", *XY, summary="x <= y, also true when eq(x, y).")(_ordering(np.less_equal, True))


# --- logic (three-valued: no-data when the outcome is ambiguous) ----------------------------
def _template(*values):
    return next((t for _, t in map(unwrap, values) if t is not None), None)


@process("not", Param("x", kind="boolean"))
def not_(x):
    """Logical negation; no-data passes through."""
    value, missing = truth(x, "x")
    return boolean_result(np.logical_not(value), missing, _template(x))


@process("and", Param("x", kind="boolean"), Param("y", kind="boolean"))
def and_(x, y):
    """x AND y: false if either is false, else no-data if either is no-data."""
    (a, ma), (b, mb) = truth(x, "x"), truth(y, "y")
    false = (~np.asarray(a) & ~np.asarray(ma)) | (~np.asarray(b) & ~np.asarray(mb))
    return boolean_result(~false, ~false & (np.asarray(ma) | mb), _template(x, y))


@process("or", Param("x", kind="boolean"), Param("y", kind="boolean"))
def or_(x, y):
    """x OR y: true if either is true, else no-data if either is no-data."""
    (a, ma), (b, mb) = truth(x, "x"), truth(y, "y")
    true = np.asarray(a) | b
    return boolean_result(true, ~true & (np.asarray(ma) | mb), _template(x, y))


@process("xor", Param("x", kind="boolean"), Param("y", kind="boolean"))
def xor(x, y):
    """x XOR y; no-data if either is no-data."""
    (a, ma), (b, mb) = truth(x, "x"), truth(y, "y")
    return boolean_result(np.logical_xor(a, b), np.asarray(ma) | mb, _template(x, y))

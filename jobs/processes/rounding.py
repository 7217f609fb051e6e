"""Rounding, sign and remainder (1.2.0): ceil, floor, int, round, sgn, mod.

Element-wise on scalars and pixel arrays (``jobs.processes.elementwise``); no-data passes through,
+-inf and NaN follow IEEE 754.
"""
from __future__ import annotations

import numpy as np

from jobs.errors import ProcessError
from jobs.processes.elementwise import numeric, unary
from jobs.processes.labeled import is_number
from jobs.processes.registry import Param, process

_X = Param("x", kind="number")


for _pid, _fn, _summary in (
        ("ceil", np.ceil, "The smallest integer >= x."),
        ("floor", np.floor, "The greatest integer <= x."),
        ("int", np.trunc, "The integer part of x (towards zero: int(-3.5) is -3, unlike floor)."),
        ("sgn", np.sign, "The signum: 1 for x > 0, 0 for 0, -1 for x < 0 (NaN stays NaN).")):
    process(_pid, _X, summary=_summary)(unary(_fn))


@process("round", _X, Param("p", 0, kind="number"))
def round_(x, p=0):
    """x rounded to ``p`` decimals (negative p: to tens, hundreds...), halves to even (IEEE 754)."""
    if not is_number(p) or int(p) != p:
        raise ProcessError("ProcessParameterInvalid", f"parameter 'p' must be an integer, got {p!r}")
    # np.round scales by 10**p before rounding half to even, so 0.35 -> 0.4 and 0.25 -> 0.2 as the
    # spec's decimal examples say (Python's round(0.35, 1) gives 0.3 from the binary value)
    return numeric(lambda v: np.round(v, int(p)), ("x",), x)


def _floored_mod(x, y):
    """x mod y with the sign of the divisor; mod by 0 is x / 0 (+-inf or NaN), mod by +-inf keeps finite x."""
    x, y = np.asarray(x, dtype=np.result_type(x, y, np.float32)), np.asarray(y)
    r = np.fmod(x, y)
    r = np.where((r != 0) & ((r < 0) != (y < 0)), r + y, r)
    r = np.where(np.isinf(y) & np.isfinite(x), x, r)     # 2 mod -inf is 2 (the suite), not -inf
    return np.where(y == 0, x / y, r)


@process("mod", Param("x", kind="number"), Param("y", kind="number"))
def mod(x, y):
    """The remainder of x / y with the sign of y (floored: mod(-27, 5) is 3); mod by zero is +-inf or NaN."""
    return numeric(_floored_mod, ("x", "y"), x, y)

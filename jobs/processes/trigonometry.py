"""Trigonometric and hyperbolic functions (1.2.0): sin cos tan, their inverses, arctan2, and the
hyperbolic sinh cosh tanh with their inverses arsinh arcosh artanh.

All are element-wise with the no-data rules of ``jobs.processes.elementwise``: ``null`` in, ``null``
out; NaN and out-of-domain arguments give NaN (IEEE 754, no error), on scalars and pixel arrays alike.
"""
from __future__ import annotations

import numpy as np

from jobs.processes.elementwise import numeric
from jobs.processes.registry import Param, process

_X = Param("x", kind="number")

# process id -> (numpy function, summary)
_UNARY = {
    "sin": (np.sin, "Sine of x (radians)."),
    "cos": (np.cos, "Cosine of x (radians)."),
    "tan": (np.tan, "Tangent of x (radians)."),
    "arcsin": (np.arcsin, "Inverse sine, in radians; NaN outside [-1, 1]."),
    "arccos": (np.arccos, "Inverse cosine, in radians; NaN outside [-1, 1]."),
    "arctan": (np.arctan, "Inverse tangent, in radians."),
    "sinh": (np.sinh, "Hyperbolic sine of x."),
    "cosh": (np.cosh, "Hyperbolic cosine of x."),
    "tanh": (np.tanh, "Hyperbolic tangent of x."),
    "arsinh": (np.arcsinh, "Inverse hyperbolic sine."),
    "arcosh": (np.arccosh, "Inverse hyperbolic cosine; NaN below 1."),
    "artanh": (np.arctanh, "Inverse hyperbolic tangent; +-inf at +-1, NaN outside [-1, 1]."),
}


def _unary(fn):
    def apply(x):
        return numeric(fn, ("x",), x)

    return apply


for _pid, (_fn, _summary) in _UNARY.items():
    process(_pid, _X, summary=_summary)(_unary(_fn))


@process("arctan2", Param("y", kind="number"), Param("x", kind="number"))
def arctan2(y, x):
    """The angle (radians) between the positive x axis and the point (x, y), in (-pi, pi]."""
    return numeric(np.arctan2, ("y", "x"), y, x)

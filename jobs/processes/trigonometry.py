"""Trigonometric and hyperbolic functions (1.2.0): sin cos tan, their inverses, arctan2, and the
hyperbolic sinh cosh tanh with their inverses arsinh arcosh artanh.

All are element-wise with the no-data rules of ``jobs.processes.elementwise``: ``null`` in, ``null``
out; NaN and out-of-domain arguments give NaN (IEEE 754, no error), on scalars and pixel arrays alike.
"""
from __future__ import annotations

import numpy as np

from jobs.processes.elementwise import numeric, unary
from jobs.processes.registry import Param, process

_X = Param("x", kind="number")


# each function, its inverse, the hyperbolic one and its inverse: sin arcsin sinh arsinh, ...
for _name, _word in (("sin", "sine"), ("cos", "cosine"), ("tan", "tangent")):
    for _pid, _fn, _summary in (
            (_name, getattr(np, _name), f"The {_word} of x (radians)."),
            ("arc" + _name, getattr(np, "arc" + _name), f"The inverse {_word}, in radians; NaN outside its domain."),
            (_name + "h", getattr(np, _name + "h"), f"The hyperbolic {_word} of x."),
            ("ar" + _name + "h", getattr(np, "arc" + _name + "h"),
             f"The inverse hyperbolic {_word}; NaN outside its domain.")):
        process(_pid, _X, summary=_summary)(unary(_fn))


@process("arctan2", Param("y", kind="number"), Param("x", kind="number"))
def arctan2(y, x):
    """The angle (radians) between the positive x axis and the point (x, y), in (-pi, pi]."""
    return numeric(np.arctan2, ("y", "x"), y, x)

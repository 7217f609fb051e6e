"""Constants (1.2.0 and proposals): ``constant`` (any value, returned as given), ``e``, ``pi`` and ``nan``."""
from __future__ import annotations

import math

from jobs.processes.registry import Param, process


@process("constant", Param("x"))
def constant(x):
    """The value ``x`` itself, to be reused in several places of a graph."""
    return x


@process("e")
def e():
    """Euler's number, the base of the natural logarithm."""
    return math.e


@process("pi")
def pi():
    """The ratio of a circle's circumference to its diameter."""
    return math.pi


@process("nan")
def nan():
    """NaN, IEEE 754's not-a-number (a number, unlike no-data)."""
    return math.nan

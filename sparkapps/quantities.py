"""Spark memory sizes (``512m``, ``2g``, ``2048`` = MiB) parsed to MiB and written back.

Spark and the operator's ``memory``/``memoryOverhead`` fields take JVM-style sizes; sparkeo keeps
them as whole MiB internally so bounds compare numerically.
"""
from __future__ import annotations

import re

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:b)?\s*$", re.IGNORECASE)
_FACTOR_MIB = {"k": 1 / 1024, "": 1, "m": 1, "g": 1024, "t": 1024 * 1024}


def memory_mib(value: object) -> int:
    """Whole MiB of a Spark memory size; a bare number is MiB (Spark's default unit for these fields).

    Raises ``ValueError`` with the bad value for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a memory size: {value!r}")
    if isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(f"not a memory size: {value!r}")
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a memory size: {value!r} (expected e.g. '512m', '4g')")
    mib = float(match.group(1)) * _FACTOR_MIB[match.group(2).lower()]
    return int(round(mib))


def memory_text(mib: int) -> str:
    """``4096`` -> ``'4g'``, ``1536`` -> ``'1536m'``: the shortest exact Spark size."""
    return f"{mib // 1024}g" if mib % 1024 == 0 and mib else f"{mib}m"

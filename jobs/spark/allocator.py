"""glibc malloc settings for processes that compute tiles: keep tile-sized arrays on the heap.

A tile's arrays are megabytes each (a 12-date x 3-band 512 px stack is 36 MB, each intermediate
1-12 MB). glibc serves blocks above its mmap threshold with a fresh ``mmap`` and gives them back
with ``munmap`` on free, and trims the heap top back to the kernel: every tile then page-faults
and zeroes all of its memory again. Measured with bench/composite.py's series (one process,
steady state): 25 ms of system time per 512 px tile out of 125 ms; with the thresholds raised 7-9 ms,
and 90-97 ms per tile in all. The thresholds are settings (``SPARKEO_MALLOC_MMAP_THRESHOLD``,
``SPARKEO_MALLOC_TRIM_THRESHOLD``; 0 leaves glibc's): the worker daemon sets them before it forks,
and each task group sets them too, so workers of PySpark's own daemon get them as well.

The cost is that a worker keeps the memory of its largest tile until it exits: still bounded by
the tile size, not by the scene.
"""
from __future__ import annotations

import ctypes
import ctypes.util

from sparkeo.settings import Settings

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# The thresholds this process set last: a worker checks at each task group, forked ones inherit it.
_applied: tuple[int, int] | None = None


def keep_tile_memory(settings: Settings) -> bool:
    """Set glibc's mmap and trim thresholds of this process (and of the processes it forks) to
    ``settings.malloc_mmap_threshold`` / ``malloc_trim_threshold`` (the defaults: 32 MB, glibc's
    largest, and 256 MB, a few tiles' worth of intermediates); a 0 leaves that one to glibc.

    Returns whether mallopt took every threshold asked for; False when none was asked for, or where
    there is no glibc ``mallopt`` (musl, macOS): allocation then stays as it is. Setting the same
    values again is free (it runs before every task group, ``jobs.spark.execute``).
    """
    global _applied
    wanted = (settings.malloc_mmap_threshold, settings.malloc_trim_threshold)
    if wanted == _applied:
        return True
    libc = _glibc() if any(wanted) else None
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 when glibc rejects the value
    took = all(libc.mallopt(param, value) for param, value in zip((M_MMAP_THRESHOLD, M_TRIM_THRESHOLD), wanted)
               if value)
    if took:
        _applied = wanted
    return took


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version          # only glibc has it; musl's mallopt is a no-op
        return libc if hasattr(libc, "mallopt") else None
    except (OSError, AttributeError, TypeError):
        return None

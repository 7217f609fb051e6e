"""glibc malloc settings for processes that compute tiles: keep tile-sized arrays on the heap.

A tile's arrays are megabytes each (a 12-date x 3-band 512 px stack is 36 MB, each intermediate
1-12 MB). glibc serves blocks above its mmap threshold with a fresh ``mmap`` and gives them back
with ``munmap`` on free, and trims the heap top back to the kernel: every tile then page-faults
and zeroes all of its memory again. Measured with bench/composite.py's series (one process,
steady state): 25 ms of system time per 512 px tile out of 125 ms; with the settings below 7-9 ms,
and 90-97 ms per tile in all.

The cost is that a worker keeps the memory of its largest tile until it exits: still bounded by
the tile size, not by the scene.
"""
from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# glibc refuses thresholds above 32 MB (HEAP_MAX_SIZE / 2 on 64-bit): larger blocks stay mmapped.
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
# free memory kept at the heap top instead of trimmed: a few tiles' worth of intermediates
TRIM_THRESHOLD_BYTES = 256 * 1024 * 1024


def keep_tile_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process (and the processes it forks).

    Returns False where there is no glibc ``mallopt`` (musl, macOS): allocation then stays as it is.
    """
    libc = _glibc()
    if libc is None:
        return False
    # mallopt returns 1 on success, 0 when glibc rejects the value
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))


def _glibc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version          # only glibc has it; musl's mallopt is a no-op
        return libc if hasattr(libc, "mallopt") else None
    except (OSError, AttributeError, TypeError):
        return None

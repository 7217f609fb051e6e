"""jobs.allocator: tile-sized blocks come from the heap, not from a fresh mmap per array."""
from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mmaps_for_a_tile_array(_=None) -> int:
    """How many chunks glibc mmaps to serve a 16 MB array (a 512 px, 16-plane float32 stack)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    before = libc.mallinfo2().hblks
    block = np.empty((16, 512, 512), dtype=np.float32)
    during = libc.mallinfo2().hblks
    del block
    return during - before


def _in_fresh_process(setup: str) -> int:
    code = f"{setup}\nfrom tests.test_allocator import mmaps_for_a_tile_array\nprint(mmaps_for_a_tile_array())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return int(out.stdout.strip())


def test_tile_arrays_are_mmapped_by_default():
    # the reason for the module: without it each tile-sized array is an mmap of its own
    assert _in_fresh_process("") == 1


def test_keep_tile_memory_serves_tile_arrays_from_the_heap():
    assert _in_fresh_process("from jobs.allocator import keep_tile_memory; assert keep_tile_memory()") == 0


def test_spark_python_workers_inherit_the_setting(spark):
    # the workers fork from jobs.daemon, which sets it before forking
    assert spark.sparkContext.parallelize([0, 1], 2).map(mmaps_for_a_tile_array).collect() == [0, 0]

"""jobs.spark.allocator: tile-sized blocks come from the heap, not from a fresh mmap per array, as the
malloc settings say (the worker daemon and every task group apply them; 0 leaves glibc alone)."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.shared_location import CHECKOUT

REPO = CHECKOUT


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


def _in_fresh_process(setup: str, env: dict | None = None) -> int:
    code = f"{setup}\nfrom tests.jobs.spark.test_allocator import mmaps_for_a_tile_array\nprint(mmaps_for_a_tile_array())"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPARKEO_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={**clean, **(env or {})})
    return int(out.stdout.strip())


def test_tile_arrays_are_mmapped_by_default():
    # the reason for the module: without it each tile-sized array is an mmap of its own
    assert _in_fresh_process("") == 1


def test_keep_tile_memory_serves_tile_arrays_from_the_heap():
    setup = "from jobs.spark.allocator import keep_tile_memory; from sparkeo.settings import Settings\n"
    assert _in_fresh_process(setup + "assert keep_tile_memory(Settings())") == 0


def test_thresholds_of_zero_leave_glibc_alone():
    setup = "from jobs.spark.allocator import keep_tile_memory; from sparkeo.settings import Settings\n"
    off = "Settings(malloc_mmap_threshold=0, malloc_trim_threshold=0)"
    assert _in_fresh_process(setup + f"assert not keep_tile_memory({off})") == 1


# what jobs.spark.daemon does before it forks, with the executor's environment (the driver's Settings.to_env())
DAEMON_SETUP = "from jobs.spark.allocator import keep_tile_memory; from jobs.spark.daemon import executor_settings\n" \
               "keep_tile_memory(executor_settings())"


@pytest.mark.parametrize("env, mmaps", [
    ({}, 0),
    ({"SPARKEO_MALLOC_MMAP_THRESHOLD": "0", "SPARKEO_MALLOC_TRIM_THRESHOLD": "0"}, 1),
], ids=["default", "off"])
def test_the_worker_daemon_sets_malloc_up_as_the_executor_environment_says(env, mmaps):
    assert _in_fresh_process(DAEMON_SETUP, env) == mmaps


# what a task group does first on a worker (workers of PySpark's own daemon get the thresholds here)
GROUP_SETUP = """
from pyspark import cloudpickle
from jobs.spark.execute import _run_group
from jobs.spark.sparkjobs import Inline
from jobs.spark.transport import TileTransport
from sparkeo.settings import Settings
settings = Settings(malloc_mmap_threshold={mmap}, malloc_trim_threshold={trim})
assert _run_group(Inline(cloudpickle.dumps((None, settings, {{}}, TileTransport(), None))), "job", []) == []
"""


@pytest.mark.parametrize("mmap, trim, mmaps", [(32 << 20, 256 << 20, 0), (0, 0, 1)], ids=["default", "off"])
def test_a_task_group_sets_malloc_up_as_the_job_settings_say(mmap, trim, mmaps):
    assert _in_fresh_process(GROUP_SETUP.format(mmap=mmap, trim=trim)) == mmaps


def test_spark_python_workers_inherit_the_setting(spark):
    # the workers fork from jobs.spark.daemon, which sets it before forking
    assert spark.sparkContext.parallelize([0, 1], 2).map(mmaps_for_a_tile_array).collect() == [0, 0]

"""jobs.spark.execute without Spark: tile results, errors as values re-raised with their fields, and the
one-line reason out of a Spark/Py4J failure text. (Spark itself: tests/jobs/test_run.py.)"""
from __future__ import annotations

import os

import numpy as np
import pytest

from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.spark.execute import raise_for, run_tile, spark_jobs
from jobs.spark.sparkjobs import task_failure_reason
from jobs.plan.grid import TileGrid
from jobs.plan.planner import TileTask
from jobs.errors import UnreadableAssetError
from jobs.spark.transport import TileTransport
from sparkeo.errors import RunError, UserError

GRID = TileGrid("EPSG:32633", (10.0, 0, 0.0, 0, -10.0, 100.0), (10, 10))
TASK = TileTask((0, 0), GRID.window_of(GRID.bounds), GRID, 1)


class Cube(LazyCube):
    def __init__(self, fn):
        self.fn, self.node_id = fn, "n"
        self.meta = CubeMeta(("y", "x"), {}, GRID)

    def _compute(self, grid, ctx):
        return self.fn(grid, ctx)


def test_tile_array_round_trips_compressed_with_usage():
    values = np.arange(100, dtype=np.float32).reshape(10, 10)
    values[0, 0] = np.nan

    def compute(grid, ctx):
        ctx.usage.input_pixels += 7
        return values
    result = run_tile(Cube(compute), TASK, None, {})
    np.testing.assert_array_equal(result.array(), values)
    assert result.usage.tiles == 1 and result.usage.input_pixels == 7 and result.usage.cpu_seconds >= 0
    assert result.packed.compressed and len(result.packed.payload) < values.nbytes
    raise_for(result)        # no error: nothing raised


def test_unreadable_asset_comes_back_as_a_value_and_is_re_raised_with_its_href():
    def compute(grid, ctx):
        raise UnreadableAssetError("/data/x.tif", "not a TIFF file")
    result = run_tile(Cube(compute), TASK, None, {})
    assert result.error == ("unreadable", "not a TIFF file", "/data/x.tif")
    with pytest.raises(UnreadableAssetError) as err:
        raise_for(result)
    assert err.value.href == "/data/x.tif" and "/data/x.tif" in str(err.value)


def test_errors_after_the_plan_are_run_errors():
    def compute(grid, ctx):
        raise UserError("node 'r', argument 'index': out of range")
    with pytest.raises(RunError, match="tile \\(0, 0\\): node 'r'"):
        raise_for(run_tile(Cube(compute), TASK, None, {}))


def test_reason_is_the_last_python_exception_line_of_a_spark_failure():
    text = ("An error occurred while calling z:org.apache.spark.api.python.PythonRDD.runJob.\n"
            ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 3.0 failed\n"
            "org.apache.spark.api.python.PythonException: Traceback (most recent call last):\n"
            '  File "/x/worker.py", line 1, in main\n'
            "KeyError: 'B04'\n"
            "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException(PythonRunner.scala:1)\n"
            "MemoryError: cannot allocate 3.2 GiB\n"
            "\tat java.base/java.lang.Thread.run(Thread.java:840)\n")
    assert task_failure_reason(RuntimeError(text)) == "MemoryError: cannot allocate 3.2 GiB"
    assert task_failure_reason(RuntimeError("plain")) == "plain"


@pytest.mark.parametrize("tiles, parallelism, tile_size, sizes", [
    (16, 2, 512, [8, 8]),           # one task per core
    (16, 1, 512, [8, 8]),           # ... holding at most MAX_PIXELS_PER_TASK: 8 tiles of 512 px
    (64, 1, 256, [32, 32]),         # ... 32 of 256 px
    (64, 2, 257, [32, 32]),         # ... and of 257 px (a 1 px halo past the block edges): still 32
    (64, 4, 256, [16, 16, 16, 16]),
    (3, 2, 512, [2, 1]),
    (1, 4, 512, [1]),               # never an empty group
    (100, 2, 512, None),            # at most MAX_PIXELS_PER_TASK each
    (5, 1, 4096, [1, 1, 1, 1, 1]),  # a tile larger than the budget still gets a task
    (0, 2, 512, []),
])
def test_tiles_are_grouped_into_contiguous_tasks(tiles, parallelism, tile_size, sizes):
    from jobs.spark.execute import GROUPS_PER_CORE, MAX_PIXELS_PER_TASK, tile_groups

    tasks = [f"tile-{i}" for i in range(tiles)]
    groups = tile_groups(tasks, parallelism, tile_size * tile_size)
    per_task = max(1, round(MAX_PIXELS_PER_TASK / tile_size ** 2))
    assert [t for g in groups for t in g] == tasks            # every tile once, in order
    assert all(0 < len(g) <= per_task for g in groups)
    if sizes is not None:
        assert [len(g) for g in groups] == sizes
    assert len(groups) == min(tiles, max(GROUPS_PER_CORE * parallelism, -(-tiles // per_task)))


def test_uncompressed_payload_round_trips():
    values = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    result = run_tile(Cube(lambda grid, ctx: values), TASK, None, {}, TileTransport(compress=False))
    assert not result.packed.compressed and len(result.packed.payload) == values.nbytes
    np.testing.assert_array_equal(result.array(), values)


def test_local_masters_spill_tiles_to_files_the_driver_reads_once_and_deletes():
    values = np.linspace(0, 1, 100, dtype=np.float32).reshape(10, 10)
    values[3, 4] = np.nan
    transport = TileTransport.for_master("local[2]")
    try:
        result = run_tile(Cube(lambda grid, ctx: values), TASK, None, {}, transport)
        assert result.packed.payload == b"" and os.path.getsize(result.packed.path) == values.nbytes
        np.testing.assert_array_equal(result.array(), values)
        assert not os.path.exists(result.packed.path)
        leftover = run_tile(Cube(lambda grid, ctx: values), TASK, None, {}, transport)   # never read (a failed job)
    finally:
        transport.close()
    assert not os.path.exists(transport.spill_folder) and not os.path.exists(leftover.packed.path)


def test_other_masters_send_tiles_inline_and_compressed():
    transport = TileTransport.for_master("k8s://https://kubernetes.default.svc:443")
    assert transport.spill_folder is None and transport.compress
    assert TileTransport.for_master("spark://10.0.0.1:7077", spill=True).spill_folder is None
    # executors in JVMs of their own: the cluster's transport, though on one machine
    cluster = TileTransport.for_master("local-cluster[2,1,1024]", spill=True)
    assert cluster.spill_folder is None and cluster.compress
    assert TileTransport.for_master("local[*]").spill_folder is not None


def test_local_masters_send_tiles_inline_uncompressed_with_spilling_off():
    transport = TileTransport.for_master("local[2]", spill=False)
    assert transport.spill_folder is None and not transport.compress


@pytest.mark.parametrize("groups, parallelism, jobs", [
    (0, 2, []),
    (1, 2, [[0]]),
    (2, 2, [[0, 1]]),                   # a core each: one job starts both at once
    (3, 2, [[0], [1], [2]]),            # more groups than cores: each comes back as soon as it is done
    (2, 1, [[0], [1]]),
])
def test_groups_share_one_spark_job_only_when_each_has_a_core(groups, parallelism, jobs):
    assert spark_jobs(groups, parallelism) == jobs


def test_an_executions_spark_jobs_share_one_python_rdd(spark):
    """partition_runner answers like sc.runJob (the elements of the partitions asked for, from
    several threads at once) without a new Python RDD per job: sc.runJob pickles the closure and
    builds a PythonFunction over py4j again for every job."""
    from concurrent.futures import ThreadPoolExecutor

    from jobs.spark.sparkjobs import partition_runner

    sc = spark.sparkContext
    rdd = sc.parallelize([[1, 2], [3], [4, 5, 6], [7]], 4).flatMap(lambda xs: [x * 10 for x in xs])
    run = partition_runner(sc, rdd)
    first = sc.parallelize([0]).id()
    with ThreadPoolExecutor(3) as pool:
        got = list(pool.map(run, [[0], [2, 3], [1], [3]]))
    assert got == [[10, 20], [40, 50, 60, 70], [30], [70]]
    assert sc.parallelize([0]).id() == first + 1        # no RDD made in between: one for all the jobs

"""PySpark's Python worker daemon, with the engine loaded before it forks the workers.

Spark starts one daemon per executor (``spark.python.daemon.module``) and forks a Python worker
from it for each concurrent task. PySpark's own daemon forks bare interpreters, so every worker
paid for importing numpy, rasterio and the engine and for GDAL's driver registration inside its
first tile (0.1-0.3 s per worker, measured with bench/composite.py). Loading them here once means
each forked worker starts with them, shared copy-on-write.

Nothing that holds a file or a connection is opened before the fork: GDAL datasets, PROJ's
database and S3 sessions are made by each worker itself. The daemon also sets glibc's malloc up
for tile-sized arrays (``jobs.spark.allocator``, as the settings say), which the forked workers inherit,
and freezes what it loaded out of the garbage collector's reach (``gc.freeze``): otherwise a
worker's first full collection walks every inherited object, writing to each one's page and so
copying the daemon's memory page by page (measured: a third of a new worker's first tile;
200-380 ms -> 170-200 ms).

Used when ``Settings.worker_daemon`` is on (``SPARKEO_WORKER_DAEMON``, the default; jobs.spark.session).
"""
from __future__ import annotations

import gc
import importlib
import socket
from typing import Callable

# What a tile task imports (jobs.processes.all registers every process implementation), and what a
# strip task encodes and stages its part of the output COG with (jobs.results.stripwriter and the
# deflate it calls: 30-50 ms of a worker's first job otherwise).
ENGINE_MODULES = ("numpy", "rasterio", "rasterio.warp", "rasterio.windows", "sparkeo.settings", "jobs.spark.execute",
                  "jobs.cube.load", "jobs.cube.read", "jobs.graph.evaluate", "jobs.processes.all",
                  "jobs.results.stripwriter", "isal.isal_zlib")


def preload() -> None:
    """Import the engine and register GDAL's drivers (no dataset opened, no PROJ database touched)."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)
    import rasterio

    with rasterio.Env():          # the first Env registers all GDAL drivers, once for every fork
        pass


def quiet_on_cancel(worker: Callable[[socket.socket, bool], int]) -> Callable[[socket.socket, bool], int]:
    """PySpark's forked-worker function, made to exit quietly when the JVM has closed its socket.

    That happens when the driver cancels a job (a failed tile fails the job and its other tasks
    are killed): the worker's last flush then raises BrokenPipeError, and PySpark printed its
    traceback into the user's terminal after sparkeo's one-line error. Nothing is lost: the task
    was cancelled. Any other error still surfaces as before.
    """
    def run(sock: socket.socket, authenticated: bool) -> int:
        try:
            return worker(sock, authenticated)
        except BrokenPipeError:
            return 1                # non-zero: the daemon does not reuse this worker
    return run


def executor_settings():
    """The job's settings as the executor's environment carries them (``spark.executorEnv``: the
    driver's ``Settings.to_env()``); the daemon starts before any task brings them. The driver
    parsed the same values first, so a bad one has failed the job there already: here it only
    falls back to the defaults rather than stop Spark's workers."""
    from sparkeo.errors import ConfigError
    from sparkeo.settings import Settings

    try:
        return Settings.from_env()
    except ConfigError:
        return Settings()


def main() -> None:
    import pyspark.daemon

    from jobs.spark.allocator import keep_tile_memory

    keep_tile_memory(executor_settings())
    try:
        preload()
    except Exception:             # a worker that imports lazily is slower, not wrong: never block Spark
        pass
    pyspark.daemon.worker = quiet_on_cancel(pyspark.daemon.worker)   # manager() calls it by this name
    gc.collect()
    gc.freeze()
    pyspark.daemon.manager()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Composite benchmark: sparkeo against the decode floor and hand-written numpy, on the same cores.

Generates (or reuses) a sample series with ``sparkeo sample-data`` and measures, round-robin:

- decode floor: every input band of every date read fully with rasterio by 2 processes;
- numpy reference: SCL 0/3/8/9/10 masked, NDVI, ``np.nanmedian`` over time, in 1 process and in
  2 processes by halves;
- sparkeo on local[1] and local[2] (one subprocess per run: SparkSession start-up reported apart,
  graph-to-results time measured with the session up; the figures are the process's first job, and
  ``*_second_job`` its next one, when the one-time costs of a driver's and a worker's first job are paid)
  and the whole-process wall time of ``sparkeo run``;
- sparkeo's tile computation alone (the planned tiles through ``run_tile``, no Spark, nothing
  written) in 1 process and in 2 processes by the groups Spark gets: how far this machine's two
  cores scale the work itself, the ceiling for ``speedup_2_over_1``.

Each of these runs once per source layout given with ``--block`` (``256``: sparkeo's own tiled
GeoTIFFs; ``512``, ``1024``, ``2048``: GDAL's COG driver, deflate, internal overviews; ``strip``: a
striped deflate GeoTIFF), all in one run. Prints one JSON line per measurement and a summary line per
layout with the ratios and ``disk_read_per_input_byte``: the bytes sparkeo's Python workers read from
the input files during the ``local[2]`` job (``rchar`` of /proc/<pid>/io) over the compressed bytes of
the full-resolution blocks (1.0: every block read once). Checks that sparkeo's result equals the numpy
reference (max abs diff <= 1e-6, same NaN pixels).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from jobs.warmup import masked_ndvi_median

ROOT = Path(__file__).resolve().parent.parent
MASK_CLASSES = (0, 3, 8, 9, 10)


# --- the inputs -----------------------------------------------------------------------------------
def ensure_series(folder: Path, size: int, dates: int, block: str = "256") -> Path:
    """The layercatalog.json of a B04/B08/SCL sample series of this size and layout (generated once)."""
    target = folder / f"series-{size}px-{dates}d-b{block}"
    catalog = target / "layercatalog.json"
    if not catalog.exists():
        subprocess.run([sys.executable, "-m", "sparkeo.cli.main", "sample-data", str(target), "--size", str(size),
                        "--dates", str(dates), "--bands", "B04,B08,SCL", "--block", block],
                       check=True, stdout=subprocess.DEVNULL)
    return catalog


def block_bytes(files: list[dict[str, str]]) -> int:
    """The compressed bytes of the full-resolution blocks (or strips) of every input file: what
    reading each block once costs (headers and overviews left out)."""
    import rasterio

    total = 0
    for path in (p for f in files for p in f.values()):
        with rasterio.open(path) as ds:
            h, w = ds.block_shapes[0]
            total += sum(int(ds.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=1))
                         for y in range(-(-ds.height // h)) for x in range(-(-ds.width // w)))
    return total


def band_files(catalog_json: Path) -> list[dict[str, str]]:
    """Per date, band -> file path, read from the STAC items with pystac (independent of sparkeo)."""
    import pystac

    doc = json.loads(catalog_json.read_text())[0]
    url = doc["_sparkeo"]["data_source"]["url"]
    root = pystac.read_file(str((catalog_json.parent / url).resolve()) if not os.path.isabs(url) else url)
    items = sorted(root.get_items(recursive=True), key=lambda i: i.datetime)
    return [{k: a.get_absolute_href() for k, a in item.assets.items() if k in ("B04", "B08", "SCL")} for item in items]


def _read_full(path: str) -> int:
    import rasterio

    with rasterio.open(path) as ds:
        return int(ds.read(1).nbytes)


def decode_floor(files: list[dict[str, str]]) -> None:
    paths = [p for f in files for p in f.values()]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_read_full, paths))


def _composite_rows(files: list[dict[str, str]], row0: int, row1: int) -> np.ndarray:
    import rasterio
    from rasterio.windows import Window

    stack = []
    for f in files:
        bands = {}
        for name in ("B04", "B08", "SCL"):
            with rasterio.open(f[name]) as ds:
                bands[name] = ds.read(1, window=Window(0, row0, ds.width, row1 - row0))
        red = bands["B04"].astype(np.float32)
        nir = bands["B08"].astype(np.float32)
        bad = np.isin(bands["SCL"], MASK_CLASSES) | (bands["B04"] == 0) | (bands["B08"] == 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ndvi = (nir - red) / (nir + red)
        ndvi[bad] = np.nan
        stack.append(ndvi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN pixels are expected
        return np.nanmedian(np.stack(stack), axis=0).astype(np.float32)


def numpy_reference(files: list[dict[str, str]], height: int, processes: int) -> np.ndarray:
    if processes == 1:
        return _composite_rows(files, 0, height)
    cuts = np.linspace(0, height, processes + 1).astype(int)
    with ProcessPoolExecutor(processes) as pool:
        parts = pool.map(_composite_rows, [files] * processes, cuts[:-1], cuts[1:])
        return np.concatenate(list(parts))


# --- sparkeo in a subprocess ---------------------------------------------------------------------------
GRAPH = masked_ndvi_median(MASK_CLASSES)     # the demo's graph, as sparkeo's warm-up runs it


def sparkeo_worker(args) -> None:
    """Inside the subprocess: start Spark and warm it up, then time one job from graph hand-over to results.

    Start-up is reported in two honest parts: ``session_startup_s`` (JVM + SparkSession) and
    ``warmup_s``: sparkeo's modules imported in the driver, one tiny job with one task per core,
    which forks the Python workers and imports the same modules in them, and sparkeo's own warm-up
    (``jobs.warmup.warm_up``: a 512 px two-date sample's job, what ``sparkeo serve`` runs when it
    starts). None of the benchmark's input is read and nothing of its job is computed or cached.
    ``job_s`` is measured after both, as the issue asks.
    """
    t0 = time.perf_counter()
    from jobs.spark.session import spark_session
    from sparkeo.settings import Settings

    settings = Settings.from_env(spark_master=args.worker, catalog=args.catalog)
    spark = spark_session(master=args.worker, app_name="sparkeo-bench", executor_env=settings.to_env(),
                          settings=settings)
    startup = time.perf_counter() - t0
    t0 = time.perf_counter()
    _import_engine()
    sc = spark.sparkContext
    n = sc.defaultParallelism
    sc.parallelize(range(n), n).map(_warm_task).collect()
    from jobs.warmup import warm_up

    warm_up(spark, settings)
    warmup = time.perf_counter() - t0
    from jobs.run import run_job
    from sparkeo.identity import Caller

    before = {pid: _io_read_chars(pid) for pid in _python_workers()}
    results_before, driver_read_before = task_result_bytes(sc), _io_read_chars(os.getpid())
    cpu_before = _driver_cpu_s()
    graph = Path(args.graph).read_text() if args.graph else json.dumps(GRAPH)    # bench/focal.py's graphs

    def timed(output: str):
        """One job's seconds and its run."""
        t1 = time.perf_counter()
        ran = run_job(graph, output=output, job_id="bench", catalog_uri=args.catalog, job_options={},
                      settings=settings, caller=Caller(), spark=spark)
        return time.perf_counter() - t1, ran

    if args.serve:
        serve_jobs(lambda output: with_cpu(lambda: timed(output)[0]),
                   {"session_startup_s": startup, "warmup_s": warmup})
        return
    jobs = []
    for i in range(max(args.jobs, 1)):       # back to back in the warm session, each to its own folder
        seconds, ran = timed(args.output if i == 0 else f"{args.output}.{i}")
        jobs.append(seconds)
        if i == 0:
            # bytes the workers read during the first job (workers forked during it started from 0),
            # and what the driver received and read in it
            read = sum(max(_io_read_chars(pid) - before.get(pid, 0), 0) for pid in _python_workers())
            first = driver_figures(sc, results_before, driver_read_before)
    job = min(jobs)
    print(json.dumps({"session_startup_s": startup, "warmup_s": warmup, "job_s": job, "job_s_each": jobs,
                      "python_workers": _python_worker_peak_rss_mb(), "worker_read_bytes": read,
                      **first, **{k: v for k, v in driver_figures(sc, 0, 0).items() if "peak_rss" in k},
                      **{k: round(after - before, 3) for (k, after), before
                         in zip(_driver_cpu_s().items(), cpu_before.values())},
                      "blocks_read": ran.usage.get("blocks_read"), "bytes_read": ran.usage.get("bytes_read"),
                      "driver_received_bytes": ran.usage.get("driver_received_bytes"),
                      "tile_plan": ran.plan.to_json().get("tile_plan")}))


def tiles_worker(args) -> None:
    """Inside the subprocess: the job's tiles computed by ``run_tile`` in ``args.tiles`` forked
    processes, in the contiguous groups Spark gets (``tile_groups``; process i takes groups i, i+n...),
    no Spark and no results file. The plan is made and the processes are forked and ready before the
    clock starts; they start together on an event, and the time runs until the last one has finished
    its group."""
    import multiprocessing

    _import_engine()
    from jobs.spark.execute import tile_groups
    from jobs.run import load_catalog, prepare
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    settings = Settings.from_env(catalog=args.catalog)
    prep = prepare(json.dumps(GRAPH), load_catalog(args.catalog, settings), Caller(), settings, {})
    tasks = prep.plan.tasks
    groups = tile_groups(tasks, args.tiles, max(t.window.height * t.window.width for t in tasks))
    ctx = multiprocessing.get_context("fork")
    processes = min(args.tiles, len(groups))

    def one(_output: str | None = None) -> float:
        """One computation of every tile, in freshly forked processes (as each Spark job's tasks start anew)."""
        ready, go, done = ctx.Queue(), ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_compute_groups,
                             args=(prep.built.output, settings, groups[i::args.tiles], ready, go, done))
                 for i in range(processes)]
        for proc in procs:
            proc.start()
        for _ in procs:                       # every process forked and waiting
            ready.get()
        t = time.perf_counter()
        go.set()
        tiles = sum(done.get() for _ in procs)
        seconds = time.perf_counter() - t
        for proc in procs:
            proc.join()
        if tiles != len(tasks):
            raise SystemExit(f"tile computation: {tiles} of {len(tasks)} tiles computed")
        return seconds

    if args.serve:
        serve_jobs(one, {"processes": processes})
        return
    runs = [one() for _ in range(max(args.jobs, 1))]      # like sparkeo_worker's jobs: back to back
    print(json.dumps({"tiles_s": min(runs), "tiles_s_each": runs, "tiles": len(tasks), "processes": processes}))


REPLY = "BENCH "     # marks the serving worker's replies on its stdout (the JVM may print there too)


def serve_jobs(one: Callable[[str], float | dict], ready: dict) -> None:
    """Inside a ``--serve`` subprocess: say ``ready``, then run one job per line read from stdin
    (``{"output": folder}``) and reply with its seconds (``s``, and whatever else ``one`` measured),
    until stdin closes."""
    print(REPLY + json.dumps({"ready": True, **ready}), flush=True)
    for line in sys.stdin:
        done = one(json.loads(line)["output"])
        print(REPLY + json.dumps(done if isinstance(done, dict) else {"s": done}), flush=True)


def with_cpu(job: Callable[[], float]) -> dict:
    """``job``'s seconds, and the CPU seconds its Python workers and the JVM used meanwhile (read
    from /proc around it, outside the timed part): which side a slower process lost its time on."""
    jvm = _jvm_pid()
    workers = {pid: _cpu_s(pid) for pid in _python_workers()}
    jvm_before = _cpu_s(jvm)
    seconds = job()
    return {"s": seconds, "jvm_cpu_s": round(_cpu_s(jvm) - jvm_before, 3),
            "workers_cpu_s": round(sum(_cpu_s(pid) - workers.get(pid, 0.0) for pid in _python_workers()), 3)}


class Contender:
    """A warm benchmark process (``--serve``) for ``--interleave``: started and warmed up once, then
    timed one job at a time, so that the contenders' jobs can alternate."""

    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self._log = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(argv + ["--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=self._log, text=True, cwd=ROOT)
        self.ready = self._reply()

    def job(self, output: Path) -> dict:
        """One job written to ``output`` (a folder that does not exist yet): its seconds (``s``) and,
        for sparkeo, the CPU seconds of its workers and JVM (``with_cpu``)."""
        self._proc.stdin.write(json.dumps({"output": str(output)}) + "\n")
        self._proc.stdin.flush()
        return self._reply()

    def _reply(self) -> dict:
        for line in self._proc.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY):])
        self._proc.wait()
        self._log.seek(0)
        raise SystemExit(f"{self.name} ended (exit {self._proc.returncode}):\n{self._log.read()[-3000:]}")

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._log.close()


def _compute_groups(output, settings, groups, ready, go, done) -> None:
    from jobs.spark.execute import run_tile
    from jobs.cube.read import keep_open
    from jobs.spark.transport import TileTransport
    from jobs.spark.allocator import keep_tile_memory

    keep_tile_memory(settings)                # as every Spark task's worker does (glibc thresholds)
    ready.put(True)
    go.wait()
    computed = 0
    for group in groups:
        with keep_open(settings):             # as a Spark task holds its group's assets open
            for task in group:
                result = run_tile(output, task, settings, {"soft_errors": False}, TileTransport(compress=False))
                computed += result.error is None
    done.put(computed)


def run_tiles(processes: int, catalog: Path, jobs: int = 1) -> float:
    """The fastest of ``jobs`` tile computations in ``processes`` processes (``run_tiles_each``)."""
    return min(run_tiles_each(processes, catalog, jobs))


def run_tiles_each(processes: int, catalog: Path, jobs: int = 1) -> list[float]:
    """Seconds of each of ``jobs`` back-to-back tile computations in ``processes`` processes."""
    proc = subprocess.run([sys.executable, __file__, "--tiles", str(processes), "--catalog", str(catalog),
                           "--jobs", str(jobs)], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"tile computation in {processes} process(es) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["tiles_s_each"]


def _import_engine() -> None:
    """Import the modules a sparkeo job uses (driver and tile tasks); computes nothing."""
    import importlib

    for name in ("numpy", "rasterio", "rasterio.warp", "pyproj", "jobs.run", "jobs.spark.execute", "jobs.cube.load",
                 "jobs.cube.read", "jobs.results.writer", "jobs.results.stripwriter", "jobs.spark.remote",
                 "jobs.graph.evaluate", "jobs.processes.all", "layercatalog.catalog"):
        importlib.import_module(name)


def _warm_task(i: int) -> int:
    import time as _time

    _import_engine()
    _time.sleep(0.2)      # hold the slot so each core gets its own worker
    return i


def driver_figures(sc, results_before: int, driver_read_before: int) -> dict:
    """What the driver spent and received during the job: peak RSS (VmHWM) of the Python driver
    (this process) and of its JVM, the task results Spark delivered to the driver (``resultSize``,
    status REST API) and every byte the Python driver read (``rchar``: task results over py4j,
    spill files, catalog and headers)."""
    jvm = _jvm_pid()
    return {"driver_peak_rss_mb": _peak_rss_mb(os.getpid()),
            "driver_jvm_peak_rss_mb": _peak_rss_mb(jvm) if jvm else None,
            "task_result_bytes": task_result_bytes(sc) - results_before,
            "driver_read_bytes": _io_read_chars(os.getpid()) - driver_read_before}


def _driver_cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) used so far by the Python driver (all its threads) and by its JVM
    (the driver and, on a local master, the executors' threads)."""
    own = os.times()
    return {"driver_cpu_s": own.user + own.system, "driver_jvm_cpu_s": _cpu_s(_jvm_pid())}


def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system, all threads) a process has used so far, from /proc; 0 if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() if pid else []
    except OSError:
        fields = []
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def task_result_bytes(sc) -> int:
    """The serialized task results Spark has delivered to the driver so far (the sum of every
    stage's ``resultSize`` in the status REST API of the running SparkContext)."""
    import urllib.request

    url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages?status=complete"
    with urllib.request.urlopen(url, timeout=30) as reply:
        return sum(int(stage.get("resultSize", 0)) for stage in json.load(reply))


def _jvm_pid() -> int | None:
    """The Spark JVM this driver started (its child running java)."""
    jvm = [pid for pid, cmd in _children(os.getpid()) if b"java" in cmd.split(b"\0")[0]]
    return jvm[0] if jvm else None


def _peak_rss_mb(pid: int) -> float | None:
    """A process's peak RSS (VmHWM) in MiB, from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    hwm = [line for line in status.splitlines() if line.startswith("VmHWM:")]
    return round(int(hwm[0].split()[1]) / 1024.0, 1) if hwm else None


def _children(pid: int) -> list[tuple[int, bytes]]:
    """The direct children of ``pid`` with their command lines, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append((int(entry), Path(f"/proc/{entry}/cmdline").read_bytes()))
            except (OSError, IndexError, ValueError):
                continue
    return out


def _python_worker_peak_rss_mb() -> dict:
    """Peak RSS (VmHWM) of every PySpark Python worker below this process, from /proc: each forked
    worker's high-water mark is its peak."""
    peaks = [p for p in map(_peak_rss_mb, _python_workers()) if p is not None]
    return {"count": len(peaks), "peak_rss_mb_max": round(max(peaks), 1) if peaks else None}


def _io_read_chars(pid: int) -> int:
    """Bytes the process has read with read() and friends (``rchar``: files, pipes and sockets)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _python_workers() -> list[int]:
    """The PySpark Python workers below this process, from /proc.

    The JVM is our child; its worker daemon child (``spark.python.daemon.module``) forks one worker
    per concurrent task. The daemon itself is excluded (it only forks).
    """
    from jobs.spark.session import speed_conf
    from sparkeo.settings import Settings

    daemon = speed_conf(Settings.from_env()).get("spark.python.daemon.module", "pyspark.daemon").encode()
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    workers = []
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            parent_cmd = Path(f"/proc/{parent}/cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        # a forked worker: the daemon's child (the daemon is the JVM's child, whose command line
        # names the daemon module too, in its Spark conf)
        if daemon in cmd and daemon in parent_cmd and b"java" not in parent_cmd.split(b"\0")[0]:
            workers.append(pid)
    return workers


def run_sparkeo(master: str, catalog: Path, output: Path, jobs: int = 1) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", master, "--catalog", str(catalog),
                           "--output", str(output), "--jobs", str(jobs)], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sparkeo {master} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["bench_process_wall_s"] = wall
    return result


def run_cli(master: str, catalog: Path, graph: Path, output: Path) -> float:
    """Whole-process wall time of ``sparkeo run`` (interpreter, JVM, Spark, job, results)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sparkeo.cli.main", "run", str(graph), "--catalog", str(catalog),
                           "--output", str(output), "--master", master, "--job-id", "bench-cli"],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sparkeo run {master} failed:\n{proc.stderr[-3000:]}")
    return wall


def read_result(output: Path) -> np.ndarray:
    import rasterio

    tifs = sorted(output.glob("*.tif"))
    with rasterio.open(tifs[0]) as ds:
        return ds.read(1)


# --- main ------------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--block", default="256,512,1024,strip",
                    help="source layouts, comma-separated: 256, 512, 1024, 2048 (block px) or strip")
    ap.add_argument("--data", default=str(ROOT / "build" / "bench"))
    ap.add_argument("--runs", type=int, help="only scaling_efficiency, measured this many times "
                                             "(local[1], local[2], tiles in 1 and 2 processes per run)")
    ap.add_argument("--jobs-per-run", type=int, default=12,
                    help="with --runs: jobs per contender and run, spread over its --processes-per-run warm "
                         "processes; a run's figure comes from each contender's typical job, the median over "
                         "its processes of each one's median job (every job's time is printed too)")
    ap.add_argument("--processes-per-run", type=int, default=3,
                    help="with --runs and --interleave: each contender's jobs of a run are spread over this "
                         "many warm processes, one after the other, so that one process's luck (a whole "
                         "process ~10 %% slower, seen on these VMs) is a third of its jobs, not all of them")
    ap.add_argument("--interleave", action=argparse.BooleanOptionalAction, default=True,
                    help="with --runs: the four contenders stay up (warm) through a run and take their "
                         "--jobs-per-run jobs in turn, rotating which goes first, so that drift in the "
                         "machine's speed hits them alike (--no-interleave: each contender's jobs back to back, "
                         "one contender after the other)")
    ap.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--tiles", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--catalog", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    ap.add_argument("--graph", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        sparkeo_worker(args)
        return
    if args.tiles:
        tiles_worker(args)
        return
    from layercatalog.sample import BLOCK_LAYOUTS

    blocks = [b.strip() for b in args.block.split(",") if b.strip()]
    unknown = [b for b in blocks if b not in BLOCK_LAYOUTS]
    if unknown or not blocks:
        raise SystemExit(f"--block: unknown layout(s) {unknown!r}; choose from {', '.join(BLOCK_LAYOUTS)}")
    if args.runs:
        for block in blocks:
            scaling_runs(args, block)
        return
    summaries = [bench_layout(args, block) for block in blocks]
    keys = ("ratio_to_numpy_2proc", "ratio_to_decode_floor", "second_job", "disk_read_per_input_byte",
            "equal_to_reference")
    print(json.dumps({"layouts": {s["block"]: {k: s[k] for k in keys} for s in summaries}}))
    if not all(s["equal_to_reference"] for s in summaries):
        raise SystemExit("sparkeo's composite differs from the numpy reference")


def scaling_runs(args, block: str) -> None:
    """``scaling_efficiency`` ``args.runs`` times on one layout: per run sparkeo on local[1] and
    local[2] and the bare tiles in 1 and 2 processes, ``args.jobs_per_run`` jobs each; with
    ``args.interleave`` the four contenders are up together and their jobs alternate
    (``interleaved_run``), in ``args.processes_per_run`` warm processes each, one after the other;
    without it each contender runs its jobs back to back in one process after the one before.

    A run's ``scaling_efficiency`` is taken from each contender's typical job (``typical_job``: the
    median over its processes of each one's median job), as the per-layout summary takes it from the
    median over repeats; the same ratio from the fastest jobs
    (``scaling_efficiency_of_fastest``), from each process's first job (``_first_job``, median over
    the processes) and from each set of processes alone (``scaling_efficiency_each_process``) is
    printed too. Prints a line per run (every job's seconds by process and the load average; without
    interleaving also the CPU seconds of each driver and its JVM) and one with min and median over the runs.

    Why interleave: on these 2-vCPU machines the speed of the same work drifts by 5-10 % over tens
    of seconds; run one after the other, the four contenders of a run met different machines, and
    the ratio of ratios took the drift for overhead (or for its absence) in either direction.
    Why several processes: now and then a whole sparkeo process runs ~10 % slower from its first job
    to its last, the other contenders' interleaved jobs not (README). The bare tiles fork fresh
    processes for every job, so such draws average out over their run, while sparkeo's Python
    workers live as long as its session: with one process per run, one draw decided the run."""
    catalog = ensure_series(Path(args.data), args.size, args.dates, block)
    out_root = Path(tempfile.mkdtemp(prefix="sparkeo-bench-"))
    figures: dict[str, list[float]] = {"scaling_efficiency": [], "scaling_efficiency_of_fastest": [],
                                       "scaling_efficiency_first_job": []}
    processes = max(min(args.processes_per_run, args.jobs_per_run), 1) if args.interleave else 1   # each gets a job
    try:
        for run in range(args.runs):
            per = args.jobs_per_run
            if args.interleave:
                (seconds, cpu), local = interleaved_run(catalog, out_root / f"run{run}", per, processes), {}
            else:
                local = {n: run_sparkeo(f"local[{n}]", catalog, out_root / f"local{n}-{run}", per) for n in (1, 2)}
                seconds = {**{f"sparkeo_local{n}": [local[n]["job_s_each"]] for n in (1, 2)},
                           **{f"tiles_only_{n}proc": [run_tiles_each(n, catalog, per)] for n in (1, 2)}}
                cpu = {}
            typical = {k: typical_job(v) for k, v in seconds.items()}
            figures["scaling_efficiency"].append(efficiency(typical))
            figures["scaling_efficiency_of_fastest"].append(efficiency({k: min(min(p) for p in v)
                                                                         for k, v in seconds.items()}))
            figures["scaling_efficiency_first_job"].append(
                efficiency({k: statistics.median(proc[0] for proc in v) for k, v in seconds.items()}))
            print(json.dumps({
                "block": block, "run": run + 1, "jobs_per_run": per, "processes_per_run": processes,
                "interleaved": args.interleave,
                **{f"{k}_typical_s": round(v, 3) for k, v in typical.items()},
                "speedup_2_over_1": round(typical["sparkeo_local1"] / typical["sparkeo_local2"], 3),
                "tiles_only_speedup_2_over_1": round(typical["tiles_only_1proc"] / typical["tiles_only_2proc"], 3),
                **{k: round(v[-1], 3) for k, v in figures.items()},
                "scaling_efficiency_each_process": [
                    round(efficiency({k: statistics.median(v[i]) for k, v in seconds.items()}), 3)
                    for i in range(processes)],
                **{f"{k}_each_s": [[round(x, 3) for x in proc] for proc in v] for k, v in seconds.items()},
                **{f"{k}_each": v for k, v in cpu.items()},      # with --interleave: per job, by process
                **{f"{key}_local{n}": local[n][key] for n in local for key in ("driver_cpu_s", "driver_jvm_cpu_s")
                   if key in local[n]},      # measured without --interleave
                "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}), flush=True)
    finally:
        shutil.rmtree(out_root, ignore_errors=True)
    print(json.dumps({"block": block, "size": args.size, "runs": args.runs, "jobs_per_run": args.jobs_per_run,
                      "processes_per_run": processes, "interleaved": args.interleave,
                      **{f"{k}_{name}": round(f(v), 3) for k, v in figures.items()
                         for name, f in (("min", min), ("median", statistics.median))},
                      "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}), flush=True)


def typical_job(processes: list[list[float]]) -> float:
    """A contender's typical job in a run: the median over its processes of each one's median job.
    Robust to a process's first, slower job and, from three processes on, to a whole slow process."""
    return statistics.median(statistics.median(jobs) for jobs in processes)


def efficiency(seconds: Mapping[str, float]) -> float:
    """``speedup_2_over_1`` over ``tiles_only_speedup_2_over_1``: how much of what the machine's two
    cores give the bare tile computation sparkeo's ``local[2]`` keeps."""
    return (seconds["sparkeo_local1"] / seconds["sparkeo_local2"]
            / (seconds["tiles_only_1proc"] / seconds["tiles_only_2proc"]))


def interleaved_run(catalog: Path, out: Path, jobs: int,
                    processes: int = 1) -> tuple[dict[str, list[list[float]]], dict[str, list[list[float]]]]:
    """One ``--interleave`` run: sparkeo on local[1] and local[2] and the bare tiles in 1 and 2
    processes, each started and warmed up in its own process, then rounds of one job each, the order
    rotating by one per round. The ``jobs`` rounds are spread over ``processes`` generations of the
    four: each generation is stopped and a fresh one started for the next share. Returns every
    contender's seconds (``sparkeo_local1``, ``tiles_only_2proc``, ...) as one list per process, and
    the same for the CPU seconds of sparkeo's workers and JVM per job (``sparkeo_local2_jvm_cpu_s``, ...)."""
    here = [sys.executable, __file__, "--catalog", str(catalog)]
    names = {("local", n): f"sparkeo_local{n}" for n in (1, 2)} | {("tiles", n): f"tiles_only_{n}proc" for n in (1, 2)}
    seconds: dict[str, list[list[float]]] = {name: [] for name in names.values()}
    cpu: dict[str, list[list[float]]] = {f"sparkeo_local{n}_{side}": [] for n in (1, 2)
                                         for side in ("workers_cpu_s", "jvm_cpu_s")}
    round_ = 0
    for generation in range(processes):
        share = jobs // processes + (generation < jobs % processes)
        contenders = {}
        try:
            for n in (1, 2):
                contenders[("local", n)] = Contender(f"sparkeo local[{n}]", here + ["--worker", f"local[{n}]"])
                contenders[("tiles", n)] = Contender(f"tiles in {n} process(es)", here + ["--tiles", str(n)])
            order = list(contenders)
            for series in (*seconds.values(), *cpu.values()):
                series.append([])
            for _ in range(share):
                for key in order[round_ % len(order):] + order[:round_ % len(order)]:
                    done = contenders[key].job(out / f"{key[0]}{key[1]}-{round_}")
                    seconds[names[key]][-1].append(done["s"])
                    for side in ("workers_cpu_s", "jvm_cpu_s"):
                        if side in done:
                            cpu[f"{names[key]}_{side}"][-1].append(done[side])
                round_ += 1
        finally:
            for contender in contenders.values():
                contender.close()
    return seconds, cpu


def bench_layout(args, block: str) -> dict:
    """Every measurement on the series of one source layout, round-robin; prints the lines and
    returns the summary."""
    catalog = ensure_series(Path(args.data), args.size, args.dates, block)
    files = band_files(catalog)
    mpx_dates = args.size * args.size * len(files) / 1e6
    out_root = Path(tempfile.mkdtemp(prefix="sparkeo-bench-"))
    graph = out_root / "graph.json"
    graph.write_text(json.dumps(GRAPH))
    times: dict[str, list[float]] = {k: [] for k in ("decode_floor_2proc", "numpy_1proc", "numpy_2proc",
                                                      "sparkeo_local1", "sparkeo_local2", "sparkeo_run_cli_local2",
                                                      "tiles_only_1proc", "tiles_only_2proc",
                                                      "sparkeo_local1_second_job", "sparkeo_local2_second_job")}
    extra: dict[str, list[dict]] = {"sparkeo_local1": [], "sparkeo_local2": []}
    reference = None
    for rep in range(args.repeats):                       # round-robin: drift hits every contender alike
        t = time.perf_counter(); decode_floor(files); times["decode_floor_2proc"].append(time.perf_counter() - t)
        t = time.perf_counter(); reference = numpy_reference(files, args.size, 1)
        times["numpy_1proc"].append(time.perf_counter() - t)
        t = time.perf_counter(); numpy_reference(files, args.size, 2); times["numpy_2proc"].append(time.perf_counter() - t)
        for master, key in (("local[1]", "sparkeo_local1"), ("local[2]", "sparkeo_local2")):
            r = run_sparkeo(master, catalog, out_root / f"{key}-{rep}", jobs=2)
            times[key].append(r["job_s_each"][0])
            times[f"{key}_second_job"].append(r["job_s_each"][1])
            extra[key].append(r)
        times["sparkeo_run_cli_local2"].append(run_cli("local[2]", catalog, graph, out_root / f"cli-{rep}"))
        for processes in (1, 2):
            times[f"tiles_only_{processes}proc"].append(run_tiles(processes, catalog))
    for key, values in times.items():
        line = {"block": block, "measurement": key, "min_s": round(min(values), 3),
                "median_s": round(statistics.median(values), 3),
                "mpx_dates_per_s": round(mpx_dates / statistics.median(values), 2), "runs": len(values)}
        if key in extra:
            runs = extra[key]
            line["what"] = "graph hand-over to results written; session started and warmed up beforehand"
            line["session_startup_median_s"] = round(statistics.median(r["session_startup_s"] for r in runs), 3)
            line["worker_warmup_median_s"] = round(statistics.median(r["warmup_s"] for r in runs), 3)
            line["bench_process_wall_median_s"] = round(statistics.median(r["bench_process_wall_s"] for r in runs), 3)
            peaks = [r["python_workers"]["peak_rss_mb_max"] for r in runs if r["python_workers"]["peak_rss_mb_max"]]
            line["python_workers"] = max(r["python_workers"]["count"] for r in runs)
            line["python_worker_peak_rss_mb"] = max(peaks) if peaks else None
        elif key.endswith("_second_job"):
            line["what"] = ("the same process's next job, right after the first (a driver that has run a job: "
                            "one-time costs paid)")
        elif key == "sparkeo_run_cli_local2":
            line["what"] = "whole-process wall time of `sparkeo run --master local[2]` (cold JVM, no warm-up)"
        elif key.startswith("tiles_only"):
            line["what"] = "sparkeo's tile computation alone (run_tile per planned tile), no Spark, nothing written"
        print(json.dumps(line), flush=True)
    got = read_result(out_root / f"sparkeo_local2-{args.repeats - 1}")
    got1 = read_result(out_root / f"sparkeo_local1-{args.repeats - 1}")
    shutil.rmtree(out_root, ignore_errors=True)     # the series stays cached; the run's outputs do not
    same_nan = bool(np.array_equal(np.isnan(got), np.isnan(reference)) and
                    np.array_equal(np.isnan(got1), np.isnan(reference)))
    diff = (float(max(np.nanmax(np.abs(got.astype(np.float64) - reference)),
                      np.nanmax(np.abs(got1.astype(np.float64) - reference)))) if same_nan else float("inf"))
    med = {k: statistics.median(v) for k, v in times.items()}
    from sparkeo.settings import Settings

    input_bytes = block_bytes(files)
    summary = {
        "block": block, "size": args.size, "dates": len(files), "cores": os.cpu_count(),
        "tile_size_option": Settings.from_env().tile_size,     # None: sparkeo chose (the tile plan below)
        "tile_plan": extra["sparkeo_local2"][-1]["tile_plan"],
        "blocks_read_local2": extra["sparkeo_local2"][-1]["blocks_read"],
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "ratio_to_numpy_2proc": round(med["sparkeo_local2"] / med["numpy_2proc"], 3),
        "ratio_to_decode_floor": round(med["sparkeo_local2"] / med["decode_floor_2proc"], 3),
        "speedup_2_over_1": round(med["sparkeo_local1"] / med["sparkeo_local2"], 3),
        # the same tiles without Spark on 1 and 2 processes: what the machine's cores give the work itself
        "tiles_only_speedup_2_over_1": round(med["tiles_only_1proc"] / med["tiles_only_2proc"], 3),
        "scaling_efficiency": round(efficiency(med), 3),
        "second_job": {   # the same figures for each process's second job (one-time costs paid by the first)
            "ratio_to_numpy_2proc": round(med["sparkeo_local2_second_job"] / med["numpy_2proc"], 3),
            "ratio_to_decode_floor": round(med["sparkeo_local2_second_job"] / med["decode_floor_2proc"], 3),
            "scaling_efficiency": round(efficiency({**med, "sparkeo_local1": med["sparkeo_local1_second_job"],
                                                    "sparkeo_local2": med["sparkeo_local2_second_job"]}), 3)},
        "beyond_tiles_local1_s": round(med["sparkeo_local1"] - med["tiles_only_1proc"], 3),
        "beyond_tiles_local2_s": round(med["sparkeo_local2"] - med["tiles_only_2proc"], 3),
        "python_worker_peak_rss_mb": max(x for x in (extra["sparkeo_local1"] + extra["sparkeo_local2"])
                                         for x in [x["python_workers"]["peak_rss_mb_max"] or 0]),
        "scene_float32_mb_per_date_band": round(args.size * args.size * 4 / 2**20, 1),
        "input_block_bytes": input_bytes,
        "disk_read_per_input_byte": round(statistics.median(r["worker_read_bytes"] for r in extra["sparkeo_local2"])
                                          / input_bytes, 3),
        "max_abs_diff": diff, "same_nan_pixels": same_nan, "equal_to_reference": same_nan and diff <= 1e-6,
    }
    print(json.dumps(summary), flush=True)
    return summary


if __name__ == "__main__":
    main()

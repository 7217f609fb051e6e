#!/usr/bin/env python3
"""Composite benchmark: sparkeo against the decode floor and hand-written numpy, on the same cores.

Generates (or reuses) a sample series with ``sparkeo sample-data`` and measures, round-robin:

- decode floor: every input band of every date read fully with rasterio by 2 processes;
- numpy reference: SCL 0/3/8/9/10 masked, NDVI, ``np.nanmedian`` over time, in 1 process and in
  2 processes by halves;
- sparkeo on local[1] and local[2] (one subprocess per run: SparkSession start-up reported apart,
  graph-to-results time measured with the session up) and the whole-process wall time of ``sparkeo run``.

Prints one JSON line per measurement and a summary line with the ratios. Checks that sparkeo's result
equals the numpy reference (max abs diff <= 1e-6, same NaN pixels).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MASK_CLASSES = (0, 3, 8, 9, 10)


# --- the inputs -----------------------------------------------------------------------------------
def ensure_series(folder: Path, size: int, dates: int) -> Path:
    """The layercatalog.json of a B04/B08/SCL sample series of this size (generated once)."""
    target = folder / f"series-{size}px-{dates}d"
    catalog = target / "layercatalog.json"
    if not catalog.exists():
        subprocess.run([sys.executable, "-m", "sparkeo.cli.main", "sample-data", str(target), "--size", str(size),
                        "--dates", str(dates), "--bands", "B04,B08,SCL"], check=True, stdout=subprocess.DEVNULL)
    return catalog


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
        ndvi = (nir - red) / (nir + red)
        ndvi[bad] = np.nan
        stack.append(ndvi)
    import warnings

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
GRAPH = {
    "process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "sample-s2", "spatial_extent": None, "temporal_extent": None, "bands": ["B04", "B08", "SCL"]}},
        "cloud": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "bands", "reducer": {"process_graph": {
                "scl": {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"}, "label": "SCL"}},
                **{f"is{c}": {"process_id": "eq", "arguments": {"x": {"from_node": "scl"}, "y": c}} for c in MASK_CLASSES},
                "o1": {"process_id": "or", "arguments": {"x": {"from_node": "is0"}, "y": {"from_node": "is3"}}},
                "o2": {"process_id": "or", "arguments": {"x": {"from_node": "o1"}, "y": {"from_node": "is8"}}},
                "o3": {"process_id": "or", "arguments": {"x": {"from_node": "o2"}, "y": {"from_node": "is9"}}},
                "o4": {"process_id": "or", "arguments": {"x": {"from_node": "o3"}, "y": {"from_node": "is10"}},
                       "result": True}}}}},
        "ndvi": {"process_id": "ndvi", "arguments": {"data": {"from_node": "load"}, "nir": "B08", "red": "B04"}},
        "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "ndvi"}, "mask": {"from_node": "cloud"}}},
        "median": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "masked"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "median"}, "format": "GTiff"},
                 "result": True},
    }
}


def sparkeo_worker(args) -> None:
    """Inside the subprocess: start Spark, then time one job from graph hand-over to results written."""
    t0 = time.perf_counter()
    from jobs.session import spark_session

    spark_session(master=args.worker, app_name="sparkeo-bench")
    startup = time.perf_counter() - t0
    from jobs.run import run_job
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    settings = Settings.from_env(spark_master=args.worker, catalog=args.catalog)
    t1 = time.perf_counter()
    run_job(json.dumps(GRAPH), output=args.output, job_id="bench", catalog_uri=args.catalog,
            job_options={}, settings=settings, caller=Caller())
    job = time.perf_counter() - t1
    worker_rss = _python_worker_peak_rss_mb()
    print(json.dumps({"startup_s": startup, "job_s": job, "worker_peak_rss_mb": worker_rss}))


def _python_worker_peak_rss_mb() -> float:
    # Peak RSS of finished children (the JVM and Python workers); workers dominate for Python-side kernels.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def run_sparkeo(master: str, catalog: Path, output: Path) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", master, "--catalog", str(catalog),
                           "--output", str(output)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"sparkeo {master} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    return result


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
    ap.add_argument("--data", default=str(ROOT / "build" / "bench"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--catalog", help=argparse.SUPPRESS)
    ap.add_argument("--output", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        sparkeo_worker(args)
        return

    catalog = ensure_series(Path(args.data), args.size, args.dates)
    files = band_files(catalog)
    mpx_dates = args.size * args.size * len(files) / 1e6
    out_root = Path(tempfile.mkdtemp(prefix="sparkeo-bench-"))
    times: dict[str, list[float]] = {k: [] for k in ("decode_floor_2proc", "numpy_1proc", "numpy_2proc",
                                                      "sparkeo_local1", "sparkeo_local2")}
    extra: dict[str, list[dict]] = {"sparkeo_local1": [], "sparkeo_local2": []}
    reference = None
    for rep in range(args.repeats):                       # round-robin: drift hits every contender alike
        t = time.perf_counter(); decode_floor(files); times["decode_floor_2proc"].append(time.perf_counter() - t)
        t = time.perf_counter(); reference = numpy_reference(files, args.size, 1)
        times["numpy_1proc"].append(time.perf_counter() - t)
        t = time.perf_counter(); numpy_reference(files, args.size, 2); times["numpy_2proc"].append(time.perf_counter() - t)
        for master, key in (("local[1]", "sparkeo_local1"), ("local[2]", "sparkeo_local2")):
            r = run_sparkeo(master, catalog, out_root / f"{key}-{rep}")
            times[key].append(r["job_s"])
            extra[key].append(r)
    for key, values in times.items():
        line = {"measurement": key, "min_s": round(min(values), 3), "median_s": round(statistics.median(values), 3),
                "mpx_dates_per_s": round(mpx_dates / statistics.median(values), 2), "runs": len(values)}
        if key in extra:
            line["session_startup_median_s"] = round(statistics.median(r["startup_s"] for r in extra[key]), 3)
            line["process_wall_median_s"] = round(statistics.median(r["process_wall_s"] for r in extra[key]), 3)
            line["peak_rss_children_mb"] = round(max(r["worker_peak_rss_mb"] for r in extra[key]), 1)
        print(json.dumps(line))
    got = read_result(out_root / f"sparkeo_local2-{args.repeats - 1}")
    same_nan = bool(np.array_equal(np.isnan(got), np.isnan(reference)))
    diff = float(np.nanmax(np.abs(got.astype(np.float64) - reference))) if same_nan else float("inf")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({
        "size": args.size, "dates": len(files), "cores": os.cpu_count(),
        "ratio_to_numpy_2proc": round(med["sparkeo_local2"] / med["numpy_2proc"], 3),
        "ratio_to_decode_floor": round(med["sparkeo_local2"] / med["decode_floor_2proc"], 3),
        "speedup_2_over_1": round(med["sparkeo_local1"] / med["sparkeo_local2"], 3),
        "max_abs_diff": diff, "same_nan_pixels": same_nan, "equal_to_reference": same_nan and diff <= 1e-6,
    }))
    if not (same_nan and diff <= 1e-6):
        raise SystemExit("sparkeo's composite differs from the numpy reference")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Scale benchmark: the composite at growing image sizes, for linear cost and a flat driver.

bench/composite.py's graph (SCL 0/3/8/9/10 masked, NDVI, median over 12 dates) on series of
2048^2, 4096^2 and 8192^2 px (``--sizes``; 10980^2, one Sentinel-2 tile, when ``--sizes`` names it and
the disk allows), written as 1024 px block COGs like public Sentinel-2 (``--block``) by ``sparkeo
sample-data`` (above 2048 px a 2048 px series mirrored at its edges: generated in seconds). Per size,
round-robin over ``--repeats``:

- the decode floor: every input band of every date read fully by 2 processes;
- numpy in 2 processes by halves (composite.py's reference), skipped with the reason printed where
  its predicted peak RSS (from the smallest size, per input pixel) does not fit in the available memory;
- sparkeo on local[2] (a subprocess per run, session started and warmed up before the clock): its
  first job (``sparkeo_local2``; the driver and Spark figures are this job's) and the next one in the
  same process (``sparkeo_local2_second_job``: the workers' and the driver's one-time costs paid).

Prints one JSON line per size and contender (seconds, input Mpix-dates/s; for sparkeo the driver's
and the workers' peak RSS, the task results Spark delivered to the driver and every byte the Python
driver read, also per output pixel, and from the job's usage the source blocks decoded
(``blocks_read``: each once is the goal) and the pixel bytes the driver received
(``driver_received_bytes``)), then a summary line: sparkeo's throughput ratio from the smallest to
the largest size (1.0: linear cost), for first and second jobs, the driver figures and blocks decoded per size and sparkeo's
time over numpy 2-process per size. Data and outputs live under ``--workdir`` (default: a new folder under the
system's temporary folder) and are removed at the end unless ``--keep-data``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import composite  # noqa: E402  (the series, the graph, the references and the Spark worker are composite.py's)

BANDS_BYTES_PER_PX = 2 + 2 + 1          # B04, B08 (uint16) and SCL (uint8)
COMPRESSION = 1.9                       # the sample's deflate ratio (layercatalog.samplescene)
NUMPY_FIRST_GUESS = 32                  # numpy's bytes per input pixel-date before a run measured it (2048 px: 33)
MEMORY_HEADROOM = 0.7                   # of MemAvailable: the machine is shared


def mem_available() -> int:
    """The kernel's estimate of the memory available to a new process (bytes)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def series_bytes(size: int, dates: int) -> int:
    """The disk a series of this size takes (compressed), with its output and room to spare."""
    return int(size * size * dates * BANDS_BYTES_PER_PX / COMPRESSION * 1.2 + 3 * size * size * 4)


def _numpy_part(files, row0: int, row1: int) -> tuple[np.ndarray, float]:
    """composite.py's numpy reference for rows row0..row1, with this process's peak RSS in MiB."""
    values = composite._composite_rows(files, row0, row1)
    return values, composite._peak_rss_mb(os.getpid()) or 0.0


def numpy_2proc(files, height: int) -> tuple[np.ndarray, float]:
    """The numpy reference in 2 fresh processes by halves: (the composite, the larger peak RSS in MiB)."""
    cuts = np.linspace(0, height, 3).astype(int)
    with ProcessPoolExecutor(2) as pool:
        parts = list(pool.map(_numpy_part, [files] * 2, cuts[:-1], cuts[1:]))
    return np.concatenate([p[0] for p in parts]), max(p[1] for p in parts)


def bench_size(args, size: int, workdir: Path, numpy_bytes_per_px: float) -> dict:
    """Every measurement at one size; prints the lines and returns sparkeo's and numpy's figures."""
    t = time.perf_counter()
    catalog = composite.ensure_series(workdir, size, args.dates, args.block)
    generated = time.perf_counter() - t
    files = composite.band_files(catalog)
    mpx_dates = size * size * len(files) / 1e6
    predicted = numpy_bytes_per_px * size * size * len(files)
    available = mem_available()
    skip_numpy = None
    if predicted > MEMORY_HEADROOM * available:
        skip_numpy = (f"numpy 2-process predicted peak {predicted / 2**30:.1f} GiB > {MEMORY_HEADROOM:.0%} "
                      f"of MemAvailable {available / 2**30:.1f} GiB")
    times: dict[str, list[float]] = {"decode_floor_2proc": [], "numpy_2proc": [], "sparkeo_local2": [],
                                     "sparkeo_local2_second_job": []}
    runs: list[dict] = []
    reference, numpy_peak = None, 0.0
    for rep in range(args.repeats):
        t = time.perf_counter(); composite.decode_floor(files); times["decode_floor_2proc"].append(time.perf_counter() - t)
        if skip_numpy is None:
            t = time.perf_counter(); reference, peak = numpy_2proc(files, size)
            times["numpy_2proc"].append(time.perf_counter() - t)
            numpy_peak = max(numpy_peak, peak)
        out = workdir / f"out-{size}-{rep}"
        # two jobs in the one warm process: the first, and the next with the one-time costs paid
        run = composite.run_sparkeo("local[2]", catalog, out, jobs=2)
        times["sparkeo_local2"].append(run["job_s_each"][0])
        times["sparkeo_local2_second_job"].append(run["job_s_each"][1])
        runs.append(run)
        got = composite.read_result(out)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(f"{out}.1", ignore_errors=True)
    equal = None
    if reference is not None:
        same_nan = bool(np.array_equal(np.isnan(got), np.isnan(reference)))
        equal = same_nan and float(np.nanmax(np.abs(got.astype(np.float64) - reference))) <= 1e-6
    out_px = size * size
    base = {"size": size, "dates": len(files), "block": args.block, "mpx_dates": round(mpx_dates, 1)}
    median = {k: statistics.median(v) for k, v in times.items() if v}
    for key, values in times.items():
        line = {**base, "measurement": key}
        if not values:
            line["skipped"] = skip_numpy
        else:
            line.update(min_s=round(min(values), 3), median_s=round(median[key], 3),
                        mpx_dates_per_s=round(mpx_dates / median[key], 2), runs=len(values))
        if key == "numpy_2proc" and values:
            line["peak_rss_mb_per_process"] = round(numpy_peak, 1)
        if key == "sparkeo_local2":
            received = max(r["task_result_bytes"] for r in runs)
            read = max(r["driver_read_bytes"] for r in runs)
            pixels_received = max(r["driver_received_bytes"] or 0 for r in runs)
            line.update(
                driver_peak_rss_mb=max(r["driver_peak_rss_mb"] for r in runs),
                driver_jvm_peak_rss_mb=max(r["driver_jvm_peak_rss_mb"] or 0 for r in runs),
                worker_peak_rss_mb=max(r["python_workers"]["peak_rss_mb_max"] or 0 for r in runs),
                task_result_bytes=received, task_result_bytes_per_output_px=round(received / out_px, 3),
                driver_read_bytes=read, driver_read_bytes_per_output_px=round(read / out_px, 3),
                blocks_read=runs[-1]["blocks_read"], driver_received_bytes=pixels_received,
                driver_received_bytes_per_output_px=round(pixels_received / out_px, 3),
                tile_plan=runs[-1]["tile_plan"], equal_to_numpy=equal)
        print(json.dumps(line), flush=True)
    print(json.dumps({**base, "measurement": "series_generation", "seconds": round(generated, 1),
                      "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]}), flush=True)
    return {"size": size, "mpx_dates": mpx_dates, "median": median, "runs": runs, "equal": equal,
            "numpy_bytes_per_px": numpy_peak * 2**20 * 2 / (mpx_dates * 1e6) if numpy_peak else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2048,4096,8192", help="image sizes in px, comma-separated (10980: one S2 tile)")
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--block", default="1024", help="source layout: 256, 512, 1024, 2048 (block px) or strip")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workdir", help="where the series and outputs go (default: a new temporary folder)")
    ap.add_argument("--keep-data", action="store_true", help="leave the generated series in --workdir")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="sparkeo-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    numpy_bytes_per_px = NUMPY_FIRST_GUESS
    try:
        for size in sizes:
            need, free = series_bytes(size, args.dates), shutil.disk_usage(workdir).free
            if need > free:
                print(json.dumps({"size": size, "skipped": f"needs ~{need / 2**30:.1f} GiB of disk, "
                                                         f"{free / 2**30:.1f} GiB free in {workdir}"}), flush=True)
                continue
            results.append(bench_size(args, size, workdir, numpy_bytes_per_px))
            numpy_bytes_per_px = results[-1]["numpy_bytes_per_px"] or numpy_bytes_per_px
            if not args.keep_data:       # one series on disk at a time
                shutil.rmtree(workdir / f"series-{size}px-{args.dates}d-b{args.block}", ignore_errors=True)
    finally:
        if not args.keep_data:
            shutil.rmtree(workdir, ignore_errors=True)
    if not results:
        raise SystemExit("no size could run")
    print(json.dumps(summary(results)), flush=True)
    if any(r["equal"] is False for r in results):
        raise SystemExit("sparkeo's composite differs from the numpy reference")


def summary(results: list[dict]) -> dict:
    """Throughput from the smallest to the largest size, the driver's figures and the ratio to numpy."""
    def per_s(r, key):
        return r["mpx_dates"] / r["median"][key]

    first, last = results[0], results[-1]
    return {
        "sizes": [r["size"] for r in results],
        "sparkeo_throughput_ratio_largest_over_smallest": round(per_s(last, "sparkeo_local2")
                                                                / per_s(first, "sparkeo_local2"), 3),
        "sparkeo_second_job_throughput_ratio_largest_over_smallest": round(
            per_s(last, "sparkeo_local2_second_job") / per_s(first, "sparkeo_local2_second_job"), 3),
        "decode_floor_throughput_ratio_largest_over_smallest": round(per_s(last, "decode_floor_2proc")
                                                                     / per_s(first, "decode_floor_2proc"), 3),
        "sparkeo_over_numpy_2proc_s": {r["size"]: (round(r["median"]["sparkeo_local2"] / r["median"]["numpy_2proc"], 3)
                                                   if "numpy_2proc" in r["median"] else None) for r in results},
        "driver_peak_rss_mb": {r["size"]: max(x["driver_peak_rss_mb"] for x in r["runs"]) for r in results},
        "driver_jvm_peak_rss_mb": {r["size"]: max(x["driver_jvm_peak_rss_mb"] or 0 for x in r["runs"]) for r in results},
        "task_result_bytes_per_output_px": {r["size"]: round(max(x["task_result_bytes"] for x in r["runs"])
                                                             / r["size"] ** 2, 3) for r in results},
        "driver_read_bytes_per_output_px": {r["size"]: round(max(x["driver_read_bytes"] for x in r["runs"])
                                                             / r["size"] ** 2, 3) for r in results},
        "driver_received_bytes": {r["size"]: max(x["driver_received_bytes"] or 0 for x in r["runs"]) for r in results},
        "blocks_read": {r["size"]: r["runs"][-1]["blocks_read"] for r in results},
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Zonal statistics benchmark: aggregate_spatial on sparkeo local[2] vs rasterstats and exactextract.

Generates (or reuses) a B04/B08 sample series with ``sparkeo sample-data`` (``--size`` px, ``--dates``
dates) and ``--polygons`` field polygons over it, 10-200 pixels each, one per cell of a regular
lattice: half are boxes on the pixel grid (where exactextract's coverage weights are 0 or 1 and its
values must equal the centre rule's), half rotated quadrilaterals. Then measures, in this order,
each once (the machine is shared: report its load):

- sparkeo: the aggregate_spatial graph (reducer mean, then median) through ``jobs.run.run_job`` on a
  local[2] SparkSession started beforehand (start-up reported apart), JSON out;
- rasterstats.zonal_stats (centre rule, ``all_touched=False``), one process, over every band file;
- exactextract.exact_extract over every band file at once, one process.

Checks: rasterstats' mean and median equal sparkeo's (max abs diff), exactextract's mean equals
sparkeo's on the pixel-aligned boxes. Prints one JSON line per measurement and a summary with the
ratios. Needs ``pip install rasterstats exactextract`` (not product dependencies).

``--memory 1000,10000,50000`` measures memory instead, in one run: for each polygon count, sparkeo's
mean and median with the peak RSS of the driver (this Python process: ``VmHWM``, reset through
``/proc/self/clear_refs`` before each run, so the peak is the run's) and of the Python workers and
the JVM (every descendant process, ``VmHWM`` reset at the start and sampled every 50 ms, so workers
forked during the run are seen too), beside the output rows and the load average.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BANDS = ("B04", "B08")


def ensure_series(folder: Path, size: int, dates: int) -> Path:
    """The layercatalog.json of a B04/B08 sample series (generated once)."""
    target = folder / f"zonal-{size}px-{dates}d"
    catalog = target / "layercatalog.json"
    if not catalog.exists():
        subprocess.run([sys.executable, "-m", "sparkeo.cli.main", "sample-data", str(target), "--size", str(size),
                        "--dates", str(dates), "--bands", ",".join(BANDS)], check=True, cwd=ROOT)
    return catalog


def band_files(catalog: Path) -> list[tuple[str, str, Path]]:
    """(date, band, path) of every input file, by date then band."""
    out = []
    for item_json in sorted(catalog.parent.glob("sample-s2/*/*.json")):
        item = json.loads(item_json.read_text())
        for band in BANDS:
            out.append((item["properties"]["datetime"][:10], band, item_json.parent / f"{band}.tif"))
    return sorted(out)


def field_polygons(path: Path, count: int, seed: int = 1) -> tuple[list, list[bool]]:
    """``count`` polygons of 10-200 px, one per lattice cell; (shapely polygons in the raster CRS, aligned?)."""
    import rasterio
    from shapely.geometry import Polygon

    with rasterio.open(path) as ds:
        transform, width, height = ds.transform, ds.width, ds.height
    per_row = math.ceil(math.sqrt(count))
    cell = min(width, height) / per_row
    rng = np.random.default_rng(seed)
    polys, aligned = [], []
    for i in range(count):
        r, c = divmod(i, per_row)
        side = rng.uniform(math.sqrt(10), min(math.sqrt(200), cell - 2))
        cx, cy = (c + 0.5) * cell, (r + 0.5) * cell
        if i % 2 == 0:          # a box on the pixel grid
            w = max(2, round(side)); h = max(2, round(rng.uniform(10, 200) / w))
            h = min(h, int(cell) - 2)
            x0, y0 = math.floor(cx - w / 2), math.floor(cy - h / 2)
            corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
        else:                   # a rotated quadrilateral
            a = rng.uniform(0, math.pi / 2)
            corners = [(cx + side / 2 * (math.cos(a + k * math.pi / 2) * 1.4),
                        cy + side / 2 * (math.sin(a + k * math.pi / 2) * 1.4)) for k in range(4)]
        polys.append(Polygon([transform * p for p in corners]))
        aligned.append(i % 2 == 0)
    return polys, aligned


class MemoryWatch:
    """Peak RSS (MB) of this process and of its descendants (Python workers, the JVM) while open."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.workers, self.jvm, self.driver_before, self.driver = interval, 0.0, 0.0, 0.0, 0.0
        self._stop = None

    def __enter__(self) -> "MemoryWatch":
        import threading

        for pid in [os.getpid(), *descendants(os.getpid())]:
            reset_peak(pid)
        self.driver_before = status_mb(os.getpid(), "VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while True:
            for pid in descendants(os.getpid()):
                peak = status_mb(pid, "VmHWM")
                if os.path.basename(command(pid).split(" ")[0]) == "java":
                    self.jvm = max(self.jvm, peak)
                else:
                    self.workers = max(self.workers, peak)
            if self._stop.wait(self.interval):
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.driver = status_mb(os.getpid(), "VmHWM")


def descendants(root: int) -> list[int]:
    """The pids of every process below ``root`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def reset_peak(pid: int) -> None:
    """Reset ``VmHWM`` of ``pid`` to its current RSS (Linux clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def status_mb(pid: int, field: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def run_sparkeo(spark, catalog: Path, collection: dict, reducer: str, out: Path, settings,
                watch: MemoryWatch | None = None) -> tuple[float, np.ndarray]:
    from jobs.run import run_job
    from sparkeo.identity import Caller

    graph = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {"id": "sample-s2", "bands": list(BANDS)}},
        "agg": {"process_id": "aggregate_spatial", "arguments": {
            "data": {"from_node": "load"}, "geometries": collection,
            "reducer": {"process_graph": {"r": {"process_id": reducer, "arguments": {"data": {"from_parameter": "data"}},
                                                "result": True}}}}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "agg"}, "format": "JSON"},
                 "result": True}}}
    text = json.dumps(graph)
    del graph
    t0 = time.perf_counter()
    if watch is None:
        run_job(text, str(out), f"zonal-{reducer}", str(catalog), None, settings, Caller(), spark=spark)
    else:
        with watch:
            run_job(text, str(out), f"zonal-{reducer}", str(catalog), None, settings, Caller(), spark=spark)
    seconds = time.perf_counter() - t0
    doc = json.loads((out / "timeseries.json").read_text())
    dates = sorted(doc)
    table = np.array([[[np.nan if v is None else v for v in doc[d][g]] for d in dates]
                      for g in range(len(doc[dates[0]]))], dtype=np.float64)
    return seconds, table                   # (polygons, dates, bands)


def run_rasterstats(files, polys) -> tuple[float, dict]:
    from rasterstats import zonal_stats

    t0 = time.perf_counter()
    out = {}
    for date, band, path in files:
        stats = zonal_stats(polys, str(path), stats=["mean", "median"], all_touched=False)
        out[(date, band)] = ([s["mean"] for s in stats], [s["median"] for s in stats])
    return time.perf_counter() - t0, out


def run_exactextract(files, polys, crs) -> tuple[float, dict]:
    import geopandas
    from exactextract import exact_extract

    frame = geopandas.GeoDataFrame({"i": range(len(polys))}, geometry=polys, crs=crs)
    t0 = time.perf_counter()
    out = {}
    for date, band, path in files:      # one call per file: the files share names (B04.tif), which it cannot
        result = exact_extract(str(path), frame, ["mean", "median"], output="pandas")
        out[(date, band)] = result["mean"].to_numpy(dtype=np.float64)
    return time.perf_counter() - t0, out


def feature_collection(polys, crs: str) -> dict:
    from shapely.geometry import mapping

    return {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": crs}},
            "features": [{"type": "Feature", "id": i, "properties": {}, "geometry": mapping(p)}
                         for i, p in enumerate(polys)]}


def measure_memory(work: Path, catalog: Path, first_file: Path, crs: str, counts: list[int], args, settings) -> None:
    """Peak RSS of driver, Python workers and JVM for sparkeo's mean and median over ``counts`` polygons."""
    from jobs.spark.session import spark_session

    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count(), "dates": args.dates,
                      "bands": len(BANDS), "size": args.size}), flush=True)
    spark = spark_session(master="local[2]", app_name="sparkeo-bench-zonal-memory")
    rows = []
    for count in counts:
        collection = feature_collection(field_polygons(first_file, count)[0], crs)
        for reducer in ("mean", "median"):
            out = Path(tempfile.mkdtemp(prefix=f"zonal-mem-{count}-{reducer}-", dir=work))
            watch = MemoryWatch()
            seconds, table = run_sparkeo(spark, catalog, collection, reducer, out, settings, watch)
            row = {"measure": "memory", "polygons": count, "reducer": reducer, "seconds": round(seconds, 2),
                   "output_rows": int(table.shape[0] * table.shape[1]),
                   "driver_rss_before_mb": round(watch.driver_before), "driver_peak_mb": round(watch.driver),
                   "driver_growth_mb": round(watch.driver - watch.driver_before),
                   "python_worker_peak_mb": round(watch.workers), "jvm_peak_mb": round(watch.jvm),
                   "load_average": [round(x, 2) for x in os.getloadavg()]}
            rows.append(row)
            print(json.dumps(row), flush=True)
        del collection
    print(json.dumps({"summary": "zonal memory", "rows": [
        {k: r[k] for k in ("polygons", "reducer", "driver_growth_mb", "python_worker_peak_mb", "seconds")}
        for r in rows]}), flush=True)
    spark.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--polygons", type=int, default=10_000)
    parser.add_argument("--rasterstats-polygons", type=int, default=0,
                        help="time rasterstats on the first N polygons only and scale to all (0: all)")
    parser.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "sparkeo-bench"))
    parser.add_argument("--memory", default="",
                        help="comma list of polygon counts: measure peak RSS for each instead of comparing tools")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import rasterio

    from jobs.spark.session import spark_session
    from sparkeo.settings import Settings

    work = Path(args.work)
    catalog = ensure_series(work, args.size, args.dates)
    files = band_files(catalog)
    with rasterio.open(files[0][2]) as ds:
        crs = ds.crs.to_string()
    settings = Settings(cache_dir=str(work / "cache"))
    if args.memory:
        measure_memory(work, catalog, files[0][2], crs, [int(n) for n in args.memory.split(",")], args, settings)
        return
    polys, aligned = field_polygons(files[0][2], args.polygons)
    collection = feature_collection(polys, crs)
    print(json.dumps({"load_average": os.getloadavg(), "cpus": os.cpu_count(), "polygons": len(polys),
                      "dates": args.dates, "bands": len(BANDS), "size": args.size}), flush=True)
    t0 = time.perf_counter()
    spark = spark_session(master="local[2]", app_name="sparkeo-bench-zonal")
    print(json.dumps({"measure": "spark_start", "seconds": round(time.perf_counter() - t0, 2)}), flush=True)
    results, timings = {}, {}
    for reducer in ("mean", "median"):
        out = Path(tempfile.mkdtemp(prefix=f"zonal-{reducer}-", dir=work))
        seconds, table = run_sparkeo(spark, catalog, collection, reducer, out, settings)
        results[reducer], timings[reducer] = table, seconds
        print(json.dumps({"measure": f"sparkeo_{reducer}", "seconds": round(seconds, 2),
                          "load_average": os.getloadavg()}), flush=True)
    subset = args.rasterstats_polygons or len(polys)
    rs_seconds, rs = run_rasterstats(files, polys[:subset])
    rs_seconds *= len(polys) / subset          # linear in the polygons: one window read each
    print(json.dumps({"measure": "rasterstats_mean_median", "seconds": round(rs_seconds, 2), "polygons_timed": subset,
                      "scaled_to_all": subset != len(polys), "load_average": os.getloadavg()}), flush=True)
    ee_seconds, ee = run_exactextract(files, polys, crs)
    print(json.dumps({"measure": "exactextract_mean_median", "seconds": round(ee_seconds, 2),
                      "load_average": os.getloadavg()}), flush=True)
    # checks: rasterstats (centre rule) everywhere, exactextract on the pixel-aligned boxes
    dates = sorted({d for d, _, _ in files})
    diff_rs = {"mean": 0.0, "median": 0.0}
    diff_ee = 0.0
    for date, band, _ in files:
        ti, bi = dates.index(date), BANDS.index(band)
        for j, reducer in enumerate(("mean", "median")):
            theirs = np.array([np.nan if v is None else v for v in rs[(date, band)][j]], dtype=np.float64)
            ours = results[reducer][:len(theirs), ti, bi]
            both = ~np.isnan(theirs) & ~np.isnan(ours)
            assert (np.isnan(theirs) == np.isnan(ours)).all(), f"rasterstats {reducer} nodata differs on {date} {band}"
            diff_rs[reducer] = max(diff_rs[reducer], float(np.abs(theirs[both] - ours[both]).max(initial=0)))
        theirs = ee[(date, band)][np.array(aligned)]
        ours = results["mean"][:, ti, bi][np.array(aligned)]
        both = ~np.isnan(theirs) & ~np.isnan(ours)
        diff_ee = max(diff_ee, float(np.abs(theirs[both] - ours[both]).max(initial=0)))
    total = sum(timings.values())
    print(json.dumps({"summary": "zonal", "sparkeo_mean_plus_median_s": round(total, 2),
                      "rasterstats_s": round(rs_seconds, 2), "exactextract_s": round(ee_seconds, 2),
                      "rasterstats_over_sparkeo": round(rs_seconds / total, 2),
                      "exactextract_over_sparkeo": round(ee_seconds / total, 2),
                      "max_abs_diff_vs_rasterstats": diff_rs, "max_abs_diff_vs_exactextract_aligned_mean": diff_ee,
                      "load_average": os.getloadavg()}), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()

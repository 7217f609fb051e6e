#!/usr/bin/env python3
"""UDF benchmark: an identity UDF in apply_dimension over t against the same graph without it.

On a B04/B08/SCL sample series (``sparkeo sample-data``, default 12 dates x 2048^2 px) two graphs
run on one local[2] SparkSession, round-robin, after one warm-up run each:

- ``plain``: load_collection(B04, B08) -> reduce_dimension(t, median) -> GTiff;
- ``udf``: the same with ``apply_dimension(t, run_udf(identity))`` between load and reduce: each tile
  goes to an ``openeo.udf`` ``XarrayDataCube`` and back (``apply_datacube`` returns its input).

Prints one JSON line per run (with the peak RSS of the Python workers during it: ``VmHWM`` reset
before each run and sampled, as bench/zonal.py's memory mode, isolated UDF processes included) and a
summary line with the medians, ``ratio`` (udf / plain; the target is <= 1.5), each graph's largest
worker peak RSS and whether both results are identical.
Usage: python bench/udf.py [--size 2048] [--dates 12] [--repeats 3] [--mode inline|isolated]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.composite import ensure_series, read_result  # noqa: E402
from bench.zonal import MemoryWatch  # noqa: E402

IDENTITY = """
from openeo.udf import XarrayDataCube

def apply_datacube(cube: XarrayDataCube, context: dict) -> XarrayDataCube:
    return cube
"""


def graph(with_udf: bool) -> dict:
    """The composite graph, with the identity UDF over t or without it."""
    nodes = {"load": {"process_id": "load_collection",
                      "arguments": {"id": "sample-s2", "spatial_extent": None, "temporal_extent": None,
                                    "bands": ["B04", "B08"]}}}
    source = "load"
    if with_udf:
        udf = {"process_id": "run_udf", "result": True,
               "arguments": {"data": {"from_parameter": "data"}, "udf": IDENTITY, "runtime": "Python"}}
        nodes["udf"] = {"process_id": "apply_dimension",
                        "arguments": {"data": {"from_node": "load"}, "dimension": "t",
                                      "process": {"process_graph": {"run": udf}}}}
        source = "udf"
    median = {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}, "result": True}
    nodes["median"] = {"process_id": "reduce_dimension",
                       "arguments": {"data": {"from_node": source}, "dimension": "t",
                                     "reducer": {"process_graph": {"m": median}}}}
    nodes["save"] = {"process_id": "save_result", "result": True,
                     "arguments": {"data": {"from_node": "median"}, "format": "GTiff"}}
    return {"process_graph": nodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", default="inline", choices=("inline", "isolated"))
    parser.add_argument("--data", default=str(ROOT / "build" / "bench"))
    args = parser.parse_args()

    from jobs.run import run_job
    from jobs.spark.session import spark_session
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    catalog = ensure_series(Path(args.data), args.size, args.dates)
    settings = Settings.from_env(udf_mode=args.mode)
    spark = spark_session(master="local[2]", app_name="sparkeo-bench-udf", settings=settings)
    times: dict[str, list[float]] = {"plain": [], "udf": []}
    worker_mb: dict[str, list[float]] = {"plain": [], "udf": []}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.repeats + 1):          # round 0 warms the JVM and the Python workers up
            for name in ("plain", "udf"):
                out = Path(tmp) / f"{name}-{round_}"
                with MemoryWatch() as watch:
                    started = time.perf_counter()
                    run_job(json.dumps(graph(name == "udf")), str(out), f"bench-udf-{round_}", str(catalog), None,
                            settings, Caller(), spark=spark)
                    seconds = time.perf_counter() - started
                results[name] = read_result(out)
                print(json.dumps({"run": name, "round": round_, "warmup": round_ == 0, "seconds": round(seconds, 3),
                                  "worker_peak_rss_mb": round(watch.workers, 1), "size": args.size,
                                  "dates": args.dates, "mode": args.mode}), flush=True)
                if round_:
                    times[name].append(seconds)
                    worker_mb[name].append(watch.workers)
    spark.stop()
    plain, udf = statistics.median(times["plain"]), statistics.median(times["udf"])
    same = bool(np.array_equal(results["plain"], results["udf"], equal_nan=True))
    print(json.dumps({"summary": "udf", "plain_median_s": round(plain, 3), "udf_median_s": round(udf, 3),
                      "ratio": round(udf / plain, 3), "target": 1.5,
                      "worker_peak_rss_mb": {k: round(max(v), 1) for k, v in worker_mb.items()}, "identical": same, "repeats": args.repeats,
                      "size": args.size, "dates": args.dates, "mode": args.mode}))


if __name__ == "__main__":
    main()

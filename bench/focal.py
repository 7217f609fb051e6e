#!/usr/bin/env python3
"""Neighbourhood benchmark: the composite with a 3x3 apply_kernel on its 12-date NDVI stack, against
the same graph without it.

The graph is ``bench/composite.py``'s (SCL 0/3/8/9/10 masked, NDVI, median over time) with a 3x3 focal
mean (``apply_kernel``, factor 1/9) between the mask and the median: the kernel runs on 12 x size^2
pixels, each tile read with a 1 px halo. On the same series (``sparkeo sample-data``, one per layout
given with ``--block``) both graphs run round-robin on ``local[2]`` (one subprocess per run, composite.py's
worker: session started and warmed up beforehand, timed from graph hand-over to results written).

Prints one JSON line per graph and layout (min/median seconds, ``bytes_read`` and ``blocks_read`` of
``job_metadata.json``'s usage) and a summary per layout: ``ratio_focal_to_plain`` (median over median,
target <= 1.30), ``extra_bytes_read`` (focal minus plain) against ``halo_area_bytes`` (the halo pixels
of every planned tile, inside the grid, times the source bytes per output pixel; target: extra <=
halo area) and ``blocks_read`` of both. Both figures come from the same run. Checks the focal result
on two row bands (across a tile edge and at the scene's top edge) against numpy + scipy.

Usage: python bench/focal.py [--size 2048] [--dates 12] [--repeats 3] [--block 1024]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import composite  # noqa: E402  (the series, the graph and the Spark worker are composite.py's)

ROOT = composite.ROOT


def focal_graph() -> dict:
    """composite.py's graph with a 3x3 focal mean of the masked NDVI before the median."""
    graph = copy.deepcopy(composite.GRAPH)
    nodes = graph["process_graph"]
    nodes["smooth"] = {"process_id": "apply_kernel", "arguments": {
        "data": {"from_node": "masked"}, "kernel": [[1, 1, 1], [1, 1, 1], [1, 1, 1]], "factor": 1 / 9}}
    nodes["median"]["arguments"]["data"] = {"from_node": "smooth"}
    return graph


GRAPHS = {"plain": composite.GRAPH, "focal": focal_graph()}


def run(which: str, catalog: Path, output: Path) -> dict:
    """One job of graph ``which`` through composite.py's Spark worker (a subprocess of its own)."""
    graph = output.parent / f"{which}.json"
    graph.write_text(json.dumps(GRAPHS[which]))
    proc = subprocess.run([sys.executable, composite.__file__, "--worker", "local[2]", "--graph", str(graph),
                           "--catalog", str(catalog), "--output", str(output)], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"sparkeo ({which}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def halo_area_bytes(catalog: Path) -> tuple[int, int, int]:
    """(halo pixels of all planned tiles, plan input_bytes of the plain graph, of the focal graph),
    from the dry-run plans; the halo bytes are the halo pixels times the plain plan's bytes per pixel."""
    from jobs.plan.planner import grown
    from jobs.run import load_catalog, prepare
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    settings = Settings.from_env(catalog=str(catalog))
    plans = {k: prepare(json.dumps(g), load_catalog(str(catalog), settings), Caller(), settings, {}).plan
             for k, g in GRAPHS.items()}
    focal = plans["focal"]
    pixels = sum(grown(focal.grid, t.grid, t.halo).shape[0] * grown(focal.grid, t.grid, t.halo).shape[1]
                 - t.grid.shape[0] * t.grid.shape[1] for t in focal.tasks)
    per_pixel = plans["plain"].input_bytes / (focal.grid.shape[0] * focal.grid.shape[1])
    return int(round(pixels * per_pixel)), plans["plain"].input_bytes, focal.input_bytes


def focal_reference_rows(files, row0: int, row1: int, height: int) -> np.ndarray:
    """Rows row0..row1 (end excluded) of the focal composite in numpy + scipy: NaN as 0 (apply_kernel's
    replace_invalid), zeros past the scene's edges (its border 0), 3x3 mean, median over time."""
    from scipy import ndimage

    lo, hi = max(row0 - 1, 0), min(row1 + 1, height)
    planes = []
    for f in files:
        ndvi = np.nan_to_num(composite._composite_rows([f], lo, hi).astype(np.float64), nan=0.0)  # one date
        # rows row0 - 1 .. row1, zeros where they lie past the scene
        padded = np.pad(ndvi, ((1 if row0 == 0 else 0, 1 if row1 == height else 0), (0, 0)))
        planes.append(ndimage.uniform_filter(padded, size=3, mode="constant")[1:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(np.stack(planes), axis=0)


def bench_layout(args, block: str) -> dict:
    catalog = composite.ensure_series(Path(args.data), args.size, args.dates, block)
    out_root = Path(tempfile.mkdtemp(prefix="sparkeo-bench-focal-"))
    runs: dict[str, list[dict]] = {k: [] for k in GRAPHS}
    for rep in range(args.repeats):                  # round-robin: drift hits both graphs alike
        for which in GRAPHS:
            runs[which].append(run(which, catalog, out_root / f"{which}-{rep}"))
    for which, rs in runs.items():
        times = [r["job_s"] for r in rs]
        print(json.dumps({"block": block, "graph": which, "min_s": round(min(times), 3),
                          "median_s": round(statistics.median(times), 3), "runs": len(times),
                          "bytes_read": rs[-1]["bytes_read"], "blocks_read": rs[-1]["blocks_read"],
                          "worker_read_bytes_median": statistics.median(r["worker_read_bytes"] for r in rs)}),
              flush=True)
    halo_bytes, plain_estimate, focal_estimate = halo_area_bytes(catalog)
    files = composite.band_files(catalog)
    got = composite.read_result(out_root / f"focal-{args.repeats - 1}")
    diffs = []
    for row0 in (0, 250):                              # the scene's top edge; a 256 px tile edge
        expect = focal_reference_rows(files, row0, row0 + 12, args.size)
        part = got[row0:row0 + 12].astype(np.float64)
        same_nan = np.array_equal(np.isnan(part), np.isnan(expect))
        diffs.append(float(np.nanmax(np.abs(part - expect))) if same_nan else float("inf"))
    plain, focal = runs["plain"], runs["focal"]
    extra = focal[-1]["bytes_read"] - plain[-1]["bytes_read"]
    summary = {
        "block": block, "size": args.size, "dates": args.dates, "tile_plan": focal[-1]["tile_plan"],
        "load_average_1_5_15": [round(x, 2) for x in __import__("os").getloadavg()],
        "ratio_focal_to_plain": round(statistics.median(r["job_s"] for r in focal)
                                      / statistics.median(r["job_s"] for r in plain), 3),
        "bytes_read_plain": plain[-1]["bytes_read"], "bytes_read_focal": focal[-1]["bytes_read"],
        "extra_bytes_read": extra, "halo_area_bytes": halo_bytes, "extra_within_halo_area": extra <= halo_bytes,
        "plan_input_bytes_plain": plain_estimate, "plan_input_bytes_focal": focal_estimate,
        "blocks_read_plain": plain[-1]["blocks_read"], "blocks_read_focal": focal[-1]["blocks_read"],
        "max_abs_diff_rows": max(diffs), "equal_to_reference": max(diffs) <= 1e-5,
    }
    print(json.dumps(summary), flush=True)
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--dates", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--block", default="1024", help="source layouts, comma-separated (see composite.py)")
    ap.add_argument("--data", default=str(ROOT / "build" / "bench"))
    args = ap.parse_args()
    summaries = [bench_layout(args, b.strip()) for b in args.block.split(",") if b.strip()]
    if not all(s["equal_to_reference"] for s in summaries):
        raise SystemExit("the focal composite differs from the numpy reference")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: sparkeo's reducers on one tile stack against numpy's nan-functions.

A (dates, 512, 512) float32 stack with ~30% NaN (no-data), as a reducer callback over ``t`` sees it.
For each reducer: sparkeo's time, numpy's time (best of --repeat runs) and whether the results are
identical (NaN positions included) or the max abs difference. Prints one JSON line per reducer.
Usage: python bench/reducers.py [--dates 12] [--size 512] [--repeat 5]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jobs.processes import reducers  # noqa: E402
from jobs.processes.labeled import LabeledArray  # noqa: E402

PROBS = [0.1, 0.5, 0.9]
CASES = {
    "median": (lambda d: reducers.median(d), lambda v: np.nanmedian(v, axis=0)),
    "quantiles(0.1,0.5,0.9)": (lambda d: reducers.quantiles(d, probabilities=PROBS),
                               lambda v: np.nanquantile(v, PROBS, axis=0)),
    "mean": (lambda d: reducers.mean(d), lambda v: np.nanmean(v, axis=0)),
    "max": (lambda d: reducers.max_(d), lambda v: np.nanmax(v, axis=0)),
    "sd": (lambda d: reducers.sd(d), lambda v: np.nanstd(v, axis=0, ddof=1)),
    "first": (lambda d: reducers.first(d), None),
    "count": (lambda d: reducers.count(d), lambda v: (~np.isnan(v)).sum(axis=0)),
}


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    values = rng.random((args.dates, args.size, args.size), dtype=np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    data = LabeledArray(values)
    warnings.simplefilter("ignore", RuntimeWarning)          # numpy's all-NaN slice warnings
    for name, (ours, theirs) in CASES.items():
        t_ours, got = best_time(lambda: ours(data), args.repeat)
        line = {"reducer": name, "shape": list(values.shape), "sparkeo_s": round(t_ours, 4)}
        if theirs is not None:
            t_np, want = best_time(lambda: theirs(values), args.repeat)
            want = np.asarray(want, dtype=got.dtype)
            line["numpy_s"] = round(t_np, 4)
            line["speedup"] = round(t_np / t_ours, 2)
            line["identical"] = bool(np.array_equal(got, want, equal_nan=True))
            if not line["identical"]:
                line["max_abs_diff"] = float(np.nanmax(np.abs(got.astype(np.float64) - want)))
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()

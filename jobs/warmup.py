"""Warming a long-running driver before its first job: what ``sparkeo serve`` does when it starts.

A driver's first job pays costs its later jobs do not, even with the SparkSession up and the Python
workers forked: the driver imports what ``run_job`` imports on first use and sets up GDAL's and
PROJ's per-process state, the workers open their first datasets and the JVM runs its job path for
the first time. Measured with bench/composite.py's series (2048 px x 12 dates, ``local[2]``, 4
processes): the first job after a bare warm-up took 0.13-0.19 s longer than the next ones, the
driver ~0.05 s of it. On ``sparkeo serve`` that lands on the first synchronous request, which a user
waits for.

``warm_up`` runs one tiny real job, start to end: a generated two-date 512 px sample (the demo's
bands), its masked NDVI median, written to a temporary folder and removed. Doing the work, rather
than importing a list of modules, keeps the warm-up complete as the code changes. Nothing of it
stays: no results, no catalog, no job record (it does not go through the job registry).
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

SAMPLE_SIZE = 512           # px: a tile per core at the default 256 px tiles on 2-4 cores
SAMPLE_DATES = 2
SAMPLE_BANDS = ("B04", "B08", "SCL")    # the bands the graph below loads

SCL_MASKED = (0, 3, 8, 9, 10)     # Sen2Cor no-data, cloud shadow, medium/high cloud, cirrus


def masked_ndvi_median(mask_classes=SCL_MASKED, collection: str = "sample-s2") -> dict:
    """The demo's graph (examples/ndvi_median.json) on the whole collection: the SCL classes
    ``mask_classes`` masked (an or-chain of ``eq``), NDVI, median over time, a GeoTIFF. The
    benchmarks run it too (bench/composite.py)."""
    chain = {f"is{c}": {"process_id": "eq", "arguments": {"x": {"from_node": "scl"}, "y": c}} for c in mask_classes}
    last = f"is{mask_classes[0]}"
    for i, c in enumerate(mask_classes[1:], 1):
        chain[f"o{i}"] = {"process_id": "or", "arguments": {"x": {"from_node": last}, "y": {"from_node": f"is{c}"}}}
        last = f"o{i}"
    chain[last]["result"] = True
    return {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": collection, "spatial_extent": None, "temporal_extent": None, "bands": list(SAMPLE_BANDS)}},
        "cloud": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "bands", "reducer": {"process_graph": {
                "scl": {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"},
                                                                     "label": "SCL"}},
                **chain}}}},
        "ndvi": {"process_id": "ndvi", "arguments": {"data": {"from_node": "load"}, "nir": "B08", "red": "B04"}},
        "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "ndvi"}, "mask": {"from_node": "cloud"}}},
        "median": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "masked"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "median"}, "format": "GTiff"},
                 "result": True},
    }}


@dataclass(frozen=True)
class WarmUp:
    """What a warm-up did: its seconds (sample written, job run) and the job's tiles and files."""

    sample_seconds: float
    job_seconds: float
    tiles: int
    files: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return self.sample_seconds + self.job_seconds


def warm_up(spark, settings) -> WarmUp:
    """Run the warm-up job on ``spark`` with ``settings`` (the driver's); raises what ``run_job``
    raises. The sample and the results live in a temporary folder, removed on the way out."""
    from jobs.run import run_job
    from layercatalog.sample import write_sample
    from sparkeo.identity import Caller

    with tempfile.TemporaryDirectory(prefix="sparkeo-warm-up-") as folder:
        t0 = time.perf_counter()
        catalog = write_sample(os.path.join(folder, "sample"), size=SAMPLE_SIZE, dates=SAMPLE_DATES,
                               bands=SAMPLE_BANDS)
        t1 = time.perf_counter()
        ran = run_job(json.dumps(masked_ndvi_median()), os.path.join(folder, "results"), "warm-up", catalog, {},
                      settings, Caller(), spark=spark, source_name="warm-up")
        t2 = time.perf_counter()
    done = WarmUp(t1 - t0, t2 - t1, len(ran.plan.tasks), tuple(os.path.basename(f) for f in ran.files))
    log.info("warm-up job: %d tiles in %.2f s (sample written in %.2f s)", done.tiles, done.job_seconds,
             done.sample_seconds)
    return done

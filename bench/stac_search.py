#!/usr/bin/env python3
"""Benchmark: search + plan through a real STAC API (PostgreSQL + pgstac + stac-fastapi-pgstac) for
10,000 and 50,000 matching items, with the driver's peak RSS.

Starts the API (``sparkeo.testing.stacapi``), loads N Sentinel-2-like items (``catalog_search.item_doc``,
all over one 1-degree tile, 4 hours apart) per size into a collection of their own with pypgstac, then
measures in a fresh Python process (the driver's view; the loading process's memory does not count):
  search        ``LayerCatalog.search``: POST /search pages (500 items), compact records, ItemRecords
  plan          ``jobs.run.prepare`` of a median composite over the same items (search again + grid,
                tile plan, budgets; asset files do not exist, so block layouts fall back to plain tiles)
  rss           the process's peak RSS after each phase, and its RSS before the first search
Prints one JSON line per figure.   Usage: python bench/stac_search.py [--items 10000,50000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

UTC = dt.timezone.utc
BBOX = (5.2, 50.2, 5.8, 50.8)


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def items(collection_id: str, n: int):
    """n items of one tile, 4 hours apart (every one intersects BBOX)."""
    from catalog_search import item_doc

    start = dt.datetime(2020, 1, 1, 10, 30, tzinfo=UTC)
    for k in range(n):
        when = start + dt.timedelta(hours=4 * k)
        doc = item_doc(f"S2A_{collection_id}_{k:06d}", when, 5, 50)
        doc["collection"], doc["links"] = collection_id, []
        for asset in doc["assets"].values():
            asset["href"] = f"/nonexistent/{doc['id']}/{asset['href'][2:]}"
        yield doc


def collection(collection_id: str) -> dict:
    return {"type": "Collection", "stac_version": "1.1.0", "id": collection_id, "description": "bench",
            "license": "CC0-1.0", "links": [],
            "extent": {"spatial": {"bbox": [[5, 50, 6, 51]]}, "temporal": {"interval": [[None, None]]}}}


def layer_entry(collection_id: str, url: str) -> dict:
    return {"id": collection_id, "title": "bench",
            "extent": {"spatial": {"bbox": [[5, 50, 6, 51]]}, "temporal": {"interval": [[None, None]]}},
            "summaries": {"eo:bands": [{"name": b} for b in ("B02", "B03", "B04", "B08", "SCL")]},
            "_sparkeo": {"data_source": {"type": "stac", "url": url}}}


def graph(collection_id: str) -> dict:
    return {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": collection_id, "bands": ["B04", "B08"],
            "spatial_extent": dict(zip(("west", "south", "east", "north"), BBOX))}},
        "median": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "median", "arguments": {"data": {"from_parameter": "data"}}, "result": True}}}}},
        "save": {"process_id": "save_result", "arguments": {"data": {"from_node": "median"}, "format": "GTiff"},
                 "result": True}}}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(layercatalog: str, collection_id: str, n: int) -> None:
    """The driver's side, in its own process: search, then plan, with peak RSS after each."""
    from jobs.run import prepare
    from layercatalog.catalog import LayerCatalog
    from layercatalog.query import make_query
    from sparkeo.identity import Caller
    from sparkeo.settings import Settings

    settings = Settings(cache_dir=tempfile.mkdtemp(prefix="sparkeo-bench-stacapi-cache-"))
    baseline = peak_rss_mib()
    cat = LayerCatalog.load(layercatalog, settings)
    t0 = time.perf_counter()
    found = cat.search(make_query(collection_id, bbox=BBOX, bands=["B04", "B08"]), Caller())
    seconds = time.perf_counter() - t0
    emit(figure="search", items=len(found), expected=n, seconds=round(seconds, 2),
         items_per_s=round(len(found) / seconds), peak_rss_mib=round(peak_rss_mib(), 1),
         rss_before_mib=round(baseline, 1), load_average=os.getloadavg()[0])
    del found
    cat = LayerCatalog.load(layercatalog, settings)
    t0 = time.perf_counter()
    prepared = prepare(graph(collection_id), cat, Caller(), settings)
    seconds = time.perf_counter() - t0
    labels = sum(len(leaf.items) for leaf in prepared.leaves)     # same-day items mosaicked: one per day
    emit(figure="search+plan", items=n, time_labels=labels, seconds=round(seconds, 2),
         items_per_s=round(n / seconds), peak_rss_mib=round(peak_rss_mib(), 1), load_average=os.getloadavg()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", default="10000,50000", help="comma-separated sizes")
    ap.add_argument("--measure", nargs=3, metavar=("LAYERCATALOG", "COLLECTION", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure(args.measure[0], args.measure[1], int(args.measure[2]))
        return
    from sparkeo.testing.stacapi import StacApiServer

    server = StacApiServer().start()
    work = Path(tempfile.mkdtemp(prefix="sparkeo-bench-stacapi-"))
    try:
        for n in (int(v) for v in args.items.split(",")):
            cid = f"bench-{n}"
            t0 = time.perf_counter()
            server.load([collection(cid)], items(cid, n))
            emit(figure="load", items=n, seconds=round(time.perf_counter() - t0, 1), note="pypgstac load (setup)")
            lc = work / f"{cid}.json"
            lc.write_text(json.dumps([layer_entry(cid, server.collection_url(cid))]))
            subprocess.run([sys.executable, __file__, "--measure", str(lc), cid, str(n)], check=True)
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()

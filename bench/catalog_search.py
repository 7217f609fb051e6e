#!/usr/bin/env python3
"""Benchmark: index build, reopen and search over a large static STAC catalog (default 100,000 items).

Writes a plain-JSON static catalog (catalog.json -> collection.json -> items; Sentinel-2-like items on
a grid of 1-degree tiles, one per tile per 5 days, 5 band assets each), then times:
  generate      writing the catalog (not sparkeo's work, for scale)
  build         first LayerCatalog search: walk + index build (one walk over every item document)
  reopen        opening the index again in a new LayerCatalog (stats only the container documents)
  search        a 1x1 degree, 30-day search returning ItemRecords (median of repeated queries)
Prints one JSON line per figure.   Usage: python bench/catalog_search.py [--items N] [--dir DIR]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from layercatalog.catalog import LayerCatalog  # noqa: E402
from layercatalog.query import make_query  # noqa: E402
from sparkeo.identity import Caller  # noqa: E402
from sparkeo.settings import Settings  # noqa: E402

UTC = dt.timezone.utc
BANDS = ("B02", "B03", "B04", "B08", "SCL")


def item_doc(item_id: str, when: dt.datetime, lon: int, lat: int) -> dict:
    bbox = [lon, lat, lon + 1, lat + 1]
    raster = {"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": 0}
    return {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id, "collection": "bench-s2",
        "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 1, lat], [lon + 1, lat + 1],
                                                         [lon, lat + 1], [lon, lat]]]},
        "bbox": bbox,
        "properties": {"datetime": when.isoformat().replace("+00:00", "Z"), "eo:cloud_cover": (lon * 37 + lat * 11 + when.day * 7) % 100,
                       "proj:code": "EPSG:4326", "proj:shape": [10980, 10980],
                       "proj:transform": [1 / 10980, 0, lon, 0, -1 / 10980, lat + 1], "platform": "sentinel-2a"},
        "links": [{"rel": "collection", "href": "../collection.json"}],
        "assets": {b: {"href": f"./{b}.tif", "type": "image/tiff; application=geotiff", "roles": ["data"],
                       "eo:bands": [{"name": b}], "raster:bands": [raster]} for b in BANDS},
    }


def generate(root: Path, n: int) -> tuple[int, int]:
    """Write n items over a 20 x 25 grid of 1-degree tiles, 5 days apart per tile."""
    tiles = [(lon, lat) for lon in range(0, 20) for lat in range(40, 65)]
    coll_dir = root / "bench-s2"
    coll_dir.mkdir(parents=True)
    links = [{"rel": "root", "href": "../catalog.json"}]
    start = dt.datetime(2020, 1, 1, 10, 30, tzinfo=UTC)
    for k in range(n):
        lon, lat = tiles[k % len(tiles)]
        when = start + dt.timedelta(days=5 * (k // len(tiles)), seconds=k % len(tiles))
        item_id = f"S2A_{lon:02d}_{lat:02d}_{when:%Y%m%d}"
        folder = coll_dir / item_id
        folder.mkdir()
        with open(folder / f"{item_id}.json", "w") as fh:
            json.dump(item_doc(item_id, when, lon, lat), fh)
        links.append({"rel": "item", "href": f"./{item_id}/{item_id}.json"})
    collection = {"type": "Collection", "stac_version": "1.1.0", "id": "bench-s2", "description": "bench",
                  "license": "CC0-1.0", "links": links,
                  "extent": {"spatial": {"bbox": [[0, 40, 20, 65]]}, "temporal": {"interval": [[None, None]]}}}
    (coll_dir / "collection.json").write_text(json.dumps(collection))
    (root / "catalog.json").write_text(json.dumps({"type": "Catalog", "stac_version": "1.1.0", "id": "bench",
                                                   "description": "bench",
                                                   "links": [{"rel": "child", "href": "./bench-s2/collection.json"}]}))
    layer = [{"id": "bench-s2", "title": "bench",
              "extent": {"spatial": {"bbox": [[0, 40, 20, 65]]}, "temporal": {"interval": [[None, None]]}},
              "summaries": {"eo:bands": [{"name": b} for b in BANDS]},
              "_sparkeo": {"data_source": {"type": "stac", "url": "catalog.json"}}}]
    (root / "layercatalog.json").write_text(json.dumps(layer))
    return len(tiles), n


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--dir", default=None, help="work folder (default: a temporary one, removed afterwards)")
    ap.add_argument("--queries", type=int, default=50)
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="sparkeo-bench-catalog-"))
    try:
        root, cache = work / "stac", work / "cache"
        shutil.rmtree(cache, ignore_errors=True)     # always time a fresh index build
        if (root / "layercatalog.json").exists():     # --dir of an earlier run: reuse its catalog
            n = sum(1 for _ in (root / "bench-s2").iterdir()) - 1
            emit(figure="generate", items=n, seconds=None, note="reused")
        else:
            t0 = time.perf_counter()
            tiles, n = generate(root, args.items)
            emit(figure="generate", items=n, seconds=round(time.perf_counter() - t0, 3))

        settings = Settings(cache_dir=str(cache))
        caller = Caller()
        query = make_query("bench-s2", bbox=(5.2, 50.2, 5.8, 50.8),
                           interval=(dt.datetime(2021, 3, 1, tzinfo=UTC), dt.datetime(2021, 3, 31, tzinfo=UTC)),
                           bands=["B04", "B08"])
        t0, cpu0 = time.perf_counter(), time.process_time()
        cat = LayerCatalog.load(str(root / "layercatalog.json"), settings)
        found = cat.search(query, caller, allow_empty=True)
        build, build_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        index = cat.index_of(cat.get("bench-s2", caller))
        size = index.path.stat().st_size
        emit(figure="build", items=index.count(), seconds=round(build, 3), cpu_seconds=round(build_cpu, 3),
             ms_per_item=round(1000 * build / n, 4), index_bytes=size, built=index.built,
             load_average=os.getloadavg()[0])
        cat.close()

        t0 = time.perf_counter()
        cat = LayerCatalog.load(str(root / "layercatalog.json"), settings)
        index = cat.index_of(cat.get("bench-s2", caller))
        emit(figure="reopen", seconds=round(time.perf_counter() - t0, 4), built=index.built)

        times = []
        for _ in range(args.queries):
            t0 = time.perf_counter()
            found = cat.search(query, caller, allow_empty=True)
            times.append(time.perf_counter() - t0)
        emit(figure="search", items_found=len(found), median_ms=round(1000 * statistics.median(times), 3),
             max_ms=round(1000 * max(times), 3), queries=args.queries, bbox=list(query.bbox), interval="2021-03-01/2021-03-31")

        wide = make_query("bench-s2", bbox=(0, 40, 20, 65),
                          interval=(dt.datetime(2021, 1, 1, tzinfo=UTC), dt.datetime(2021, 2, 1, tzinfo=UTC)))
        t0 = time.perf_counter()
        found = cat.search(wide, caller, allow_empty=True)
        emit(figure="search_wide", items_found=len(found), ms=round(1000 * (time.perf_counter() - t0), 2),
             note="whole grid, one month: decoding dominates")
        cat.close()
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Read throughput of one composite via local disk, an s3fs FUSE mount and GDAL's /vsis3/.

Starts a moto S3 server (its own process) and an s3fs mount of its bucket, writes the sample series
(``layercatalog.sample``), uploads a fresh copy per measurement (GDAL caches per /vsis3/ path, so no
run is served from an earlier one's cache) and measures, per read path:

- ``raw``: every input asset read whole with rasterio, one after the other, in this process;
- ``job``: the median composite (``sparkeo run``'s code path, local[2] Spark) end to end.

Throughput is MB/s of *compressed input* (the sum of the COGs' file sizes) over wall seconds.
The S3 server is moto (Python) on loopback, so the S3 figures are a floor, not a real S3's speed;
local disk reads come from the page cache after the first repeat.

    .venv/bin/python bench/read_paths.py [--size 1024] [--dates 6] [--repeat 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BANDS = ("B04", "B08")
# per-band median over time of B04 and B08, as the S3 tests run it
MEDIAN_GRAPH = Path(__file__).resolve().parent.parent / "examples" / "band_median.json"


def layer_catalog(sample: Path, bucket, prefix: str, rewrite_to: str | None) -> str:
    """A local layer catalog reading the copy under ``prefix``, hrefs rewritten to ``rewrite_to``."""
    entries = json.loads((sample / "layercatalog.json").read_text())
    entries[0]["_sparkeo"]["data_source"]["url"] = bucket.uri(f"{prefix}/catalog.json")
    if rewrite_to is not None:
        entries[0]["_sparkeo"]["href_rewrites"] = {f"s3://{bucket.name}/": rewrite_to}
    path = sample.parent / f"layercatalog-{prefix}.json"
    path.write_text(json.dumps(entries))
    return str(path)


def asset_paths(sample: Path) -> list[Path]:
    return sorted(p for band in BANDS for p in sample.glob(f"sample-s2/*/{band}.tif"))


def raw_read(hrefs: list[str], settings) -> float:
    """Seconds to read every href whole, sequentially."""
    import rasterio

    from sparkeo.rasterenv import rasterio_env

    started = time.perf_counter()
    with rasterio_env(settings):
        for href in hrefs:
            with rasterio.open(href) as src:
                src.read(1)
    return time.perf_counter() - started


def job_run(spark, catalog: str, settings, job_id: str, out: Path) -> float:
    """Seconds for the median composite end to end."""
    from jobs.run import run_job
    from sparkeo.identity import Caller

    started = time.perf_counter()
    run_job(MEDIAN_GRAPH.read_text(), str(out / job_id), job_id, catalog, {"tile_size": 512}, settings,
            Caller.from_values("bench", ""), spark=spark)
    return time.perf_counter() - started


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=1024, help="sample raster size (px)")
    p.add_argument("--dates", type=int, default=6)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)

    from jobs.spark.session import spark_session
    from layercatalog.sample import write_sample
    from sparkeo.settings import Settings
    from sparkeo.testing.fuse import mount_bucket, unmount_bucket
    from sparkeo.testing.s3 import running_moto

    work = Path(tempfile.mkdtemp(prefix="sparkeo-bench-read-"))
    sample = work / "sample"
    write_sample(str(sample), size=args.size, dates=args.dates, bands=(*BANDS, "SCL"), seed=1)
    assets = asset_paths(sample)
    compressed = sum(a.stat().st_size for a in assets)
    relative = [a.relative_to(sample).as_posix() for a in assets]
    services = ExitStack()  # moto stops when the bench ends, however it ends
    server = services.enter_context(running_moto(work / "moto.log"))
    fuse_proc = None
    try:
        for key, value in server.env().items():
            os.environ[key] = value
        bucket = server.create_bucket("eodata")
        mount = work / "mnt"
        fuse_proc = mount_bucket(bucket, mount, work)
        settings = Settings.from_env(cache_dir=str(work / "cache"))
        spark = spark_session(master="local[2]", app_name="bench-read-paths", executor_env=settings.to_env(),
                              settings=settings)
        out = work / "out"
        paths = {
            "local": lambda prefix: (str(sample / "layercatalog.json"), [str(sample / r) for r in relative]),
            "fuse": lambda prefix: (layer_catalog(sample, bucket, prefix, f"{mount}/"),
                                    [f"{mount}/{prefix}/{r}" for r in relative]),
            "vsis3": lambda prefix: (layer_catalog(sample, bucket, prefix, f"/vsis3/{bucket.name}/"),
                                     [f"/vsis3/{bucket.name}/{prefix}/{r}" for r in relative]),
        }
        seconds: dict[str, dict[str, list[float]]] = {name: {"raw": [], "job": []} for name in paths}
        # Warm-up: JVM, Python workers and imports, so the first measured path is not penalised.
        job_run(spark, str(sample / "layercatalog.json"), settings, "warmup", out)
        for rep in range(args.repeat):
            for name, make in paths.items():
                for kind in ("raw", "job"):
                    prefix = f"{name}-{kind}-{rep}"
                    if name != "local":
                        bucket.upload_tree(sample, prefix)
                    catalog, hrefs = make(prefix)
                    if kind == "raw":
                        took = raw_read(hrefs, settings)
                    else:
                        took = job_run(spark, catalog, settings, prefix, out)
                    seconds[name][kind].append(took)
        figures = {
            "compressed_input_bytes": compressed, "assets": len(assets), "size": args.size, "dates": args.dates,
            "repeat": args.repeat,
            "paths": {name: {kind: {"median_s": round(statistics.median(v), 3),
                                    "mb_per_s": round(compressed / 1e6 / statistics.median(v), 1)}
                             for kind, v in kinds.items()} for name, kinds in seconds.items()},
        }
    finally:
        if fuse_proc is not None:
            unmount_bucket(work / "mnt", fuse_proc)
        services.close()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"{len(assets)} assets, {compressed / 1e6:.1f} MB compressed input, "
              f"{args.size}x{args.size} px x {args.dates} dates, median of {args.repeat}")
        print(f"{'path':<6} {'raw read MB/s':>14} {'composite job MB/s':>19} {'job s':>7}")
        for name, kinds in figures["paths"].items():
            print(f"{name:<6} {kinds['raw']['mb_per_s']:>14} {kinds['job']['mb_per_s']:>19} "
                  f"{kinds['job']['median_s']:>7}")
    return figures


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # do not wait on the py4j gateway thread

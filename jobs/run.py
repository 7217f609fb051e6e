"""Running a job: the one orchestration shared by ``sparkeo run``, ``validate`` and the driver.

``prepare`` (driver only, no Spark): parse the graph, build the cube DAG against the catalog,
plan tiles and estimates, check budgets. ``run_job``: prepare, check the results location, execute
the tiles on Spark while writing them, check the ``soft_errors`` budget, publish the results (the
first moment anything at the results location changes).
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping

from jobs.plan.blocks import SourceBlocks, choose_layout
from jobs.cube.lazy import LazyCube, total_halo
from jobs.vector.cube import AggregatedCube
from jobs.plan.planner import Plan, check_budget, int_option, plan_tiles
from jobs.errors import ProcessGraphError, TooManySkippedAssets
from jobs.cube.usage import Usage
from jobs.plan.formats import RASTER_FORMATS
from jobs.results.metadata import job_metadata, time_range
from sparkeo import jsondoc, storage
from sparkeo.errors import ConfigError, RunError, SparkeoError, UserError
from sparkeo.names import check_job_id, new_job_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A parsed, built and planned job: everything decided before Spark starts."""

    graph: Any                    # jobs.graph.parse.ProcessGraph
    built: Any                    # jobs.graph.evaluate.BuiltJob
    plan: Plan
    leaves: tuple                 # LoadedCollection leaves of the DAG
    job_options: Mapping[str, Any]
    graph_sha256: str
    catalog_uri: str = ""         # the layer catalog the inputs came from (provenance)


@dataclass(frozen=True)
class RunSummary:
    """What a finished run produced."""

    job_id: str
    output: str                       # the results location: a folder or an s3:// prefix
    files: tuple[str, ...]            # every published file, the STAC collection last
    plan: Plan                        # the plan the job ran
    usage: Mapping[str, Any]          # the job's usage record, wall time included


def load_catalog(catalog_uri: str | None, settings):
    """The layer catalog named by the caller, ``SPARKEO_CATALOG``, or the generated sample catalog."""
    from layercatalog.catalog import LayerCatalog

    uri = catalog_uri or settings.catalog
    if not uri:
        from layercatalog.sample import ensure_sample_catalog

        uri = ensure_sample_catalog(settings)
    return LayerCatalog.load(str(uri), settings)


def parse_job_options(raw: str | Mapping | None) -> dict:
    """``--job-options`` JSON text (or a mapping) as a dict; bad JSON is a ``ConfigError`` (exit 2)."""
    if raw is None or raw == "":
        return {}
    try:
        if isinstance(raw, Mapping):
            jsondoc.check_depth(raw)
            return dict(raw)
        value = jsondoc.loads(raw)
    except jsondoc.JsonDocumentError as exc:
        raise ConfigError("--job-options", _clip(raw), str(exc)) from None
    if not isinstance(value, dict):
        raise ConfigError("--job-options", _clip(raw), "expected a JSON object")
    return value


def _clip(raw, limit: int = 80):
    """A user's value as messages quote it: a 100,000-character option must not fill the terminal."""
    text = raw if isinstance(raw, str) else repr(raw)
    return text if len(text) <= limit else text[:limit] + "…"


Scanner = Callable[[LazyCube, tuple, Mapping[str, Any]], Any]


def prepare(graph_doc, catalog, caller, settings, job_options: Mapping | None = None,
            source_name: str = "<graph>", scanner: Scanner | None = None) -> Prepared:
    """Parse, build and plan a graph; raises UserError with node/argument on bad input.

    ``scanner(cube, tasks, job_options)`` makes the data passes some processes need while the graph is
    built (trim_cube: ``jobs.spark.scan.scan_validity`` over the input's own tile plan, its budget
    checked first); without one (a dry run) no Spark work happens and those processes plan an upper bound."""
    from jobs.graph.evaluate import build
    from jobs.graph.parse import ProcessGraph
    from jobs.cube.load import CatalogSource
    from jobs.results.vector import vector_result_names
    from jobs.results.writer import output_layout

    graph = ProcessGraph.parse(graph_doc, source_name)
    options = {**dict(graph.job_options), **dict(job_options or {})}
    source = CatalogSource(catalog, caller, settings)

    def scan(cube: LazyCube):
        plan = plan_cube(cube, cube.meta.grid, settings, options)
        check_budget(plan, options)
        return scanner(cube, plan.tasks, options)

    built = build(graph, source, scan if scanner is not None else None)
    output: LazyCube = built.output
    vector = isinstance(output, AggregatedCube)
    if vector:
        grid = output.grid          # the raster the polygons are aggregated on
        vector_result_names(save_format(built))
    else:
        if output.meta.grid is None or "x" not in output.meta.dims:
            raise UserError("the graph's result has no spatial dimensions: nothing to write as GeoTIFF")
        if save_format(built) not in RASTER_FORMATS:
            raise UserError(f"save_result: a raster cube is saved as {' or '.join(RASTER_FORMATS)}, "
                            f"not {save_format(built)} (that is for aggregate_spatial's vector cubes)")
        output_layout(output.meta)       # a cube GeoTIFF cannot hold fails here, before Spark
        grid = output.meta.grid
    leaves = loading_leaves(output)
    check_resampling(options.get("resampling"), [b.name for leaf in leaves for b in leaf.bands])
    soft_error_fraction(options)     # a bad soft_errors value is the user's, whatever the data
    plan = plan_cube(output, grid, settings, options)
    if vector:          # only the tiles under a polygon are read
        plan = replace(plan, tasks=tuple(task for task, _ in output.tile_work(plan.tasks)))
    check_budget(plan, options)
    return Prepared(graph, built, plan, leaves, options, graph.sha256(), str(getattr(catalog, "uri", "")))


def loading_leaves(cube: LazyCube) -> tuple:
    """The ``LoadedCollection`` leaves of ``cube``'s DAG."""
    from jobs.cube.load import LoadedCollection

    return tuple(n for n in walk(cube) if isinstance(n, LoadedCollection))


def plan_cube(cube: LazyCube, grid, settings, options: Mapping[str, Any]) -> Plan:
    """The tile plan of ``cube`` on ``grid``: layout from the leaves' source blocks (or the
    ``tile_size`` option), tiles under the leaves' items, the DAG's halo."""
    leaves = loading_leaves(cube)
    footprints = [fp for leaf in leaves for fp in footprints_in(leaf, grid)]
    tile_size = int_option(options, "tile_size", settings.tile_size)
    halo = total_halo(cube)
    layout = choose_layout(grid, source_blocks(leaves, settings), tile_size)
    if halo != (0, 0):
        layout = layout.with_halo(halo)
    return plan_tiles(grid, layout, footprints, halo)


def save_format(built) -> str:
    """The format save_result asked for; GTiff for a raster and JSON for a vector cube without one."""
    if built.save is not None:
        return built.save.format
    return "JSON" if isinstance(built.output, AggregatedCube) else "GTiff"


def source_blocks(leaves, settings) -> list[SourceBlocks]:
    """The stored layouts the leaves read: one per band and source grid, with its asset count.

    The block shape is read from the header of the first asset of each band and raster shape
    (one file open each: the assets of a band in one collection are written alike)."""
    import numpy as np

    from jobs.cube.read import block_shape
    from jobs.plan.planner import asset_grid

    counts: dict[tuple, int] = {}
    first: dict[tuple, Any] = {}
    for leaf in leaves:
        for item in leaf.items:
            for band in leaf.bands:
                asset = item.assets.get(band.name)
                if asset is not None:
                    key = (band.name, asset.crs, tuple(asset.transform), tuple(asset.shape), asset.dtype)
                    counts[key] = counts.get(key, 0) + 1
                    first.setdefault(key, asset)
    shapes: dict[tuple, tuple[int, int] | None] = {}
    out = []
    for key, n in counts.items():
        asset = first[key]
        kind = (key[0], key[3])
        if kind not in shapes:
            shapes[kind] = block_shape(asset, settings)
        if shapes[kind] is not None:
            out.append(SourceBlocks(asset_grid(asset), shapes[kind], np.dtype(asset.dtype or "float32").itemsize, n))
    return out


def footprints_in(leaf, grid) -> list:
    """The leaf's item footprints in ``grid``'s CRS: resample_spatial may have reprojected the output."""
    from dataclasses import replace

    from sparkeo.geometry import same_crs, transform_bounds

    if leaf.meta.grid is None or same_crs(leaf.meta.grid.crs, grid.crs):
        return leaf.footprints
    out = []
    for fp in leaf.footprints:
        bounds = transform_bounds(fp.bounds, leaf.meta.grid.crs, grid.crs)
        area = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1])
        native = (fp.bounds[2] - fp.bounds[0]) * (fp.bounds[3] - fp.bounds[1])
        out.append(replace(fp, bounds=bounds, pixel_area=fp.pixel_area * area / native))
    return out


def check_resampling(option, bands) -> None:
    """The ``resampling`` job option (a method, or band -> method) names known methods (ConfigError)."""
    from jobs.cube.read import resampling_override

    if option is None:
        return
    if not isinstance(option, (str, dict)):
        raise ConfigError("job option resampling", option, "expected a method name or an object band -> method")
    for band in (option if isinstance(option, dict) else bands):
        try:
            resampling_override(option, band)
        except ValueError as exc:
            raise ConfigError("job option resampling", option, str(exc)) from None


def walk(cube: LazyCube):
    """Every node of the DAG below ``cube`` (itself included), each once."""
    seen, todo = set(), [cube]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        todo.extend(node.inputs())


def soft_error_fraction(options: Mapping[str, Any]) -> float:
    """Allowed fraction of unreadable assets: 0 (off), ``true`` -> 1.0, or a number in [0, 1]."""
    value = options.get("soft_errors", options.get("soft-errors", False))
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        raise ConfigError("job option soft_errors", value, "expected true/false or a fraction 0..1") from None
    if not 0.0 <= fraction <= 1.0:
        raise ConfigError("job option soft_errors", value, "expected a fraction between 0 and 1")
    return fraction


def run_job(graph_doc, output: str | None, job_id: str | None, catalog_uri: str | None,
            job_options: Mapping | str | None, settings, caller, *, spark=None, source_name: str = "<graph>",
            progress: Callable | None = None) -> RunSummary:
    """Run one job end to end and write its results to ``output`` (default ``./results/<job_id>``)."""
    from jobs.spark.execute import execute
    from jobs.results.location import ResultsLocation
    from jobs.results.vector import VectorResultsWriter, vector_result_names
    from jobs.results.stripwriter import StripResultsWriter, executor_writes
    from jobs.results.writer import ResultsWriter, result_names
    from jobs.spark.remote import remote_checksum, remote_map
    from jobs.spark.transport import LOCAL_MASTER
    from jobs.spark.zonal import execute_zonal

    started_at = dt.datetime.now(dt.timezone.utc)
    t0 = time.monotonic()
    job_id = check_job_id(job_id) if job_id else new_job_id()   # it names the default results folder
    output = output or storage.join("results", job_id)
    options = parse_job_options(job_options)
    catalog = load_catalog(catalog_uri, settings)
    sessions = [spark]
    scanned = Usage()          # the data passes made while building (trim_cube) count in the job's usage

    def session():
        if sessions[0] is None:
            from jobs.spark.session import spark_session

            # Executors get S3 endpoint and GDAL retry settings as environment too (credentials come
            # from Secret refs on a cluster; tasks also carry them inside ``settings``).
            sessions[0] = spark_session(master=settings.spark_master, app_name=f"sparkeo-{job_id}",
                                        executor_env=settings.to_env(), settings=settings)
        return sessions[0]

    def scanner(cube, tasks, scan_options):
        from jobs.spark.scan import scan_validity

        soft = soft_error_fraction(scan_options) > 0
        validity, used = scan_validity(session(), cube, tasks, settings, {**scan_options, "soft_errors": soft})
        used.tiles = 0             # the usage's tiles are the output's; bytes and pixels read count
        scanned.add(used)
        return validity

    prep = prepare(graph_doc, catalog, caller, settings, options, source_name, scanner)
    fmt = save_format(prep.built)
    vector = isinstance(prep.built.output, AggregatedCube)
    # The last check, before Spark: a location holding files sparkeo did not write is refused.
    ResultsLocation.inspect(output).check_writable(
        vector_result_names(fmt) if vector else result_names(prep.built.output.meta, fmt))
    allowed = soft_error_fraction(prep.job_options)
    task_options = {**prep.job_options, "soft_errors": allowed > 0}
    log.info("job %s: grid %r, %d tiles, %d items", job_id, prep.plan.grid, len(prep.plan.tasks),
             len(prep.plan.item_ids), extra={"job_id": job_id})
    if hasattr(progress, "start"):   # jobs.progress.JobProgress: tiles total known before the first tile
        progress.start(len(prep.plan.tasks))
    spark = session()
    strips = None
    tasks = prep.plan.tasks
    tile_grid = (prep.built.save.options.get("tile_grid") if prep.built.save is not None else None)
    if vector:
        writer = VectorResultsWriter(output, prep.built.output, fmt)
    elif tile_grid is not None:
        writer = strips = tiled_writer(output, prep, tile_grid, fmt, spark)
        tasks = writer.cells
    elif executor_writes(output, fmt, LOCAL_MASTER.fullmatch(spark.sparkContext.master) is not None,
                         settings.executor_writes, settings.task_max_pixels):
        writer = strips = StripResultsWriter(output, prep.built.output.meta, prep.plan.grid, prep.plan.tasks,
                                             spark.sparkContext.defaultParallelism, settings.cog_encode_threads,
                                             remote_checksum(spark, settings), remote_map(spark, settings))
    else:
        writer = ResultsWriter(output, prep.built.output.meta, prep.plan.grid, fmt, settings.cog_encode_threads)
    try:
        if vector:
            ran = execute_zonal(spark, prep.built.output, prep.plan.tasks, settings, task_options,
                                writer.receive, progress)
        else:
            ran = execute(spark, prep.built.output, tasks, settings, task_options,
                          writer.write_tile, progress, strips)
        ran.usage.add(scanned)
        skipped = sorted(set(ran.usage.skipped_assets))
        total_assets = len({a.href for leaf in prep.leaves for item in leaf.items for a in item.assets.values()
                            if a is not None})
        if skipped and len(skipped) / max(total_assets, 1) > allowed:
            raise TooManySkippedAssets(skipped, total_assets, allowed)
        wall = time.monotonic() - t0
        converted = writer.convert()        # while Spark's attempt count comes in (ran.task_attempts)
        metadata = job_metadata(job_id, prep, started_at, ran.usage, ran.task_attempts, wall, skipped, versions(),
                                getattr(ran, "received_bytes", 0))
        files = writer.publish(converted, metadata, time_range(prep))
    except SparkeoError:
        writer.abort()
        raise
    except Exception as exc:   # anything unexpected after planning is a failed run, not a crash
        writer.abort()
        raise RunError(f"job {job_id} failed: {str(exc) or repr(exc)}") from exc
    return RunSummary(job_id, output, tuple(files), prep.plan, metadata["usage"])


def tiled_writer(output: str, prep: Prepared, tile_grid, fmt: str, spark):
    """The writer of a tiled output (``save_result`` option ``tile_grid``): one COG per cell, written by
    the executors; GeoTIFF only, and a local folder only on a ``local`` master (one file system)."""
    from jobs.plan.cells import CellGrid
    from jobs.results.tiledwriter import TiledResultsWriter
    from jobs.spark.execute import tile_groups
    from jobs.spark.transport import LOCAL_MASTER

    node = prep.built.save.node_id
    if fmt != "GTiff":
        raise ProcessGraphError(node, "options.tile_grid", f"tiled output is written as GTiff, not {fmt}")
    sc = spark.sparkContext
    if not storage.is_s3(output) and not LOCAL_MASTER.fullmatch(sc.master):
        raise ProcessGraphError(node, "options.tile_grid",
                                "executors on other machines cannot write a local folder: give an s3:// output")
    cells = CellGrid.parse(tile_grid, node).tasks(prep.plan.grid, prep.plan.tasks, node)
    groups = tile_groups(cells, sc.defaultParallelism, max((c.window.height * c.window.width for c in cells),
                                                           default=1))
    return TiledResultsWriter(output, prep.built.output.meta, prep.plan.grid, cells, groups)


def versions() -> dict[str, str]:
    """The versions of sparkeo and of the libraries that decide its numbers."""
    import numpy
    import rasterio

    import sparkeo

    out = {"sparkeo": sparkeo.__version__, "gdal": rasterio.__gdal_version__,
           "rasterio": rasterio.__version__, "numpy": numpy.__version__}
    try:
        import pyspark

        out["pyspark"] = pyspark.__version__
    except ImportError:  # the planner runs without pyspark (validate)
        pass
    return out

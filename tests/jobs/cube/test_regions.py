"""Reading by read regions (jobs.cube.regions through jobs.cube.read): on sample series written in every
source layout, each compressed block is decoded once per job, and the results do not depend on the
layout, the tile size or whether regions are used."""
from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from jobs.spark.execute import run_tile, tile_groups
from jobs.cube.read import keep_open
from jobs.run import load_catalog, prepare, run_job
from jobs.spark.transport import TileTransport
from jobs.cube.usage import Usage
from layercatalog.sample import write_sample
from sparkeo.identity import Caller
from sparkeo.settings import Settings
from tests.shared_location import CHECKOUT

SIZE = 512
LAYOUTS = ("256", "512", "1024", "strip")


DEMO = CHECKOUT / "examples" / "ndvi_median.json"


def composite(spatial_extent=None, resample=None) -> dict:
    """The demo's masked NDVI median over the whole series (or ``spatial_extent``), optionally
    resampled on load (``resample_spatial`` arguments)."""
    graph = json.loads(DEMO.read_text())
    nodes = graph["process_graph"]
    nodes["load"]["arguments"].update(spatial_extent=spatial_extent, temporal_extent=None)
    if resample:
        nodes["rs"] = {"process_id": "resample_spatial", "arguments": {"data": {"from_node": "load"}, **resample}}
        for node in ("cloudmask", "ndvi"):
            nodes[node]["arguments"]["data"] = {"from_node": "rs"}
    return graph


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> dict[str, str]:
    """The same 3-date series in every layout: layout -> layercatalog.json."""
    root = tmp_path_factory.mktemp("layouts")
    return {b: write_sample(str(root / b), size=SIZE, dates=3, bands=("B04", "B08", "SCL"), seed=3, block=b)
            for b in LAYOUTS}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(cache_dir=str(tmp_path_factory.mktemp("cache")), read_retry_delay=0.0)


def assets(catalog: str) -> list[Path]:
    return sorted(Path(catalog).parent.glob("sample-s2/*/*.tif"))


def blocks_under(catalog: str, bounds=None) -> int:
    """Distinct full-resolution blocks of every asset under ``bounds`` (all of them by default),
    counted from the files with rasterio."""
    total = 0
    for path in assets(catalog):
        with rasterio.open(path) as ds:
            bh, bw = ds.block_shapes[0]
            win = ds.window(*bounds).round_offsets().round_lengths() if bounds else None
            r0, c0 = (int(win.row_off), int(win.col_off)) if win else (0, 0)
            r1, c1 = (r0 + int(win.height), c0 + int(win.width)) if win else (ds.height, ds.width)
            total += ((r1 - 1) // bh - r0 // bh + 1) * ((c1 - 1) // bw - c0 // bw + 1)
    return total


def compute(catalog, settings, graph, options=None, regions=True, parallelism=2):
    """Every planned tile through ``run_tile``, in the groups Spark would get, each group inside
    ``keep_open`` as a task (keeping decoded blocks when its tiles read halos, as ``jobs.spark.execute``
    does); returns (plan, output array, summed usage)."""
    prep = prepare(json.dumps(graph), load_catalog(catalog, settings), Caller(), settings, options or {})
    plan = prep.plan
    meta = prep.built.output.meta
    tasks = plan.tasks if regions else tuple(dataclasses.replace(t, region=None) for t in plan.tasks)
    out = np.full(meta.shape_for(plan.grid), np.nan, dtype=np.float32)
    usage = Usage()
    for group in tile_groups(tasks, parallelism, max(t.window.height * t.window.width for t in tasks)):
        with keep_open(settings, halo=any(t.halo != (0, 0) for t in group)):
            for task in group:
                result = run_tile(prep.built.output, task, settings, {"soft_errors": False},
                                  TileTransport(compress=False))
                assert result.error is None, result.error
                out[(..., *task.window.slices)] = result.array().reshape(meta.shape_for(task.grid))
                usage.add(result.usage)
    return plan, out, usage


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_block_is_decoded_once_per_job(series, settings, layout):
    # one core: at 512 px the grid is a single 512 or 1024 px region, which two cores would share
    plan, _, usage = compute(series[layout], settings, composite(), parallelism=1)
    assert usage.blocks_read == blocks_under(series[layout])
    assert plan.layout.blocks_per_tile * len(plan.tasks) == pytest.approx(usage.blocks_read, abs=0.01)
    if len({t.region for t in plan.tasks}) >= 2:         # enough regions: each core owns whole ones
        assert compute(series[layout], settings, composite(), parallelism=2)[2].blocks_read == usage.blocks_read


def test_without_read_regions_large_blocks_are_decoded_per_tile(series, settings):
    _, _, usage = compute(series["1024"], settings, composite(), regions=False, parallelism=1)
    assert usage.blocks_read == 4 * blocks_under(series["1024"])      # four 256 px tiles per block


def test_a_bbox_that_cuts_blocks_still_decodes_each_block_once(series, settings):
    x0, y0 = 500000.0, 5100000.0
    bounds = (x0 + 700.0, y0 - 4730.0, x0 + 4370.0, y0 - 1030.0)      # cuts 256 px blocks and strips
    extent = dict(zip(("west", "south", "east", "north"), bounds), crs=32633)
    for layout in ("256", "strip"):
        plan, _, usage = compute(series[layout], settings, composite(extent), parallelism=1)
        assert plan.grid.shape == (370, 367)
        assert usage.blocks_read == blocks_under(series[layout], bounds)


def test_results_are_identical_across_layouts_tile_sizes_and_regions(series, settings):
    _, reference, _ = compute(series["256"], settings, composite(), {"tile_size": 512})
    assert np.isfinite(reference).mean() > 0.5
    for layout in LAYOUTS:
        for options in ({}, {"tile_size": 96}):
            _, got, _ = compute(series[layout], settings, composite(), options)
            np.testing.assert_array_equal(got, reference, err_msg=f"{layout} {options}")


@pytest.mark.parametrize("resample", [{"resolution": 30, "method": "bilinear"},
                                      {"projection": 32634, "resolution": 10, "method": "near"}],
                         ids=["30m", "utm34"])
def test_warped_reads_give_the_same_values_through_regions_and_read_less(series, settings, resample):
    graph = composite(resample=resample)
    _, direct, plain = compute(series["1024"], settings, graph, {"tile_size": 64}, regions=False)
    _, got, usage = compute(series["1024"], settings, graph, {"tile_size": 64})
    np.testing.assert_array_equal(got, direct)
    assert usage.blocks_read < plain.blocks_read


def test_validate_shows_the_tile_plan_and_why(series, tmp_path):
    from sparkeo.cli.main import cli

    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(composite()))
    env = {"SPARKEO_CACHE": str(tmp_path / "cache")}
    out = CliRunner().invoke(cli, ["validate", str(graph), "--catalog", series["1024"]], env=env)
    assert out.exit_code == 0, out.output
    assert "tiles: 4 to compute of 4 (256x256 px)" in out.output
    assert "source blocks seen: 1024x1024 blocks" in out.output
    assert "read regions of 1024x512 px" in out.output     # one block column: whole rows
    assert "source blocks decoded per tile, all assets: 2.25 (reading each tile's own windows: 9)" in out.output
    doc = json.loads(CliRunner().invoke(cli, ["validate", str(graph), "--catalog", series["strip"], "--json"],
                                        env=env).output)
    assert doc["tile_plan"]["blocks_seen"] == ["strips of 16 rows", "strips of 8 rows"]
    assert doc["tile_plan"]["region"] == [256, 512]


def test_a_spark_job_reports_the_blocks_it_decoded(spark, series, settings, tmp_path):
    summary = run_job(json.dumps(composite()), str(tmp_path / "out"), "blocks-job", series["1024"], {},
                      settings, Caller(), spark=spark)
    # one 512 px region shared by the two cores of local[2]: each decodes its blocks
    assert summary.usage["blocks_read"] == 2 * blocks_under(series["1024"])
    meta = json.loads((tmp_path / "out" / "job_metadata.json").read_text())
    assert meta["plan"]["tile_plan"]["blocks_seen"] == ["1024x1024 blocks"]
    _, reference, _ = compute(series["256"], settings, composite())
    with rasterio.open(next((tmp_path / "out").glob("*.tif"))) as ds:
        np.testing.assert_array_equal(ds.read(1), reference)


@pytest.fixture(scope="module")
def wide_512(tmp_path_factory) -> str:
    """2 dates of 1024 px in 512 px blocks: two rows of 512 px read regions."""
    return write_sample(str(tmp_path_factory.mktemp("wide-512")), size=1024, dates=2,
                        bands=("B04", "B08", "SCL"), seed=3, block="512")


def test_executor_written_strips_keep_read_regions_whole(spark, wide_512, settings, tmp_path, monkeypatch):
    """Strips of 256 rows (as 8192 px output on local[2] gets over 1024 px blocks) would split every
    512-row region between two tasks, each decoding its blocks: the strips follow the regions, the job
    decodes each block once, as the plan says, and writes the COG the driver would have written."""
    import jobs.results.strips

    monkeypatch.setattr(jobs.results.strips, "MAX_STRIP_PIXELS", 256 * 1024)
    prep = prepare(json.dumps(composite()), load_catalog(wide_512, settings), Caller(), settings, {})
    assert {t.region.shape for t in prep.plan.tasks} == {(512, 512)}
    predicted = prep.plan.layout.blocks_per_tile * len(prep.plan.tasks)
    assert predicted == pytest.approx(blocks_under(wide_512), abs=0.01)
    runs = {}
    for writes in (True, False):
        out = tmp_path / f"writes-{writes}"
        runs[writes] = run_job(json.dumps(composite()), str(out), f"strips-{str(writes).lower()}", wide_512, {},
                               dataclasses.replace(settings, executor_writes=writes), Caller(), spark=spark)
    assert runs[True].usage["driver_received_bytes"] < 4096                 # the executors wrote it
    assert runs[False].usage["driver_received_bytes"] == 1024 * 1024 * 4
    assert runs[True].usage["blocks_read"] == runs[False].usage["blocks_read"] == blocks_under(wide_512)
    assert (tmp_path / "writes-True" / "result.tif").read_bytes() == \
        (tmp_path / "writes-False" / "result.tif").read_bytes()


def _smoothed(graph: dict, median: bool = True) -> dict:
    """``graph`` with a 3x3 focal mean of the masked NDVI before the median (tiles read a 1 px halo);
    ``median=False``: the masked NDVI series itself, without the kernel nor the median."""
    graph = json.loads(json.dumps(graph))
    nodes = graph["process_graph"]
    reducer = next(n for n in nodes.values() if n["process_id"] == "reduce_dimension"
                   and n["arguments"]["dimension"] == "t")
    if not median:
        next(n for n in nodes.values() if n.get("result"))["arguments"]["data"] = reducer["arguments"]["data"]
        return graph
    nodes["smooth"] = {"process_id": "apply_kernel", "arguments": {
        "data": reducer["arguments"]["data"], "kernel": [[1, 1, 1], [1, 1, 1], [1, 1, 1]], "factor": 1 / 9}}
    reducer["arguments"]["data"] = {"from_node": "smooth"}
    return graph


@pytest.mark.parametrize("layout", ["256", "1024", "strip"])
def test_halo_reads_decode_each_block_once_per_task(series, settings, layout):
    # a 1 px halo reaches into 8 neighbouring 256 px blocks: without the block cache each region
    # would decode 9 blocks instead of 1
    from scipy import ndimage

    _, series_values, plain_usage = compute(series[layout], settings, _smoothed(composite(), median=False),
                                            parallelism=1)
    plan, got, usage = compute(series[layout], settings, _smoothed(composite()), parallelism=1)
    assert all(t.halo == (1, 1) for t in plan.tasks)
    assert plain_usage.blocks_read == blocks_under(series[layout])
    # each block decoded whole once; the halo rows a region reads at the top of the block row below
    # it are inflated alone first (jobs.cube.partial): a few rows' share of a block each
    assert blocks_under(series[layout]) <= usage.blocks_read <= 1.01 * blocks_under(series[layout])
    assert usage.bytes_read > plain_usage.bytes_read
    smooth = ndimage.uniform_filter(np.nan_to_num(series_values.astype(np.float64)), size=(1, 3, 3), mode="constant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expect = np.nanmedian(smooth, axis=0)
    np.testing.assert_allclose(got, expect, rtol=0, atol=1e-6)


def test_two_tasks_splitting_block_regions_decode_each_block_once_with_a_halo(series, settings):
    """2 x 2 blocks of 256 px, two tasks of two regions each (the focal benchmark's 1024 px case at
    this size): the region edges sit a halo past the block edges, so the upper task reads only the top
    rows of the blocks below (inflated alone) and the lower task nothing above: every block is decoded
    whole once in all, not by both tasks (72 of 36 before)."""
    plan, got, usage = compute(series["256"], settings, _smoothed(composite()), parallelism=2)
    groups = tile_groups(plan.tasks, 2, max(t.window.height * t.window.width for t in plan.tasks))
    assert len(groups) == 2 and {t.region for t in groups[0]}.isdisjoint({t.region for t in groups[1]})
    assert [r.height for r in plan.layout.regions(plan.grid)][::2] == [257, 255]
    under = blocks_under(series["256"])
    assert under <= usage.blocks_read <= 1.01 * under
    _, reference, _ = compute(series["512"], settings, _smoothed(composite()), parallelism=1)
    np.testing.assert_allclose(got, reference, rtol=0, atol=1e-6)


def test_block_cache_decodes_each_block_once_and_assembles_any_span():
    from jobs.cube.regions import BlockCache

    raster = np.arange(10 * 7, dtype=np.uint16).reshape(10, 7)     # blocks of 3 x 3: 4 rows x 3 cols of them
    reads = []

    def read(span):
        reads.append(span)
        return raster[span[0]:span[2], span[1]:span[3]].copy()

    cache = BlockCache(budget=1 << 20)
    got, decoded = cache.read(("a.tif", 1), (2, 1, 7, 5), (3, 3), raster.shape, read)
    np.testing.assert_array_equal(got, raster[2:7, 1:5])
    assert decoded == 6 and reads == [(0, 0, 9, 6)]                # block rows 0-2, cols 0-1: one read
    got, decoded = cache.read(("a.tif", 1), (5, 4, 10, 7), (3, 3), raster.shape, read)
    np.testing.assert_array_equal(got, raster[5:10, 4:7])
    # blocks (1, 1) and (2, 1) are held: the missing column 2 of rows 1-2 is one read, row 3 another
    assert decoded == 4 and reads[1:] == [(3, 6, 9, 7), (9, 3, 10, 7)]
    got, decoded = cache.read(("a.tif", 1), (0, 0, 10, 7), (3, 3), raster.shape, read)
    np.testing.assert_array_equal(got, raster)
    assert decoded == 2 and reads[3:] == [(0, 6, 3, 7), (9, 0, 10, 3)]     # blocks (0, 2) and (3, 0) were left
    small = BlockCache(budget=2 * 9 * 2)                           # two 3 x 3 uint16 blocks
    small.read(("b.tif", 1), (0, 0, 3, 7), (3, 3), raster.shape, read)
    assert small.bytes <= 2 * 9 * 2 and len(small.held) == 2       # the least recently used went first

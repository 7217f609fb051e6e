"""jobs.results.stripwriter: COGs the executors encode strip by strip, stitched by the driver, are the
bytes the driver-written ResultsWriter makes; the driver receives only a reduced level."""
from __future__ import annotations

import errno
import hashlib
import json
import math
import tempfile
from collections import Counter

import numpy as np
import pytest
import rasterio

from jobs.cube.lazy import CubeMeta
from jobs.errors import TooManyParts
from jobs.results import parts
from jobs.plan.grid import TileGrid
from jobs.plan.blocks import TileLayout
from jobs.plan.planner import TileTask, planned_tiles
from jobs.results.checksum import SHA256_MULTIHASH_PREFIX
from jobs.results.cog import CogLayout
from jobs.results.stripwriter import StripResultsWriter, in_process
from jobs.results.strips import StripPlan, plan_strips, strips_of
from jobs.results.tailplan import plan_tail
from jobs.results.writer import ResultsWriter
from jobs.spark.execute import _own_part
from sparkeo import storage
from tests.jobs.results.test_cog import cog_layout_errors

GRID = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0), (700, 1100))
META = {"job_id": "j1", "graph_sha256": "ab", "inputs": []}


def tasks(size=256, skip=(), grid=GRID):
    return [TileTask(i, w, g, 1) for i, w, g in grid.tiles(size) if i not in skip]


def executors(writer: StripResultsWriter, full: np.ndarray) -> int:
    """What the Spark tasks do (jobs.spark.execute._run_group), in-process; returns the bytes the
    driver receives."""
    received = 0
    for strip in writer.strips:
        buffer = writer.work.buffer(strip)
        for t in strip.tasks:
            r, c = t.window.slices
            writer.work.put(buffer, t, full[..., r, c])
        written = writer.work.finish(buffer)
        received += written.nbytes
        writer.receive(written)
    return received


def driver_written(folder, meta, full, tiles, grid=GRID) -> list[str]:
    """The files the driver-written ``ResultsWriter`` makes of ``full`` in ``folder``."""
    old = ResultsWriter(str(folder), meta, grid)
    for t in tiles:
        r, c = t.window.slices
        old.write_tile(t, full[..., r, c])
    return old.finish(META, None)


def both(tmp_path, meta, full, parallelism, size=256, skip=(), grid=GRID, tiles=None, remote=in_process):
    """The files of the driver-written and of the executor-written path, and the driver's bytes
    (``tiles``: the tile tasks, else ``tasks(size, skip, grid)``; ``remote`` runs the stages and tails)."""
    tiles = tasks(size, skip, grid) if tiles is None else tiles
    old_files = driver_written(tmp_path / "old", meta, full, tiles, grid)
    new = StripResultsWriter(str(tmp_path / "new"), meta, grid, tiles, parallelism, remote=remote)
    received = executors(new, full)
    new_files = new.finish(META, None)
    return old_files, new_files, new, received


@pytest.mark.parametrize("parallelism,levels", [(1, 2), (2, 1), (8, 1)], ids=["2-levels", "1-level", "many"])
def test_executor_written_cog_is_byte_identical_to_the_driver_written_one(tmp_path, parallelism, levels):
    rng = np.random.default_rng(5)
    full = rng.random((2, 700, 1100)).astype(np.float32)
    full[:, 100:300, 200:700] = np.nan
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi", "evi")}, grid=GRID)
    old_files, new_files, writer, received = both(tmp_path, meta, full, parallelism, skip={(1, 2)})
    assert writer.plan.levels == levels and writer.plan.strips > 1
    old_cog, new_cog = (tmp_path / "old" / "result.tif"), (tmp_path / "new" / "result.tif")
    assert new_cog.read_bytes() == old_cog.read_bytes()
    assert cog_layout_errors(new_cog) == []
    # the driver got block sizes and staged names: no pixel (the tail task joined the reduced rows)
    assert received < 4096
    assert not list(tmp_path.glob(".new.staging-*"))          # staged strips are gone


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "buffered"])
def test_local_cog_is_stitched_with_its_checksum_with_or_without_the_kernel_copy(tmp_path, monkeypatch, kernel_copy):
    """The stitched COG equals the driver-written one and its item's ``file:checksum`` is the
    file's sha2-256, whether the kernel copies the pieces or the file system refuses (EXDEV) and
    they go through a buffer."""
    calls = []
    if not kernel_copy:
        def refuse(*args):
            calls.append(args)
            raise OSError(errno.EXDEV, "cross-device")
        monkeypatch.setattr(parts.os, "copy_file_range", refuse)
    rng = np.random.default_rng(11)
    full = rng.random((1, 700, 1100)).astype(np.float32)
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi",)}, grid=GRID)
    both(tmp_path, meta, full, 2)
    cog = tmp_path / "new" / "result.tif"
    assert cog.read_bytes() == (tmp_path / "old" / "result.tif").read_bytes()
    item = json.loads((tmp_path / "new" / "result.json").read_text())
    assert item["assets"]["data"]["file:checksum"] == SHA256_MULTIHASH_PREFIX + hashlib.sha256(
        cog.read_bytes()).hexdigest()
    assert bool(calls) is not kernel_copy


def test_copy_ranges_refuses_a_piece_shorter_than_planned(tmp_path):
    piece = tmp_path / "piece"
    piece.write_bytes(b"0123456789")
    with open(tmp_path / "out", "wb") as out:
        with pytest.raises(OSError, match="ended 5 bytes early"):
            parts.copy_ranges([(str(piece), 5, 10)], out.fileno())
    with pytest.raises(OSError, match="ended 5 bytes early"):
        parts.sha256_of(b"", [(str(piece), 5, 10)])


def test_copy_ranges_does_not_hide_a_real_write_error(tmp_path, monkeypatch):
    """A full disk (ENOSPC) is raised as it is, not retried through a buffer as an unsupported copy is."""
    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(parts.os, "copy_file_range", full)
    piece = tmp_path / "piece"
    piece.write_bytes(b"0123456789")
    with open(tmp_path / "out", "wb") as out:
        with pytest.raises(OSError) as raised:
            parts.copy_ranges([(str(piece), 0, 10)], out.fileno())
    assert raised.value.errno == errno.ENOSPC
    assert (tmp_path / "out").read_bytes() == b""


def test_time_series_of_integers_one_cog_per_label(tmp_path):
    full = (np.arange(2 * 1 * 700 * 1100, dtype=np.float32).reshape(2, 1, 700, 1100) % 5000)
    full[1, 0, :300, :3] = np.nan
    meta = CubeMeta(dims=("t", "bands", "y", "x"), labels={"t": ("2021-06-01", "2021-06-11"), "bands": ("B04",)},
                    grid=GRID, dtype="uint16", nodata=0.0)
    both(tmp_path, meta, full, 2, size=512)
    for name in ("2021-06-01.tif", "2021-06-11.tif"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()
        with rasterio.open(tmp_path / "new" / name) as ds:
            assert ds.dtypes == ("uint16",) and ds.nodata == 0


def test_strips_are_cut_on_block_rows_no_tile_straddles():
    layout = CogLayout(1100, 2100, 1, "float32", math.nan)
    plan = plan_strips(layout, tasks(), 2)
    assert plan.cuts == (0, 1024, 2048, 2100) and plan.levels == 3
    assert StripPlan(layout, (0, 2100)).levels == len(layout.levels)     # one strip: every level
    # S3 parts: 1 the header, 2 the tail, then the strips' levels from the smallest
    assert plan_tail(StripPlan(layout, (0, 256, 2100)), 2).part_number(0, 1, 0) == 4


def region_tasks(height: int, width: int, region: tuple[int, int]) -> list[TileTask]:
    """The 256 px tile tasks of a ``height`` x ``width`` grid inside read regions of ``region`` px
    (``jobs.plan.blocks``: the layout the planner makes over 1024 px source blocks)."""
    grid = TileGrid("EPSG:32633", (10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0), (height, width))
    layout = TileLayout((256, 256), region)
    return [TileTask(i, w, g, 1, r) for i, w, g, r in planned_tiles(grid, layout)]


@pytest.mark.parametrize("parallelism", [2, 8])
def test_strips_are_cut_on_read_region_edges(parallelism):
    """4096 px over 1024 px regions: 2M px strips would be 512 rows and split every region between two
    tasks (each decoding its blocks); the strips hold whole regions instead, as many as there are
    region rows at most."""
    layout = CogLayout(4096, 4096, 1, "float32", math.nan)
    tasks = region_tasks(4096, 4096, (1024, 1024))
    plan = plan_strips(layout, tasks, parallelism)
    assert plan.cuts == (0, 1024, 2048, 3072, 4096) and plan.levels == 3
    # each strip holds all the tiles of its regions: no task reads only part of a region
    sizes = Counter(t.region for t in tasks)
    for strip in strips_of(plan, tasks):
        assert all(sizes[r] == n for r, n in Counter(t.region for t in strip.tasks).items())
        assert _own_part(list(strip.tasks), sizes) == list(strip.tasks)


def test_strips_take_enough_region_edges_for_every_core():
    # regions of 768 rows: 1536 alone is a multiple of the 512-row step; four cores get four strips
    layout = CogLayout(768, 3072, 1, "float32", math.nan)
    assert plan_strips(layout, region_tasks(3072, 768, (768, 768)), 4).cuts == (0, 768, 1536, 2304, 3072)
    assert plan_strips(layout, region_tasks(3072, 768, (768, 768)), 2).cuts == (0, 1536, 3072)


def test_one_row_of_regions_is_cut_between_tiles():
    # no region edge inside: the strips split the region (both decode its blocks) rather than one core idling
    layout = CogLayout(1024, 1024, 1, "float32", math.nan)
    assert plan_strips(layout, region_tasks(1024, 1024, (1024, 1024)), 2).cuts == (0, 512, 1024)


def test_aborted_run_leaves_no_staged_strip(tmp_path):
    meta = CubeMeta(dims=("y", "x"), labels={}, grid=GRID)
    writer = StripResultsWriter(str(tmp_path / "out"), meta, GRID, tasks(), 2)
    strip = writer.strips[0]
    buffer = writer.work.buffer(strip)
    writer.receive(writer.work.finish(buffer))
    assert list(tmp_path.glob(".out.staging-*/parts/*.part"))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_s3_executor_parts_make_the_driver_written_cog_and_leave_no_upload(tmp_path, s3):
    """Strips uploaded as multipart parts (padded to S3's 5 MiB minimum) and stitched: the COG reads
    back as the driver-written one, pixel for pixel, with its checksum; nothing stays staged."""
    rng = np.random.default_rng(7)
    full = rng.random((1, 700, 1100)).astype(np.float32)
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi",)}, grid=GRID)
    driver_written(tmp_path / "old", meta, full, tasks())
    output = s3.uri("jobs/strips")
    writer = StripResultsWriter(output, meta, GRID, tasks(), 2)
    executors(writer, full)
    files = writer.finish(META, None)
    assert files[0] == f"{output}/result.tif"
    local = tmp_path / "new.tif"
    storage.download(files[0], str(local))
    assert cog_layout_errors(local) == []
    with rasterio.open(local) as got, rasterio.open(tmp_path / "old" / "result.tif") as want:
        assert {**got.profile, "nodata": 0} == {**want.profile, "nodata": 0} and math.isnan(got.nodata)
        assert (got.crs, got.transform, got.descriptions) == (want.crs, want.transform, want.descriptions)
        np.testing.assert_array_equal(got.read(), want.read())
    for level in range(2):
        with rasterio.open(local, overview_level=level) as got, \
                rasterio.open(tmp_path / "old" / "result.tif", overview_level=level) as want:
            np.testing.assert_array_equal(got.read(), want.read())
    item = json.loads(storage.read_text(f"{output}/result.json"))
    assert item["assets"]["data"]["file:checksum"] == SHA256_MULTIHASH_PREFIX + hashlib.sha256(
        local.read_bytes()).hexdigest()
    assert s3.server.client().list_multipart_uploads(Bucket=s3.name).get("Uploads", []) == []
    assert not [k for k in s3.objects() if ".staging-" in k]


def test_s3_abort_aborts_the_uploads(s3):
    meta = CubeMeta(dims=("y", "x"), labels={}, grid=GRID)
    writer = StripResultsWriter(s3.uri("jobs/aborted"), meta, GRID, tasks(), 2)
    writer.receive(writer.work.finish(writer.work.buffer(writer.strips[0])))
    uploads = s3.server.client().list_multipart_uploads
    assert uploads(Bucket=s3.name).get("Uploads")
    writer.abort()
    assert uploads(Bucket=s3.name).get("Uploads", []) == [] and s3.objects() == {}


def test_s3_output_over_the_part_limit_is_refused_before_anything_is_staged(tmp_path, monkeypatch, s3):
    """With S3's limit below the plan's parts, building the writer fails with the user's error: no
    multipart upload opened, no object written, no local staging folder; a local folder output of
    the same plan has no part limit and is written."""
    rng = np.random.default_rng(9)
    full = rng.random((1, 700, 1100)).astype(np.float32)
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi",)}, grid=GRID)
    tree = plan_tail(plan_strips(CogLayout(1100, 700, 1, "float32", math.nan), tasks(), 2), 2)
    assert tree.last_part > 3
    monkeypatch.setattr(parts, "MAX_PARTS", tree.last_part - 1)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))     # where an S3 output's local staging would go
    output = s3.uri("jobs/too-many-parts")
    with pytest.raises(TooManyParts) as refused:
        StripResultsWriter(output, meta, GRID, tasks(), 2)
    assert refused.value.uri == output and refused.value.parts == tree.last_part
    assert f"{output}: one COG of 1,100 x 700 px needs {tree.last_part:,} parts" in str(refused.value)
    assert s3.server.client().list_multipart_uploads(Bucket=s3.name).get("Uploads", []) == []
    assert s3.objects() == {}
    assert list(scratch.iterdir()) == []
    local = StripResultsWriter(str(tmp_path / "out"), meta, GRID, tasks(), 2)
    assert local.tree == tree
    executors(local, full)
    local.finish(META, None)
    with rasterio.open(tmp_path / "out" / "result.tif") as got:
        np.testing.assert_array_equal(got.read(), full)

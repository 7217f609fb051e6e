"""jobs.results.tailplan: the stages after the strips make the driver-written COG byte for byte, each
task's pixels bounded by the caps; a small local tail runs on the driver, no Spark job."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import rasterio

from jobs.cube.lazy import CubeMeta
from jobs.plan.grid import TileGrid
from jobs.errors import TooManyParts
from jobs.results import parts, stripwriter, tailplan
from jobs.results.cog import CogLayout
from jobs.results.parts import MAX_PARTS, check_parts
from jobs.results.stripwriter import StripResultsWriter, in_process
from jobs.results.strips import StripPlan
from jobs.results.tailplan import TailTree, level_layout, plan_tail
from sparkeo import storage
from tests.jobs.results.test_cog import cog_layout_errors
from tests.jobs.results.test_stripwriter import GRID, META, both, driver_written, executors, region_tasks, tasks


def grid_of(height: int, width: int) -> TileGrid:
    """A grid like ``GRID`` (and ``region_tasks``') of ``height`` x ``width`` px."""
    return TileGrid(GRID.crs, GRID.transform, (height, width))


def lower_caps(monkeypatch, tail: int, chunk: int = 80_000, driver: int | None = None) -> None:
    monkeypatch.setattr(tailplan, "TAIL_MAX_PIXELS", tail)
    monkeypatch.setattr(tailplan, "CHUNK_MAX_PIXELS", chunk)
    if driver is not None:
        monkeypatch.setattr(stripwriter, "DRIVER_TAIL_PIXELS", driver)


def assert_same_levels(got, want) -> None:
    """rasterio reads every level of ``got`` as of ``want`` (the full resolution and each overview)."""
    with rasterio.open(want) as ds:
        count = len(ds.overviews(1))
    assert count > 0
    for level in range(-1, count):
        extra = {} if level < 0 else {"overview_level": level}
        with rasterio.open(got, **extra) as g, rasterio.open(want, **extra) as w:
            assert (g.width, g.height) == (w.width, w.height)
            np.testing.assert_array_equal(g.read(), w.read())


class Recorded:
    """A ``remote`` that runs in-process and records (function name, items) per call: one Spark job each."""

    def __init__(self):
        self.calls: list[tuple[str, int]] = []

    def __call__(self, fn, items):
        self.calls.append((fn.__name__, len(items)))
        return in_process(fn, items)


def describe(tree: TailTree) -> tuple:
    """(first level, chunks) of each stage and the level the final tail starts from."""
    return tuple((s.first, s.plan.strips) for s in tree.stages), tree.tail


CASES = {
    # 2100 x 600: strips of 256 rows leave level 1 (1050 x 300), two stages of several chunks, a tail
    "stages-then-tail": ((2100, 600), 8, 20_000, None, (((0, 9), (1, 5), (2, 3)), 3)),
    # odd widths (1100, 550, 275): level 2 (175 rows) is one chunk, which encodes every level left
    "one-chunk-stage": ((700, 1100), 8, 20_000, None, (((0, 3), (1, 2), (2, 1)), 4)),
    # strips on 768 px read regions, cut at 1536: level-2 pieces of 384 rows, the stage cuts on 256 rows
    "chunks-split-pieces": ((2100, 600), 2, 20_000, (768, 768), (((0, 2), (2, 3)), 3)),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_staged_tail_makes_the_driver_written_cog(tmp_path, monkeypatch, case):
    (height, width), parallelism, cap, region, shape = CASES[case]
    lower_caps(monkeypatch, cap)
    grid = grid_of(height, width)
    rng = np.random.default_rng(11)
    full = rng.random((2, height, width)).astype(np.float32)
    full[:, 300:900, 100:350] = np.nan
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi", "evi")}, grid=grid)
    tiles = region_tasks(height, width, region) if region else None
    remote = Recorded()
    _, _, writer, received = both(tmp_path, meta, full, parallelism, grid=grid, tiles=tiles, remote=remote)
    assert describe(writer.tree) == shape
    old_cog, new_cog = tmp_path / "old" / "result.tif", tmp_path / "new" / "result.tif"
    assert new_cog.read_bytes() == old_cog.read_bytes()
    assert cog_layout_errors(new_cog) == []
    assert_same_levels(new_cog, old_cog)
    # one Spark job per stage after the strips (a task per chunk), the small final tail on the driver
    assert remote.calls == [("encode_chunk", chunks) for _, chunks in shape[0][1:]]
    assert received < 8192
    assert not list(tmp_path.glob(".new.staging-*"))


def test_staged_tail_of_a_time_series_one_cog_per_label(tmp_path, monkeypatch):
    lower_caps(monkeypatch, 6_000, driver=0)          # the tail too as Spark tasks, one per file
    grid = grid_of(2100, 600)
    full = (np.arange(2 * 2100 * 600, dtype=np.float32).reshape(2, 1, 2100, 600) % 5000)
    full[1, 0, :700, :3] = 0
    meta = CubeMeta(dims=("t", "bands", "y", "x"), labels={"t": ("2021-06-01", "2021-06-11"), "bands": ("B04",)},
                    grid=grid, dtype="uint16", nodata=0.0)
    remote = Recorded()
    _, _, writer, _ = both(tmp_path, meta, full, 2, size=512, grid=grid, remote=remote)
    (_, *stages), tail = describe(writer.tree)
    assert (stages, tail) == ([(3, 2)], 4)            # level 3 (263 x 75) in two chunks, level 4 the tail
    assert remote.calls == [*(("encode_chunk", 2 * chunks) for _, chunks in stages), ("encode_tail", 2)]
    for name in ("2021-06-01.tif", "2021-06-11.tif"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()
        assert_same_levels(tmp_path / "new" / name, tmp_path / "old" / name)


def test_s3_staged_tail_makes_the_driver_written_cog(tmp_path, monkeypatch, s3):
    """Stage chunks and the tail uploaded as parts numbered in file order: the COG reads back as the
    driver-written one, level by level; the tail ran as one task per file on the executors."""
    lower_caps(monkeypatch, 50_000)
    rng = np.random.default_rng(3)
    full = rng.random((1, 700, 1100)).astype(np.float32)
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi",)}, grid=GRID)
    driver_written(tmp_path / "old", meta, full, tasks())
    remote = Recorded()
    writer = StripResultsWriter(s3.uri("jobs/staged"), meta, GRID, tasks(), 2, remote=remote)
    assert describe(writer.tree) == (((0, 3), (1, 2)), 2)
    executors(writer, full)
    files = writer.finish(META, None)
    assert remote.calls == [("encode_chunk", 2), ("encode_tail", 1)]
    local = tmp_path / "new.tif"
    storage.download(files[0], str(local))
    assert cog_layout_errors(local) == []
    assert_same_levels(local, tmp_path / "old" / "result.tif")
    assert s3.server.client().list_multipart_uploads(Bucket=s3.name).get("Uploads", []) == []
    assert not [k for k in s3.objects() if ".staging-" in k]


class CountedGets:
    """An S3 client that counts the bytes each ``get_object`` of a staged ``.reduced`` object returned."""

    def __init__(self, client, fetched: Counter):
        self.client, self.fetched = client, fetched

    def get_object(self, **kwargs):
        reply = self.client.get_object(**kwargs)
        if "reduced/" in kwargs["Key"]:
            self.fetched[kwargs["Key"]] += reply["ContentLength"]
        return reply

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_s3_chunk_tasks_fetch_only_the_rows_they_take(tmp_path, monkeypatch, s3):
    """Chunks that take part of a piece's reduced rows (768 px read regions: level-2 pieces of 384
    rows, chunks cut on 256) fetch those rows' bytes and the .npy header, not the whole object;
    the COG still reads back as the driver-written one."""
    lower_caps(monkeypatch, 20_000)
    grid = grid_of(2100, 600)
    full = np.random.default_rng(4).random((1, 2100, 600)).astype(np.float32)
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi",)}, grid=grid)
    tiles = region_tasks(2100, 600, (768, 768))
    driver_written(tmp_path / "old", meta, full, tiles, grid)
    fetched, staged = Counter(), {}
    real_client = parts._client
    monkeypatch.setattr(parts, "_client", lambda settings: CountedGets(real_client(settings), fetched))
    real_stage = parts.S3Parts.stage_reduced

    def stage_reduced(self, name, piece, values, settings=None):
        uri = real_stage(self, name, piece, values, settings)
        staged[uri.split("/", 3)[3]] = np.array(values)
        return uri

    monkeypatch.setattr(parts.S3Parts, "stage_reduced", stage_reduced)
    writer = StripResultsWriter(s3.uri("jobs/ranged"), meta, grid, tiles, 2, remote=Recorded())
    assert describe(writer.tree) == (((0, 2), (2, 3)), 3)
    executors(writer, full)
    files = writer.finish(META, None)
    storage.download(files[0], str(tmp_path / "new.tif"))
    assert_same_levels(tmp_path / "new.tif", tmp_path / "old" / "result.tif")
    # per staged level-2 piece: the bytes of the rows the stage's chunks take (tree.inputs), and how
    # many chunks read it; each read adds at most one header range (NPY_HEAD bytes)
    pieces = sorted(k for k in staged if ".0-" in k)
    taken, reads = Counter(), Counter()
    for chunk in range(writer.tree.stages[1].plan.strips):
        for j, start, end in writer.tree.inputs(1, chunk):
            taken[pieces[j]] += staged[pieces[j]][start:end].nbytes
            reads[pieces[j]] += 1
    shared = [k for k in pieces if reads[k] > 1]
    assert shared, "no piece is read by two chunks: the case would not test partial reads"
    for key in pieces:
        assert taken[key] <= fetched[key] <= taken[key] + parts.NPY_HEAD * reads[key], key
    for key in shared:                 # a whole download per reading chunk would be this much
        assert fetched[key] < reads[key] * staged[key].nbytes


def test_small_local_tail_runs_on_the_driver(tmp_path, monkeypatch):
    """No Spark job for a tail from at most DRIVER_TAIL_PIXELS; above it, one job of a task per file."""
    rng = np.random.default_rng(2)
    full = rng.random((1, 700, 1100)).astype(np.float32)
    meta = CubeMeta(dims=("bands", "y", "x"), labels={"bands": ("ndvi",)}, grid=GRID)
    remote = Recorded()
    _, _, writer, _ = both(tmp_path / "small", meta, full, 2, remote=remote)
    assert writer.tree.has_tail and len(writer.tree.stages) == 1 and remote.calls == []
    monkeypatch.setattr(stripwriter, "DRIVER_TAIL_PIXELS", writer.tree.tail_pixels() - 1)
    _, _, writer, _ = both(tmp_path / "large", meta, full, 2, remote=remote)
    assert remote.calls == [("encode_tail", 1)]
    assert (tmp_path / "large" / "new" / "result.tif").read_bytes() == \
        (tmp_path / "small" / "new" / "result.tif").read_bytes()


@pytest.mark.parametrize("step", [256, 1024], ids=["block-strips", "region-strips"])
def test_stage_plan_of_a_100k_output_bounds_every_task(step):
    """100k x 100k px: the strips' level 1 alone is 50k x 50k; every stage task holds at most the cap
    (one chunk's rows), the tail starts from at most the cap, and the S3 parts are numbered in file
    order, within S3's limit."""
    layout = CogLayout(100_000, 100_000, 1, "float32", math.nan)
    tree = plan_tail(StripPlan(layout, (0, *range(step, 100_000, step), 100_000)), 16)
    assert len(tree.stages) > 2 and tree.has_tail
    assert 0 < tree.tail_pixels() <= tailplan.TAIL_MAX_PIXELS
    for s, stage in enumerate(tree.stages[1:], 1):
        assert stage.first == tree.stages[s - 1].after and stage.plan.levels >= 1
        assert level_layout(layout, stage.first).levels == layout.levels[stage.first:]
        height, width = layout.levels[stage.first]
        cuts = stage.plan.cuts
        assert cuts[0] == 0 and cuts[-1] == height and all(c % layout.block == 0 for c in cuts[1:-1])
        assert max(b - a for a, b in zip(cuts, cuts[1:])) * width <= tailplan.TAIL_MAX_PIXELS
        for chunk in range(stage.plan.strips):     # its inputs are exactly its rows, in order
            taken = [(tree.stages[s - 1].plan.rows(j, tree.stages[s - 1].plan.levels)[0] + a, b - a)
                     for j, a, b in tree.inputs(s, chunk)]
            assert taken[0][0] == cuts[chunk] and sum(n for _, n in taken) == cuts[chunk + 1] - cuts[chunk]
    numbers = [tree.part_number(s, c, level) for level, s, c in tree.file_order()]
    assert numbers == list(range(3, 3 + len(numbers)))
    assert tree.last_part == numbers[-1] <= MAX_PARTS == 10_000
    check_parts("s3://bucket/jobs/big", tree)
    levels = [level for level, _, _ in tree.file_order()]
    assert levels == sorted(levels, reverse=True) and set(levels) == set(range(tree.tail))


def block_strips(size: int, dtype: str = "float32", nodata: float = math.nan) -> TailTree:
    """The plan of a ``size`` x ``size`` px output cut in strips of one 256 px block row (a wide output's)."""
    layout = CogLayout(size, size, 1, dtype, nodata)
    return plan_tail(StripPlan(layout, (0, *range(256, size, 256), size)), 16)


def test_a_plan_over_s3s_part_limit_is_refused_naming_sizes_and_what_to_do():
    """1.3M x 1.3M px in block-row strips: more parts than one S3 upload may have; planning alone
    (no pixel) finds it, and the message says what to do."""
    tree = block_strips(1_300_000)
    assert tree.last_part > MAX_PARTS
    with pytest.raises(TooManyParts) as refused:
        check_parts("s3://bucket/jobs/huge", tree)
    error = refused.value
    assert (error.uri, error.width, error.height, error.parts, error.limit) == (
        "s3://bucket/jobs/huge", 1_300_000, 1_300_000, tree.last_part, 10_000)
    assert error.exit_code == 2
    assert str(error) == (
        f"s3://bucket/jobs/huge: one COG of 1,300,000 x 1,300,000 px needs {tree.last_part:,} parts in its S3 "
        "multipart upload, over S3's limit of 10,000: save it tiled (save_result option tile_grid, e.g. "
        "'utm-10km': one COG per cell) or to a local or FUSE-mounted folder, which has no part limit")


@pytest.mark.parametrize("size", [2048, 100_000, 1_200_000])
def test_the_part_limit_is_the_last_part_number(monkeypatch, size):
    """A plan whose last part is the limit passes, one more part is refused (parts are numbered 1..limit)."""
    from jobs.results import parts

    tree = block_strips(size)
    monkeypatch.setattr(parts, "MAX_PARTS", tree.last_part)
    check_parts("s3://bucket/jobs/edge", tree)
    monkeypatch.setattr(parts, "MAX_PARTS", tree.last_part - 1)
    with pytest.raises(TooManyParts, match=f"needs {tree.last_part:,} parts"):
        check_parts("s3://bucket/jobs/edge", tree)

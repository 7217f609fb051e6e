"""COGs written by the executors: the output cut into strips of whole block rows, one per Spark task.

A task owns the full width of the output rows ``[top, bottom)`` of its ``Strip``; cuts fall on
multiples of the COG's block size, so in GDAL's row-major block order each level's blocks of one
strip are one contiguous run of bytes. The task pastes its tiles into the strip (tiles nobody
computed stay nodata), reduces it to the overview levels its rows cover in whole blocks
(``StripPlan.levels``: level k needs cuts on multiples of ``block * 2**k``), encodes those levels'
blocks exactly as ``jobs.results.cog`` does, and hands the bytes to a ``PartSink`` (a staging file
beside a local output, or parts of an S3 multipart upload). It returns only the block sizes and
its rows of the first level it could not finish (``1 / 4**levels`` of its pixels) are staged too.
The stages after the strips (``jobs.results.tailplan``) join those rows and encode the remaining,
smaller levels; the driver only writes the header with every block's offset (``jobs.results.parts``) and
references the executors' bytes: no pixel reaches it.

File order, as GDAL's COG driver lays it out: header, ghost area, IFDs; the tail's levels from
the smallest; then each level from the smallest, chunk after chunk of the stage that encoded it
(the strips' levels last, strip after strip).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jobs.results.cog import CogLayout, encode_block, framed
from jobs.results.overviews import reduce2x2

MAX_STRIP_PIXELS = 8 * 512 * 512        # per task, like jobs.spark.execute.MAX_PIXELS_PER_TASK


@dataclass(frozen=True)
class Strip:
    """Output rows ``[top, bottom)`` (full width), the ``index``-th strip, with the tile tasks inside."""

    index: int
    top: int
    bottom: int
    tasks: tuple = ()


@dataclass(frozen=True)
class StripPlan:
    """How the output COG(s) of a job are cut among tasks: the layout, the strips' row cuts and the
    number of levels (from the full resolution) the executors encode."""

    layout: CogLayout
    cuts: tuple[int, ...]           # 0, ..., height

    @property
    def strips(self) -> int:
        return len(self.cuts) - 1

    @functools.cached_property
    def levels(self) -> int:
        """Levels 0..levels-1 are encoded on executors: each strip covers whole block rows there.
        Kept once worked out: the tail stages' part numbers ask for it per piece and level (a walk
        over every cut each time took 0.37 s per file at 100k x 100k px)."""
        inner = self.cuts[1:-1]
        k = 0
        while k < len(self.layout.levels) and all(c % (self.layout.block << k) == 0 for c in inner):
            k += 1
        return k

    def rows(self, strip: int, level: int) -> tuple[int, int]:
        """The rows of ``level`` that ``strip`` covers."""
        h = self.layout.levels[level][0]
        top, bottom = self.cuts[strip], self.cuts[strip + 1]
        return top >> level, h if bottom == self.layout.height else bottom >> level


def plan_strips(layout: CogLayout, tasks: Sequence, parallelism: int) -> StripPlan:
    """The strips for ``tasks`` (tile tasks with ``window`` and ``region``): about ``max(parallelism,
    pixels / MAX_STRIP_PIXELS)`` of them, at least ``parallelism`` where the cuts allow it, cut on
    block rows, preferably on multiples of a power of two times the block (the executors then encode
    the larger overviews too). One strip when no cut is possible.

    Cuts fall where no read region (``jobs.plan.blocks``: the tiles sharing ``TileTask.region``)
    straddles them, when there are such cuts: a region split between two strips has its source
    blocks decoded by both tasks (``jobs.spark.execute._own_part``). Only when every cut would split
    a region (one row of regions) do the cuts merely avoid splitting a tile. A strip then holds at
    least one row of regions, however many pixels that is: a task keeps ``rows x width x bands x
    files`` output samples, e.g. 1024 rows (1024 px source blocks) x 8192 px x 4 B = 32 MB per band and
    file, 2048 x 10980 x 4 B = 90 MB for a Sentinel-2 tile's 2048 px blocks."""
    height, block = layout.height, layout.block
    tiles: set[int] = set()
    spans: dict = {}
    for t in tasks:
        w = t.window
        tiles.update(range(w.row_off + 1, w.row_off + w.height))
        region = getattr(t, "region", None)
        if region is not None:
            top, bottom = spans.get(region, (w.row_off, w.row_off + w.height))
            spans[region] = (min(top, w.row_off), max(bottom, w.row_off + w.height))
    regions = set().union(*(range(top + 1, bottom) for top, bottom in spans.values()))
    wanted = max(parallelism, -(-height * layout.width // MAX_STRIP_PIXELS), 1)
    for straddled in (tiles | regions, tiles):
        inner = block_cuts(height, block, wanted, parallelism, straddled)
        if inner:
            return StripPlan(layout, (0, *inner, height))
    return StripPlan(layout, (0, height))


def block_cuts(height: int, block: int, wanted: int, parallelism: int, straddled: set[int]) -> list[int]:
    """Inner cuts on block rows outside ``straddled``: on multiples of the largest power-of-two step
    of about ``height / wanted`` rows that gives at least ``parallelism`` strips (or as many as there
    can be), halving the step to the block while it gives fewer."""
    possible = [c for c in range(block, height, block) if c not in straddled]
    enough = min(parallelism, len(possible) + 1)
    step = block << max(0, int(math.log2(max(height // wanted, block) / block)))
    while True:
        inner = [c for c in possible if c % step == 0]
        if (inner and len(inner) + 1 >= enough) or step <= block:
            return inner
        step //= 2


def strips_of(plan: StripPlan, tasks: Sequence) -> list[Strip]:
    """Every strip of ``plan`` with the tile tasks whose rows it holds (a strip may hold none)."""
    out = []
    for i in range(plan.strips):
        top, bottom = plan.cuts[i], plan.cuts[i + 1]
        own = tuple(t for t in tasks if top <= t.window.row_off < bottom)
        out.append(Strip(i, top, bottom, own))
    return out


@dataclass(frozen=True)
class EncodedStrip:
    """One strip of one file, encoded: each executor level's framed blocks (index = level) and their
    sizes, and the strip's rows of the first level left to the tail (None when none is)."""

    segments: tuple[bytes, ...]
    sizes: tuple[tuple[int, ...], ...]
    reduced: np.ndarray | None


def encode_strip(plan: StripPlan, values: np.ndarray) -> EncodedStrip:
    """Encode the (rows, width, bands) ``values`` of one strip of ``plan.layout`` (the output, or a
    level of it for a stage after the strips: ``jobs.results.tailplan``): levels
    ``0..plan.levels-1`` as framed blocks in row-major order, and the next level reduced."""
    layout = plan.layout
    segments, sizes = [], []
    level = values
    for k in range(plan.levels):
        if k:
            level = reduce2x2(level, layout.nodata, layout.resampling)
        rows, cols = -(-level.shape[0] // layout.block), -(-layout.levels[k][1] // layout.block)
        blocks = [encode_block(level, r, c, layout) for r in range(rows) for c in range(cols)]
        segments.append(b"".join(framed(b) for b in blocks))
        sizes.append(tuple(len(b) for b in blocks))
    reduced = None
    if plan.levels < len(layout.levels):
        reduced = reduce2x2(level, layout.nodata, layout.resampling)
    return EncodedStrip(tuple(segments), tuple(sizes), reduced)


class StripBuffer:
    """One strip being filled on an executor: one (rows, width, bands) array per output file, nodata
    where no tile lands (tiles nobody computed read as nodata)."""

    def __init__(self, plan: StripPlan, strip: Strip, files: int):
        layout = plan.layout
        self.plan, self.strip = plan, strip
        self.values = [np.full((strip.bottom - strip.top, layout.width, layout.bands), layout.nodata,
                               dtype=layout.dtype) for _ in range(files)]

    def put(self, window, blocks: Sequence[np.ndarray]) -> None:
        """Paste one tile (``blocks``: one (height, width, bands) array per file) at its output ``window``."""
        r0 = window.row_off - self.strip.top
        for values, block in zip(self.values, blocks):
            values[r0:r0 + window.height, window.col_off:window.col_off + window.width] = block

    def encode(self) -> list[EncodedStrip]:
        """Each file's strip, encoded (``encode_strip``)."""
        return [encode_strip(self.plan, values) for values in self.values]

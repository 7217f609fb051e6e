"""The tile plan follows the inputs' block layout: tiles, read regions and their alignment.

A compressed source block (a COG tile, or a strip of an untiled GeoTIFF) is decoded whole: GDAL
decodes a 1024 px block for every 256 px tile that reads part of it, and its block cache does not
help (it decodes partial windows of deflate blocks without caching them; measured: 12.7x the
compressed bytes read at 1024 px blocks, 3.0x at 512). So the plan cuts the output grid into *read
regions* that cover whole source blocks, aligned to the block edges of the dominant source; each
task reads every asset's region window once (``jobs.cube.regions``) and computes the region's tiles
from it. Tiles stay about ``DEFAULT_TILE`` px (compute kernels that fit the caches) whatever the
blocks are. Pure arithmetic, like ``jobs.plan.planner``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

from jobs.plan.grid import TileGrid, Window

# Tiles of 256 px: a quarter of the memory per tile of 512 px and cache-sized kernels (README,
# "What made the difference"); the read regions, not the tiles, follow the source blocks.
DEFAULT_TILE = 256
# A task keeps one region's source windows (native dtype) until its next region: this bounds a
# worker's memory. 12 dates x 3 bands of 2048 px blocks (uint16/uint8) take 240 MB.
MAX_REGION_BYTES = 256 << 20


@dataclass(frozen=True)
class SourceBlocks:
    """One stored layout the job reads: the source's pixel grid, its block shape (rows, cols; a
    strip is as wide as the raster), bytes per pixel and how many assets share it."""

    grid: TileGrid
    block: tuple[int, int]
    itemsize: int = 2
    assets: int = 1

    @property
    def label(self) -> str:
        rows, cols = self.block
        if cols >= self.grid.width and rows < self.grid.height:
            return f"strips of {rows} rows"
        return f"{rows}x{cols} blocks"


@dataclass(frozen=True)
class TileLayout:
    """Tiles inside read regions: ``region`` (rows, cols) px of the output grid, edges at
    ``phase + k * region``; ``tile`` (rows, cols) px, cut from each region's top-left corner."""

    tile: tuple[int, int]
    region: tuple[int, int]
    phase: tuple[int, int] = (0, 0)
    reason: str = ""
    blocks_seen: tuple[str, ...] = ()
    blocks_per_tile: float | None = None     # source blocks decoded per tile, all assets
    blocks_per_tile_unaligned: float | None = None   # the same with plain tiles (no read regions)

    @classmethod
    def plain(cls, tile: int, reason: str = "") -> "TileLayout":
        return cls((tile, tile), (tile, tile), (0, 0), reason)

    def regions(self, grid: TileGrid) -> Iterator[Window]:
        """The read regions of ``grid``, clipped to it, row-major."""
        for r0, r1 in _cuts(grid.height, self.region[0], self.phase[0]):
            for c0, c1 in _cuts(grid.width, self.region[1], self.phase[1]):
                yield Window(r0, c0, r1 - r0, c1 - c0)

    def tiles(self, region: Window) -> Iterator[Window]:
        """The tiles of one region, row-major."""
        for r0, r1 in _cuts(region.height, self.tile[0], 0):
            for c0, c1 in _cuts(region.width, self.tile[1], 0):
                yield Window(region.row_off + r0, region.col_off + c0, r1 - r0, c1 - c0)

    def to_json(self) -> dict:
        return {"tile": list(self.tile), "region": list(self.region), "phase": list(self.phase),
                "reason": self.reason, "blocks_seen": list(self.blocks_seen),
                "blocks_per_tile": self.blocks_per_tile, "blocks_per_tile_unaligned": self.blocks_per_tile_unaligned}


def _cuts(size: int, step: int, phase: int) -> list[tuple[int, int]]:
    edges = sorted({0, size, *range(phase % step if phase else step, size, step)})
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def choose_layout(grid: TileGrid, sources: Sequence[SourceBlocks], tile_size: int | None = None,
                  max_region_bytes: int = MAX_REGION_BYTES) -> TileLayout:
    """The tile layout for ``grid`` read from ``sources``; ``tile_size`` (the job option) fixes the
    tile size, the read regions still follow the blocks."""
    tile = int(tile_size) if tile_size else DEFAULT_TILE
    if not sources:
        return TileLayout.plain(tile, "no source block layout known: plain tiles")
    seen = tuple(sorted({s.label for s in sources}))
    # the layout most assets share (bands of one grid and block shape count together)
    weight: dict[tuple, int] = {}
    for s in sources:
        weight[(s.grid, s.block)] = weight.get((s.grid, s.block), 0) + s.assets
    dominant = max(sources, key=lambda s: (weight[(s.grid, s.block)], s.block[0] * s.block[1]))
    # edges of coarser blocks on the same lattice (a band's 16-row strips beside 8-row ones) are
    # edges of the finer ones too: align to the coarsest
    anchor = max((s for s in sources if s.grid == dominant.grid and s.block[0] % dominant.block[0] == 0
                  and s.block[1] % dominant.block[1] == 0), key=lambda s: s.block[0] * s.block[1])
    rows, cols, phase = _footprint(grid, anchor)
    region = [_region_side(rows, tile), _region_side(cols, tile)]
    if dominant.block[1] >= dominant.grid.width:          # strips (or one block column): whole rows
        region[1] = max(grid.width, 1)
        phase = (phase[0], 0)
    # bytes of source windows per output pixel, all assets (a source pixel per output pixel ratio)
    per_px = sum(s.itemsize * s.assets * _pixel_ratio(grid, s) for s in sources)
    reason = f"read regions follow the {dominant.label} of {weight[(dominant.grid, dominant.block)]} asset(s)"
    if region[0] * region[1] * per_px > max_region_bytes:
        reason += f", capped at {max_region_bytes >> 20} MB of source windows per task"
    while region[0] * region[1] * per_px > max_region_bytes and (region[0] > 1 or region[1] > tile):
        if region[1] > region[0] and region[1] > tile:
            region[1] = max(tile, region[1] // 2)
        else:
            region[0] = max(1, region[0] // 2)
    tiles = (min(tile, region[0]), min(tile, region[1]))
    if not tile_size:      # tiles of about DEFAULT_TILE that split the region evenly
        tiles = tuple(_even(r, tile) for r in region)
    layout = TileLayout(tiles, (region[0], region[1]), (phase[0] % region[0], phase[1] % region[1]),
                        reason, seen)
    per_tile, unaligned = blocks_per_tile(grid, layout, sources)
    return TileLayout(layout.tile, layout.region, layout.phase, reason, seen, per_tile, unaligned)


def _region_side(footprint: int, tile: int) -> int:
    """Blocks at least a tile long are a region each; smaller ones are grouped to about a tile."""
    footprint = max(int(footprint), 1)
    if footprint >= tile:
        return footprint
    return footprint * max(1, round(tile / footprint))


def _even(length: int, tile: int) -> int:
    n = max(1, round(length / tile))
    return -(-length // n)


def _pixel_ratio(grid: TileGrid, s: SourceBlocks) -> float:
    """Source pixels per output pixel (same-CRS ratio of pixel areas; 1 otherwise)."""
    if s.grid.crs != grid.crs:
        return 1.0
    return (grid.resolution[0] * grid.resolution[1]) / (s.grid.resolution[0] * s.grid.resolution[1])


def _footprint(grid: TileGrid, s: SourceBlocks) -> tuple[int, int, tuple[int, int]]:
    """A block's size in output pixels and the output (row, col) of a block edge (same CRS; for
    other CRSs the size at equal resolution and no alignment)."""
    bh, bw = s.block
    if s.grid.crs != grid.crs:
        return bh, bw, (0, 0)
    sy = s.grid.resolution[1] / grid.resolution[1]
    sx = s.grid.resolution[0] / grid.resolution[0]
    # output position of the source's pixel (0, 0) corner
    col0 = (s.grid.transform[2] - grid.transform[2]) / grid.resolution[0]
    row0 = (grid.transform[5] - s.grid.transform[5]) / grid.resolution[1]
    rows, cols = max(1, round(bh * sy)), max(1, round(bw * sx))
    return rows, cols, (int(math.floor(row0 + 1e-6)) % rows, int(math.floor(col0 + 1e-6)) % cols)


def blocks_per_tile(grid: TileGrid, layout: TileLayout, sources: Sequence[SourceBlocks]) -> tuple[float, float]:
    """Source blocks decoded per tile (summed over assets) when each region is read once, and when
    each tile reads its own window instead (same-CRS sources; others count as one block per read)."""
    regions = list(layout.regions(grid))
    ntiles = sum(1 for r in regions for _ in layout.tiles(r))
    if not ntiles:
        return 0.0, 0.0
    # sources stored alike (the bands of one collection) decode alike: count their blocks once
    # (this walk over every tile was the driver's largest CPU item in a 12-date composite's plan)
    assets: dict[tuple, int] = {}
    alike: dict[tuple, SourceBlocks] = {}
    for s in sources:
        assets[(s.grid, s.block)] = assets.get((s.grid, s.block), 0) + s.assets
        alike.setdefault((s.grid, s.block), s)
    read = plain = 0
    for key, s in alike.items():
        for region in regions:
            read += assets[key] * _blocks_under(grid, region, s)
            plain += assets[key] * sum(_blocks_under(grid, t, s) for t in layout.tiles(region))
    return round(read / ntiles, 3), round(plain / ntiles, 3)


def _blocks_under(grid: TileGrid, window: Window, s: SourceBlocks) -> int:
    """How many of ``s``'s blocks the output ``window`` touches."""
    if s.grid.crs != grid.crs:
        return 1
    w = s.grid.window_of(grid.crop(window).bounds)
    return blocks_touched((w.row_off, w.col_off, w.row_off + w.height, w.col_off + w.width), s.block)


def blocks_touched(span: tuple[int, int, int, int], block: tuple[int, int]) -> int:
    """How many blocks of shape ``block`` a (row0, col0, row1, col1) span of source pixels touches."""
    r0, c0, r1, c1 = span
    if r1 <= r0 or c1 <= c0:
        return 0
    bh, bw = block
    return ((r1 - 1) // bh - r0 // bh + 1) * ((c1 - 1) // bw - c0 // bw + 1)

"""The source windows of a task's current read region, each decoded once (see ``jobs.plan.blocks``).

While a task computes the tiles of one read region, every asset's window covering the whole region
is read once, in the file's own dtype, and each tile's read is a slice of it. Moving to the next
region drops the previous windows: a worker holds one region's windows at most.

With focal processes a region's window reaches a halo into its neighbours' source blocks, and a
compressed block is decoded whole even for a 1 px strip: a 256 px region in 256 px blocks would decode
9 blocks instead of 1. ``BlockCache`` then keeps the decoded blocks (least recently used first out,
within a byte budget), so that a neighbour's blocks decoded for a halo serve that neighbour's own
region later, and each block is still decoded about once per task.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from jobs.plan.grid import TileGrid

# (row0, col0, row1, col1) in source pixels, end exclusive
Span = tuple[int, int, int, int]
# (block row, block col, rows) -> the block's first rows, or None when they cannot be had alone
TopRows = Callable[[int, int, int], "np.ndarray | None"]
# a strip of at most 1/TOP_ROWS_SHARE of a block's rows is inflated alone; a deeper one, whole
TOP_ROWS_SHARE = 4


@dataclass
class RegionWindows:
    """The windows read for one region: (href, band) -> (span, array)."""

    region: TileGrid | None = None
    windows: dict[tuple[str, int], tuple[Span, np.ndarray]] = field(default_factory=dict)
    blocks: "BlockCache | None" = None          # set while the task's tiles read halos
    spans: dict[tuple, Span] = field(default_factory=dict)      # (source grid, margin) -> region span

    def enter(self, region: TileGrid) -> None:
        """Start reading for ``region`` (a no-op when it is the current one)."""
        if region != self.region:
            self.region = region
            self.windows.clear()
            self.spans.clear()

    def read(self, key: tuple[str, int], want: Span, region_span: Callable[[], Span],
             read: Callable[[Span], np.ndarray]) -> tuple[np.ndarray, bool]:
        """``want`` of ``key`` as a view of the region's window, reading that window first (the
        region's span joined with ``want``) unless it is there. Returns (array, read from file)."""
        held = self.windows.get(key)
        fresh = False
        if held is None or not _inside(want, held[0]):
            span = _join(region_span(), want)
            held = self.windows[key] = (span, read(span))
            fresh = True
        (r0, c0, _, _), arr = held
        return arr[want[0] - r0:want[2] - r0, want[1] - c0:want[3] - c0], fresh

    def forget(self, href: str) -> None:
        for key in [k for k in self.windows if k[0] == href]:
            del self.windows[key]
        if self.blocks is not None:
            self.blocks.forget(href)


class BlockCache:
    """Decoded source blocks of the assets a task reads: (href, band, block row, block col) -> array,
    at most ``budget`` bytes, the least recently used dropped first."""

    def __init__(self, budget: int):
        self.budget = budget
        self.held: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self.bytes = 0

    def read(self, key: tuple[str, int], span: Span, block: tuple[int, int], shape: tuple[int, int],
             read: Callable[[Span], np.ndarray], top: TopRows | None = None) -> tuple[np.ndarray, float]:
        """``span`` of asset band ``key`` (raster ``shape``, blocks ``block``) from whole blocks, the
        missing ones decoded with ``read`` (a rectangle of blocks per call); returns (array, blocks
        decoded). When ``span`` ends in the top rows of its last block row (a halo strip), ``top(block
        row, block col, rows)`` inflates just those rows where it can (``jobs.cube.partial``); they count
        as their share of a block."""
        bh, bw = block
        rows = range(span[0] // bh, (span[2] - 1) // bh + 1)
        cols = range(span[1] // bw, (span[3] - 1) // bw + 1)

        def needed(i: int) -> int:      # the rows of block row i the span reaches, from its top
            return min(span[2] - i * bh, bh, shape[0] - i * bh)

        def covered(i: int, j: int) -> bool:
            held = self.held.get((*key, i, j))
            return held is not None and held.shape[0] >= needed(i)

        decoded: float = 0
        last = rows[-1]
        if top is not None and needed(last) * TOP_ROWS_SHARE <= bh:
            for j in cols:
                if not covered(last, j):
                    part = top(last, j, needed(last))
                    if part is not None:
                        self._put((*key, last, j), part)
                        decoded += part.shape[0] / bh
        for i0, i1, j0, j1 in _missing_rectangles(rows, cols, covered):
            rect = (i0 * bh, j0 * bw, min((i1 + 1) * bh, shape[0]), min((j1 + 1) * bw, shape[1]))
            arr = read(rect)
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    part = arr[i * bh - rect[0]:(i + 1) * bh - rect[0], j * bw - rect[1]:(j + 1) * bw - rect[1]]
                    self._put((*key, i, j), part)
                    decoded += 1
        out = None
        for i in rows:
            for j in cols:
                part = self.held[(*key, i, j)]
                self.held.move_to_end((*key, i, j))
                if out is None:
                    out = np.empty((span[2] - span[0], span[3] - span[1]), dtype=part.dtype)
                r0, c0 = max(span[0], i * bh), max(span[1], j * bw)
                r1, c1 = min(span[2], i * bh + part.shape[0]), min(span[3], j * bw + part.shape[1])
                out[r0 - span[0]:r1 - span[0], c0 - span[1]:c1 - span[1]] = \
                    part[r0 - i * bh:r1 - i * bh, c0 - j * bw:c1 - j * bw]
        self._trim()
        return out, decoded

    def _put(self, key: tuple, part: np.ndarray) -> None:
        old = self.held.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        self.held[key] = part
        self.bytes += part.nbytes

    def _trim(self) -> None:
        # after the read: the blocks just used may exceed the budget together, never evicted mid-read
        while self.bytes > self.budget and len(self.held) > 1:
            self.bytes -= self.held.popitem(last=False)[1].nbytes

    def forget(self, href: str) -> None:
        for key in [k for k in self.held if k[0] == href]:
            self.bytes -= self.held.pop(key).nbytes


def _missing_rectangles(rows: range, cols: range, held: Callable[[int, int], bool]) -> list[tuple[int, int, int, int]]:
    """(row0, row1, col0, col1) block rectangles, ends included, covering the blocks not ``held``:
    each block row's runs of missing blocks, consecutive rows with the same runs merged (a column
    of strips is one read)."""
    out: list[list[int]] = []
    previous: list[list[int]] = []
    for i in rows:
        runs, start = [], None
        for j in [*cols, None]:
            missing = j is not None and not held(i, j)
            if missing and start is None:
                start = j
            elif not missing and start is not None:
                runs.append((start, (j if j is not None else cols[-1] + 1) - 1))
                start = None
        current = []
        for j0, j1 in runs:
            match = next((r for r in previous if r[1] == i - 1 and r[2] == j0 and r[3] == j1), None)
            if match is not None:
                match[1] = i
                current.append(match)
            else:
                rect = [i, i, j0, j1]
                out.append(rect)
                current.append(rect)
        previous = current
    return [tuple(r) for r in out]


def _inside(a: Span, b: Span) -> bool:
    return a[0] >= b[0] and a[1] >= b[1] and a[2] <= b[2] and a[3] <= b[3]


def _join(a: Span, b: Span) -> Span:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


"""Focal cubes: tile values that depend on pixels beyond the tile (apply_kernel, apply_neighborhood).

A tile of a focal cube is computed from its input on the tile grown by a *halo*: the input is
computed on that larger window (``gather``: the part inside the cube from the input itself, which
reads the neighbouring source pixels; the part outside the cube filled by the border rule), the
focal function runs on it, and the result is cropped back to the tile. Every output pixel thus sees
the same input whatever the tile size: results are those of one whole-array computation.

Two shapes of focal work:

- ``FocalCube``: a sliding function with a fixed reach (a convolution kernel of k x l pixels reaches
  k//2, l//2 pixels), computed on tile + halo;
- ``ChunkedCube`` (apply_neighborhood): the cube cut into chunks of a fixed size on a lattice anchored
  at the cube's upper-left pixel, each handed with ``overlap`` pixels around it (no-data outside the
  cube) to a chunk function, whose result is cropped to the chunk. ``map_chunks`` is that machinery
  for any chunk function (a callback's sub-graph, a UDF), independent of the tile plan.

``halo()`` tells the planner how far beyond a tile a node reads (``total_halo`` sums it down the DAG),
so the read regions and the plan's estimates include it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.cube.warp import onto
from jobs.plan.grid import TileGrid, Window

# openEO border names -> numpy.pad modes (apply_kernel's spec draws each one)
BORDER_MODES = {
    "replicate": "edge",            # aaaaaa|abcdefgh|hhhhhh
    "reflect": "symmetric",         # fedcba|abcdefgh|hgfedc
    "reflect_pixel": "reflect",     # gfedcb|abcdefgh|gfedcb
    "wrap": "wrap",                 # cdefgh|abcdefgh|abcdef
}


@dataclass(frozen=True)
class Border:
    """How values outside the cube are made up: a numpy.pad mode, and the value of ``constant``."""

    mode: str = "constant"
    value: float = 0.0


NODATA_BORDER = Border("constant", float("nan"))


def gather(source: LazyCube, window: Window, ctx: TileContext, border: Border) -> np.ndarray:
    """``source``'s values on ``window`` of its own grid; the window may reach past the cube, whose
    outside is filled by ``border``. The inside comes from ``source`` itself (for a loading leaf:
    the source pixels around the tile)."""
    grid = source.meta.grid
    h, w = grid.shape
    if border.mode == "wrap":
        return _gather_wrapped(source, window, ctx)
    r0, c0 = max(window.row_off, 0), max(window.col_off, 0)
    r1 = min(window.row_off + window.height, h)
    c1 = min(window.col_off + window.width, w)
    if r1 <= r0 or c1 <= c0:
        shape = source.meta.shape_for(grid.crop(window))
        fill = border.value if border.mode == "constant" else np.nan
        return np.full(shape, fill, dtype=np.float32)
    inside = source.compute(grid.crop(Window(r0, c0, r1 - r0, c1 - c0)), ctx)
    pads = [(r0 - window.row_off, window.row_off + window.height - r1),
            (c0 - window.col_off, window.col_off + window.width - c1)]
    if not any(a or b for a, b in pads):
        return inside
    widths = [(0, 0)] * (inside.ndim - 2) + pads
    if border.mode == "constant":
        return np.pad(inside, widths, mode="constant", constant_values=border.value)
    return np.pad(inside, widths, mode=border.mode)


def _runs(start: int, stop: int, n: int) -> list[tuple[int, int, int]]:
    """(position in the window, first source index, length) of the runs of ``range(start, stop)``
    wrapped onto ``range(n)``."""
    out, pos = [], 0
    while pos < stop - start:
        first = (start + pos) % n
        length = min(n - first, stop - start - pos)
        out.append((pos, first, length))
        pos += length
    return out


def _gather_wrapped(source: LazyCube, window: Window, ctx: TileContext) -> np.ndarray:
    """``gather`` with ``wrap``: the pixels past an edge come from the opposite side of the cube."""
    grid = source.meta.grid
    h, w = grid.shape
    out = None
    for pr, sr, nr in _runs(window.row_off, window.row_off + window.height, h):
        for pc, sc, nc in _runs(window.col_off, window.col_off + window.width, w):
            part = source.compute(grid.crop(Window(sr, sc, nr, nc)), ctx)
            if out is None:
                out = np.empty(part.shape[:-2] + (window.height, window.width), dtype=part.dtype)
            out[..., pr:pr + nr, pc:pc + nc] = part
    return out


def tile_window(source: LazyCube, grid: TileGrid) -> Window:
    """The window ``grid`` (a tile of the same pixel grid) covers in ``source``'s grid."""
    row, col = source.meta.grid.offset_of(grid)
    return Window(row, col, grid.height, grid.width)


class FocalCube(LazyCube):
    """``fn`` over the input grown by ``reach`` = (rows, cols) pixels on each side; ``fn`` returns the
    values of the inner part (the input's shape less 2 x reach along y and x)."""

    def __init__(self, node_id: str, meta: CubeMeta, source: LazyCube, reach: tuple[int, int], border: Border,
                 fn: Callable[[np.ndarray], np.ndarray]):
        self.node_id, self.meta, self.source = node_id, meta, source
        self.reach, self.border, self._fn = reach, border, fn

    def inputs(self):
        return (self.source,)

    def halo(self) -> tuple[int, int]:
        return self.reach

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        win = tile_window(self.source, grid)
        ry, rx = self.reach
        grown = Window(win.row_off - ry, win.col_off - rx, win.height + 2 * ry, win.width + 2 * rx)
        values = gather(self.source, grown, ctx, self.border)
        with np.errstate(all="ignore"):
            return self._fn(values)


# --- chunks with overlap (apply_neighborhood, run_udf) ---------------------------------------------------
@dataclass(frozen=True)
class Chunking:
    """Chunks of ``size`` (rows, cols) pixels anchored at the cube's upper-left pixel, each seen with
    ``overlap`` (rows, cols) more pixels on every side."""

    size: tuple[int, int]
    overlap: tuple[int, int] = (0, 0)

    def chunks(self, window: Window) -> Iterator[Window]:
        """The chunk cores (without overlap) that intersect ``window``, row-major."""
        sy, sx = self.size
        for i in range(window.row_off // sy, (window.row_off + window.height - 1) // sy + 1):
            for j in range(window.col_off // sx, (window.col_off + window.width - 1) // sx + 1):
                yield Window(i * sy, j * sx, sy, sx)

    def grow(self, core: Window) -> Window:
        oy, ox = self.overlap
        return Window(core.row_off - oy, core.col_off - ox, core.height + 2 * oy, core.width + 2 * ox)

    @property
    def halo(self) -> tuple[int, int]:
        """How far beyond a tile the chunks touching it reach, at most."""
        return self.size[0] - 1 + self.overlap[0], self.size[1] - 1 + self.overlap[1]


# a chunk function: (values of the chunk with its overlap, that window of the cube) -> values of the same shape
ChunkFn = Callable[[np.ndarray, Window], np.ndarray]


def map_chunks(fetch: Callable[[Window], np.ndarray], window: Window, chunking: Chunking, fn: ChunkFn) -> np.ndarray:
    """The values on ``window`` of ``fn`` run chunk by chunk: ``fetch(w)`` gives the input on any window
    ``w`` of the cube (no-data outside it); each chunk touching ``window`` is handed to ``fn`` with its
    overlap, and the chunk's core of the result is what the output keeps. The input is fetched once,
    for the union of the chunks."""
    cores = list(chunking.chunks(window))
    first, last = chunking.grow(cores[0]), chunking.grow(cores[-1])
    span = Window(first.row_off, first.col_off, last.row_off + last.height - first.row_off,
                  last.col_off + last.width - first.col_off)
    values = fetch(span)
    out = None
    oy, ox = chunking.overlap
    for core in cores:
        seen = chunking.grow(core)
        r, c = seen.row_off - span.row_off, seen.col_off - span.col_off
        result = np.asarray(fn(values[..., r:r + seen.height, c:c + seen.width], seen))
        if result.shape[-2:] != (seen.height, seen.width):
            raise ValueError(f"the chunk function returned spatial shape {result.shape[-2:]}, "
                             f"expected {(seen.height, seen.width)}")
        if out is None:
            out = np.full(result.shape[:-2] + (window.height, window.width), np.nan, dtype=result.dtype)
        # the part of the core inside the window, in window and in result coordinates
        top, left = max(core.row_off, window.row_off), max(core.col_off, window.col_off)
        bottom = min(core.row_off + core.height, window.row_off + window.height)
        right = min(core.col_off + core.width, window.col_off + window.width)
        out[..., top - window.row_off:bottom - window.row_off, left - window.col_off:right - window.col_off] = \
            result[..., top - seen.row_off:bottom - seen.row_off, left - seen.col_off:right - seen.col_off]
    return out


class ChunkedCube(LazyCube):
    """``fn(values, chunk grid, ctx)`` run per chunk of ``chunking`` over ``source`` (no-data past the
    cube's edges), each chunk's core kept: apply_neighborhood's callback, or a UDF."""

    def __init__(self, node_id: str, meta: CubeMeta, source: LazyCube, chunking: Chunking,
                 fn: Callable[[np.ndarray, TileGrid, TileContext], np.ndarray]):
        self.node_id, self.meta, self.source = node_id, meta, source
        self.chunking, self._fn = chunking, fn

    def inputs(self):
        return (self.source,)

    def halo(self) -> tuple[int, int]:
        return self.chunking.halo

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        cube = self.source.meta.grid
        return map_chunks(lambda w: gather(self.source, w, ctx, NODATA_BORDER), tile_window(self.source, grid),
                          self.chunking, lambda values, w: self._fn(values, cube.crop(w), ctx))


class ChunkInput(LazyCube):
    """The ``data`` parameter of a chunk's sub-graph: the chunk's values, seeded into the chunk's
    ``TileContext`` (``seed``) for ``meta.grid``; other grids get the aligned part of them."""

    def __init__(self, node_id: str, meta: CubeMeta):
        self.node_id, self.meta = node_id, meta

    def seed(self, ctx: TileContext, values: np.ndarray) -> None:
        ctx.memo(self, self.meta.grid, lambda: values)

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        if grid == self.meta.grid:          # memoised by ``seed``: reaching here means nothing was seeded
            raise RuntimeError(f"no chunk values seeded for {self.node_id!r}")
        held = self.compute(self.meta.grid, ctx)
        return onto(held, self.meta.grid, grid)

"""``TileGrid``: an immutable pixel grid (CRS, affine transform, shape), like odc-geo's GeoBox.

Pure arithmetic: no rasterio, no pyspark. Grids compare and hash by value, and every operation
returns a new grid.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterator

from affine import Affine

Bounds = tuple[float, float, float, float]   # left, bottom, right, top


@dataclass(frozen=True)
class Window:
    """A block of rows/cols inside a grid."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.row_off, self.row_off + self.height), slice(self.col_off, self.col_off + self.width)


@dataclass(frozen=True)
class TileGrid:
    """A north-up or rotated pixel grid: ``crs`` ("EPSG:n" or WKT), ``transform`` (6 floats), ``shape`` (rows, cols)."""

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]

    def __post_init__(self):
        if len(self.transform) < 6:
            raise ValueError(f"transform needs 6 coefficients, got {self.transform!r}")
        object.__setattr__(self, "transform", tuple(float(v) for v in self.transform[:6]))
        h, w = (int(v) for v in self.shape)
        if h < 0 or w < 0:
            raise ValueError(f"negative shape {self.shape!r}")
        object.__setattr__(self, "shape", (h, w))

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def from_bounds(cls, bounds: Bounds, crs: str, resolution: float | tuple[float, float],
                    anchor: tuple[float, float] = (0.0, 0.0)) -> "TileGrid":
        """The smallest north-up grid covering ``bounds`` whose pixel edges fall on ``anchor + k*res``."""
        rx, ry = (resolution, resolution) if isinstance(resolution, (int, float)) else resolution
        rx, ry = abs(float(rx)), abs(float(ry))
        ax, ay = anchor
        left = ax + math.floor(_round(((bounds[0] - ax) / rx))) * rx
        right = ax + math.ceil(_round(((bounds[2] - ax) / rx))) * rx
        bottom = ay + math.floor(_round(((bounds[1] - ay) / ry))) * ry
        top = ay + math.ceil(_round(((bounds[3] - ay) / ry))) * ry
        w = max(int(round((right - left) / rx)), 0)
        h = max(int(round((top - bottom) / ry)), 0)
        return cls(crs, (rx, 0.0, left, 0.0, -ry, top), (h, w))

    @classmethod
    def from_dict(cls, d: dict) -> "TileGrid":
        return cls(d["crs"], tuple(d["transform"]), tuple(d["shape"]))

    def to_dict(self) -> dict:
        return {"crs": self.crs, "transform": list(self.transform), "shape": list(self.shape)}

    # --- properties ------------------------------------------------------------------------------
    @property
    def affine(self) -> Affine:
        return Affine(*self.transform)

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    # cached: the read path asks a tile's and each source's grid for these once per band read
    @functools.cached_property
    def resolution(self) -> tuple[float, float]:
        """(x, y) pixel size, both positive."""
        a, b, _, d, e, _ = self.transform
        return math.hypot(a, d), math.hypot(b, e)

    @functools.cached_property
    def bounds(self) -> Bounds:
        h, w = self.shape
        xs, ys = zip(*(self.affine @ (c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))))
        return min(xs), min(ys), max(xs), max(ys)

    @functools.cached_property
    def anchor(self) -> tuple[float, float]:
        """The pixel-edge origin modulo the resolution: two grids with the same anchor align."""
        rx, ry = self.resolution
        return self.transform[2] % rx, self.transform[5] % ry

    @property
    def is_empty(self) -> bool:
        return self.shape[0] == 0 or self.shape[1] == 0

    # --- derived grids -----------------------------------------------------------------------------
    def crop(self, window: Window) -> "TileGrid":
        """The sub-grid covering ``window`` (which may extend past the edges: a pad)."""
        a, b, c, d, e, f = self.transform
        x, y = self.affine @ (window.col_off, window.row_off)
        return TileGrid(self.crs, (a, b, x, d, e, y), (window.height, window.width))

    def window_of(self, bounds: Bounds) -> Window:
        """The window of this (north-up) grid covering ``bounds``, clipped to the grid; may be empty."""
        inv = ~self.affine
        c0, r0 = inv @ (bounds[0], bounds[3])
        c1, r1 = inv @ (bounds[2], bounds[1])
        c0, c1 = sorted((c0, c1))
        r0, r1 = sorted((r0, r1))
        c0 = max(int(math.floor(_round(c0))), 0)
        r0 = max(int(math.floor(_round(r0))), 0)
        c1 = min(int(math.ceil(_round(c1))), self.width)
        r1 = min(int(math.ceil(_round(r1))), self.height)
        return Window(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))

    def clip_to(self, bounds: Bounds) -> "TileGrid":
        """This grid cropped to the pixels touching ``bounds`` (same CRS); same alignment."""
        return self.crop(self.window_of(bounds))

    def tiles(self, size: int | tuple[int, int] = 512) -> Iterator[tuple[tuple[int, int], Window, "TileGrid"]]:
        """Yield ``((tile_row, tile_col), window, grid)`` for each tile, row-major; edge tiles are smaller."""
        th, tw = (size, size) if isinstance(size, int) else size
        h, w = self.shape
        for i, r in enumerate(range(0, h, th)):
            for j, c in enumerate(range(0, w, tw)):
                win = Window(r, c, min(th, h - r), min(tw, w - c))
                yield (i, j), win, self.crop(win)

    def tiles_touching(self, bounds: Bounds, size: int = 512) -> list[tuple[int, int]]:
        """Indices of the tiles a footprint (in this grid's CRS) touches, like GeoboxTiles.tiles(query)."""
        win = self.window_of(bounds)
        if win.height == 0 or win.width == 0:
            return []
        return [(i, j)
                for i in range(win.row_off // size, (win.row_off + win.height - 1) // size + 1)
                for j in range(win.col_off // size, (win.col_off + win.width - 1) // size + 1)]

    def aligned_with(self, other: "TileGrid") -> bool:
        """Same CRS, resolution and pixel anchor: windows map 1:1 without resampling."""
        if self.crs != other.crs or not _close(self.resolution, other.resolution):
            return False
        tol = 1e-6 * max(self.resolution)
        return all(abs((a - b + r / 2) % r - r / 2) <= tol
                   for a, b, r in zip(self.anchor, other.anchor, self.resolution))

    def __repr__(self) -> str:
        rx, ry = self.resolution
        return f"TileGrid({self.crs}, {self.height}x{self.width} px, res={rx:g}x{ry:g}, bounds={self.bounds})"


def _round(v: float) -> float:
    # Snap values within 1e-9 px of an integer, so float noise never adds a pixel row.
    r = round(v)
    return float(r) if abs(v - r) < 1e-9 else v


def _close(a, b, tol: float = 1e-9) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))

"""``TileGrid``: an immutable pixel grid (CRS, affine transform, shape), like odc-geo's GeoBox.

Pure arithmetic and pyproj (``sparkeo.geometry``): no rasterio, no pyspark. The CRS is a
``pyproj.CRS`` object: grids in ``"EPSG:32633"`` and in its WKT are equal. Grids compare and hash by
value, and every operation returns a new grid.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterator

from affine import Affine
from pyproj import CRS

from sparkeo.geometry import Bounds, crs_of, crs_text, same_crs, transform_bounds, transform_ring

Transform = tuple[float, float, float, float, float, float]


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


@dataclass(frozen=True, eq=False)
class TileGrid:
    """A north-up or rotated pixel grid: ``crs`` (a ``pyproj.CRS``; built from anything pyproj takes),
    ``transform`` (6 floats), ``shape`` (rows, cols)."""

    crs: CRS
    transform: Transform
    shape: tuple[int, int]

    def __post_init__(self):
        object.__setattr__(self, "crs", crs_of(self.crs))
        if len(self.transform) < 6:
            raise ValueError(f"transform needs 6 coefficients, got {self.transform!r}")
        object.__setattr__(self, "transform", tuple(float(v) for v in self.transform[:6]))
        h, w = (int(v) for v in self.shape)
        if h < 0 or w < 0:
            raise ValueError(f"negative shape {self.shape!r}")
        object.__setattr__(self, "shape", (h, w))

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def from_bounds(cls, bounds: Bounds, crs, resolution: float | tuple[float, float],
                    anchor: tuple[float, float] = (0.0, 0.0)) -> "TileGrid":
        """The smallest north-up grid covering ``bounds`` whose pixel edges fall on ``anchor + k*res``."""
        rx, ry = _pair(resolution)
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
        """JSON form (``from_dict`` reads it back): the CRS as the text it was made from ("EPSG:n", WKT)."""
        return {"crs": crs_text(self.crs), "transform": list(self.transform), "shape": list(self.shape)}

    def __reduce__(self):
        # pickled (Spark tasks) as the CRS's text: unpickling goes through crs_of's cache, so the tiles
        # of a task share one CRS object instead of parsing one each
        return _restore, (crs_text(self.crs), self.transform, self.shape)

    # --- value semantics ---------------------------------------------------------------------------
    def __eq__(self, other) -> bool:
        if not isinstance(other, TileGrid):
            return NotImplemented
        return (self.transform == other.transform and self.shape == other.shape
                and same_crs(self.crs, other.crs))

    def __hash__(self) -> int:
        # equal CRSs may have different texts (EPSG code, WKT): the hash leaves the CRS out
        return hash((self.transform, self.shape))

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
        xs, ys = zip(*(_apply(self.transform, c, r) for c, r in ((0, 0), (w, 0), (0, h), (w, h))))
        return min(xs), min(ys), max(xs), max(ys)

    @functools.cached_property
    def _inverse(self) -> Transform:
        return _inverted(self.transform)

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
        x, y = _apply(self.transform, window.col_off, window.row_off)
        return TileGrid(self.crs, (a, b, x, d, e, y), (window.height, window.width))

    def offset_of(self, other: "TileGrid") -> tuple[int, int]:
        """(row, col) of ``other``'s upper-left pixel in this grid (grids of the same pixel lattice)."""
        col, row = _apply(self._inverse, other.transform[2], other.transform[5])
        return int(round(row)), int(round(col))

    def window_of(self, bounds: Bounds) -> Window:
        """The window of this (north-up) grid covering ``bounds``, clipped to the grid; may be empty."""
        c0, r0 = _apply(self._inverse, bounds[0], bounds[3])
        c1, r1 = _apply(self._inverse, bounds[2], bounds[1])
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
        for i in range(-(-self.height // th)):
            for j in range(-(-self.width // tw)):
                win = self.tile_window((i, j), size)
                yield (i, j), win, self.crop(win)

    def tile_window(self, index: tuple[int, int], size: int | tuple[int, int] = 512) -> Window:
        """The window of tile ``index`` (tile_row, tile_col) of ``tiles(size)``; edge tiles are smaller."""
        th, tw = (size, size) if isinstance(size, int) else size
        r, c = index[0] * th, index[1] * tw
        return Window(r, c, min(th, self.height - r), min(tw, self.width - c))

    def tiles_touching(self, bounds: Bounds, size: int = 512) -> list[tuple[int, int]]:
        """Indices of the tiles a footprint (in this grid's CRS) touches, like GeoboxTiles.tiles(query)."""
        win = self.window_of(bounds)
        if win.height == 0 or win.width == 0:
            return []
        return [(i, j)
                for i in range(win.row_off // size, (win.row_off + win.height - 1) // size + 1)
                for j in range(win.col_off // size, (win.col_off + win.width - 1) // size + 1)]

    # --- other CRSs --------------------------------------------------------------------------------------
    def bounds_in(self, crs) -> Bounds:
        """The box enclosing this grid in ``crs`` (edges densified)."""
        return transform_bounds(self.bounds, self.crs, crs)

    def footprint(self, crs=4326, points_per_edge: int = 21) -> tuple[tuple[float, float], ...]:
        """The grid's outline as a closed ring of (x, y) points in ``crs`` (lon/lat by default), each edge
        densified with ``points_per_edge`` points so it follows the curve the edge becomes."""
        h, w = self.shape
        steps = [k / (points_per_edge - 1) for k in range(points_per_edge - 1)]
        corners = ((0, 0), (w, 0), (w, h), (0, h), (0, 0))
        pixels = [(c0 + (c1 - c0) * t, r0 + (r1 - r0) * t)
                  for (c0, r0), (c1, r1) in zip(corners, corners[1:]) for t in steps]
        ring = transform_ring([self.affine @ p for p in pixels], self.crs, crs)
        return ring + ring[:1]

    def to_crs(self, crs, resolution: float | tuple[float, float] | None = None) -> "TileGrid":
        """A north-up grid in ``crs`` covering this one, anchored at its upper-left corner.

        ``resolution``: the new pixel size (x, y or one for both); None keeps the number of pixels
        along the diagonal, as GDAL's suggested warp output does. The same CRS and resolution return
        this grid's area on the same pixel edges.
        """
        left, bottom, right, top = self.bounds_in(crs)
        if resolution is None:
            if same_crs(self.crs, crs):
                rx, ry = self.resolution
            else:
                rx = ry = math.hypot(right - left, top - bottom) / math.hypot(self.width, self.height)
        else:
            rx, ry = _pair(resolution)
        width = max(int(math.ceil(round((right - left) / rx, 6))), 1)
        height = max(int(math.ceil(round((top - bottom) / ry, 6))), 1)
        return TileGrid(crs, (rx, 0.0, left, 0.0, -ry, top), (height, width))

    def aligned_with(self, other: "TileGrid") -> bool:
        """Same CRS, resolution and pixel anchor: windows map 1:1 without resampling."""
        if not _close(self.resolution, other.resolution) or not same_crs(self.crs, other.crs):
            return False
        tol = 1e-6 * max(self.resolution)
        return all(abs((a - b + r / 2) % r - r / 2) <= tol
                   for a, b, r in zip(self.anchor, other.anchor, self.resolution))

    def __repr__(self) -> str:
        rx, ry = self.resolution
        return f"TileGrid({crs_text(self.crs)}, {self.height}x{self.width} px, res={rx:g}x{ry:g}, bounds={self.bounds})"


def _restore(crs: str, transform, shape) -> TileGrid:
    return TileGrid(crs, transform, shape)


def _pair(resolution: float | tuple[float, float]) -> tuple[float, float]:
    """(x, y) pixel size, both positive, from one number or a pair."""
    rx, ry = (resolution, resolution) if isinstance(resolution, (int, float)) else resolution
    return abs(float(rx)), abs(float(ry))


# The arithmetic of affine.Affine's ``@`` and ``~``, operation for operation (same floats), on the
# plain 6-tuple: building Affine objects was most of the driver's tile-planning time.
def _apply(t: Transform, x: float, y: float) -> tuple[float, float]:
    """The point (x, y) (column, row) through the transform ``t``."""
    return x * t[0] + y * t[1] + t[2], x * t[3] + y * t[4] + t[5]


def _inverted(t: Transform) -> Transform:
    """The inverse of the transform ``t`` (as ``~Affine(*t)``)."""
    return tuple(~Affine(*t))[:6]


def _round(v: float) -> float:
    # Snap values within 1e-9 px of an integer, so float noise never adds a pixel row.
    r = round(v)
    return float(r) if abs(v - r) < 1e-9 else v


def _close(a, b, tol: float = 1e-9) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))

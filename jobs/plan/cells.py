"""Tiled output (``save_result`` option ``tile_grid``, as openEO's geopyspark back-end names it): the
output cut into square cells of a fixed size in the grid's CRS units, aligned on multiples of it
(``utm-10km``: 10 km cells whose edges fall on multiples of 10 km in UTM eastings and northings).

Each cell is one tile task and becomes its own COG and STAC item, written by the executor that
computes it (``jobs.results.tiledwriter``). Pure arithmetic: no rasterio, no Spark.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from jobs.errors import ProcessGraphError
from jobs.plan.grid import TileGrid, Window
from jobs.plan.planner import TileTask

TILE_GRID = re.compile(r"(?:utm-)?(\d+(?:\.\d+)?)(km|m)")
MAX_CELL_PIXELS = 8192 * 8192       # one task computes a whole cell in memory


@dataclass(frozen=True)
class CellGrid:
    """Cells of ``size`` CRS units, edges on multiples of ``size``."""

    size: float

    @classmethod
    def parse(cls, value, node_id: str | None = None) -> "CellGrid":
        """``"utm-10km"``, ``"20km"``, ``"5000m"``; anything else is the user's error, naming the option."""
        match = TILE_GRID.fullmatch(str(value).strip().lower())
        if not match or float(match.group(1)) <= 0:
            raise ProcessGraphError(node_id, "options.tile_grid",
                                    f"expected a cell size such as 'utm-10km' or '5000m', got {value!r}")
        return cls(float(match.group(1)) * (1000 if match.group(2) == "km" else 1))

    def cuts(self, origin: float, step: float, count: int) -> list[int]:
        """Pixel offsets (0 and ``count`` included) of the cell edges along one axis of ``count`` pixels
        starting at CRS coordinate ``origin`` with ``step`` units per pixel (negative: northings)."""
        end = origin + step * count
        lo, hi = sorted((origin, end))
        edges = [k * self.size for k in range(math.floor(lo / self.size) + 1, math.ceil(hi / self.size))]
        inner = sorted({round((e - origin) / step) for e in edges} - {0, count})
        return [0, *inner, count]

    def tasks(self, grid: TileGrid, planned: Sequence[TileTask], node_id: str | None = None) -> list[TileTask]:
        """One task per cell that some planned tile overlaps (the others hold no input: not written),
        indexed by (row, col) among the grid's cells, with the overlapping tiles' item count."""
        a, _, c, _, e, f = grid.transform[:6]
        rows, cols = self.cuts(f, e, grid.height), self.cuts(c, a, grid.width)
        out = []
        for i, (r0, r1) in enumerate(zip(rows[:-1], rows[1:])):
            for j, (c0, c1) in enumerate(zip(cols[:-1], cols[1:])):
                if (r1 - r0) * (c1 - c0) > MAX_CELL_PIXELS:
                    raise ProcessGraphError(node_id, "options.tile_grid",
                                            f"cells of {(r1 - r0)} x {(c1 - c0)} px are too large (at most "
                                            f"{MAX_CELL_PIXELS} px): choose smaller cells")
                window = Window(r0, c0, r1 - r0, c1 - c0)
                items = [t.items for t in planned if _overlap(t.window, window)]
                if items:
                    halo = planned[0].halo if planned else (0, 0)
                    out.append(TileTask((i, j), window, grid.crop(window), max(items), None, halo))
        return out


def _overlap(a: Window, b: Window) -> bool:
    return (a.row_off < b.row_off + b.height and b.row_off < a.row_off + a.height
            and a.col_off < b.col_off + b.width and b.col_off < a.col_off + a.width)

"""Lazy data cubes: what a process graph node produces, evaluated one tile at a time.

The driver builds a DAG of ``LazyCube`` nodes from the process graph (``jobs.graph.evaluate``); building
checks every argument and fixes each node's ``CubeMeta`` (dimensions, labels, output grid, dtype)
without reading a pixel. Spark tasks then call ``compute(grid, ctx)`` on the output node with
the grid of their tile; each node pulls its inputs for the same grid.

Arrays are float32 with NaN for nodata, axes in ``meta.dims`` order; spatial dims are always the
last two, ``("y", "x")``, when present. Labels: ``t`` -> ISO dates/datetimes ("2021-06-01"),
``bands`` -> band names, other dims -> their labels.

Push-down: ``select_bands``, ``select_time`` and ``clip`` return a narrowed cube; the default
wraps this cube, and a loading leaf overrides them to read less (filter_bands after
load_collection never reads the dropped bands). ``resample`` likewise lets resample_spatial have a
loading leaf read straight onto the new grid instead of warping its values.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from jobs.plan.grid import TileGrid
from jobs.cube.usage import Usage


@dataclass(frozen=True)
class CubeMeta:
    """Shape-free description of a cube: dims, labels of non-spatial dims, grid, output dtype."""

    dims: tuple[str, ...]
    labels: Mapping[str, tuple]                 # non-spatial dim -> labels
    grid: TileGrid | None                       # None when the cube has no spatial dims
    dtype: str = "float32"                      # source dtype while bands pass through untouched
    nodata: float | None = None                 # output nodata for ``dtype`` (NaN for floats)
    dim_types: Mapping[str, str] = field(default_factory=dict)   # dim -> spatial|temporal|bands|other
    # band name -> its common name and aliases (from the catalog's eo:bands), so ndvi/filter_bands
    # resolve "nir"/"red" to the collection's own band names
    band_aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the name of the one band of a cube whose bands dimension a process dropped (ndvi without
    # target_band, reduce_dimension over bands): what the results call it instead of "band_1"
    band_name: str | None = None
    # time label -> jobs.plan.timelabels.LabelPeriod, for labels aggregate_temporal_period made
    periods: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes) -> "CubeMeta":
        return dataclasses.replace(self, **changes)

    def shape_for(self, grid: TileGrid | None) -> tuple[int, ...]:
        """Array shape of this cube computed on ``grid``."""
        out = []
        for d in self.dims:
            if d == "y":
                out.append(grid.shape[0])
            elif d == "x":
                out.append(grid.shape[1])
            else:
                out.append(len(self.labels[d]))
        return tuple(out)

    def axis(self, dim: str) -> int:
        return self.dims.index(dim)

    def computed(self) -> "CubeMeta":
        """The meta once arithmetic touched the values: float32 with NaN nodata."""
        return self.replace(dtype="float32", nodata=float("nan"))


@dataclass
class TileContext:
    """Per-tile state: memoised node results and usage counters. Lives only inside one task."""

    settings: Any = None
    usage: Usage = field(default_factory=Usage)
    job_options: Mapping[str, Any] = field(default_factory=dict)
    region: TileGrid | None = None          # the tile's read region (jobs.plan.blocks), for the readers
    _memo: dict = field(default_factory=dict)

    def memo(self, node: "LazyCube", grid: TileGrid, fn: Callable[[], np.ndarray]) -> np.ndarray:
        key = (id(node), grid)
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]


class LazyCube(ABC):
    """A node of the evaluation DAG. Subclasses set ``meta`` and ``node_id`` and implement ``_compute``."""

    meta: CubeMeta
    node_id: str

    def compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        """This cube's values on ``grid`` (memoised per tile)."""
        return ctx.memo(self, grid, lambda: self._compute(grid, ctx))

    @abstractmethod
    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        ...

    def inputs(self) -> Iterable["LazyCube"]:
        """Upstream cubes (for walking the DAG: item lists, estimates)."""
        return ()

    def halo(self) -> tuple[int, int]:
        """(rows, cols) this node reads of its inputs beyond a tile on each side (``jobs.cube.focal``)."""
        return 0, 0

    # --- push-down hooks; a loading leaf overrides them to read less ---------------------------
    def select_bands(self, names: tuple[str, ...], node_id: str) -> "LazyCube | None":
        """A cube reading only ``names``, or None to let the caller wrap this cube."""
        return None

    def select_time(self, start, end, node_id: str) -> "LazyCube | None":
        return None

    def clip(self, grid: TileGrid, node_id: str) -> "LazyCube | None":
        return None

    def resample(self, grid: TileGrid, method: str, node_id: str) -> "LazyCube | None":
        """A cube read directly onto ``grid`` (any CRS) with resampling ``method`` ("near", "bilinear"...),
        or None to let resample_spatial warp this cube's values."""
        return None


def total_halo(cube: LazyCube) -> tuple[int, int]:
    """How far beyond a tile of ``cube`` the loading leaves below it are read: the halos summed along
    the deepest path of the DAG (a 5x5 kernel over a 3x3 kernel reads 3 pixels around the tile)."""
    memo: dict[int, tuple[int, int]] = {}

    def visit(node: LazyCube) -> tuple[int, int]:
        if id(node) not in memo:
            below = [visit(n) for n in node.inputs()] or [(0, 0)]
            own = node.halo()
            memo[id(node)] = (own[0] + max(b[0] for b in below), own[1] + max(b[1] for b in below))
        return memo[id(node)]

    return visit(cube)


def as_tbyx(values: np.ndarray, dims: tuple[str, ...]) -> np.ndarray:
    """Any of (t, bands, y, x), (bands, y, x), (t, y, x), (y, x) -> (t, bands, y, x)."""
    arr, names = values, list(dims)
    for d in ("bands", "t"):
        if d not in names:
            arr = arr[np.newaxis]
            names.insert(0, d)
    return np.transpose(arr, [names.index(d) for d in ("t", "bands", "y", "x")])

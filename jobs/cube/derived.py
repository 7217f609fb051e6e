"""``DerivedCube``: a cube computed from its inputs on the same tile grid by a pure numpy function.

Most cube processes (filters over labels, reduce_dimension, apply, mask, ndvi, merge_cubes,
rename/drop/add dimension, aggregate_temporal_period) keep the spatial grid: a tile of the output is
a function of the same tile of the inputs. Each such node is a ``DerivedCube`` with the function
and the output ``CubeMeta`` fixed at build time; the function never sees the grid.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.plan.grid import TileGrid


class DerivedCube(LazyCube):
    """``fn(*input_arrays) -> array`` on each tile; the result is checked against ``meta``'s shape."""

    def __init__(self, node_id: str, meta: CubeMeta, inputs: Iterable[LazyCube], fn: Callable[..., np.ndarray]):
        self.node_id = node_id
        self.meta = meta
        self._inputs = tuple(inputs)
        self._fn = fn

    def inputs(self) -> Iterable[LazyCube]:
        return self._inputs

    def _compute(self, grid: TileGrid | None, ctx: TileContext) -> np.ndarray:
        arrays = [cube.compute(grid, ctx) for cube in self._inputs]
        with np.errstate(all="ignore"):          # NaN and x/0 are nodata, not warnings
            out = self._fn(*arrays)
        shape = self.meta.shape_for(grid)
        # float32 working arrays; float64 only when an input is (the conformance tests' precision)
        wide = any(a.dtype == np.float64 for a in arrays)
        out = np.asarray(out, dtype=np.float64 if wide else np.float32)
        if out.shape != shape:
            out = np.broadcast_to(out, shape).copy()
        return out

    def __repr__(self) -> str:
        return f"DerivedCube({self.node_id!r}, dims={self.meta.dims})"


def as_float(values) -> np.ndarray:
    """Callback results as floats: booleans 0/1, None -> NaN; float32 unless already float64."""
    if values is None:
        return np.float32(np.nan)
    arr = np.asarray(values)
    if arr.dtype == object:
        arr = np.where(np.equal(arr, None), np.nan, arr).astype(np.float64)
    if arr.dtype == np.float64:
        return arr          # float64 inputs stay float64 (see DerivedCube._compute)
    return arr.astype(np.float32, copy=False)

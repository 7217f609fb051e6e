"""``ArrayCube``: an in-memory data cube (numpy values + dims + labels + grid), a leaf of the DAG.

Used by tests, by the conformance runner (the openEO test suite's data cubes: ``from_openeo`` /
``to_openeo``) and by ``CubeSource`` test doubles. ``compute(grid)`` returns the window of ``grid``
(NaN outside the cube; warped when the grids do not align). ``materialize`` evaluates any lazy cube
over its whole grid in one piece.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.plan.grid import TileGrid
from jobs.cube.warp import onto
from sparkeo.geometry import crs_text

_DIM_TYPES = {"t": "temporal", "bands": "bands", "x": "spatial", "y": "spatial"}


class ArrayCube(LazyCube):
    """A cube whose values are in memory: ``values`` has axes in ``dims`` order, spatial dims last."""

    def __init__(self, values: np.ndarray, dims: tuple[str, ...], labels: Mapping[str, tuple] | None = None,
                 grid: TileGrid | None = None, node_id: str = "array", dtype: str = "float32",
                 nodata: float | None = None, dim_types: Mapping[str, str] | None = None,
                 band_aliases: Mapping[str, tuple[str, ...]] | None = None, working_dtype: str = "float32"):
        dims = tuple(dims)
        labels = {d: tuple(v) for d, v in (labels or {}).items()}
        values = np.asarray(values, dtype=working_dtype)
        if nodata is not None and not math.isnan(nodata):
            values = np.where(values == nodata, np.nan, values).astype(working_dtype)
        types = {d: (dim_types or {}).get(d, _DIM_TYPES.get(d, "other")) for d in dims}
        self.meta = CubeMeta(dims=dims, labels=labels, grid=grid, dtype=dtype,
                             nodata=float("nan") if nodata is None and dtype.startswith("float") else nodata,
                             dim_types=types, band_aliases=dict(band_aliases or {}))
        expected = self.meta.shape_for(grid)
        if values.shape != expected:
            raise ValueError(f"values of shape {values.shape} do not match dims {dims} and labels/grid: {expected}")
        self.values = values
        self.node_id = node_id

    def _compute(self, grid: TileGrid | None, ctx: TileContext) -> np.ndarray:
        if grid is None or self.meta.grid is None or grid == self.meta.grid:
            return self.values
        return onto(self.values, self.meta.grid, grid)

    # --- the openEO test-suite encoding -----------------------------------------------------------
    @classmethod
    def from_openeo(cls, doc: Mapping[str, Any], node_id: str = "array") -> "ArrayCube":
        """A cube from the openEO tests' ``{"type": "datacube", order, dimensions, data, nodata}`` object."""
        order = tuple(doc["order"])
        dimensions = doc["dimensions"]
        nodata = doc.get("nodata")
        if isinstance(nodata, list):
            nodata = nodata[0] if nodata else None
        dim_types = {d: _type_of(d, dimensions[d]) for d in order}
        labels = {d: tuple(dimensions[d]["values"]) for d in order if dim_types[d] != "spatial"}
        shape = tuple(len(dimensions[d]["values"]) for d in order)
        data = doc.get("data")
        values = np.full(shape, np.nan) if data is None else \
            np.array(_nulls_to_nan(data), dtype=np.float64).reshape(shape)
        grid = None
        if "x" in order and "y" in order:
            if order[-2:] != ("y", "x"):
                values = np.moveaxis(values, [order.index("y"), order.index("x")], [-2, -1])
                order = tuple(d for d in order if d not in ("y", "x")) + ("y", "x")
            ys = np.asarray(dimensions["y"]["values"], dtype=float)
            xs = np.asarray(dimensions["x"]["values"], dtype=float)
            if len(ys) > 1 and ys[1] > ys[0]:         # south-up input: store north-up
                values, ys = values[..., ::-1, :], ys[::-1]
            grid = grid_of_centres(xs, ys, _crs_of(dimensions["x"].get("reference_system")))
        integral = data is not None and bool(np.all(np.isnan(values) | (values == np.round(values))))
        dtype = "int32" if integral and nodata is not None and not _isnan(nodata) else "float32"
        # float64 working values: the suite checks 10 decimals
        return cls(values, order, labels, grid, node_id=node_id, dtype=dtype, nodata=nodata, dim_types=dim_types,
                   working_dtype="float64")


def to_openeo(cube: LazyCube, ctx: TileContext | None = None) -> dict:
    """A cube (evaluated over its whole grid) in the openEO tests' datacube encoding, NaN as nodata."""
    meta = cube.meta
    values = materialize(cube, ctx)
    dimensions = {}
    for d in meta.dims:
        if d in ("x", "y") and meta.grid is not None:
            g = meta.grid
            if d == "x":
                coords = [g.transform[2] + g.transform[0] * (i + 0.5) for i in range(g.width)]
            else:
                coords = [g.transform[5] + g.transform[4] * (i + 0.5) for i in range(g.height)]
            dimensions[d] = {"type": "spatial", "axis": d, "values": coords, "reference_system": crs_text(g.crs)}
        else:
            dimensions[d] = {"type": meta.dim_types.get(d, "other"), "values": list(meta.labels[d])}
    return {"type": "datacube", "order": list(meta.dims), "dimensions": dimensions,
            "data": values.tolist(), "nodata": [float("nan")]}


def materialize(cube: LazyCube, ctx: TileContext | None = None) -> np.ndarray:
    """The whole cube as one array (tests and small cubes only)."""
    return cube.compute(cube.meta.grid, ctx or TileContext())


def grid_of_centres(xs, ys, crs: str) -> TileGrid:
    """The north-up grid whose pixel centres are ``xs`` (west->east) and ``ys`` (north->south)."""
    rx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    ry = float(ys[0] - ys[1]) if len(ys) > 1 else rx
    return TileGrid(crs, (rx, 0.0, float(xs[0]) - rx / 2, 0.0, -ry, float(ys[0]) + ry / 2), (len(ys), len(xs)))


def _type_of(name: str, dim: Mapping[str, Any]) -> str:
    t = dim.get("type") or _DIM_TYPES.get(name, "other")
    return "spatial" if t == "spatial" else t


def _crs_of(ref: Any) -> str:
    if ref is None:
        return "EPSG:4326"
    if isinstance(ref, int):
        return f"EPSG:{ref}"
    if isinstance(ref, dict):
        import json
        return json.dumps(ref)
    return str(ref)


def _nulls_to_nan(data):
    if isinstance(data, list):
        return [_nulls_to_nan(v) for v in data]
    return np.nan if data is None else data


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)

"""Neighbourhood cube processes: apply_kernel and apply_neighborhood (openEO 1.2.0).

Both need pixels of the neighbouring tiles: they build the focal cubes of ``jobs.cube.focal``, which
compute their input on the tile grown by a halo (the kernel's reach; a chunk and its overlap) and crop
the result, so that any tile size gives the result of one whole-array computation.

- ``apply_kernel``: a correlation with the kernel (each weight times the pixel under it, summed), times
  ``factor``; NaN and infinities become ``replace_invalid`` first; past the cube's edges the
  ``border`` rule (a number, replicate, reflect, reflect_pixel, wrap).
- ``apply_neighborhood``: the callback runs on every chunk of ``size`` x/y pixels (in px or m) seen with
  ``overlap`` pixels around it, no-data past the cube's edges; the chunk's core of its result is kept.
  The callback is a sub-graph of cube processes whose ``data`` is the chunk (``ChunkInput``), built
  once on the driver on a template chunk grid and computed per chunk.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from jobs.cube.focal import BORDER_MODES, Border, ChunkedCube, ChunkInput, Chunking, FocalCube
from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.callback import Callback
from jobs.plan.grid import TileGrid, Window
from jobs.processes.registry import Param, process
from jobs.processes.udf import neighborhood_udf, udf_call


# --- apply_kernel --------------------------------------------------------------------------------------
def _kernel(kernel: Any) -> np.ndarray:
    """The kernel as a 2-D float64 array: rectangular, numeric, an odd size along each axis."""
    rows = kernel if isinstance(kernel, (list, tuple)) else None
    if not rows or not all(isinstance(r, (list, tuple)) and r for r in rows) or len({len(r) for r in rows}) != 1 \
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for r in rows for v in r):
        raise ProcessGraphError(None, "kernel", f"expected a rectangular two-dimensional array of numbers, "
                                                f"got {str(kernel)[:80]}")
    weights = np.asarray(rows, dtype=np.float64)
    if weights.shape[0] % 2 == 0 or weights.shape[1] % 2 == 0:
        raise ProcessError("KernelDimensionsUneven", f"each level of the kernel must have an uneven number of "
                                                     f"elements, got {weights.shape[0]} x {weights.shape[1]}",
                           argument="kernel")
    if not np.all(np.isfinite(weights)):
        raise ProcessGraphError(None, "kernel", "the kernel's weights must be finite numbers")
    return weights


def _border(border: Any) -> Border:
    if isinstance(border, str):
        if border not in BORDER_MODES:
            raise ProcessGraphError(None, "border", f"unknown border {border!r} (a number, or one of "
                                                    f"{', '.join(BORDER_MODES)})")
        return Border(BORDER_MODES[border])
    if isinstance(border, bool) or not isinstance(border, numbers.Real) or not math.isfinite(border):
        raise ProcessGraphError(None, "border", f"expected a number or a border mode, got {border!r}")
    return Border("constant", float(border))


def correlate(values: np.ndarray, weights: np.ndarray, factor: float, replace_invalid: float) -> np.ndarray:
    """The kernel over ``values`` (..., rows, cols), valid part only: each output pixel is the sum of
    the weights times the pixels under them (a correlation, the kernel not flipped), times ``factor``;
    the output is smaller by the kernel's size less one along y and x.

    A separable kernel (an outer product: box, binomial, Gaussian) runs as a pass along x then one
    along y, ky + kx multiply-adds per pixel instead of ky x kx (a 3x3 mean: 4 additions; 3.5x faster
    on a 12-date 256 px tile than the 9 shifted products)."""
    dtype = np.float64 if values.dtype == np.float64 else np.float32
    values = np.where(np.isfinite(values), values, dtype(replace_invalid)).astype(dtype, copy=False)
    ky, kx = weights.shape
    h, w = values.shape[-2] - ky + 1, values.shape[-1] - kx + 1
    split = _separable(weights)
    if split is not None:
        column, row = split
        across = _taps(values, row, -1, w)
        out = _taps(across, column, -2, h)
    else:
        out = np.zeros(values.shape[:-2] + (h, w), dtype=dtype)
        step = np.empty_like(out)
        for i in range(ky):
            for j in range(kx):
                if weights[i, j]:
                    np.multiply(values[..., i:i + h, j:j + w], dtype(weights[i, j]), out=step)
                    out += step
    if factor != 1:
        out *= dtype(factor)
    return out


def _separable(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(column, row) with ``outer(column, row) == weights`` exactly enough, or None."""
    i, j = np.unravel_index(np.argmax(np.abs(weights)), weights.shape)
    if weights[i, j] == 0:
        return None
    row, column = weights[i, :], weights[:, j] / weights[i, j]
    if not np.allclose(np.outer(column, row), weights, rtol=1e-12, atol=1e-12 * abs(weights[i, j])):
        return None
    return column, row


def _taps(values: np.ndarray, taps: np.ndarray, axis: int, n: int) -> np.ndarray:
    """Sum over k of ``taps[k]`` times ``values`` shifted by k along ``axis`` (-1 or -2), ``n`` long."""
    def part(k: int) -> np.ndarray:
        return values[..., k:k + n] if axis == -1 else values[..., k:k + n, :]

    dtype = values.dtype.type
    out = part(0) * dtype(taps[0]) if taps[0] != 1 else part(0).copy()
    step = None
    for k in range(1, len(taps)):
        if taps[k] == 1:
            out += part(k)
        elif taps[k]:
            step = np.empty_like(out) if step is None else step
            np.multiply(part(k), dtype(taps[k]), out=step)
            out += step
    return out


@process("apply_kernel", Param("data", kind="cube"), Param("kernel", kind="array"), Param("factor", 1, "number"),
         Param("border", 0), Param("replace_invalid", 0, "number"), kind="cube")
def apply_kernel(ctx, node_id, data: LazyCube, kernel, factor=1, border=0, replace_invalid=0):
    """A 2-D convolution (weighted focal sum) over x and y, across tile edges."""
    meta = data.meta
    if meta.grid is None:
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")
    weights = _kernel(kernel)
    rule = _border(border)
    factor = 1.0 if factor is None else float(factor)
    invalid = 0.0 if replace_invalid is None else float(replace_invalid)
    reach = (weights.shape[0] // 2, weights.shape[1] // 2)
    return FocalCube(node_id, meta.computed(), data, reach, rule,
                     lambda values: correlate(values, weights, factor, invalid))


# --- apply_neighborhood ----------------------------------------------------------------------------------
def _extents(values: Any, argument: str) -> dict[str, Any]:
    """``size``/``overlap``: dimension name -> {value, unit}."""
    if values is None:
        return {}
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, dict) and "dimension" in v for v in values):
        raise ProcessGraphError(None, argument, f"expected a list of {{dimension, value, unit}} objects, "
                                                f"got {str(values)[:80]}")
    return {v["dimension"]: v for v in values}


def _pixels(entry: dict | None, resolution: float, argument: str, whole: int | None) -> int:
    """A spatial extent in whole pixels: px as given, m divided by the resolution and rounded;
    None/absent = ``whole``."""
    if entry is None or entry.get("value") is None:
        if whole is None:
            return 0
        return whole
    value, unit = entry["value"], entry.get("unit") or "m"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        raise ProcessGraphError(None, argument, f"expected a number of pixels or metres for dimension "
                                                f"{entry['dimension']!r}, got {value!r}")
    if unit not in ("px", "m"):
        raise ProcessGraphError(None, argument, f"unknown unit {unit!r} (px or m)")
    # metres become the nearest whole number of pixels (real grids are rarely exactly 10 m)
    px = int(round(value if unit == "px" else value / resolution))
    if whole is not None and px == 0:
        raise ProcessGraphError(None, argument, f"the neighbourhood size along {entry['dimension']!r} must be "
                                                "at least one pixel")
    return px


def _check_other_dimensions(meta: CubeMeta, size: dict, overlap: dict) -> None:
    """Chunks along non-spatial dimensions are not cut: their size must cover all labels."""
    for dim, entry in size.items():
        if dim in ("x", "y"):
            continue
        if dim not in meta.dims:
            raise ProcessError("DimensionNotAvailable", f"dimension {dim!r} does not exist "
                                                        f"(the cube has {', '.join(meta.dims)})", argument="size")
        value = entry.get("value")
        if value is not None and not (isinstance(value, numbers.Real) and value >= len(meta.labels[dim])):
            raise ProcessGraphError(None, "size", f"neighbourhoods along {dim!r} smaller than the whole dimension "
                                                  f"are not supported (use null for all {len(meta.labels[dim])} labels)")
    for dim, entry in overlap.items():
        if dim not in ("x", "y") and entry.get("value") not in (None, 0):
            raise ProcessGraphError(None, "overlap", f"an overlap along {dim!r} is not supported (only x and y)")


def chunk_subgraph(ctx, node_id: str, process: Callback, template: CubeMeta, context) -> tuple[ChunkInput, LazyCube]:
    """The callback built as a cube DAG over a ``ChunkInput`` of meta ``template``: (input, output)."""
    from jobs.graph.evaluate import evaluate_node

    chunk = ChunkInput(f"{node_id}/data", template)
    parameters = {**dict(process.outer), "data": chunk, "context": context}
    results: dict[str, Any] = {}
    for child in process.graph.order:
        results[child] = evaluate_node(process.graph.nodes[child], results, parameters, ctx)
    out = results[process.graph.result_node]
    if not isinstance(out, LazyCube):
        raise ProcessGraphError(None, "process", "the callback must return a data cube")
    same = out.meta.dims == template.dims and out.meta.grid == template.grid and \
        all(len(out.meta.labels[d]) == len(template.labels[d]) for d in template.dims if d not in ("x", "y"))
    if not same:
        raise ProcessError("DataCubePropertiesImmutable", "the callback must return a cube with the dimensions, "
                                                          "sizes and grid of its input", argument="process")
    return chunk, out


@process("apply_neighborhood", Param("data", kind="cube"),
         Param("process", kind="callback", callback_params=("data", "context")),
         Param("size", kind="array"), Param("overlap", None, "array"), Param("context", None), kind="cube")
def apply_neighborhood(ctx, node_id, data: LazyCube, process: Callback, size, overlap=None, context=None):
    """``process`` on every neighbourhood of ``size`` with ``overlap`` around it, across tile edges."""
    meta = data.meta
    if meta.grid is None:
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")
    sizes, overlaps = _extents(size, "size"), _extents(overlap, "overlap")
    _check_other_dimensions(meta, sizes, overlaps)
    rx, ry = meta.grid.resolution
    chunking = Chunking((_pixels(sizes.get("y"), ry, "size", meta.grid.height),
                         _pixels(sizes.get("x"), rx, "size", meta.grid.width)),
                        (_pixels(overlaps.get("y"), ry, "overlap", None),
                         _pixels(overlaps.get("x"), rx, "overlap", None)))
    udf = udf_call(process, "data", context)
    if udf is not None:         # openeo.UDF(code) as the callback: the UDF sees each chunk with its overlap
        return ChunkedCube(node_id, meta.computed(), data, chunking, neighborhood_udf(ctx, udf, meta))
    template = meta.replace(grid=meta.grid.crop(chunking.grow(Window(0, 0, *chunking.size))))
    chunk, out = chunk_subgraph(ctx, node_id, process, template, context)

    def run(values: np.ndarray, grid: TileGrid, tile_ctx: TileContext) -> np.ndarray:
        # a context of its own per chunk: the sub-graph's memo is keyed by the template grid
        chunk_ctx = TileContext(settings=tile_ctx.settings, usage=tile_ctx.usage, job_options=tile_ctx.job_options)
        chunk.seed(chunk_ctx, values)
        return out.compute(template.grid, chunk_ctx)

    return ChunkedCube(node_id, out.meta.replace(grid=meta.grid), data, chunking, run)

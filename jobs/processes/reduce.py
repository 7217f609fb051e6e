"""Callback-driven cube processes: reduce_dimension, apply, apply_dimension, reduce_spatial.

The callback runs vectorised on a whole tile: for reduce/apply_dimension, ``data`` is a
``LabeledArray`` whose axis 0 is the dimension and whose trailing axes are the other dims; for
``apply``, ``x`` is the tile itself. At build time every callback is run once on a 1x1-pixel probe,
so a bad callback (a label that does not exist, a reducer that returns an array) fails on the
driver with the callback's node id, and the output length of apply_dimension is known.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from jobs.graph.callback import Callback
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.cube.derived import DerivedCube, as_float
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.cubes import require_dimension
from jobs.processes.labeled import LabeledArray
from jobs.processes.registry import Param, process
from jobs.processes.udf import apply_dimension_udf, apply_udf, reduce_dimension_udf, udf_call

# reducers that return one of the input values unchanged: integer bands keep their dtype
PASS_THROUGH = {"first", "last", "min", "max", "median_low"}


def without_dimension(meta: CubeMeta, dim: str, band_name: str | None = None, **changes) -> CubeMeta:
    """``meta`` with ``dim`` removed (labels, type; band aliases go with the bands dimension).

    Dropping the bands dimension leaves one band: ``band_name`` is what the results call it.
    """
    labels = {d: v for d, v in meta.labels.items() if d != dim}
    types = {d: v for d, v in meta.dim_types.items() if d != dim}
    bands = meta.dim_types.get(dim, dim) == "bands" or dim == "bands"
    return meta.replace(dims=tuple(d for d in meta.dims if d != dim), labels=labels, dim_types=types,
                        band_aliases={} if bands else meta.band_aliases,
                        band_name=band_name if bands else meta.band_name, **changes)


def probe(meta: CubeMeta, fn: Callable[[np.ndarray], Any], argument: str) -> np.ndarray:
    """``fn`` on a 1x1-pixel stand-in of the cube: catches callback errors on the driver."""
    shape = tuple(1 if d in ("x", "y") else len(meta.labels[d]) for d in meta.dims)
    sample = np.ones(shape, dtype=np.float32)
    try:
        with np.errstate(all="ignore"):
            return np.asarray(fn(sample))
    except (ProcessError, ProcessGraphError):
        raise
    except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as e:
        raise ProcessGraphError(None, argument, f"the callback fails: {str(e) or repr(e)}") from None


def _along(meta: CubeMeta, dim: str, process_id: str) -> tuple[int, tuple]:
    """(axis, labels) of the non-spatial dimension a callback runs along; errors name the argument."""
    require_dimension(meta, dim)
    if meta.dim_types.get(dim) == "spatial" or dim in ("x", "y"):
        raise ProcessGraphError(None, "dimension", f"{process_id} over the spatial dimension {dim!r} is not supported")
    return meta.axis(dim), tuple(meta.labels[dim])


def _call_along(callback: Callback, a: np.ndarray, axis: int, labels: tuple, context) -> tuple[np.ndarray, np.ndarray]:
    """Run ``callback(data=LabeledArray, context)`` with ``axis`` first; returns (the values it saw, its float result)."""
    values = np.moveaxis(a, axis, 0)
    r = callback(data=LabeledArray(values, labels), context=context)
    return values, as_float(r.engine_values() if isinstance(r, LabeledArray) else r)


@process("reduce_dimension", Param("data", kind="cube"),
         Param("reducer", kind="callback", callback_params=("data", "context")),
         Param("dimension", kind="string"), Param("context", None), kind="cube")
def reduce_dimension(ctx, node_id, data: LazyCube, reducer: Callback, dimension: str, context=None):
    """Collapse ``dimension`` with ``reducer(data=LabeledArray, context)`` per pixel."""
    meta = data.meta
    axis, labels = _along(meta, dimension, "reduce_dimension")
    # the single value left of the bands is named after the node that made it ("ndvi", "evi"...)
    out = without_dimension(meta, dimension, band_name=node_id)
    udf = udf_call(reducer, "data", context)
    if udf is not None:
        return reduce_dimension_udf(ctx, node_id, data, udf, dimension, out.computed())

    def reduce(a: np.ndarray) -> np.ndarray:
        values, r = _call_along(reducer, a, axis, labels, context)
        if r.ndim == values.ndim and r.shape[0] == 1:
            r = r[0]            # a one-element array per pixel, e.g. quantiles(probabilities=[0.5])
        return r

    result = probe(meta, reduce, "reducer")
    pixel = tuple(1 if d in ("x", "y") else len(out.labels[d]) for d in out.dims)
    if not _broadcasts(result.shape, pixel):
        raise ProcessGraphError(None, "reducer", "the reducer returns an array per pixel, not a single value "
                                                 "(use apply_dimension for that)")
    keeps_dtype = reducer.single_process("data") in PASS_THROUGH and not meta.dtype.startswith("float")
    out = out if keeps_dtype else out.computed()
    return DerivedCube(node_id, out, (data,), reduce)


def _broadcasts(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


@process("apply", Param("data", kind="cube"), Param("process", kind="callback", callback_params=("x", "context")),
         Param("context", None), kind="cube")
def apply(ctx, node_id, data: LazyCube, process: Callback, context=None):
    """``process(x=value, context)`` on every pixel (vectorised over the tile)."""
    udf = udf_call(process, "x", context)
    if udf is not None:
        return apply_udf(ctx, node_id, data, udf)

    def run(a: np.ndarray) -> np.ndarray:
        return as_float(process(x=a, context=context))

    probe(data.meta, run, "process")
    return DerivedCube(node_id, data.meta.computed(), (data,), run)


@process("apply_dimension", Param("data", kind="cube"),
         Param("process", kind="callback", callback_params=("data", "context")),
         Param("dimension", kind="string"), Param("target_dimension", None, "string"), Param("context", None),
         kind="cube")
def apply_dimension(ctx, node_id, data: LazyCube, process: Callback, dimension: str, target_dimension=None,
                    context=None):
    """``process(data=LabeledArray)`` along ``dimension``, writing an array along the target dimension."""
    meta = data.meta
    axis, labels = _along(meta, dimension, "apply_dimension")
    udf = udf_call(process, "data", context)
    if udf is not None:
        if target_dimension not in (None, dimension):
            raise ProcessGraphError(None, "target_dimension", "a UDF in apply_dimension writes along the source "
                                                              "dimension: target_dimension is not supported")
        return apply_dimension_udf(ctx, node_id, data, udf, dimension)

    def run(a: np.ndarray) -> np.ndarray:
        values, r = _call_along(process, a, axis, labels, context)
        if r.ndim == values.ndim:           # an array along the dimension per pixel
            r = np.broadcast_to(r, r.shape[:1] + values.shape[1:])
        else:                               # one value per pixel: an array of length 1
            r = np.broadcast_to(r, values.shape[1:])[np.newaxis]
        return np.moveaxis(r, 0, axis)

    sample = probe(meta, run, "process")
    n_out = sample.shape[axis]
    target = target_dimension or dimension
    if target == dimension:
        new_labels = labels if n_out == len(labels) else tuple(range(n_out))
        out = meta.replace(labels={**meta.labels, dimension: new_labels})
        return DerivedCube(node_id, out.computed(), (data,), run)
    if target in meta.dims:
        raise ProcessGraphError(None, "target_dimension", f"target dimension {target!r} already exists: "
                                                          "only a new dimension or the source dimension is supported")
    dims = tuple(target if d == dimension else d for d in meta.dims)
    labels_out = {(target if d == dimension else d): v for d, v in meta.labels.items()}
    labels_out[target] = tuple(range(n_out))
    types = {(target if d == dimension else d): v for d, v in meta.dim_types.items()}
    types[target] = "other"
    out = meta.replace(dims=dims, labels=labels_out, dim_types=types,
                       band_aliases={} if meta.dim_types.get(dimension) == "bands" else meta.band_aliases)
    return DerivedCube(node_id, out.computed(), (data,), run)


class SpatiallyReduced(LazyCube):
    """``reducer`` over all pixels of each (t, bands ...) slice: the result has no spatial dimensions.

    Every pixel is needed at once, so the input is computed over its whole grid in one piece: meant for
    small cubes (in a job the result, having no pixels, can be no GeoTIFF anyway).
    """

    def __init__(self, node_id: str, meta: CubeMeta, upstream: LazyCube, reducer: Callback, context):
        self.node_id, self.meta, self.upstream = node_id, meta, upstream
        self.reducer, self.context = reducer, context

    def inputs(self):
        return (self.upstream,)

    def _compute(self, grid, ctx) -> np.ndarray:
        values = self.upstream.compute(self.upstream.meta.grid, ctx)
        pixels = np.moveaxis(values.reshape(values.shape[:-2] + (-1,)), -1, 0)
        with np.errstate(all="ignore"):
            r = as_float(self.reducer(data=LabeledArray(pixels), context=self.context))
        wide = np.float64 if values.dtype == np.float64 else np.float32
        return np.broadcast_to(np.asarray(r, dtype=wide), values.shape[:-2]).copy()


@process("reduce_spatial", Param("data", kind="cube"),
         Param("reducer", kind="callback", callback_params=("data", "context")), Param("context", None), kind="cube")
def reduce_spatial(ctx, node_id, data: LazyCube, reducer: Callback, context=None):
    """Collapse the spatial dimensions x and y with ``reducer`` per slice of the other dimensions."""
    meta = data.meta
    if meta.grid is None or meta.dims[-2:] != ("y", "x"):
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")
    out = without_dimension(without_dimension(meta, "x"), "y", grid=None)
    probe(meta, lambda a: reducer(data=LabeledArray(np.moveaxis(a.reshape(a.shape[:-2] + (-1,)), -1, 0)),
                                  context=context), "reducer")
    keeps_dtype = reducer.single_process("data") in PASS_THROUGH and not meta.dtype.startswith("float")
    return SpatiallyReduced(node_id, out if keeps_dtype else out.computed(), data, reducer, context)

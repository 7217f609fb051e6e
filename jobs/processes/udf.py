"""``run_udf`` (runtime Python) as the callback of apply, apply_dimension and reduce_dimension.

A callback that is one ``run_udf`` on its data parameter (what ``openeo.UDF(code)`` builds) is not
evaluated per pixel like other callbacks: the UDF gets a whole chunk as an ``XarrayDataCube`` with
the dimensions openEO defines (``t`` as datetimes, ``bands`` by name, ``y``/``x`` as the pixel
centres' coordinates in the grid's CRS) and returns a cube that becomes the node's tile again:

- ``apply``: the same dimensions and shape;
- ``apply_dimension``: the same dimensions; the processed one may change its length and labels
  (the UDF's coordinates along it become the new labels); fixed at build time by running the UDF
  once on a 2 x 2 pixel chunk of the first pixels, which also fails a broken UDF before Spark starts;
- ``reduce_dimension``: the reduced dimension gone (or left with length 1).

``chunk_function`` is the same seam for processes that cut their own chunks (apply_neighborhood:
chunks with their overlap, cropped after): an ``XarrayDataCube`` in, one of the same shape out.
Where and under which limits the UDF runs is ``jobs.processes.udfexec``; which runtime and
dependencies are available is ``jobs.processes.udfruntime``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.errors import ProcessError, ProcessGraphError, UdfError
from jobs.graph.callback import Callback, resolve
from jobs.graph.parse import FromParameter
from jobs.plan.grid import TileGrid, Window
from jobs.plan.timelabels import parse_instant
from jobs.processes.registry import Param, process
from jobs.processes.udfexec import Limits, UdfCall, run
from jobs.processes.udfruntime import check_dependencies, check_runtime
from sparkeo.errors import ConfigError
from sparkeo.settings import UDF_MODES

PROBE_PIXELS = 2


@process("run_udf", Param("data"), Param("udf", kind="string"), Param("runtime", kind="string"),
         Param("version", None), Param("context", None))
def run_udf(data, udf, runtime, version=None, context=None):
    """Run a user-defined function (runtime Python, the openEO UDF API) on a chunk of the cube."""
    raise ProcessError("ProcessUnsupported", "run_udf runs as the whole callback of apply, apply_dimension, "
                                             "reduce_dimension or apply_neighborhood (what openeo.UDF builds), not inside other processes")


def udf_call(callback: Callback, parameter: str, context: Any) -> UdfCall | None:
    """The ``run_udf`` a callback consists of, checked (runtime, version, dependencies); None for other callbacks."""
    graph = callback.graph
    if len(graph.nodes) != 1 or graph.result.process_id != "run_udf":
        return None
    node = graph.result
    if node.arguments.get("data") != FromParameter(parameter):
        raise ProcessGraphError(node.path, "data", f"run_udf must run on the callback's {parameter!r} parameter")
    parameters = {**callback.outer, parameter: None, "context": context}
    args = {k: resolve(v, {}, parameters, node, k) for k, v in node.arguments.items() if k != "data"}
    code = args.get("udf")
    if not isinstance(code, str) or not code.strip():
        raise ProcessGraphError(node.path, "udf", "expected the UDF's Python code as a string")
    if code.startswith(("http://", "https://")) and "\n" not in code:
        raise ProcessGraphError(node.path, "udf", "a UDF given by URL is not supported: pass its code")
    try:
        check_runtime(args.get("runtime"), args.get("version"))
        check_dependencies(code)
    except ProcessError as e:
        raise e.located(node.path, "runtime" if "Runtime" in e.code or "Version" in e.code else "udf") from None
    return UdfCall(node.path, code, args.get("context"))


def limits_of(settings, job_options: Mapping[str, Any]) -> Limits:
    """The chunk limits from the settings (``SPARKEO_UDF*``) and the ``udf_timeout`` job option."""
    raw = job_options.get("udf_timeout")
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0):
        raise ConfigError("job option udf_timeout", raw, "expected a positive number of seconds")
    if settings is None:
        return Limits(timeout=raw)
    return Limits(settings.udf_mode, raw, settings.udf_cpu_seconds, settings.udf_memory_mb)


def _check_allowed(ctx, call: UdfCall) -> Limits:
    settings = getattr(ctx.source, "settings", None)
    limits = limits_of(settings, ctx.job_options)
    if limits.mode not in UDF_MODES or limits.mode == "off":
        raise ProcessError("PermissionDenied", "this back-end does not run UDFs (SPARKEO_UDF="
                                               f"{limits.mode}); an operator enables them", call.node_id, "udf")
    return limits


class UdfCube(LazyCube):
    """A node whose tile is ``chunk(input tile as DataArray) -> array``: the UDF under the tile's limits."""

    def __init__(self, node_id: str, meta: CubeMeta, data: LazyCube,
                 chunk: Callable[[Any, Limits], np.ndarray]):
        self.node_id, self.meta, self._data, self._chunk = node_id, meta, data, chunk

    def inputs(self) -> Iterable[LazyCube]:
        return (self._data,)

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        values = self._data.compute(grid, ctx)
        limits = limits_of(ctx.settings, ctx.job_options)
        # a copy: the input tile is memoised for every node reading it, and UDFs often write in place
        out = self._chunk(to_xarray(values.copy(), self._data.meta, grid), limits)
        return np.asarray(out, dtype=np.float64 if values.dtype == np.float64 else np.float32)

    def __repr__(self) -> str:
        return f"UdfCube({self.node_id!r}, dims={self.meta.dims})"


def apply_udf(ctx, node_id: str, data: LazyCube, call: UdfCall) -> LazyCube:
    """``apply`` with a UDF: the same dimensions, labels and shape come back."""
    _check_allowed(ctx, call)
    meta = data.meta

    def chunk(array, limits: Limits) -> np.ndarray:
        return from_xarray(call, run(call, array, limits), array, {}, "apply")

    return UdfCube(node_id, meta.computed(), data, chunk)


def reduce_dimension_udf(ctx, node_id: str, data: LazyCube, call: UdfCall, dimension: str,
                         out: CubeMeta) -> LazyCube:
    """``reduce_dimension`` with a UDF: ``dimension`` is gone from what comes back (or has length 1)."""
    _check_allowed(ctx, call)

    def chunk(array, limits: Limits) -> np.ndarray:
        result = run(call, array, limits)
        if dimension in result.dims and result.sizes[dimension] == 1:
            result = result.squeeze(dimension, drop=True)
        return from_xarray(call, result, array.isel({dimension: 0}, drop=True), {},
                           f"reduce_dimension over {dimension!r}")

    return UdfCube(node_id, out, data, chunk)


def apply_dimension_udf(ctx, node_id: str, data: LazyCube, call: UdfCall, dimension: str) -> LazyCube:
    """``apply_dimension`` with a UDF: ``dimension`` may come back with new labels, the others unchanged."""
    limits = _check_allowed(ctx, call)
    meta = data.meta
    grid = meta.grid.crop(Window(0, 0, PROBE_PIXELS, PROBE_PIXELS)) if meta.grid is not None else None
    sample = to_xarray(np.ones(meta.shape_for(grid), dtype=np.float32), meta, grid)
    probed = run(call, sample, limits)
    new = _new_labels(call, probed, dimension, meta)
    out = meta.replace(labels={**meta.labels, dimension: new}).computed()
    expect = to_xarray(np.zeros(out.shape_for(grid), dtype=np.float32), out, grid)[dimension].values

    def chunk(array, limits: Limits) -> np.ndarray:
        return from_xarray(call, run(call, array, limits), array, {dimension: expect},
                           f"apply_dimension over {dimension!r}")

    return UdfCube(node_id, out, data, chunk)


def chunk_function(call: UdfCall, settings, job_options: Mapping[str, Any]):
    """``XarrayDataCube -> XarrayDataCube`` running the UDF on one chunk (apply_neighborhood's seam):
    the result must have the chunk's dimensions, shape and labels (the caller crops the overlap)."""
    from openeo.udf import XarrayDataCube

    limits = limits_of(settings, job_options)

    def apply_chunk(cube: "XarrayDataCube") -> "XarrayDataCube":
        array = cube.get_array()
        values = from_xarray(call, run(call, array, limits), array, {}, "apply_neighborhood")
        return XarrayDataCube(array.copy(data=values))

    return apply_chunk


def neighborhood_udf(ctx, call: UdfCall, meta: CubeMeta) -> Callable[[np.ndarray, TileGrid, TileContext], np.ndarray]:
    """apply_neighborhood's chunk function for a UDF: a chunk with its overlap (axes in ``meta.dims``,
    on ``grid``) -> the UDF's cube of the same dimensions, shape and labels (the caller crops the overlap)."""
    _check_allowed(ctx, call)

    def run_chunk(values: np.ndarray, grid: TileGrid, tile_ctx: TileContext) -> np.ndarray:
        limits = limits_of(tile_ctx.settings, tile_ctx.job_options)
        array = to_xarray(values.copy(), meta, grid)
        out = from_xarray(call, run(call, array, limits), array, {}, "apply_neighborhood")
        return np.asarray(out, dtype=np.float64 if values.dtype == np.float64 else np.float32)

    return run_chunk


# --- chunks as openEO's xarray cubes and back ---------------------------------------------------

def to_xarray(values: np.ndarray, meta: CubeMeta, grid: TileGrid | None):
    """``values`` (axes in ``meta.dims``) as the DataArray a UDF sees: t datetimes, band names, x/y centres."""
    import xarray

    coords = {}
    for d in meta.dims:
        if d == "x":
            coords[d] = grid.affine.c + (np.arange(grid.width) + 0.5) * grid.affine.a
        elif d == "y":
            coords[d] = grid.affine.f + (np.arange(grid.height) + 0.5) * grid.affine.e
        elif meta.dim_types.get(d) == "temporal" or d == "t":
            coords[d] = _time_coords(meta.labels[d])
        else:
            coords[d] = list(meta.labels[d])
    return xarray.DataArray(values, dims=meta.dims, coords=coords)


def _time_coords(labels: tuple) -> np.ndarray:
    try:
        return np.array([np.datetime64(parse_instant(v), "ns") for v in labels])
    except (TypeError, ValueError):         # period labels ("2021-06", "2021-djf") stay text
        return np.array([str(v) for v in labels], dtype=object)


def from_xarray(call: UdfCall, result, like, changed: Mapping[str, np.ndarray], where: str) -> np.ndarray:
    """The UDF's result as an array shaped like the DataArray ``like`` (its dims in its order), after
    checking dimensions, sizes and labels; ``changed`` gives the labels a dimension has instead of ``like``'s."""
    if set(result.dims) != set(like.dims):
        raise UdfError(call.node_id, f"the UDF returned dimensions {tuple(result.dims)}; {where} expects "
                                     f"{tuple(like.dims)}")
    result = result.transpose(*like.dims)
    for d in like.dims:
        want = changed.get(d, like[d].values if d in like.coords else None)
        size = like.sizes[d] if d not in changed else len(want)
        if d in ("x", "y"):
            want = None             # coordinates a UDF recomputed may differ in the last bit
        have = result[d].values if d in result.coords and want is not None else None
        if result.sizes[d] != size or (have is not None and not _same(have, want)):
            got = "" if have is None else " " + str([_label_text(v) for v in have][:6])
            shown = "" if want is None else ": " + str([_label_text(v) for v in want][:6])
            raise UdfError(call.node_id, f"the UDF returned {result.sizes[d]} elements along {d!r}{got}; "
                                         f"{where} expects {size}{shown}")
    values = np.asarray(result.values)
    if values.dtype.kind in "fiub":
        return values
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise UdfError(call.node_id, f"the UDF returned {result.dtype} values; {where} expects numbers") from None


def _same(have: np.ndarray, want: np.ndarray) -> bool:
    if have.dtype.kind == "M" or want.dtype.kind == "M":
        return [_label_text(v) for v in have] == [_label_text(v) for v in want]
    return [str(v) for v in have] == [str(v) for v in want]


def _label_text(value) -> str:
    if isinstance(value, np.datetime64):
        text = np.datetime_as_string(value, unit="s")
        return text[:10] if text.endswith("T00:00:00") else text + "Z"
    return str(value)


def _new_labels(call: UdfCall, probed, dimension: str, meta: CubeMeta) -> tuple:
    """The labels along ``dimension`` after the UDF: its coordinates there, else the old ones (same length)."""
    if dimension not in probed.dims:
        raise UdfError(call.node_id, f"the UDF returned dimensions {tuple(probed.dims)} without {dimension!r}; "
                                     f"apply_dimension over {dimension!r} keeps it")
    old = tuple(meta.labels[dimension])
    n = probed.sizes[dimension]
    if dimension not in probed.coords:
        if n == len(old):
            return old
        if meta.dim_types.get(dimension) == "temporal" or dimension == "t":
            raise UdfError(call.node_id, f"the UDF returned {n} time steps for {len(old)} without coordinates "
                                         f"along {dimension!r}: give them datetimes")
        return tuple(range(n))
    values = probed[dimension].values
    if values.dtype.kind == "M":
        return tuple(_label_text(v) for v in values)
    if n == len(old) and [str(v) for v in values] == [str(v) for v in old]:
        return old
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)

"""Cube processes that load, filter and save: load_collection, load_stac, filter_bbox, filter_temporal,
filter_bands, filter_labels, save_result; plus the dimension/band lookups the other cube modules share.

Each process runs on the driver as ``fn(build_ctx, node_id, **arguments)`` and returns a
``LazyCube`` whose meta is final. Filters first offer the upstream cube the push-down hook
(``select_bands``, ``select_time``, ``clip``) so a loading leaf reads less; otherwise they wrap it.
"""
from __future__ import annotations

import logging
import math

import numpy as np

from jobs.graph.callback import Callback
from jobs.cube.arraycube import ArrayCube
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.cube.derived import DerivedCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.plan.grid import TileGrid, Window
from jobs.processes.labeled import to_python
from jobs.processes.registry import Param, process
from jobs.plan.extent import bbox_in_crs, temporal_bounds
from jobs.plan.timelabels import parse_instant

log = logging.getLogger(__name__)

# --- shared lookups ----------------------------------------------------------------------------------


def require_dimension(meta: CubeMeta, dimension: str, argument: str = "dimension") -> str:
    """``dimension`` if the cube has it, else DimensionNotAvailable naming the cube's dimensions."""
    if dimension not in meta.dims:
        raise ProcessError("DimensionNotAvailable", f"dimension {dimension!r} does not exist "
                                                    f"(the cube has {', '.join(meta.dims)})", argument=argument)
    return dimension


def dimensions_of_type(meta: CubeMeta, kind: str) -> list[str]:
    """The cube's dimensions of type ``kind`` (spatial, temporal, bands, other), in order."""
    return [d for d in meta.dims if meta.dim_types.get(d, _default_type(d)) == kind]


def _default_type(dim: str) -> str:
    return {"t": "temporal", "bands": "bands", "x": "spatial", "y": "spatial"}.get(dim, "other")


def bands_dimension(meta: CubeMeta, argument: str = "data") -> str:
    """The (first) bands dimension, or DimensionMissing."""
    dims = dimensions_of_type(meta, "bands")
    if not dims:
        raise ProcessError("DimensionMissing", "the data cube has no bands dimension", argument=argument)
    return dims[0]


def match_band(meta: CubeMeta, dim: str, name: str) -> list[int]:
    """Indices of the bands matching ``name``: the band's own name first, else its common name/aliases."""
    labels = list(meta.labels[dim])
    if name in labels:
        return [labels.index(name)]
    return [i for i, b in enumerate(labels) if name in meta.band_aliases.get(b, ())]


def take(meta: CubeMeta, dim: str, indices: list[int], node_id: str, inp: LazyCube, **changes) -> DerivedCube:
    """``inp`` restricted to ``indices`` along ``dim`` (labels follow)."""
    labels = dict(meta.labels)
    labels[dim] = tuple(meta.labels[dim][i] for i in indices)
    axis = meta.axis(dim)
    idx = np.asarray(indices, dtype=int)
    return DerivedCube(node_id, meta.replace(labels=labels, **changes), (inp,), lambda a: np.take(a, idx, axis=axis))


@process("create_raster_cube", kind="cube")
def create_raster_cube(ctx, node_id):
    """An empty raster cube without dimensions (add them with add_dimension)."""
    return ArrayCube(np.full((), np.nan), (), node_id=node_id)


# --- load and save ---------------------------------------------------------------------------------------
@process("load_collection", Param("id", kind="string"), Param("spatial_extent", None, "object"),
         Param("temporal_extent", None, "array"), Param("bands", None, "array"), Param("properties", None, "object", callback_params=("value",)),
         kind="cube")
def load_collection(ctx, node_id, id, spatial_extent=None, temporal_extent=None, bands=None, properties=None):
    """The source's cube for a collection; ``properties`` are passed on as given (callbacks by property)."""
    return ctx.source.load_collection(node_id, id, spatial_extent, *_load_arguments(temporal_extent, bands, properties))


@process("load_stac", Param("url", kind="string"), Param("spatial_extent", None, "object"),
         Param("temporal_extent", None, "array"), Param("bands", None, "array"),
         Param("properties", None, "object", callback_params=("value",)), kind="cube")
def load_stac(ctx, node_id, url, spatial_extent=None, temporal_extent=None, bands=None, properties=None):
    """Loads data from a static STAC catalog, collection or item, a STAC API collection, or a job's results."""
    return ctx.source.load_stac(node_id, url, spatial_extent, *_load_arguments(temporal_extent, bands, properties))


def _load_arguments(temporal_extent, bands, properties) -> tuple:
    """``temporal_extent`` checked, and ``properties`` callbacks in their openEO JSON form, as the source
    takes them: ``{"eo:cloud_cover": {"process_graph": {...}}}``."""
    if temporal_extent is not None:
        temporal_bounds(temporal_extent, "temporal_extent")
    if properties is not None:
        properties = {k: ({"process_graph": dict(v.graph.raw)} if isinstance(v, Callback) else v)
                      for k, v in properties.items()}
    return temporal_extent, bands, properties


@process("save_result", Param("data", kind="cube"), Param("format", kind="string"), Param("options", {}, "object"),
         kind="cube")
def save_result(ctx, node_id, data, format, options=None):
    """Record how to save ``data`` and return it (the runner writes it)."""
    from jobs.graph.evaluate import SaveSpec, normalise_format

    ctx.saves.append(SaveSpec(node_id, normalise_format(format, node_id), dict(options or {})))
    return data


# --- filters -------------------------------------------------------------------------------------------------
@process("filter_bands", Param("data", kind="cube"), Param("bands", [], "array"), Param("wavelengths", [], "array"),
         kind="cube")
def filter_bands(ctx, node_id, data, bands=(), wavelengths=()):
    """The bands named (by name, else common name/alias), in the order given."""
    if not bands and not wavelengths:
        raise ProcessError("BandFilterParameterMissing", "give bands or wavelengths to filter on", argument="bands")
    if wavelengths:
        raise ProcessGraphError(None, "wavelengths", "filtering by wavelength is not supported: name the bands")
    meta = data.meta
    dim = bands_dimension(meta)
    indices: list[int] = []
    for name in bands:
        found = match_band(meta, dim, name)
        if not found:
            # openEO drops unmatched names silently (the conformance tests expect it); say so in the log
            log.warning("node %r: filter_bands: no band %r among %s", node_id, name, list(meta.labels[dim]))
        indices += [i for i in found if i not in indices]
    names = tuple(meta.labels[dim][i] for i in indices)
    pushed = data.select_bands(names, node_id)
    if pushed is not None:
        return pushed
    return take(meta, dim, indices, node_id, data)


@process("filter_temporal", Param("data", kind="cube"), Param("extent", kind="array"), Param("dimension", None, "string"),
         kind="cube")
def filter_temporal(ctx, node_id, data, extent, dimension=None):
    """Labels ``start <= t < end`` on one temporal dimension (all of them when ``dimension`` is null)."""
    start, end = temporal_bounds(extent)
    meta = data.meta
    dims = [require_dimension(meta, dimension)] if dimension else dimensions_of_type(meta, "temporal")
    if dimension and meta.dim_types.get(dimension, _default_type(dimension)) != "temporal":
        raise ProcessError("DimensionNotAvailable", f"dimension {dimension!r} is not temporal", argument="dimension")
    if not dims:
        raise ProcessError("DimensionNotAvailable", "the data cube has no temporal dimension", argument="data")
    if dims == ["t"] and dimension in (None, "t"):
        pushed = data.select_time(start, end, node_id)
        if pushed is not None:
            return pushed
    cube = data
    for dim in dims:
        keep = [i for i, label in enumerate(cube.meta.labels[dim])
                if (start is None or parse_instant(label) >= start) and (end is None or parse_instant(label) < end)]
        cube = take(cube.meta, dim, keep, node_id, cube)
    return cube


@process("filter_labels", Param("data", kind="cube"),
         Param("condition", kind="callback", callback_params=("value", "context")), Param("dimension", kind="string"),
         Param("context", None), kind="cube")
def filter_labels(ctx, node_id, data, condition: Callback, dimension, context=None):
    """The labels of ``dimension`` for which ``condition(value=label)`` is true (decided on the driver)."""
    meta = data.meta
    require_dimension(meta, dimension)
    if dimension in ("x", "y") or meta.dim_types.get(dimension) == "spatial":
        raise ProcessGraphError(None, "dimension", f"filter_labels over the spatial dimension {dimension!r} "
                                                   "is not supported (use filter_bbox)")
    keep = [i for i, label in enumerate(meta.labels[dimension])
            if to_python(condition(value=label, context=context)) is True]
    return take(meta, dimension, keep, node_id, data)


@process("filter_bbox", Param("data", kind="cube"), Param("extent", kind="object"), kind="cube")
def filter_bbox(ctx, node_id, data, extent):
    """The pixels whose centre lies in ``extent`` (any CRS, transformed to the cube's; edges included)."""
    meta = data.meta
    if meta.grid is None:
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")
    grid = centres_within(meta.grid, bbox_in_crs(extent, meta.grid.crs))
    pushed = data.clip(grid, node_id)
    if pushed is not None:
        return pushed
    return DerivedCube(node_id, meta.replace(grid=grid), (data,), lambda a: a)


def centres_within(grid: TileGrid, bounds) -> TileGrid:
    """The sub-grid of the pixels whose centres lie inside ``bounds`` (edges included; north-up grids).

    Centres rather than touching pixels: a bounding box transformed from another CRS grows a little,
    and must not pick up a neighbouring row or column it barely grazes.
    """
    inv = ~grid.affine
    c0, r0 = inv @ (bounds[0], bounds[3])
    c1, r1 = inv @ (bounds[2], bounds[1])
    c0, c1 = sorted((c0, c1))
    r0, r1 = sorted((r0, r1))
    eps = 1e-9
    first_col, last_col = max(math.ceil(c0 - 0.5 - eps), 0), min(math.floor(c1 - 0.5 + eps), grid.width - 1)
    first_row, last_row = max(math.ceil(r0 - 0.5 - eps), 0), min(math.floor(r1 - 0.5 + eps), grid.height - 1)
    return grid.crop(Window(first_row, first_col, max(last_row - first_row + 1, 0), max(last_col - first_col + 1, 0)))

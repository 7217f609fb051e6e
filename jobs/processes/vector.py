"""Vector processes: load_geojson, aggregate_spatial, mask_polygon.

Geometries come as GeoJSON inline, as a path or URL, or from ``load_geojson``
(``jobs.vector.geojson``); the pixel rule is the centre of the pixel (``jobs.vector.zonal``).
aggregate_spatial returns an ``AggregatedCube`` computed from per-tile partial results: Moments for
the single-process reducers that merge (mean, sum, count, min, max, sd, variance), the pixels
themselves for every other callback, which then runs once per group of polygons with as many pixels.

``target_dimension`` follows openEO 2.0.0-rc.2, not 1.2.0 (the two disagree): by default (null) the
cube holds the values only, as the official client's graphs expect (they omit the argument); a name
adds that dimension, last, of type ``other`` with the labels ``value``, ``total_count`` (the pixel
centres the geometry covers, valid or not) and ``valid_count`` (those not nodata), per time label and
band. 1.2.0's default ``result`` given explicitly is just a name, and no ``<name>_meta`` dimension is made.
"""
from __future__ import annotations

import numpy as np

from jobs.cube.derived import DerivedCube, as_float
from jobs.cube.lazy import LazyCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.graph.callback import Callback
from jobs.processes.cubes import centres_within
from jobs.processes.labeled import LabeledArray
from jobs.processes.registry import Param, process
from jobs.vector.cube import GEOMETRY_DIM, AggregatedCube
from jobs.vector.geojson import Geometries, read_geometries
from jobs.vector.mask import PolygonMask
from jobs.vector.zonal import MERGEABLE
from sparkeo import geometry
from sparkeo.readpolicy import ReadPolicy


@process("load_geojson", Param("data"), Param("properties", [], "array"), kind="cube")
def load_geojson(ctx, node_id, data, properties=()):
    """GeoJSON (inline, a path or URL) as a vector cube of geometries, keeping ``properties`` (all if empty)."""
    geoms = read_geometries(data, "data", user_reads(ctx))
    if not all(isinstance(p, str) for p in properties):
        raise ProcessGraphError(None, "properties", f"expected property names, got {properties!r}")
    return Geometries(geoms.wkb, geoms.ids, geoms.properties, geoms.crs, tuple(properties) or None)


def user_reads(ctx) -> ReadPolicy:
    """The read policy of the job (``Settings.user_reads``): which paths and URLs its user may name."""
    return getattr(getattr(ctx.source, "settings", None), "user_reads", None) or ReadPolicy()


def _spatial(data: LazyCube) -> None:
    if not isinstance(data, LazyCube) or data.meta.grid is None:
        raise ProcessError("DimensionMissing", "the data cube has no spatial dimensions", argument="data")


def in_grid_crs(geoms: Geometries, grid, argument: str) -> Geometries:
    """``geoms`` in the grid's CRS; a CRS PROJ cannot transform is the user's error naming ``argument``."""
    try:
        return geoms.to_crs(grid.crs)
    except (geometry.UnknownCRSError, geometry.BoundsTransformError) as e:
        raise ProcessGraphError(None, argument, str(e)) from None


@process("aggregate_spatial", Param("data", kind="cube"), Param("geometries"),
         Param("reducer", kind="callback", callback_params=("data", "context")),
         Param("target_dimension", None, "string"), Param("context", None), kind="cube")
def aggregate_spatial(ctx, node_id, data, geometries, reducer: Callback, target_dimension=None, context=None):
    """A value per geometry, time label and band: ``reducer`` over the pixels whose centre is inside;
    with a ``target_dimension`` name, also the pixel counts, along that new dimension (openEO 2.0)."""
    _spatial(data)
    _new_dimension(data, target_dimension)
    extra = [d for d in data.meta.dims if d not in ("t", "bands", "y", "x")]
    if extra:
        raise ProcessGraphError(None, "data", f"aggregate_spatial over dimensions {extra!r} is not supported "
                                              "(only t, bands, x, y)")
    geoms = read_geometries(geometries, "geometries", user_reads(ctx))
    local = in_grid_crs(geoms, data.meta.grid, "geometries")
    # only the pixels under the geometries are read: the source is cropped to their bounds
    grid = centres_within(data.meta.grid, local.bounds())
    source = data.clip(grid, node_id) or DerivedCube(node_id, data.meta.replace(grid=grid), (data,), lambda a: a)
    name = reducer.single_process("data")
    mergeable = name if name in MERGEABLE else None

    def reduce_pixels(values: np.ndarray) -> np.ndarray:
        r = as_float(reducer(data=LabeledArray(values), context=context))
        if r.ndim == values.ndim and r.shape[0] == 1:
            r = r[0]            # a one-element array, e.g. quantiles(probabilities=[0.5])
        elif r.ndim == values.ndim:
            # several values per geometry (quantiles with several probabilities): the vector cube
            # has no dimension to hold them, so say so instead of numpy's broadcasting error
            raise ProcessGraphError(None, "reducer", f"the reducer returns {r.shape[0]} values per geometry, time "
                                                     "label and band, not a single value (quantiles: one probability "
                                                     "per aggregate_spatial)")
        return np.broadcast_to(r, values.shape[1:])

    _probe(reduce_pixels, len(data.meta.labels.get("t", (0,))), len(data.meta.labels.get("bands", (0,))))
    return AggregatedCube(node_id, source, geoms, mergeable, None if mergeable else reduce_pixels, target_dimension)


def _new_dimension(data: LazyCube, name: str | None) -> None:
    """Refuse a target dimension named like one of the cube's (or the vector cube's ``geometry``)."""
    if name is None:
        return
    if not name:
        raise ProcessGraphError(None, "target_dimension", "expected a dimension name or null, got an empty string")
    if name in data.meta.dims or name == GEOMETRY_DIM:
        raise ProcessError("TargetDimensionExists", f"dimension {name!r} exists already", argument="target_dimension")


def _probe(reduce_pixels, times: int, bands: int) -> None:
    """The reducer on three pixels of one polygon: a broken callback fails on the driver."""
    try:
        with np.errstate(all="ignore"):
            reduce_pixels(np.ones((3, 1, times, bands), dtype=np.float32))
    except (ProcessError, ProcessGraphError):
        raise
    except (TypeError, ValueError, IndexError, KeyError, ZeroDivisionError) as e:
        raise ProcessGraphError(None, "reducer", f"the reducer fails: {str(e) or repr(e)}") from None


@process("mask_polygon", Param("data", kind="cube"), Param("mask"), Param("replacement", None),
         Param("inside", False, "boolean"), kind="cube")
def mask_polygon(ctx, node_id, data, mask, replacement=None, inside=False):
    """``replacement`` (nodata by default) for the pixels whose centre is outside the polygons (inside
    them when ``inside``)."""
    _spatial(data)
    if replacement is not None and (isinstance(replacement, bool) or not isinstance(replacement, (int, float))):
        raise ProcessGraphError(None, "replacement", f"expected a number or null, got {replacement!r}")
    local = in_grid_crs(read_geometries(mask, "mask", user_reads(ctx)), data.meta.grid, "mask")
    union = polygon_union(local, "mask")
    keeps = replacement is None and data.meta.nodata is not None and not data.meta.dtype.startswith("float")
    meta = data.meta if keeps else data.meta.computed()
    return PolygonMask(node_id, meta, data, union.wkb, bool(inside), replacement)


def polygon_union(geoms: Geometries, argument: str):
    """The union of the polygons of ``geoms``; points and lines select no area (the user hears)."""
    from shapely.ops import unary_union

    polygons = [g for g in geoms.shapes() if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise ProcessGraphError(None, argument, "no polygons in the GeoJSON (points and lines select no area)")
    return unary_union(polygons)

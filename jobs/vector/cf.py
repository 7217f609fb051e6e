"""Geometries as CF 1.8 geometry containers (CF conventions section 7.5), as netCDF stores them.

One container describes every feature's geometry with ragged arrays along the ``feature`` (instance)
dimension: ``node_count`` nodes per feature, the nodes' ``x``/``y`` along a ``node`` dimension and,
for lines and polygons with several parts or holes, ``part_node_count`` per part and
``interior_ring`` (1 for a hole) along a ``part`` dimension. Polygon rings are closed (the first
node repeated, as shapely's ragged arrays and cf_xarray write them), exterior rings anticlockwise and
holes clockwise, as CF requires. The encoding is pure: arrays and attributes, written by
``jobs.results.vector``. A container holds one geometry type (point, line or polygon, each with its
multi-part form): features of several types have none (``encode`` gives None) and keep only their WKT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

# shapely's geometry type -> CF's geometry_type
_CF_TYPES = {"Point": "point", "MultiPoint": "point", "LineString": "line", "MultiLineString": "line",
             "Polygon": "polygon", "MultiPolygon": "polygon"}


@dataclass(frozen=True)
class CFGeometries:
    """The ragged arrays of a geometry container: ``x``, ``y`` per node, ``node_count`` per feature,
    ``part_node_count`` and ``interior_ring`` per part (None when no feature has several parts or a hole)."""

    geometry_type: str
    x: np.ndarray
    y: np.ndarray
    node_count: np.ndarray
    part_node_count: np.ndarray | None
    interior_ring: np.ndarray | None


def encode(shapes: Sequence) -> CFGeometries | None:
    """The CF encoding of ``shapes`` (shapely geometries), or None when they are of several types
    (or none, or empty geometries) and no single container can hold them."""
    import shapely

    kinds = {_CF_TYPES.get(g.geom_type) for g in shapes}
    if len(kinds) != 1 or None in kinds or any(g.is_empty for g in shapes):
        return None
    kind = kinds.pop()
    geoms = np.asarray(shapes, dtype=object)
    if kind == "polygon":
        geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    _, coords, offsets = shapely.to_ragged_array(geoms)
    if kind == "point":         # multipoints have an offset per feature, points none
        counts = np.diff(offsets[0]).astype(np.int64) if offsets else np.ones(len(shapes), dtype=np.int64)
        parts = rings = None
    else:
        part_nodes = np.diff(offsets[0])
        # the node offset at which each feature starts, through the levels of offsets above the parts
        starts = offsets[0]
        rings = None
        if kind == "polygon":
            ring_starts = np.take(offsets[0], offsets[1])
            rings = np.isin(offsets[0][:-1], ring_starts, invert=True).astype(np.int32)
            starts = ring_starts
        if len(offsets) == (3 if kind == "polygon" else 2):
            starts = np.take(starts, offsets[-1])
        counts = np.diff(starts).astype(np.int64)
        parts = part_nodes.astype(np.int64)
        if len(parts) == len(counts):               # no multi-parts, no holes: node_count says it all
            parts = rings = None
        elif rings is not None and not rings.any():
            rings = None
    return CFGeometries(kind, coords[:, 0].copy(), coords[:, 1].copy(), counts, parts, rings)


def axis_attributes(crs) -> tuple[dict, dict]:
    """The x and y node variables' attributes in ``crs`` (a pyproj CRS)."""
    if crs.is_geographic:
        return ({"units": "degrees_east", "standard_name": "longitude", "axis": "X"},
                {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"})
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    return ({"units": "m" if unit == "metre" else unit, "standard_name": "projection_x_coordinate", "axis": "X"},
            {"units": "m" if unit == "metre" else unit, "standard_name": "projection_y_coordinate", "axis": "Y"})


def grid_mapping_attributes(crs) -> dict:
    """The grid_mapping variable's attributes for ``crs`` (CF's own names where pyproj has them,
    and always ``crs_wkt``)."""
    attrs = {k: v for k, v in crs.to_cf().items() if v is not None}
    attrs.setdefault("crs_wkt", crs.to_wkt())
    return attrs

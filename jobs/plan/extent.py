"""openEO extents as numbers: temporal intervals as datetimes, bounding boxes in a given CRS.

Pure computation (pyproj only, through ``sparkeo.geometry``): the argument checks raise
``ProcessGraphError``/``ProcessError`` naming the argument, so ``load_collection`` and the filters
report bad extents before any data is read.
"""
from __future__ import annotations

from jobs.errors import ProcessError, ProcessGraphError
from jobs.plan.timelabels import parse_instant
from sparkeo import geometry


def temporal_bounds(extent, argument: str = "extent"):
    """(start, end) datetimes (either may be None) of a left-closed openEO temporal interval."""
    if not isinstance(extent, (list, tuple)) or len(extent) != 2:
        raise ProcessGraphError(None, argument, f"expected a temporal interval [start, end], got {extent!r}")
    if extent[0] is None and extent[1] is None:
        raise ProcessError("TemporalExtentEmpty", "both ends of the temporal interval are null", argument=argument)
    try:
        start, end = (None if v is None else parse_instant(v) for v in extent)
    except (TypeError, ValueError):
        raise ProcessGraphError(None, argument, f"not an RFC 3339 date or date-time interval: {extent!r}") from None
    if start is not None and end is not None and end <= start:
        raise ProcessError("TemporalExtentEmpty", f"the interval {extent!r} is empty: its end is not after its start",
                           argument=argument)
    return start, end


def bbox_in_crs(extent: dict, crs, argument: str = "extent") -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of an openEO bounding box in ``crs`` (densified transform)."""
    try:
        west, south, east, north = (float(extent[k]) for k in ("west", "south", "east", "north"))
    except (KeyError, TypeError, ValueError):
        raise ProcessGraphError(None, argument, "a bounding box needs numeric west, south, east and north") from None
    if west > east or south > north:
        raise ProcessGraphError(None, argument, f"west > east or south > north in {extent!r}")
    src = extent.get("crs") or 4326
    return transform_bounds((west, south, east, north), src, crs, argument)


def transform_bounds(bounds, src, dst, argument: str = "extent"):
    """``sparkeo.geometry.transform_bounds`` for a process argument: a bad CRS or an impossible
    transformation is a ``ProcessGraphError`` naming ``argument``."""
    try:
        return geometry.transform_bounds(bounds, src, dst)
    except (geometry.UnknownCRSError, geometry.BoundsTransformError) as e:
        raise ProcessGraphError(None, argument, str(e)) from None

"""Coordinate reference systems and bounding boxes: the one place that parses, compares and transforms them.

pyproj only (no rasterio), so every package may use it: the layer catalog's queries and summaries,
the planner's grid, the readers and the results documents. A CRS is a ``pyproj.CRS`` object; any
input pyproj understands (``"EPSG:32633"``, ``32633``, WKT, PROJJSON, a ``CRS``) is accepted where one
is asked for. Two CRSs are the same when PROJ finds them equivalent, never by comparing their text:
``"EPSG:32633"`` and its WKT are one CRS.

Parsed CRSs and transformers are cached by their text: parsing costs ~0.1 ms and a transformer ~1 ms,
and the readers ask for the same few CRSs once per band read. pyproj's objects are thread-safe (3.1+).
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from sparkeo.errors import UserError

Bounds = tuple[float, float, float, float]      # left, bottom, right, top (x/y order, also for EPSG:4326)
# Points per edge when a box is transformed: curved edges (UTM <-> lon/lat) bulge between corners.
DENSIFY_POINTS = 21
_EPSG_TEXT = re.compile(r"^EPSG:(\d+)$", re.IGNORECASE)


class UnknownCRSError(UserError, ValueError):
    """Raised when a value is not a coordinate reference system pyproj knows."""

    def __init__(self, value: Any, reason: str):
        super().__init__(f"unknown coordinate reference system {_short(value)!r}: {reason}", value=value, reason=reason)


class BoundsTransformError(UserError, ValueError):
    """Raised when a box cannot be transformed between two CRSs (no transformation, or not finite)."""

    def __init__(self, bounds: Any, src: Any, dst: Any, reason: str):
        super().__init__(f"{list(bounds)} cannot be transformed from {crs_text(src)!r} to {crs_text(dst)!r}: {reason}",
                         bounds=bounds, src=src, dst=dst, reason=reason)


def crs_of(value: Any) -> CRS:
    """``value`` as a ``pyproj.CRS`` (the same object for the same text); ``UnknownCRSError`` if unknown."""
    if isinstance(value, CRS):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        if isinstance(value, dict):       # PROJJSON
            import json
            return _parse(json.dumps(value, sort_keys=True))
        return _parse_other(value)
    return _parse(f"EPSG:{value}" if isinstance(value, int) else value)


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except CRSError as e:
        raise UnknownCRSError(text, str(e)) from None


def _parse_other(value: Any) -> CRS:
    # objects with to_wkt (rasterio's CRS) and anything else pyproj takes; not cached (maybe unhashable)
    try:
        return CRS.from_user_input(value)
    except (CRSError, TypeError) as e:
        raise UnknownCRSError(value, str(e)) from None


def same_crs(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are one CRS (PROJ-equivalent; lon/lat axis order aside, since every
    coordinate here is x/y as in GDAL's traditional GIS order)."""
    if a is b:
        return True
    a, b = crs_of(a), crs_of(b)
    return a is b or a.srs == b.srs or _equivalent(a.srs, b.srs)


@functools.lru_cache(maxsize=1024)
def _equivalent(a: str, b: str) -> bool:
    return _parse(a).equals(_parse(b), ignore_axis_order=True)


def crs_text(crs: Any) -> str:
    """A text that parses back to ``crs``: ``"EPSG:n"`` when it was given so, else what it was made from."""
    if isinstance(crs, str):
        return crs
    if isinstance(crs, int) and not isinstance(crs, bool):
        return f"EPSG:{crs}"
    srs = crs_of(crs).srs
    match = _EPSG_TEXT.match(srs)
    return f"EPSG:{match.group(1)}" if match else srs


def epsg_code(crs: Any) -> int | None:
    """The EPSG code of ``crs``, also found for a WKT without one (PROJ's identification), else None."""
    match = _EPSG_TEXT.match(crs_text(crs))
    return int(match.group(1)) if match else _identify(crs_of(crs).srs)


@functools.lru_cache(maxsize=256)
def _identify(srs: str) -> int | None:
    return _parse(srs).to_epsg()


@functools.lru_cache(maxsize=256)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(_parse(src), _parse(dst), always_xy=True)


def transformer(src: Any, dst: Any) -> Transformer:
    """The (cached) x/y-order transformer from ``src`` to ``dst``."""
    try:
        return _transformer(crs_of(src).srs, crs_of(dst).srs)
    except ProjError as e:   # a CRS PROJ parses may still have no transformation (another planet)
        raise BoundsTransformError((), src, dst, str(e)) from None


def transform_bounds(bounds, src: Any, dst: Any, densify_pts: int = DENSIFY_POINTS) -> Bounds:
    """``bounds`` (left, bottom, right, top) given in ``src``, as the box enclosing them in ``dst``.

    Edges are densified so curved edges are covered. The same CRS returns ``bounds`` unchanged.
    Raises ``UnknownCRSError`` or ``BoundsTransformError`` (both ``UserError``s: callers that know
    which argument was wrong re-raise them naming it).
    """
    bounds = tuple(float(v) for v in bounds)
    if same_crs(src, dst):
        return bounds
    try:
        out = transformer(src, dst).transform_bounds(*bounds, densify_pts=densify_pts)
    except BoundsTransformError as e:
        raise BoundsTransformError(bounds, src, dst, e.reason) from None
    except ProjError as e:
        raise BoundsTransformError(bounds, src, dst, str(e)) from None
    if not all(math.isfinite(v) for v in out):
        raise BoundsTransformError(bounds, src, dst, "the result is not finite")
    return tuple(out)


def transform_ring(points, src: Any, dst: Any) -> tuple[tuple[float, float], ...]:
    """The points ``[(x, y), ...]`` from ``src`` to ``dst`` (x/y order on both sides)."""
    points = tuple((float(x), float(y)) for x, y in points)
    if same_crs(src, dst) or not points:
        return points
    xs, ys = transformer(src, dst).transform([p[0] for p in points], [p[1] for p in points])
    return tuple(zip(map(float, xs), map(float, ys)))


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."

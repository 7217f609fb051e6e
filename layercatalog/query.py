"""Turning user input into an ``ItemQuery``: bbox in any CRS, ISO 8601 intervals, band names.

openEO semantics: a ``spatial_extent`` may be in any CRS (default EPSG:4326) and is searched as the
EPSG:4326 box that encloses it (densified edges, so a UTM box's curved sides are covered); time
intervals are left-closed ``[start, end)``.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Iterable

from layercatalog.errors import EmptyQueryError, InvalidQueryError
from layercatalog.items import parse_datetime
from layercatalog.model import ItemQuery, PropertyFilter

Bbox = tuple[float, float, float, float]


def parse_bbox(text: str, argument: str = "bbox") -> Bbox:
    """``"W,S,E,N"`` -> a validated tuple (west < east, south < north)."""
    try:
        values = tuple(float(v) for v in str(text).replace(" ", "").split(","))
    except ValueError:
        raise InvalidQueryError(argument, text, "expected four numbers W,S,E,N") from None
    if len(values) != 4:
        raise InvalidQueryError(argument, text, "expected four numbers W,S,E,N")
    return check_bbox(values, argument)


def check_bbox(values: Iterable[float], argument: str = "bbox") -> Bbox:
    box = tuple(float(v) for v in values)
    if len(box) != 4 or not all(math.isfinite(v) for v in box):
        raise InvalidQueryError(argument, list(box), "expected four finite numbers W,S,E,N")
    if box[0] >= box[2] or box[1] >= box[3]:
        raise InvalidQueryError(argument, list(box), "west must be < east and south < north")
    return box


def bbox_from_spatial_extent(extent: dict[str, Any], argument: str = "spatial_extent") -> tuple[Bbox, str]:
    """An openEO ``spatial_extent`` object (west/south/east/north[/crs]) -> (bbox, crs)."""
    try:
        box = check_bbox((extent["west"], extent["south"], extent["east"], extent["north"]), argument)
    except (KeyError, TypeError):
        raise InvalidQueryError(argument, extent, "expected west, south, east, north") from None
    crs = extent.get("crs") or "EPSG:4326"
    return box, (f"EPSG:{crs}" if isinstance(crs, int) else str(crs))


def bbox_to_4326(bbox: Bbox, crs: str | int | None, argument: str = "bbox-crs") -> Bbox:
    """The EPSG:4326 box enclosing ``bbox`` given in ``crs`` (edges densified)."""
    if crs in (None, ""):
        return bbox
    from sparkeo.geometry import BoundsTransformError, UnknownCRSError, crs_of, transform_bounds

    try:
        source = crs_of(crs)
    except UnknownCRSError as exc:
        raise InvalidQueryError(argument, crs, f"unknown CRS ({exc.reason})") from None
    try:    # a CRS PROJ parses may still have no transformation to EPSG:4326 (e.g. +a=1e308)
        return transform_bounds(bbox, source, "EPSG:4326")
    except BoundsTransformError as exc:
        raise InvalidQueryError(argument, crs, f"cannot transform {list(bbox)} to EPSG:4326 ({exc.reason})") from None


def parse_interval(text: str, argument: str = "time") -> tuple[dt.datetime | None, dt.datetime | None]:
    """``"START/END"`` (ISO 8601 dates or timestamps, ``..`` or empty for an open end)."""
    parts = str(text).split("/")
    if len(parts) != 2:
        raise InvalidQueryError(argument, text, "expected START/END, '..' for an open end")
    return check_interval(parts, argument)


def check_interval(values, argument: str = "temporal_extent") -> tuple[dt.datetime | None, dt.datetime | None]:
    """Two ISO 8601 values (or None) -> timezone-aware UTC datetimes."""
    try:
        start, end = (parse_datetime(None if v is None else str(v)) for v in values)
    except ValueError as exc:
        raise InvalidQueryError(argument, list(values), f"not an ISO 8601 date or time ({exc})") from None
    return start, end


def make_query(collection_id: str, bbox: Bbox | None = None, bbox_crs: str | int | None = "EPSG:4326",
               interval=(None, None), bands: Iterable[str] | None = None,
               filters: Iterable[PropertyFilter] = ()) -> ItemQuery:
    """A validated ``ItemQuery``; the bbox is converted to EPSG:4326, an empty interval is an error."""
    box = bbox_to_4326(check_bbox(bbox), bbox_crs) if bbox is not None else None
    start, end = interval
    if start is not None and end is not None and start >= end:
        raise EmptyQueryError(collection_id, box, interval, reason="empty time interval (start >= end)")
    native_crs = None
    if bbox is not None:
        native_crs = f"EPSG:{bbox_crs}" if isinstance(bbox_crs, int) else (bbox_crs or "EPSG:4326")
    return ItemQuery(collection_id=collection_id, bbox=box, interval=(start, end),
                     bands=tuple(bands) if bands is not None else None, filters=tuple(filters),
                     native_bbox=tuple(bbox) if bbox is not None else None, native_crs=native_crs)

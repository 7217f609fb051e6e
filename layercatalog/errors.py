"""The layer catalog's errors: ``UserError`` (exit 2) when the caller named something wrong, and
``StacApiError`` (``RunError``, exit 1) when a STAC API fails.

Each error carries the fields a user needs and formats its own message. Unknown and private
collections raise the same ``UnknownCollectionError`` with the same text, so that an error never
reveals that a private collection exists.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sparkeo.errors import RunError, UserError


def _iso(t: dt.datetime | None) -> str:
    return ".." if t is None else t.isoformat().replace("+00:00", "Z")


def format_interval(interval: tuple[dt.datetime | None, dt.datetime | None]) -> str:
    """``start/end`` in ISO 8601 with ``..`` for an open end."""
    return f"{_iso(interval[0])}/{_iso(interval[1])}"


def format_bbox(bbox) -> str:
    return "none" if bbox is None else "[" + ", ".join(f"{v:.6g}" for v in bbox) + "]"


class CatalogError(UserError):
    """Raised when a layer catalog, collection, band or query is wrong."""


class InvalidCatalogError(CatalogError):
    """Raised when a layer catalog or STAC document cannot be used; names the file and the entry."""

    def __init__(self, uri: str, entry: str | None, reason: str):
        where = f"{uri}" + (f", entry {entry!r}" if entry else "")
        super().__init__(f"invalid catalog {where}: {reason}", uri=uri, entry=entry, reason=reason)


class UnknownCollectionError(CatalogError):
    """Raised for a collection id that does not exist or that the caller may not see.

    The message lists only the collections the caller may see.
    """

    def __init__(self, collection_id: str, visible: Iterable[str]):
        visible = tuple(sorted(visible))
        known = ", ".join(visible) if visible else "none"
        super().__init__(f"unknown collection {collection_id!r}; available collections: {known}",
                         collection_id=collection_id, visible=visible)


class UnknownBandError(CatalogError):
    """Raised for a band name that is neither a band name, common name nor alias of the collection."""

    def __init__(self, collection_id: str, band: str, known: Iterable[str]):
        known = tuple(known)
        super().__init__(f"collection {collection_id!r} has no band {band!r}; its bands are: {', '.join(known)}",
                         collection_id=collection_id, band=band, known=known)


class EmptyQueryError(CatalogError):
    """Raised when a query selects nothing: an empty interval or no items in the bbox and interval."""

    def __init__(self, collection_id: str, bbox, interval, reason: str = "no items match"):
        super().__init__(f"{reason} in collection {collection_id!r} for bbox {format_bbox(bbox)} "
                         f"and interval {format_interval(interval)} (start included, end excluded)",
                         collection_id=collection_id, bbox=bbox, interval=interval, reason=reason)


class ExtentError(CatalogError):
    """Raised when the query bbox lies outside the collection's spatial extent."""

    def __init__(self, collection_id: str, bbox, extent):
        super().__init__(f"bbox {format_bbox(bbox)} (EPSG:4326) is outside the extent {format_bbox(extent)} "
                         f"of collection {collection_id!r}", collection_id=collection_id, bbox=bbox, extent=extent)


class InvalidQueryError(CatalogError):
    """Raised for a malformed bbox, CRS or time interval; names the argument."""

    def __init__(self, argument: str, value, reason: str):
        super().__init__(f"invalid {argument} {value!r}: {reason}", argument=argument, value=value, reason=reason)


class PropertyFilterError(CatalogError):
    """Raised for an openEO ``properties`` callback sparkeo cannot turn into a filter."""

    def __init__(self, property_name: str, reason: str):
        super().__init__(f"unsupported filter on property {property_name!r}: {reason}",
                         property_name=property_name, reason=reason)


class UnsupportedDataSourceError(CatalogError):
    """Raised when searching a collection whose data source sparkeo cannot search."""

    def __init__(self, collection_id: str, kind: str, url: str | None = None, reason: str | None = None):
        where = f" ({url})" if url else ""
        why = f": {reason}" if reason else ""
        super().__init__(f"collection {collection_id!r}: data source {kind!r}{where} is not supported{why}",
                         collection_id=collection_id, kind=kind, url=url)


class StacApiError(RunError):
    """Raised when a STAC API does not answer (after retries) or answers with an error; names the URL."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"STAC API {url} failed: {reason}", url=url, reason=reason)

"""The layer catalog's errors: all are ``UserError`` (exit 2): the caller named something wrong.

Each error carries the fields a user needs and formats its own message. Unknown and private
collections raise the same ``UnknownCollectionError`` with the same text, so that an error never
reveals that a private collection exists.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sparkeo.errors import UserError


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
        self.uri, self.entry, self.reason = uri, entry, reason
        where = f"{uri}" + (f", entry {entry!r}" if entry else "")
        super().__init__(f"invalid catalog {where}: {reason}")


class UnknownCollectionError(CatalogError):
    """Raised for a collection id that does not exist or that the caller may not see.

    The message lists only the collections the caller may see.
    """

    def __init__(self, collection_id: str, visible: Iterable[str]):
        self.collection_id = collection_id
        self.visible = tuple(sorted(visible))
        known = ", ".join(self.visible) if self.visible else "none"
        super().__init__(f"unknown collection {collection_id!r}; available collections: {known}")


class UnknownBandError(CatalogError):
    """Raised for a band name that is neither a band name, common name nor alias of the collection."""

    def __init__(self, collection_id: str, band: str, known: Iterable[str]):
        self.collection_id, self.band, self.known = collection_id, band, tuple(known)
        super().__init__(
            f"collection {collection_id!r} has no band {band!r}; its bands are: {', '.join(self.known)}")


class EmptyQueryError(CatalogError):
    """Raised when a query selects nothing: an empty interval or no items in the bbox and interval."""

    def __init__(self, collection_id: str, bbox, interval, reason: str = "no items match"):
        self.collection_id, self.bbox, self.interval, self.reason = collection_id, bbox, interval, reason
        super().__init__(
            f"{reason} in collection {collection_id!r} for bbox {format_bbox(bbox)} "
            f"and interval {format_interval(interval)} (start included, end excluded)")


class ExtentError(CatalogError):
    """Raised when the query bbox lies outside the collection's spatial extent."""

    def __init__(self, collection_id: str, bbox, extent):
        self.collection_id, self.bbox, self.extent = collection_id, bbox, extent
        super().__init__(
            f"bbox {format_bbox(bbox)} (EPSG:4326) is outside the extent {format_bbox(extent)} "
            f"of collection {collection_id!r}")


class InvalidQueryError(CatalogError):
    """Raised for a malformed bbox, CRS or time interval; names the argument."""

    def __init__(self, argument: str, value, reason: str):
        self.argument, self.value, self.reason = argument, value, reason
        super().__init__(f"invalid {argument} {value!r}: {reason}")


class PropertyFilterError(CatalogError):
    """Raised for an openEO ``properties`` callback sparkeo cannot turn into a filter."""

    def __init__(self, property_name: str, reason: str):
        self.property_name, self.reason = property_name, reason
        super().__init__(f"unsupported filter on property {property_name!r}: {reason}")


class UnsupportedDataSourceError(CatalogError):
    """Raised when searching a collection whose data source sparkeo cannot search."""

    def __init__(self, collection_id: str, kind: str, url: str | None = None, reason: str | None = None):
        self.collection_id, self.kind, self.url = collection_id, kind, url
        where = f" ({url})" if url else ""
        why = f": {reason}" if reason else ""
        super().__init__(f"collection {collection_id!r}: data source {kind!r}{where} is not supported{why}")

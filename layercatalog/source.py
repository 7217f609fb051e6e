"""Where a collection's items come from: one interface over static STAC catalogs and STAC APIs.

``open_source(url, cache_dir)`` gives an ``ItemSource``: the ``StacIndex`` of a static catalog (local
or ``s3://``, walked once and cached) or a ``StacApiCollection`` for a STAC API collection URL
(``https://host/stac/collections/{id}``). Both turn (collection, bbox, interval, property filters) into
compact index records (``items.compact_item``), which ``items.to_item_record`` maps onto a layer
collection's bands. ``layercatalog.catalog`` (layer catalog entries) and ``load_stac`` (a URL) use it.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Iterator, Protocol

from layercatalog.model import PropertyFilter
from layercatalog.stacapi import StacApiCollection, is_stac_api_url

Bbox = tuple[float, float, float, float]


class ItemSource(Protocol):
    """What a search needs of a STAC source."""

    def collections(self) -> dict[str, dict]:
        """STAC collection id -> collection document."""

    def item_collections(self) -> list[str]:
        """The collection ids the source's items belong to."""

    def search(self, collection: str | None, bbox: Bbox | None, start: dt.datetime | None,
               end: dt.datetime | None, filters: Iterable[PropertyFilter] = (),
               page_size: int | None = None) -> Iterator[dict]:
        """Index records intersecting ``bbox`` with ``start <= datetime < end``; ``filters`` may be
        applied by the source (a STAC API's filter extension) or not: callers check them anyway.
        ``page_size``: items per request of a paged source (a caller reading only the first few)."""

    def matched(self, collection: str | None, bbox: Bbox | None, start: dt.datetime | None,
                end: dt.datetime | None, filters: Iterable[PropertyFilter] = ()) -> int | None:
        """The count the source reports without listing the items, when it can (else None)."""

    def close(self) -> None:
        """Release files and connections."""


def open_source(url: str, cache_dir: str) -> ItemSource:
    """The item source of a layer catalog data source URL (static catalog or STAC API collection)."""
    if is_stac_api_url(url):
        return StacApiCollection(url)
    from layercatalog.index import StacIndex

    return StacIndex.open(url, cache_dir)

"""``LayerCatalog``: the collections a caller may see, and item search over their STAC sources.

Loads ``layercatalog.json`` through ``sparkeo.storage`` (local or ``s3://``). Access groups are enforced
here: a private collection is absent from ``collections`` and ``get``/``search`` answer exactly as for
an unknown id. Items come from each entry's ``ItemSource`` (``layercatalog.source``): the ``StacIndex`` of a
static STAC catalog (built once, cached) or a STAC API collection.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sparkeo import jsondoc, storage
from sparkeo.errors import SparkeoError
from sparkeo.identity import Caller
from sparkeo.settings import Settings

from layercatalog.document import Unsupported, lists_bands, parse_entry, parse_layer_catalog
from layercatalog.errors import (EmptyQueryError, ExtentError, InvalidCatalogError, StacApiError, UnknownBandError,
                                 UnknownCollectionError, UnsupportedDataSourceError)
from layercatalog.items import to_item_record
from layercatalog.model import CollectionInfo, ItemQuery, ItemRecord
from layercatalog.source import ItemSource, open_source
from layercatalog.stacurl import entry_for_url, normalise_url

log = logging.getLogger(__name__)


@dataclass
class LayerCatalog:
    """A loaded layer catalog; ``unsupported`` lists entries with data sources sparkeo cannot read."""

    uri: str
    settings: Settings
    _collections: dict[str, CollectionInfo]
    unsupported: tuple[Unsupported, ...] = ()
    _indexes: dict[str, ItemSource] = field(default_factory=dict, repr=False)
    _described_ids: set[str] = field(default_factory=set, repr=False)   # bands derived already
    # load_stac's collections, by URL: searchable, never listed (layercatalog.stacurl)
    _adhoc: dict[str, CollectionInfo] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, uri: str, settings: Settings | None = None) -> "LayerCatalog":
        """Read and validate the layer catalog at ``uri``."""
        settings = settings or Settings.from_env()
        try:
            doc = jsondoc.loads(storage.read_bytes(uri))
        except jsondoc.JsonDocumentError as exc:
            raise InvalidCatalogError(uri, None, str(exc)) from None
        collections, unsupported = parse_layer_catalog(doc, uri)
        for u in unsupported:
            log.info("collection %s: data source type %r is not supported", u.id, u.data_source_type,
                     extra={"collection": u.id})
        for entry in [*collections, *unsupported]:   # the operator's report (-v); callers: access_problems
            if entry.access.problem:
                log.info("collection %s: %s", entry.id, entry.access.problem, extra={"collection": entry.id})
        return cls(uri, settings, {c.id: c for c in collections}, tuple(unsupported))

    # --- collections -------------------------------------------------------------------------

    def collections(self, caller: Caller) -> list[CollectionInfo]:
        """The collections ``caller`` may see, by id, with their bands (derived where the entry has none;
        an entry whose items cannot be read is listed as it is, and the reason logged: ``get`` raises it)."""
        out = []
        for _, c in sorted(self._collections.items()):
            if c.access.admits(caller):
                try:
                    out.append(self._described(c))
                except SparkeoError as exc:
                    log.warning("collection %s: bands not derived: %s", c.id, exc, extra={"collection": c.id})
                    out.append(c)
        return out

    def get(self, collection_id: str, caller: Caller) -> CollectionInfo:
        """One collection; unknown and private-to-others raise the same ``UnknownCollectionError``."""
        found = self._collections.get(collection_id) or self._adhoc.get(collection_id)
        if found is None:
            for u in self.unsupported_for(caller):
                if u.id == collection_id:
                    raise UnsupportedDataSourceError(u.id, u.data_source_type)
        if found is not None and found.access.tells(caller):
            raise InvalidCatalogError(self.uri, found.id, found.access.problem)
        if found is None or not found.access.admits(caller):
            visible = [cid for cid, c in sorted(self._collections.items()) if c.access.admits(caller)]
            raise UnknownCollectionError(collection_id, visible)
        return self._described(found)

    def _described(self, collection: CollectionInfo) -> CollectionInfo:
        """``collection`` with its bands: when its entry lists none (``summaries``), they come from
        ``item_assets`` (the entry's, else the STAC collection's), then from the indexed items."""
        if collection.id in self._described_ids or lists_bands(collection.document):
            return collection
        from dataclasses import replace

        from layercatalog.bandsource import ITEMS_SAMPLED, derive_bands

        def records():
            # band discovery looks at the first items only (bandsource.ITEMS_SAMPLED)
            source = self.index_of(collection)
            yield from source.search(self._stac_collection(collection, source), None, None, None,
                                     page_size=ITEMS_SAMPLED)

        item_assets = collection.document.get("item_assets")
        if not item_assets:
            docs = self._documents(collection)
            wanted = collection.data_source.collection
            # a source of one collection (a STAC API collection URL) describes it whatever the entry's id
            only = next(iter(docs.values())) if len(docs) == 1 and not wanted else {}
            item_assets = (docs.get(wanted or collection.id) or only).get("item_assets")
        names = [b.name for b in collection.bands]
        try:
            bands = derive_bands(names, item_assets, records())
        except StacApiError as exc:     # a STAC API that is down: the entry's band names, item_assets only
            log.warning("collection %s: bands not derived from its items: %s", collection.id, exc,
                        extra={"collection": collection.id})
            bands = derive_bands(names, item_assets, ())
        described = replace(collection, bands=bands)
        (self._adhoc if collection.id in self._adhoc else self._collections)[collection.id] = described
        self._described_ids.add(collection.id)
        return described

    def stac_url(self, url: str) -> CollectionInfo:
        """The collection of the STAC item, collection, catalog or API collection at ``url``
        (``load_stac``), described like a catalogued one; its id is the URL. Open to every caller:
        whoever names a URL can read it anyway (access groups guard catalogued collections)."""
        url = normalise_url(url)
        if url not in self._adhoc:
            self._adhoc[url] = parse_entry(entry_for_url(url), url)
        return self._described(self._adhoc[url])

    def _documents(self, collection: CollectionInfo) -> dict[str, dict]:
        """The STAC collection documents of a collection's source; none when its STAC API is down."""
        try:
            return self.index_of(collection).collections()
        except StacApiError as exc:
            log.warning("collection %s: %s", collection.id, exc, extra={"collection": collection.id})
            return {}

    def unsupported_for(self, caller: Caller) -> list[Unsupported]:
        """Entries with data sources sparkeo cannot read, that ``caller`` may see."""
        return [u for u in self.unsupported if u.access.admits(caller)]

    def access_problems(self, caller: Caller) -> list[InvalidCatalogError]:
        """Malformed access blocks, as errors naming the entry, of the entries ``caller`` is told about.

        Those collections are hidden from everyone (``layercatalog.access``); only members of a group
        the block names learn why, so the others cannot tell a hidden collection from no collection.
        """
        entries = [*self._collections.values(), *self.unsupported]
        return [InvalidCatalogError(self.uri, e.id, e.access.problem)
                for e in sorted(entries, key=lambda e: e.id) if e.access.tells(caller)]

    # --- search ------------------------------------------------------------------------------

    def check_query(self, query: ItemQuery, caller: Caller) -> CollectionInfo:
        """Validate collection access, band names and extent; returns the collection."""
        collection = self.get(query.collection_id, caller)
        for name in query.bands or ():
            if collection.band(name) is None:
                raise UnknownBandError(collection.id, name, [b.name for b in collection.bands])
        start, end = query.interval
        if start is not None and end is not None and start >= end:
            raise EmptyQueryError(collection.id, query.bbox, query.interval,
                                  reason="empty time interval (start >= end)")
        if query.bbox is not None and not _intersects(query.bbox, collection.bbox):
            raise ExtentError(collection.id, query.bbox, collection.bbox)
        return collection

    def search(self, query: ItemQuery, caller: Caller, allow_empty: bool = False) -> list[ItemRecord]:
        """Items of ``query.collection_id`` intersecting the bbox with ``start <= datetime < end``,
        holding at least one of the requested bands and passing the property filters; sorted by
        datetime then id. Band keys of ``ItemRecord.assets`` are the collection's band names
        (aliases resolved); an item lacking some requested bands carries only those it has.
        """
        collection = self.check_query(query, caller)
        bands = None
        if query.bands is not None:
            bands = tuple(dict.fromkeys(collection.band(n).name for n in query.bands))
        source = self.index_of(collection)
        stac_id = self._stac_collection(collection, source)
        out = []
        for record in source.search(stac_id, query.bbox, *query.interval, filters=query.filters):
            if not _passes(record.get("properties") or {}, query.filters):
                continue
            item = to_item_record(collection, record, bands)
            if item is not None:
                out.append(item)
        # a STAC API answers in its own order; a static index by time then id: the same for both
        out.sort(key=lambda item: (item.datetime, item.id))
        if not out and not allow_empty:
            raise EmptyQueryError(collection.id, query.bbox, query.interval,
                                  reason="no items" + (" pass the property filters" if query.filters else " match"))
        return out

    def summary(self, query: ItemQuery, caller: Caller):
        """What a query would read, before any pixel is read (see ``layercatalog.summary``)."""
        from layercatalog.summary import summarize

        matched = self.matched(query, caller)
        items = self.search(query, caller, allow_empty=True)
        collection = self.get(query.collection_id, caller)
        bands = tuple(collection.band(n).name for n in query.bands) if query.bands else None
        return summarize(collection, query, items, bands, matched)

    def index_of(self, collection: CollectionInfo) -> ItemSource:
        """The item source of a collection: the index of its static STAC catalog (built on first use,
        then cached) or its STAC API collection (``layercatalog.source``)."""
        url = collection.data_source.url
        if url not in self._indexes:
            self._indexes[url] = open_source(url, self.settings.cache_dir)
        return self._indexes[url]

    def matched(self, query: ItemQuery, caller: Caller) -> int | None:
        """The number of items the source reports for ``query`` before property filters are checked
        item by item (a STAC API's ``numberMatched``), without listing them; None when it cannot."""
        collection = self.check_query(query, caller)
        source = self.index_of(collection)
        return source.matched(self._stac_collection(collection, source), query.bbox, *query.interval,
                              filters=query.filters)

    def count(self, query: ItemQuery, caller: Caller) -> int:
        """How many items ``query`` matches: the STAC API's ``numberMatched`` (one request, no paging;
        an item at exactly the interval's end counts), else the length of the search."""
        matched = self.matched(query, caller)
        return matched if matched is not None else len(self.search(query, caller, allow_empty=True))

    def _stac_collection(self, collection: CollectionInfo, index: ItemSource) -> str | None:
        """The STAC collection id to search inside the data source (None: all its items)."""
        present = index.item_collections()
        wanted = collection.data_source.collection or collection.id
        if wanted in present:
            return wanted
        if not collection.data_source.collection and (len(present) <= 1 or collection.id in self._adhoc):
            return None     # load_stac of a catalog: all its items, whatever collections they are in
        raise InvalidCatalogError(
            collection.data_source.url, collection.id,
            f"STAC collection {wanted!r} not found; the catalog has: {', '.join(str(p) for p in present)}")

    def close(self) -> None:
        for index in self._indexes.values():
            index.close()
        self._indexes.clear()


def _intersects(a, b) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _passes(props: dict, filters) -> bool:
    for f in filters:
        try:
            if not f.matches(props.get(f.property)):
                return False
        except TypeError:   # e.g. a string property compared with a number: no match
            return False
    return True


def layer_entries_for_static_catalog(url: str) -> list[dict]:
    """Layer catalog entries (``layer_entry_for_stac_collection``) for every collection of a static catalog.

    Walks the catalog once; bands are discovered from the items' assets (one item per distinct
    asset layout is enough). ``url`` is written into the entries as given (make it relative to where
    the layercatalog.json will live, or absolute).
    """
    from layercatalog import stacwalk
    from layercatalog.document import layer_entry_for_stac_collection

    walked = stacwalk.WalkResult()
    layouts: dict[str, dict[tuple, dict]] = {}
    for item in stacwalk.walk(url, walked):
        layout = tuple(sorted((k, tuple(b.get("name", "") for b in a.get("eo:bands") or ()))
                              for k, a in (item.doc.get("assets") or {}).items()))
        layouts.setdefault(item.collection_id or "", {}).setdefault(layout, item.doc)
    entries = []
    for cid, doc in sorted(walked.collections.items()):
        entries.append(layer_entry_for_stac_collection(doc, url, items=list(layouts.get(cid, {}).values())))
    return entries


def layer_entries_for_stac(url: str) -> list[dict]:
    """Layer catalog entries for a STAC API collection URL (one) or a static catalog (each collection)."""
    from layercatalog.stacapi import is_stac_api_url, layer_entry_for_stac_api_collection

    if is_stac_api_url(url):
        return [layer_entry_for_stac_api_collection(url)]
    return layer_entries_for_static_catalog(url)

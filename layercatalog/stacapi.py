"""A STAC API collection (``https://host/stac/collections/{id}``) as an item source, through pystac-client.

``StacApiCollection`` answers the same questions as a static catalog's ``StacIndex``
(``layercatalog.source.ItemSource``): the collection document, and the index records
(``items.compact_item``) of the items intersecting a bbox in ``[start, end)``. It searches with
``POST /search`` (GET where the API's search link offers only GET), pages through the ``next`` links
(pystac-client follows both styles, with their ``body``/``merge``), and sends the property filters as a
CQL2 ``filter`` or a ``query`` when the API advertises that extension in ``conformsTo`` (the caller
checks them again on every item, so an API without either is filtered client-side).

Memory stays bounded by one page: each page's items become compact records as they arrive and the
full JSON is dropped; progress (items so far of ``numberMatched``) is logged every few pages.
Requests retry with exponential backoff on 429 and 5xx; an API that stays down raises
``StacApiError`` (a ``RunError``) naming the URL.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from layercatalog.errors import InvalidCatalogError, StacApiError
from layercatalog.items import compact_item, parse_datetime
from layercatalog.model import PropertyFilter

log = logging.getLogger(__name__)

PAGE_SIZE = 500            # items per page: most public APIs accept it (Earth Search, Planetary Computer cap at 1000)
RETRIES = 5                # per request; backoff 0, 1, 2, 4, 8 s (urllib3 Retry, honours Retry-After)
CONNECT_RETRIES = 1        # a host that does not resolve or refuses connections is down, not busy: fail fast
BACKOFF_S = 0.5
TIMEOUT_S = 60.0
RETRY_STATUS = (429, 500, 502, 503, 504)
PROGRESS_EVERY_S = 5.0     # a progress line at most this often
# CQL2-JSON operators of PropertyFilter ops ("between" and "in" have their own shapes).
CQL2_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
QUERY_OPS = ("eq", "neq", "lt", "lte", "gt", "gte", "in")


def is_stac_api_url(url: str) -> bool:
    """True for an http(s) URL that is no JSON document: a STAC API (collection) endpoint."""
    return url.startswith(("http://", "https://")) and not url.split("?")[0].rstrip("/").endswith(".json")


def split_collection_url(url: str) -> tuple[str, str | None]:
    """``https://h/stac/collections/s2`` -> (``https://h/stac``, ``s2``); an API root -> (root, None)."""
    base = url.split("?")[0].rstrip("/")
    head, sep, tail = base.rpartition("/collections/")
    if sep and tail and "/" not in tail:
        return head, tail
    return base, None


def cql2_filter(filters: Iterable[PropertyFilter]) -> dict | None:
    """The CQL2-JSON ``filter`` of the filters that have one (all must hold), or None."""
    args = []
    for f in filters:
        prop = {"property": f.property}
        if f.op in CQL2_OPS and f.value is not None:
            args.append({"op": CQL2_OPS[f.op], "args": [prop, f.value]})
        elif f.op == "between":
            args.append({"op": "between", "args": [prop, f.value[0], f.value[1]]})
        elif f.op == "in":
            args.append({"op": "in", "args": [prop, list(f.value)]})
    if not args:
        return None
    return args[0] if len(args) == 1 else {"op": "and", "args": args}


def query_extension(filters: Iterable[PropertyFilter]) -> dict | None:
    """The ``query`` extension object of the filters that have one, or None."""
    out: dict[str, dict] = {}
    for f in filters:
        ops = out.setdefault(f.property, {})
        if f.op in QUERY_OPS and f.value is not None:
            ops[f.op] = list(f.value) if f.op == "in" else f.value
        elif f.op == "between":
            ops["gte"], ops["lte"] = f.value[0], f.value[1]
    out = {k: v for k, v in out.items() if v}
    return out or None


def _datetime_arg(start: dt.datetime | None, end: dt.datetime | None) -> str | None:
    if start is None and end is None:
        return None
    iso = (lambda t: ".." if t is None else t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"))
    return f"{iso(start)}/{iso(end)}"


@dataclass
class StacApiCollection:
    """One collection of a STAC API, searched through pystac-client (connected on first use)."""

    url: str                               # the collection URL as the layer catalog gives it
    page_size: int = PAGE_SIZE
    retries: int = RETRIES
    backoff: float = BACKOFF_S
    method: str | None = None              # None: POST when the API's search link offers it, else GET
    root: str = field(init=False)
    collection_id: str | None = field(init=False)
    _client: object = field(default=None, init=False, repr=False)
    _document: dict | None = field(default=None, init=False, repr=False)
    _stac_io: object = field(default=None, init=False, repr=False)

    def __post_init__(self):
        self.root, self.collection_id = split_collection_url(self.url)

    # --- the ItemSource interface (as StacIndex) ---------------------------------------------

    def collections(self) -> dict[str, dict]:
        """STAC collection id -> its document (only this one collection; none for an API root URL)."""
        if self.collection_id is None:
            return {}
        if self._document is None:
            self._document = self._call(lambda: self._io().read_json(self.url), self.url)
        return {self.collection_id: self._document}

    def item_collections(self) -> list[str]:
        return [self.collection_id] if self.collection_id else []

    def search(self, collection: str | None, bbox: tuple[float, float, float, float] | None,
               start: dt.datetime | None, end: dt.datetime | None,
               filters: Iterable[PropertyFilter] = (), page_size: int | None = None) -> Iterator[dict]:
        """Index records of the items intersecting ``bbox`` (EPSG:4326) with ``start <= datetime < end``,
        in the API's order; ``filters`` are sent to the API when it can apply them (the caller still
        checks them). ``page_size``: a caller that reads only the first items asks for smaller pages."""
        search = self._search(collection, bbox, start, end, tuple(filters), page_size or self.page_size)
        seen, matched, last_report = 0, None, time.monotonic()
        pages = search.pages_as_dicts()
        while True:
            page = self._call(lambda: next(pages, None), search.url)
            if page is None:
                return
            if matched is None:
                matched = _number_matched(page)
            for doc in page.get("features") or ():
                seen += 1
                record = self._record(doc)
                if record is None:
                    continue
                when = parse_datetime(record["datetime"])
                # STAC datetime intervals are closed; openEO's are left-closed [start, end)
                if (start is not None and when < start) or (end is not None and when >= end):
                    continue
                yield record
            if time.monotonic() - last_report >= PROGRESS_EVERY_S:
                last_report = time.monotonic()
                log.info("STAC API search: %d of %s items", seen, matched if matched is not None else "?",
                         extra={"href": search.url})

    def matched(self, collection: str | None, bbox, start, end, filters: Iterable[PropertyFilter] = ()) -> int | None:
        """The number of matching items the API reports (``numberMatched``), from one small request;
        None when it reports none. Items at exactly ``end`` are counted (STAC intervals are closed)."""
        import warnings

        search = self._search(collection, bbox, start, end, tuple(filters), 1)
        with warnings.catch_warnings():     # pystac-client warns when the API reports no count: None says it
            warnings.simplefilter("ignore", UserWarning)
            return self._call(search.matched, search.url)

    def sample_items(self, count: int) -> list[dict]:
        """The first ``count`` item dicts of the collection, as the API returns them (one request)."""
        search = self._search(None, None, None, None, (), count)
        page = self._call(lambda: next(search.pages_as_dicts(), None), search.url) or {}
        return list(page.get("features") or ())[:count]

    def close(self) -> None:
        self._client = None


    # --- internals -----------------------------------------------------------------------------

    def _search(self, collection, bbox, start, end, filters: tuple[PropertyFilter, ...], limit: int):
        from pystac_client import ConformanceClasses

        client = self._connect()
        kwargs: dict = {"collections": [collection or self.collection_id] if (collection or self.collection_id) else None,
                        "bbox": list(bbox) if bbox is not None else None,
                        "datetime": _datetime_arg(start, end), "limit": limit}
        if filters and client.conforms_to(ConformanceClasses.FILTER):
            kwargs.update(filter=cql2_filter(filters), filter_lang="cql2-json")
        elif filters and client.conforms_to(ConformanceClasses.QUERY):
            kwargs["query"] = query_extension(filters)
        kwargs["method"] = self.method or ("POST" if _offers_post(client) else "GET")
        try:
            return client.search(**{k: v for k, v in kwargs.items() if v is not None})
        except NotImplementedError:     # pystac-client: the root has no "search" link
            raise InvalidCatalogError(self.url, None, f"{self.root} is not a STAC API with item search "
                                                      "(no 'search' link)") from None

    def _connect(self):
        if self._client is None:
            from pystac_client import Client

            self._client = self._call(lambda: Client.open(self.root, stac_io=self._io()), self.root)
        return self._client

    def _io(self):
        if self._stac_io is None:
            from pystac_client.stac_api_io import StacApiIO
            from urllib3 import Retry

            retry = Retry(total=self.retries, connect=min(CONNECT_RETRIES, self.retries),
                          backoff_factor=self.backoff, status_forcelist=RETRY_STATUS,
                          allowed_methods=None, respect_retry_after_header=True, raise_on_status=True)
            self._stac_io = StacApiIO(max_retries=retry, timeout=TIMEOUT_S)
        return self._stac_io

    def _call(self, fn, url: str):
        """``fn()``, with a transport failure or an API error answer turned into ``StacApiError`` naming
        the collection URL the catalog gives (and ``url``, the request's, when it differs)."""
        import requests
        from pystac_client.exceptions import APIError

        try:
            return fn()
        except (APIError, requests.RequestException, OSError, ValueError) as exc:    # ValueError: not JSON
            where = "" if url == self.url else f"{url}: "
            raise StacApiError(self.url, where + _reason(exc)) from None

    def _record(self, doc: dict) -> dict | None:
        base = next((link.get("href") for link in doc.get("links") or () if link.get("rel") == "self"), None)
        try:
            return compact_item(doc, base or self.url, self.collection_id)
        except ValueError as exc:
            raise InvalidCatalogError(self.url, f"item {doc.get('id')!r}", str(exc)) from None


def _offers_post(client) -> bool:
    """Whether the API's ``search`` link offers POST (STAC API: a root link per method; none named: POST)."""
    methods = [(link.extra_fields.get("method") or "GET").upper()
               for link in client.get_links("search")]
    return not methods or "POST" in methods


def _number_matched(page: dict) -> int | None:
    value = page.get("numberMatched")
    if value is None:
        value = (page.get("context") or {}).get("matched")
    return int(value) if isinstance(value, int) else None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "…"


def layer_entry_for_stac_api_collection(url: str, items_sampled: int = 50) -> dict:
    """A layer catalog entry for a STAC API collection URL: its document, bands derived from its
    ``item_assets`` and its first items (``document.layer_entry_for_stac_collection``)."""
    from layercatalog.document import layer_entry_for_stac_collection

    source = StacApiCollection(url)
    if source.collection_id is None:
        raise InvalidCatalogError(url, None, "expected a STAC API collection URL (.../collections/{id})")
    doc = source.collections()[source.collection_id]
    entry = layer_entry_for_stac_collection(doc, url, source.sample_items(items_sampled))
    del entry["_sparkeo"]["data_source"]["collection"]      # the URL names it
    return entry

"""Walk a static STAC catalog once, with plain JSON (no pystac objects): ~0.05 ms per local item.

``catalog.json`` -> ``child`` links (catalogs, collections) -> ``item`` links, hrefs relative to the
document that holds them, local paths or ``s3://``. Every read goes through ``sparkeo.storage``.
The container documents (catalogs and collections) are recorded with their storage fingerprint, so
an index can tell later whether the catalog changed without walking it again.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

import orjson   # ~4x faster than json on item documents: the walk is dominated by parsing

from sparkeo import readpolicy, storage
from sparkeo.errors import NotFoundInStorage

from layercatalog.errors import InvalidCatalogError

# S3 GETs are latency-bound: read item documents concurrently there, sequentially on disk.
S3_READ_THREADS = 16
BATCH = 256


@dataclass(frozen=True)
class WalkedItem:
    """One item document as found by the walk."""

    uri: str
    collection_id: str | None
    doc: dict


@dataclass
class WalkResult:
    """What the walk saw besides items: container documents and collection documents."""

    containers: list[tuple[str, str]] = field(default_factory=list)    # (uri, fingerprint)
    collections: dict[str, dict] = field(default_factory=dict)          # id -> collection doc (no links)


def read_json(uri: str, entry: str | None = None) -> dict:
    """Parse one JSON document from storage; a broken document is an ``InvalidCatalogError``."""
    try:
        raw = storage.read_bytes(uri)
    except NotFoundInStorage:
        raise InvalidCatalogError(uri, entry, "document not found") from None
    try:
        doc = orjson.loads(raw)
    except ValueError as exc:
        raise InvalidCatalogError(uri, entry, f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict):    # every STAC document is an object; a list would fail on .get later
        raise InvalidCatalogError(uri, entry, f"expected a JSON object, got {type(doc).__name__}")
    return doc


def walk(root_uri: str, result: WalkResult) -> Iterator[WalkedItem]:
    """Yield every item reachable from ``root_uri`` (a catalog, a collection or a single item).

    Fills ``result`` with the container documents' fingerprints and the collection documents.
    """
    root = read_json(root_uri)
    if root.get("type") == "Feature":
        # a single item (load_stac's URL) is its own container: an edit to it re-indexes it
        result.containers.append((root_uri, storage.stat(root_uri).fingerprint))
        yield WalkedItem(root_uri, root.get("collection"), root)
        return
    yield from _walk_container(root_uri, root, None, result, seen=set())


def _walk_container(uri: str, doc: dict, collection_id: str | None, result: WalkResult,
                    seen: set[str]) -> Iterator[WalkedItem]:
    if uri in seen:     # a child link back up the tree must not loop forever
        return
    seen.add(uri)
    result.containers.append((uri, storage.stat(uri).fingerprint))
    if doc.get("type") == "Collection" or "extent" in doc and "license" in doc:
        collection_id = doc.get("id")
        result.collections[collection_id] = {k: v for k, v in doc.items() if k != "links"}
    item_uris, child_uris = [], []
    links = doc.get("links") or []
    if not isinstance(links, list):
        raise InvalidCatalogError(uri, collection_id, "'links' must be a list")
    for link in links:
        href = link.get("href") if isinstance(link, dict) else None
        if not isinstance(href, str) or not href:
            continue
        if link.get("rel") == "item":
            item_uris.append(storage.resolve(uri, href))
        elif link.get("rel") == "child":
            child_uris.append(storage.resolve(uri, href))
    for batch_start in range(0, len(item_uris), BATCH):
        batch = item_uris[batch_start:batch_start + BATCH]
        for item_uri, item in zip(batch, _read_many(batch, entry=collection_id)):
            yield WalkedItem(item_uri, item.get("collection") or collection_id, item)
    for child_uri in child_uris:
        yield from _walk_container(child_uri, read_json(child_uri), collection_id, result, seen)


def _read_many(uris: list[str], entry: str | None) -> list[dict]:
    if uris and storage.is_s3(uris[0]):
        for uri in uris:    # the pool's threads do not see the read policy of a user's load_stac: check here
            readpolicy.check_current(uri)
        with ThreadPoolExecutor(S3_READ_THREADS) as pool:
            return list(pool.map(lambda u: read_json(u, entry), uris))
    return [read_json(u, entry) for u in uris]


def containers_unchanged(containers: list[tuple[str, str]]) -> bool:
    """True when every recorded container document still has the same fingerprint.

    Adding or removing items changes the collection document that links them, so this catches
    every structural change; an item edited in place under an unchanged collection is not seen.
    """
    for uri, fingerprint in containers:
        try:
            if storage.stat(uri).fingerprint != fingerprint:
                return False
        except NotFoundInStorage:
            return False
    return True

"""Downloading a whole results set (``sparkeo results LOCATION --download DIR``, ``sparkeo.ops.results``).

The results documents (``collection.json``, the items it links, ``job_metadata.json`` and every
other file below the results location) keep their relative layout under DIR, and the copies of the
STAC documents have their hrefs rewritten to that local layout, so DIR is itself a self-contained
STAC collection (no ``self`` links, relative hrefs) that pystac and sparkeo open. Links to
documents outside the location (``derived_from`` input items) stay absolute. Anything whose path
would leave DIR, or land on one of the documents, is refused before a byte is written. Assets are
checked against their ``file:size`` and ``file:checksum``.
"""
from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from typing import Any, Mapping

from jobs.results.checksum import multihash_sha256
from sparkeo import storage
from sparkeo.errors import NotFoundInStorage, RunError, UserError

# Links that name the document's own place in the tree: rewritten, never fetched on their own.
STRUCTURAL = {"self", "root", "parent", "collection"}


class UnsafeResultsPath(UserError):
    """Raised when a results document names a file outside its location, or two files on one path."""

    def __init__(self, location: str, href: str, reason: str):
        super().__init__(f"results at {location!r}: refusing {href!r}: {reason}", location=location, href=href)


@dataclass(frozen=True)
class Fetch:
    """One file of the results set: where it is, where it goes under DIR, how to check it."""

    uri: str
    relpath: str                    # posix path below DIR
    size: int | None = None
    checksum: str | None = None
    document: bool = False          # a STAC document whose hrefs are rewritten


def download_results(doc_uri: str, collection: Mapping[str, Any], target_dir: str) -> list[str]:
    """Download the results set of the collection at ``doc_uri`` into ``target_dir``; returns the local
    paths, documents last. Raises ``UnsafeResultsPath`` (exit 2) before writing anything when a
    path would leave ``target_dir``; ``RunError`` when a file does not match its size or checksum."""
    base = _base_of(doc_uri)
    plan = _Plan(doc_uri, base)
    plan.add(Fetch(doc_uri, posixpath.basename(doc_uri.rstrip("/")), document=True))
    items: dict[str, dict] = {}
    for link in collection.get("links") or ():
        if link.get("rel") in STRUCTURAL or not link.get("href"):
            continue
        uri = storage.resolve(doc_uri, link["href"])
        if plan.relpath_of(uri) is None:
            continue                 # a document elsewhere (an input item): the link stays absolute
        if link.get("rel") == "item":
            items[uri] = _read_json(uri)
        plan.add(Fetch(uri, plan.relpath_of(uri), document=link.get("rel") == "item"))
    for uri, doc in [(doc_uri, collection), *items.items()]:
        for asset in (doc.get("assets") or {}).values():
            href = storage.resolve(uri, asset["href"])
            rel = plan.relpath_of(href)
            if rel is None:
                raise UnsafeResultsPath(base, asset["href"], "the asset is outside the results location")
            plan.add(Fetch(href, rel, asset.get("file:size"), asset.get("file:checksum")), asset["href"])
    local = {f.uri: os.path.join(target_dir, *f.relpath.split("/")) for f in plan.files.values()}
    written = []
    # assets first, the collection document last: its presence means the download is complete
    for f in sorted(plan.files.values(), key=lambda f: (f.document, f.uri == doc_uri)):
        path = local[f.uri]
        if f.document:
            doc = collection if f.uri == doc_uri else items[f.uri]
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                json.dump(localized(doc, f.uri, plan.relpath_of), fh, indent=2)
        else:
            storage.download(f.uri, path)
            _check(f, path)
        written.append(path)
    return written


class _Plan:
    """The files to fetch, by URI, each with a distinct relative path inside the location."""

    def __init__(self, doc_uri: str, base: str):
        self.doc_uri, self.base = doc_uri, base
        self.files: dict[str, Fetch] = {}
        self._paths: dict[str, str] = {}

    def relpath_of(self, uri: str) -> str | None:
        """``uri``'s path below the location, or None when it is not below it."""
        if not uri.startswith(self.base):
            return None
        rel = uri[len(self.base):]
        parts = rel.split("/")
        if not rel or any(p in ("", ".", "..") for p in parts) or "\\" in rel or "\0" in rel:
            return None
        return rel

    def add(self, fetch: Fetch, href: str | None = None) -> None:
        """Plan ``fetch`` (``href``: as the document writes it, for messages)."""
        known = self.files.get(fetch.uri)
        if known is not None:
            if known.document != fetch.document:     # an asset that is one of the documents
                raise UnsafeResultsPath(self.base, href or fetch.uri, "an asset and a document share this path")
            return
        owner = self._paths.get(fetch.relpath.lower())
        if owner is not None:           # case-folded: the download folder may be case-insensitive
            raise UnsafeResultsPath(self.base, href or fetch.uri, f"it would overwrite {owner!r} in the download")
        self._paths[fetch.relpath.lower()] = fetch.uri
        self.files[fetch.uri] = fetch


def localized(doc: Mapping[str, Any], doc_uri: str, relpath_of) -> dict:
    """A copy of a STAC document with its hrefs relative to where it lands in the download (pure):
    targets inside the location become ``./relative`` paths, others absolute; no ``self`` link."""
    here = posixpath.dirname(relpath_of(doc_uri) or "")

    def local(href: str) -> str:
        uri = storage.resolve(doc_uri, href)
        rel = relpath_of(uri)
        if rel is None:
            return uri
        return "./" + posixpath.relpath(rel, here or ".")

    out = dict(doc)
    out["links"] = [{**link, "href": local(link["href"])} for link in doc.get("links") or ()
                    if link.get("rel") != "self" and link.get("href")]
    out["assets"] = {k: {**a, "href": local(a["href"])} for k, a in (doc.get("assets") or {}).items()}
    return out


def _base_of(doc_uri: str) -> str:
    """The results location of a document: its folder or prefix, with a trailing ``/``."""
    if storage.is_s3(doc_uri):
        return doc_uri.rsplit("/", 1)[0] + "/"
    return os.path.dirname(os.path.abspath(doc_uri)) + "/"


def _read_json(uri: str) -> dict:
    try:
        doc = json.loads(storage.read_text(uri))
    except NotFoundInStorage:
        raise RunError(f"{uri}: the results document links it, but it does not exist") from None
    except ValueError as exc:
        raise RunError(f"{uri}: not a STAC document: {exc}") from None
    if not isinstance(doc, dict):
        raise RunError(f"{uri}: not a STAC document")
    return doc


def _check(f: Fetch, path: str) -> None:
    size = os.path.getsize(path)
    if f.size is not None and size != f.size:
        raise RunError(f"{f.uri}: downloaded {size} bytes, the results document says {f.size}")
    if f.checksum and multihash_sha256(path) != f.checksum.lower():
        raise RunError(f"{f.uri}: checksum mismatch after download (expected {f.checksum})")

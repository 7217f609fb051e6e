"""``load_stac(url)``: the STAC document a URL names, as an ad-hoc layer catalog entry.

The entry has the shape an operator would write into ``layercatalog.json``, so the collection is
then searched, described and read exactly like a catalogued one (``LayerCatalog.stac_url``): a
static catalog, collection or single item (local path, ``s3://``, ``http(s)://``) through its cached
index, a STAC API collection (``.../collections/{id}``) through the catalog's STAC API search.

Bands: the entry names them in ``cube:dimensions`` (from the document's ``cube:dimensions``, else
its ``summaries`` bands) and leaves their metadata to ``bandsource``: ``item_assets``, then the
items' ``eo:bands``/``raster:bands``/``bands``, so nodata and data type come with them. A sparkeo
job's results (``collection.json``) load back this way, their time labels included.
"""
from __future__ import annotations

import os

from layercatalog.document import WORLD
from layercatalog.errors import InvalidCatalogError
from layercatalog.model import CollectionInfo
from layercatalog.stacwalk import read_json
from layercatalog.stacapi import is_stac_api_url

DIMENSIONS_KEY = "dimensions"      # in the entry's _sparkeo block: the document's declared dimension types


def normalise_url(url: str) -> str:
    """A URL as indexes key it: local paths absolute (a relative path names the same file anywhere)."""
    if "://" in url:
        return url
    return os.path.abspath(os.path.expanduser(url))


def is_static_url(url: str) -> bool:
    """True for a static STAC document (local, ``s3://``, or a ``.json`` on the web); False for a
    STAC API collection URL (``https://host/v1/collections/sentinel-2-l2a``), which is searched."""
    return not is_stac_api_url(url)


def entry_for_url(url: str) -> dict:
    """The layer catalog entry for the STAC item, collection or catalog at ``url`` (its id is the URL).

    Raises ``InvalidCatalogError`` for a document that is no STAC entity, ``NotFoundInStorage`` for
    a missing one and ``StorageError`` for an unreachable one (the caller names the argument).
    """
    doc = read_json(url)
    kind = doc.get("type")
    if kind == "Feature":
        return _entry(url, doc, _item_extent(doc), stac_id=None)
    if kind == "Collection" or kind is None and "extent" in doc and "license" in doc:
        if not is_static_url(url) and not _links(doc, "items"):
            raise InvalidCatalogError(url, None, "a STAC collection on the web is read either as a static "
                                                 "document (a .json URL) or as a STAC API collection "
                                                 "(with an 'items' link); this one is neither")
        return _entry(url, doc, doc.get("extent") or _world(), stac_id=doc.get("id"))
    if kind == "Catalog" or kind is None and "links" in doc:
        return _entry(url, doc, _world(), stac_id=None)
    raise InvalidCatalogError(url, None, f"not a STAC Item, Collection or Catalog (type {kind!r})")


def _entry(url: str, doc: dict, extent: dict, stac_id: str | None) -> dict:
    entry = {
        "id": url,
        "title": str(doc.get("title") or doc.get("id") or url),
        "description": str(doc.get("description") or ""),
        "extent": extent,
        "cube:dimensions": {"bands": {"type": "bands", "values": band_names(doc)}},
        "_sparkeo": {"data_source": {"type": "stac", "url": url, **({"collection": stac_id} if stac_id else {})}},
    }
    dims = doc.get("cube:dimensions")
    if isinstance(dims, dict) and dims:     # what the cube's dimensions are, not just the band order
        entry["_sparkeo"][DIMENSIONS_KEY] = [str(d.get("type")) for d in dims.values() if isinstance(d, dict)]
    if isinstance(doc.get("item_assets"), dict):
        entry["item_assets"] = doc["item_assets"]
    return entry


def declared_dimensions(collection: CollectionInfo) -> tuple[str, ...] | None:
    """The dimension types (``spatial``, ``temporal``, ``bands``...) the document behind an ad-hoc
    collection declares in its ``cube:dimensions``; None when it declares none."""
    declared = (collection.document.get("_sparkeo") or {}).get(DIMENSIONS_KEY)
    return tuple(declared) if isinstance(declared, list) else None


def band_names(doc: dict) -> list[str]:
    """The band order a STAC document declares: its ``cube:dimensions`` bands, else its ``summaries``
    bands (STAC 1.1 ``bands``, 1.0 ``eo:bands``); empty when it declares none (then all bands found)."""
    for dim in (doc.get("cube:dimensions") or {}).values():
        if isinstance(dim, dict) and dim.get("type") == "bands" and isinstance(dim.get("values"), list):
            return [str(v) for v in dim["values"]]
    summaries = doc.get("summaries") or {}
    for key in ("bands", "eo:bands"):
        listed = summaries.get(key)
        if isinstance(listed, list) and all(isinstance(b, dict) and b.get("name") for b in listed):
            return [str(b["name"]) for b in listed]
    return []


def _links(doc: dict, rel: str) -> list[str]:
    return [link["href"] for link in doc.get("links") or () if isinstance(link, dict) and link.get("rel") == rel
            and isinstance(link.get("href"), str)]


def _world() -> dict:
    return {"spatial": {"bbox": [list(WORLD)]}, "temporal": {"interval": [[None, None]]}}


def _item_extent(doc: dict) -> dict:
    """A single item's extent: its bbox (the world when it has none) and an open time range."""
    bbox = doc.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) in (4, 6)):
        return _world()
    box = [bbox[0], bbox[1], bbox[3], bbox[4]] if len(bbox) == 6 else list(bbox)
    return {"spatial": {"bbox": [box]}, "temporal": {"interval": [[None, None]]}}

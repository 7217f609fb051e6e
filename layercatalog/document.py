"""Layer catalog documents (a JSON list of openEO collection documents) <-> ``CollectionInfo``.

Pure: no I/O. Reads sparkeo's ``_sparkeo`` block and openEO-geopyspark's ``_vito`` block; entries
whose data source is not ``stac`` are returned as ``Unsupported`` (listed, not errors).
``layer_entry_for_stac_collection`` goes the other way: it builds a layer catalog entry for any STAC
collection, so a ``layercatalog.json`` can be generated for a static catalog.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkeo import storage

from layercatalog.access import PUBLIC, Access, parse_access
from layercatalog.errors import InvalidCatalogError
from layercatalog.items import parse_datetime
from layercatalog.model import BandInfo, CollectionInfo, DataSource

WORLD = (-180.0, -90.0, 180.0, 90.0)
# Band names that are class maps or bit masks whatever the catalog says: nearest/mode resampling.
CATEGORICAL_NAMES = {"SCL", "CLM", "FMASK", "QA", "QA_PIXEL", "MAP", "QFLAG", "dataMask"}
# Sentinel-2 band -> openEO-style alias (Earth Search asset keys) used for generated entries.
S2_ALIASES = {"B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
              "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
              "B11": "swir16", "B12": "swir22", "SCL": "scl"}


@dataclass(frozen=True)
class Unsupported:
    """A layer catalog entry whose data source sparkeo does not read (e.g. ``file-s2``)."""

    id: str
    data_source_type: str
    access: Access = PUBLIC


def parse_layer_catalog(doc: Any, uri: str) -> tuple[list[CollectionInfo], list[Unsupported]]:
    """Validate a layer catalog document loaded from ``uri``; relative URLs resolve against ``uri``."""
    if isinstance(doc, dict) and isinstance(doc.get("collections"), list):
        doc = doc["collections"]        # also accept {"collections": [...]} like GET /collections
    if not isinstance(doc, list):
        raise InvalidCatalogError(uri, None, "expected a JSON list of collection documents")
    collections, unsupported, seen = [], [], set()
    for position, entry in enumerate(doc):
        name = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise InvalidCatalogError(uri, f"#{position}", "missing collection 'id'")
        if name in seen:
            raise InvalidCatalogError(uri, name, "duplicate collection id")
        seen.add(name)
        parsed = parse_entry(entry, uri)
        (collections if isinstance(parsed, CollectionInfo) else unsupported).append(parsed)
    return collections, unsupported


def parse_entry(entry: dict, uri: str) -> CollectionInfo | Unsupported:
    """One openEO collection document -> ``CollectionInfo`` (or ``Unsupported``)."""
    cid = entry["id"]
    own = entry.get("_sparkeo")
    vito = entry.get("_vito")
    block = own if isinstance(own, dict) else vito if isinstance(vito, dict) else None
    if block is None:
        raise InvalidCatalogError(uri, cid, "no '_sparkeo' (or '_vito') block with a data_source")
    source = block.get("data_source") or {}
    if not isinstance(source, dict):
        raise InvalidCatalogError(uri, cid, f"data_source must be an object, got {type(source).__name__}")
    kind = source.get("type")
    access = parse_access(own.get("access") if isinstance(own, dict) else None)
    if not kind:
        if own is block:
            raise InvalidCatalogError(uri, cid, "'_sparkeo.data_source.type' is missing")
        return Unsupported(cid, "none", access)
    if kind != "stac":
        return Unsupported(cid, str(kind), access)
    url = source.get("url")
    if not isinstance(url, str) or not url:
        raise InvalidCatalogError(uri, cid, "data_source.url is missing")
    if "://" not in url and not url.startswith("/"):
        url = storage.resolve(uri, url)
    own = own or {}
    try:
        return CollectionInfo(
            id=cid,
            title=str(entry.get("title") or cid),
            description=str(entry.get("description") or ""),
            bands=parse_bands(entry),
            bbox=_bbox(entry),
            interval=_interval(entry),
            data_source=DataSource("stac", url, source.get("collection")),
            href_rewrites=_rewrites(own.get("href_rewrites")),
            access=access,
            apply_scale=bool(own.get("apply_scale", False)),
            document=entry,
        )
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        # AttributeError too: a list or number where the document needs an object ('extent': [1])
        raise InvalidCatalogError(uri, cid, _one_line(str(exc) or repr(exc))) from None


def _one_line(text: str, limit: int = 300) -> str:
    """An exception's text as one bounded line (a value quoted in it may hold newlines or be huge)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def lists_bands(entry: dict) -> bool:
    """True when an entry describes its bands itself (``summaries.eo:bands`` or STAC 1.1 ``bands``),
    not just their names (``cube:dimensions``) or nothing."""
    summaries = entry.get("summaries") or {}
    return bool(summaries.get("eo:bands") or summaries.get("bands"))


def parse_bands(entry: dict) -> tuple[BandInfo, ...]:
    """``summaries.eo:bands`` (else ``cube:dimensions.bands.values`` names only)."""
    summaries = entry.get("summaries") or {}
    raw = summaries.get("eo:bands") or summaries.get("bands") or []
    if not raw:
        names = ((entry.get("cube:dimensions") or {}).get("bands") or {}).get("values") or []
        raw = [{"name": n} for n in names]
    return tuple(_band(b) for b in raw)


def _band(b: dict) -> BandInfo:
    name = b["name"]
    if not isinstance(name, str) or not name:    # str() would turn [None] or 7 into a band name
        raise ValueError(f"band name {name!r} is not a non-empty string")
    gsd = b.get("gsd")
    if gsd is None and isinstance(b.get("openeo:gsd"), dict) and b["openeo:gsd"].get("unit") == "m":
        gsd = b["openeo:gsd"]["value"][0]
    return BandInfo(
        name=name,
        common_name=b.get("common_name") or b.get("eo:common_name"),
        aliases=tuple(str(a) for a in b.get("aliases") or ()),
        nodata=b.get("nodata"),
        scale=float(b.get("scale", 1.0) if b.get("scale") is not None else 1.0),
        offset=float(b.get("offset", 0.0) if b.get("offset") is not None else 0.0),
        categorical=bool(b.get("categorical") or b.get("classification:classes")
                         or b.get("classification:bitfields")),
        dtype=b.get("type") or b.get("data_type"),
        gsd=float(gsd) if gsd is not None else None,
    )


def _bbox(entry: dict) -> tuple[float, float, float, float]:
    boxes = ((entry.get("extent") or {}).get("spatial") or {}).get("bbox") or [WORLD]
    box = boxes[0]
    return (float(box[0]), float(box[1]), float(box[-3] if len(box) == 6 else box[2]),
            float(box[-2] if len(box) == 6 else box[3]))


def _interval(entry: dict):
    intervals = ((entry.get("extent") or {}).get("temporal") or {}).get("interval") or [[None, None]]
    start, end = (list(intervals[0]) + [None, None])[:2]
    return parse_datetime(start), parse_datetime(end)


def _rewrites(raw) -> tuple[tuple[str, str], ...]:
    if not raw:
        return ()
    if isinstance(raw, dict):
        return tuple((str(k), str(v)) for k, v in raw.items())
    return tuple((str(p), str(r)) for p, r in raw)


def layer_entry_for_stac_collection(stac_collection: dict, url: str, items: list[dict] | None = None,
                                    collection: str | None = None) -> dict:
    """A layer catalog entry (openEO collection document + ``_sparkeo``) for a STAC collection.

    Bands are derived as the catalog derives them for an entry without bands (``bandsource``): those
    named in the collection's ``summaries``, else those of its ``item_assets``, then those only the
    given item dicts have; ``nodata``/``scale``/``offset``/``type`` from ``raster:bands`` (STAC 1.0)
    or ``bands`` (STAC 1.1). CLM, SCL, FMASK, QA... are marked categorical. ``url`` is the static
    catalog or collection document, or the STAC API collection URL, the items are found through
    (relative to the layer catalog file, or absolute).
    """
    from layercatalog.bandsource import derive_bands

    summaries = stac_collection.get("summaries") or {}
    named = [b["name"] for b in summaries.get("eo:bands") or summaries.get("bands") or () if b.get("name")]
    described = derive_bands(named, stac_collection.get("item_assets"),
                             (_record_of(item, url) for item in items or ()))
    bands = {b.name: _band_entry(b) for b in described}
    cid = stac_collection["id"]
    extent = stac_collection.get("extent") or {"spatial": {"bbox": [list(WORLD)]}, "temporal": {"interval": [[None, None]]}}
    names = list(bands)
    return {
        "id": cid,
        "title": stac_collection.get("title") or cid,
        "description": stac_collection.get("description") or "",
        "extent": extent,
        "cube:dimensions": {
            "x": {"type": "spatial", "axis": "x"},
            "y": {"type": "spatial", "axis": "y"},
            "t": {"type": "temporal", "extent": extent.get("temporal", {}).get("interval", [[None, None]])[0]},
            "bands": {"type": "bands", "values": names},
        },
        "summaries": {"eo:bands": list(bands.values())},
        "_sparkeo": {"data_source": {"type": "stac", "url": url, "collection": collection or cid},
                     "apply_scale": False},
    }


def _record_of(item: dict, url: str) -> dict:
    """An item dict as the index record ``bandsource`` reads (only its raster assets matter here)."""
    from layercatalog.items import compact_item, is_raster_asset

    try:
        record = compact_item(item, url, None)
    except ValueError:
        record = None
    if record is None:      # no time or footprint: its assets still tell the bands
        assets = item.get("assets") or {}
        record = {"assets": {k: a for k, a in assets.items() if isinstance(a, dict) and is_raster_asset(a)}}
    return record


def _band_entry(band: BandInfo) -> dict:
    """A derived ``BandInfo`` as a layer catalog ``eo:bands`` entry (with sparkeo's S2 aliases)."""
    entry: dict[str, Any] = {"name": band.name}
    if band.common_name:
        entry["common_name"] = band.common_name
    aliases = {a for a in (*band.aliases, S2_ALIASES.get(band.name)) if a and a != band.name}
    if aliases:
        entry["aliases"] = sorted(aliases)
    optional = (("nodata", band.nodata), ("scale", band.scale if band.scale != 1.0 else None),
                ("offset", band.offset if band.offset != 0.0 else None), ("type", band.dtype))
    entry.update((k, v) for k, v in optional if v is not None)
    if band.categorical:
        entry["categorical"] = True
    return entry

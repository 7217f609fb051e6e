"""STAC item dicts -> compact index records -> ``ItemRecord``s for one collection's bands.

Pure: no I/O. ``compact_item`` keeps what a reader needs (every band of every raster asset with its
href, 1-based band index, grid and ``raster:bands`` values); ``to_item_record`` maps the item's band
names onto the layer collection's band names (name, then alias, then a unique common name) and lays
the item's ``raster:bands`` over the collection's ``eo:bands`` defaults.
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sparkeo import storage

from layercatalog.model import AssetBand, BandInfo, CollectionInfo, ItemRecord

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".nc")
# Asset roles that are never pixels a band could come from.
NON_DATA_ROLES = {"thumbnail", "overview", "metadata", "visual"}


def parse_datetime(value: str | None) -> dt.datetime | None:
    """An ISO 8601 / RFC 3339 timestamp or date as a timezone-aware UTC datetime."""
    if value in (None, "", ".."):
        return None
    text = str(value).strip().replace("z", "Z")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def item_datetime(props: dict) -> dt.datetime | None:
    """``datetime``, else ``start_datetime`` (STAC items with a range carry ``datetime: null``)."""
    return parse_datetime(props.get("datetime")) or parse_datetime(props.get("start_datetime"))


def _crs_of(obj: dict) -> str:
    code = obj.get("proj:code")
    if code:
        return str(code)
    epsg = obj.get("proj:epsg")
    if epsg:
        return f"EPSG:{int(epsg)}"
    return obj.get("proj:wkt2") or ""


def is_raster_asset(asset: dict) -> bool:
    """True for an asset that holds pixels (not a thumbnail or metadata): by roles, media type or suffix."""
    roles = set(asset.get("roles") or ())
    if roles and roles <= NON_DATA_ROLES:
        return False
    media = (asset.get("type") or "").lower()
    href = asset.get("href", "").lower().split("?")[0]
    return "tiff" in media or "jp2" in media or "netcdf" in media or href.endswith(RASTER_SUFFIXES)


def _bbox_of(doc: dict) -> list[float] | None:
    bbox = doc.get("bbox")
    if bbox is not None and not (isinstance(bbox, list) and len(bbox) in (4, 6)
                                 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)):
        raise ValueError("not four or six numbers")
    if bbox:
        return [float(bbox[0]), float(bbox[1]), float(bbox[-3] if len(bbox) == 6 else bbox[2]),
                float(bbox[-2] if len(bbox) == 6 else bbox[3])]
    geometry = doc.get("geometry")
    if not geometry:
        return None
    xs, ys = [], []

    def visit(coords):
        if coords and isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                visit(c)
    visit(geometry.get("coordinates", []))
    return [min(xs), min(ys), max(xs), max(ys)] if xs else None


# What an index record keeps of a raster asset; band details are derived at search time (item_bands).
ASSET_KEYS = ("href", "eo:bands", "bands", "raster:bands", "proj:code", "proj:epsg", "proj:wkt2",
              "proj:shape", "proj:transform", "file:size", "nodata", "data_type", "scale", "offset",
              "classification:classes")
# Bulky raster:bands members that only matter as "this band is categorical".
BULKY = ("classification:classes", "classification:bitfields", "statistics", "histogram")


def compact_item(doc: dict, item_uri: str, collection_id: str | None) -> dict | None:
    """The index record of one STAC item dict, or None when it has no time or no footprint.

    Raises ``ValueError`` saying which field is malformed (a bbox that is no numbers, a datetime that
    is no timestamp, an asset without href): the index refuses the catalog naming the item, whereas an
    item that simply lacks a time or footprint is skipped, as before.

    Cheap, because it runs once per item of a possibly huge catalog: raster assets are kept as a
    subset of their keys (hrefs as written, resolved against ``base``, the item's URI, when read);
    ``item_bands`` derives the per-band view only for the items a search returns.
    """
    props, assets_doc = doc.get("properties") or {}, doc.get("assets") or {}
    if not isinstance(props, dict) or not isinstance(assets_doc, dict):
        raise ValueError("'properties' and 'assets' must be JSON objects")
    try:
        when = item_datetime(props)
    except (TypeError, ValueError):
        raise ValueError(f"datetime {props.get('datetime')!r} is not an RFC 3339 timestamp") from None
    try:
        bbox = _bbox_of(doc)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError):
        raise ValueError(f"bbox {doc.get('bbox')!r} is not four or six numbers (nor a GeoJSON geometry)") from None
    if when is None or bbox is None:
        return None
    _check_grid("properties", props)
    assets = {}
    for key, asset in assets_doc.items():
        # STAC requires an href on every asset; one without would surface later as a KeyError mid-search
        if not isinstance(asset, dict) or not isinstance(asset.get("href"), str) or not asset["href"]:
            raise ValueError(f"asset {key!r} has no 'href'")
        if is_raster_asset(asset):
            _check_bands(key, asset)
            kept = {k: asset[k] for k in ASSET_KEYS if k in asset}
            raster = kept.get("raster:bands")
            if raster and any(k in b for b in raster for k in BULKY):
                kept["categorical"] = [bool(b.get("classification:classes") or b.get("classification:bitfields"))
                                       for b in raster]
                kept["raster:bands"] = [{k: v for k, v in b.items() if k not in BULKY} for b in raster]
            if kept.pop("classification:classes", None):
                kept["categorical"] = True
            assets[key] = kept
    return {
        "id": doc.get("id"),
        "collection": doc.get("collection") or collection_id,
        "datetime": when.isoformat(),
        "base": item_uri,
        "bbox": bbox,
        "geometry": doc.get("geometry"),
        "properties": props,
        "assets": assets,
    }


def _check_bands(key: str, asset: dict) -> None:
    """Band lists and grid of a raster asset have the types a search relies on (else ValueError)."""
    for name in ("eo:bands", "bands", "raster:bands"):
        value = asset.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(b, dict) for b in value)):
            raise ValueError(f"asset {key!r}: {name!r} must be a list of objects")
    _check_grid(f"asset {key!r}", asset)


def _check_grid(where: str, doc: dict) -> None:
    for name in ("proj:shape", "proj:transform"):
        value = doc.get(name)
        if value is not None and not (isinstance(value, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise ValueError(f"{where}: {name!r} must be a list of numbers")


def item_bands(record: dict) -> list[dict]:
    """Every band of every raster asset of an index record: name, asset, href, 1-based index, grid
    overrides and ``raster:bands`` values (only those that are set)."""
    return [band for key, asset in record["assets"].items() for band in asset_bands(key, asset)]


def asset_bands(key: str, asset: dict) -> list[dict]:
    """The bands of one raster asset (an item's, or an ``item_assets`` entry without href).

    STAC 1.0 (``eo:bands`` + ``raster:bands``) and STAC 1.1 (``bands`` with ``nodata``/``data_type``/
    ``scale``/``offset`` on each band or on the asset) alike: a band's own value wins over its
    ``raster:bands`` entry, which wins over the asset's. An asset without band names names its bands
    after its key (``red``; ``data_1``, ``data_2`` for several).
    """
    eo = asset.get("eo:bands") or asset.get("bands") or []
    raster = asset.get("raster:bands") or []
    count = max(len(eo), len(raster), 1)
    categorical = asset.get("categorical")
    grid = {k: v for k, v in (("crs", _crs_of(asset)), ("transform", asset.get("proj:transform")),
                              ("shape", asset.get("proj:shape"))) if v}
    bands = []
    for i in range(count):
        eo_band = eo[i] if i < len(eo) else {}
        rb = raster[i] if i < len(raster) else {}

        def value(name: str, raster_name: str | None = None):
            for source in (eo_band, rb, asset):
                found = source.get(raster_name if source is rb and raster_name else name)
                if found is not None:
                    return found
            return None

        band = {"name": eo_band.get("name") or (key if count == 1 else f"{key}_{i + 1}"),
                "asset": key, "href": asset.get("href", ""), "index": i + 1, "count": count, **grid}
        optional = (
            ("common_name", eo_band.get("common_name") or eo_band.get("eo:common_name")),
            ("nodata", _number(value("nodata"))), ("scale", value("scale")), ("offset", value("offset")),
            ("dtype", value("data_type")),
            ("categorical", (categorical[i] if isinstance(categorical, list) else categorical) or None),
            ("file_size", asset.get("file:size")),
        )
        band.update((k, v) for k, v in optional if v is not None)
        bands.append(band)
    return bands


def _number(nodata):
    """A nodata value as a number: the raster extension writes NaN and infinities as strings."""
    return float(nodata) if isinstance(nodata, str) and nodata.lower() in ("nan", "inf", "-inf") else nodata


def match_bands(collection: CollectionInfo, item_bands: list[dict]) -> dict[str, dict]:
    """Collection band name -> the item band that stores it.

    An item band matches a collection band by exact name, then by the collection band's aliases,
    then by common name when exactly one item band has it (``rededge`` names three S2 bands), then
    by the asset key and band index the collection's ``item_assets`` gave it.
    """
    out: dict[str, dict] = {}
    by_name = {b["name"]: b for b in item_bands}
    for band in collection.bands:
        hit = by_name.get(band.name)
        if hit is None:
            hit = next((b for b in item_bands if b["name"] in band.aliases), None)
        if hit is None and band.common_name:
            same = [b for b in item_bands if b.get("common_name") == band.common_name]
            if len(same) == 1:
                hit = same[0]
        if hit is None and band.asset is not None:
            # described only in item_assets: the items' assets carry no band names, but the same key
            hit = next((b for b in item_bands if b["asset"] == band.asset and b["index"] == (band.index or 1)), None)
        if hit is not None:
            out[band.name] = hit
    if not collection.bands:
        # A collection without declared bands exposes the item's bands under their own names.
        out = dict(by_name)
    return out


def asset_band(collection: CollectionInfo, band: BandInfo | None, raw: dict, record: dict) -> AssetBand:
    """One ``AssetBand``: hrefs resolved and rewritten; item ``raster:bands`` override collection defaults."""
    def pick(item_value, default):
        return default if item_value is None else item_value

    props = record.get("properties") or {}
    shape = raw.get("shape") or props.get("proj:shape") or (0, 0)
    transform = raw.get("transform") or props.get("proj:transform") or ()
    base = record.get("base")
    return AssetBand(
        href=collection.rewrite(_resolve(base, raw["href"]) if base else raw["href"]),
        band_index=int(raw["index"]),
        crs=raw.get("crs") or _crs_of(props),
        transform=tuple(float(v) for v in transform[:6]),
        shape=(int(shape[0]), int(shape[1])),
        nodata=pick(raw.get("nodata"), band.nodata if band else None),
        scale=float(pick(raw.get("scale"), band.scale if band else 1.0)),
        offset=float(pick(raw.get("offset"), band.offset if band else 0.0)),
        dtype=raw.get("dtype") or (band.dtype if band else None),
        categorical=bool(raw.get("categorical") or (band.categorical if band else False)),
        asset_key=raw.get("asset", ""),
        asset_bands=int(raw.get("count") or 1),
        file_size=int(raw["file_size"]) if raw.get("file_size") is not None else None,
    )


@lru_cache(maxsize=4096)
def _resolve(base: str, href: str) -> str:
    # Cached: a search resolves the same few hrefs per item many times (multi-band assets, re-searches).
    return storage.resolve(base, href)


def to_item_record(collection: CollectionInfo, record: dict, bands: tuple[str, ...] | None) -> ItemRecord | None:
    """The ``ItemRecord`` of an index record, restricted to ``bands`` (collection band names).

    Returns None when the item holds none of the requested bands.
    """
    matched = match_bands(collection, item_bands(record))
    wanted = bands if bands is not None else tuple(matched)
    assets = {name: asset_band(collection, collection.band(name), matched[name], record)
              for name in wanted if name in matched}
    if not assets:
        return None
    return ItemRecord(
        id=record["id"],
        collection_id=collection.id,
        datetime=parse_datetime(record["datetime"]),
        bbox=tuple(record["bbox"]),
        assets=assets,
        properties=record.get("properties") or {},
        geometry=record.get("geometry"),
        href=record.get("base"),
    )

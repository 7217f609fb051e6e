"""A collection's bands when its layer catalog entry does not list them: from ``item_assets``, then
from the indexed items, as real catalogs (Earth Search, Planetary Computer, CDSE) describe them.

Pure: the caller hands over the ``item_assets`` objects and the index records. Each derived
``BandInfo`` says where it came from (``source``), and keeps its asset key and band index so that
items whose assets carry no band names still match it. STAC 1.0 (``eo:bands``/``raster:bands``) and
STAC 1.1 (``bands`` with ``nodata``/``data_type``/``scale``/``offset``) read alike (``items.asset_bands``).
"""
from __future__ import annotations

from typing import Iterable, Mapping

from layercatalog.document import CATEGORICAL_NAMES
from layercatalog.items import asset_bands, is_raster_asset, item_bands
from layercatalog.model import BandInfo

# Items looked at when neither the entry nor item_assets name the bands: enough for every asset
# layout of a collection in practice, and bounded for a catalog of 100,000 items.
ITEMS_SAMPLED = 200


def derive_bands(names: Iterable[str], item_assets: Mapping[str, dict] | None,
                 records: Iterable[dict]) -> tuple[BandInfo, ...]:
    """The bands of a collection: those of ``item_assets``, then those only the ``records`` (index
    records, read lazily and only when needed) have; missing nodata/scale/offset/dtype of an
    ``item_assets`` band are filled from the items. ``names`` (the entry's ``cube:dimensions``
    band values, may be empty) restricts and orders the result; a name found nowhere stays a bare band.
    """
    found: dict[str, dict] = {}
    for key, asset in (item_assets or {}).items():
        if _describes_pixels(asset):
            for band in asset_bands(key, asset):
                found.setdefault(band["name"], {**band, "source": "item_assets"})
    wanted = list(dict.fromkeys(names))
    if not found or any(n not in found for n in wanted) or any(_incomplete(b) for b in found.values()):
        by_asset = {(b["asset"], b["index"]): b for b in found.values()}
        for n, record in enumerate(records):
            if n >= ITEMS_SAMPLED:
                break
            for band in item_bands(record):
                known = found.get(band["name"]) or by_asset.get((band["asset"], band["index"]))
                if known is None:
                    found[band["name"]] = {**band, "source": "items"}
                else:
                    for k, v in band.items():
                        known.setdefault(k, v)
    if wanted:
        return tuple(_info(found[n]) if n in found else BandInfo(n) for n in wanted)
    return tuple(_info(b) for b in found.values())


def _describes_pixels(asset: dict) -> bool:
    """An ``item_assets`` entry with band metadata, or one that is a raster asset."""
    return bool(asset.get("eo:bands") or asset.get("bands") or asset.get("raster:bands")) or \
        is_raster_asset({"href": "", **asset})


def _incomplete(band: dict) -> bool:
    return "nodata" not in band or "dtype" not in band


def _info(b: dict) -> BandInfo:
    name = str(b["name"])
    return BandInfo(
        name=name,
        common_name=b.get("common_name"),
        # a one-band asset's key is how Earth Search users name the band ("red", "scl")
        aliases=tuple(dict.fromkeys(a for a in (b.get("common_name"), b["asset"] if b.get("count", 1) == 1 else None)
                                    if a and a != name)),
        nodata=b.get("nodata"),
        scale=float(b.get("scale", 1.0)),
        offset=float(b.get("offset", 0.0)),
        categorical=bool(b.get("categorical")) or name.upper() in CATEGORICAL_NAMES
        or str(b["asset"]).upper() in CATEGORICAL_NAMES,
        dtype=b.get("dtype"),
        source=b["source"],
        asset=b["asset"],
        index=int(b["index"]),
    )

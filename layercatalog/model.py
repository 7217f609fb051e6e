"""The catalog's value objects: collections, bands, items, their band assets, and queries.

These are the contract between ``layercatalog`` (which builds them) and ``jobs`` (which reads
pixels through them). All are frozen and picklable: they travel to Spark executors.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping

from layercatalog.access import PUBLIC, Access


@dataclass(frozen=True)
class BandInfo:
    """One band of a collection, from the layer catalog's ``summaries.eo:bands``."""

    name: str
    common_name: str | None = None
    aliases: tuple[str, ...] = ()
    nodata: float | None = None
    scale: float = 1.0
    offset: float = 0.0
    categorical: bool = False      # SCL, Fmask, QA: nearest/mode resampling, never interpolated
    dtype: str | None = None
    gsd: float | None = None       # native resolution in metres, when known
    # where the band is described: "collection" (the layer catalog entry), "item_assets" or "items"
    source: str = "collection"
    asset: str | None = None       # the asset key holding it, when the band came from item_assets/items
    index: int | None = None       # its 1-based band index inside that asset

    def answers_to(self, name: str) -> bool:
        """True when ``name`` is this band's name, common name or one of its aliases."""
        return name == self.name or name == self.common_name or name in self.aliases


@dataclass(frozen=True)
class DataSource:
    """Where a collection's items come from: a static STAC catalog/collection or a STAC API."""

    type: str                      # "stac"
    url: str                       # catalog.json / collection.json (local or s3://) or API collection URL
    collection: str | None = None  # the STAC collection id inside ``url`` (default: the layer collection's id)


@dataclass(frozen=True)
class CollectionInfo:
    """One collection of the layer catalog, validated."""

    id: str
    title: str
    description: str
    bands: tuple[BandInfo, ...]
    bbox: tuple[float, float, float, float]          # EPSG:4326 spatial extent
    interval: tuple[dt.datetime | None, dt.datetime | None]
    data_source: DataSource
    href_rewrites: tuple[tuple[str, str], ...] = ()  # (prefix, replacement), first match wins
    access: Access = PUBLIC                           # who may see it (layercatalog.access)
    apply_scale: bool = False                        # apply scale/offset when reading
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def band(self, name: str) -> BandInfo | None:
        """The band with this name, common name or alias (exact name wins)."""
        for b in self.bands:
            if b.name == name:
                return b
        for b in self.bands:
            if b.answers_to(name):
                return b
        return None

    def rewrite(self, href: str) -> str:
        """Apply ``href_rewrites`` (e.g. ``s3://eodata/`` -> ``/eodata/`` for a FUSE mount)."""
        for prefix, replacement in self.href_rewrites:
            if href.startswith(prefix):
                return replacement + href[len(prefix):]
        return href


@dataclass(frozen=True)
class AssetBand:
    """Where one band of one item is stored, with everything a reader needs."""

    href: str                         # after href_rewrites; a path, /vsis3/..., s3://...
    band_index: int                   # 1-based band index inside the file
    crs: str                          # "EPSG:32633" or WKT
    transform: tuple[float, ...]      # affine a, b, c, d, e, f
    shape: tuple[int, int]            # (rows, cols)
    nodata: float | None = None
    scale: float = 1.0                # item's raster:bands override the collection's eo:bands
    offset: float = 0.0
    dtype: str | None = None
    categorical: bool = False
    asset_key: str = ""
    asset_bands: int = 1              # how many bands the asset file holds (byte estimates)
    file_size: int | None = None      # the asset's ``file:size`` when the catalog gives it


@dataclass(frozen=True)
class ItemRecord:
    """One STAC item as the engine sees it: time, footprint, properties and band assets."""

    id: str
    collection_id: str
    datetime: dt.datetime                              # timezone-aware UTC
    bbox: tuple[float, float, float, float]            # EPSG:4326
    assets: Mapping[str, AssetBand]                    # band name (collection's name) -> asset band
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    geometry: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
    href: str | None = field(default=None, compare=False, hash=False)   # the STAC item document's URI

    @property
    def solar_day(self) -> dt.date:
        """The acquisition's local solar day (UTC shifted by longitude/15 h): same-day granules share it."""
        lon = (self.bbox[0] + self.bbox[2]) / 2.0
        return (self.datetime + dt.timedelta(hours=lon / 15.0)).date()

    @property
    def processed(self) -> str:
        """A sortable processing stamp: a newer processing of the same scene replaces the older one."""
        p = self.properties
        return str(p.get("processing:version") or p.get("s2:processing_baseline") or p.get("updated")
                   or p.get("created") or "")


@dataclass(frozen=True)
class PropertyFilter:
    """One condition on an item property, from an openEO ``properties`` callback."""

    property: str
    op: str          # eq neq lt lte gt gte in between
    value: Any

    def matches(self, value: Any) -> bool:
        if value is None:
            return False
        op, ref = self.op, self.value
        if op == "eq":
            return value == ref
        if op == "neq":
            return value != ref
        if op == "lt":
            return value < ref
        if op == "lte":
            return value <= ref
        if op == "gt":
            return value > ref
        if op == "gte":
            return value >= ref
        if op == "in":
            return value in ref
        if op == "between":
            return ref[0] <= value <= ref[1]
        raise ValueError(f"unknown operator {op!r}")


@dataclass(frozen=True)
class ItemQuery:
    """A search: collection, EPSG:4326 bbox, left-closed interval, bands and property filters."""

    collection_id: str
    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[dt.datetime | None, dt.datetime | None] = (None, None)   # [start, end)
    bands: tuple[str, ...] | None = None
    filters: tuple[PropertyFilter, ...] = ()
    # The bbox as the user gave it (``bbox`` above encloses it in EPSG:4326): exact pixel estimates.
    native_bbox: tuple[float, float, float, float] | None = None
    native_crs: str | None = None

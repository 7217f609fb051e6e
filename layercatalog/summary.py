"""``catalog summary``: what a query would read, before any pixel moves (Runcible's idea).

Item count, dates, bands, how much of the bbox the item footprints cover, and the estimated input:
pixels of each item band's native-grid window that intersects the bbox, and bytes as the asset file
sizes (``file:size``, else a storage stat) scaled by the fraction of the file's pixels and bands read.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from sparkeo import storage
from sparkeo.errors import SparkeoError
from sparkeo.geometry import transform_bounds

from layercatalog.errors import format_interval
from layercatalog.model import AssetBand, CollectionInfo, ItemQuery, ItemRecord


@dataclass(frozen=True)
class CatalogSummary:
    """The answer to "what is there?" for one query."""

    collection_id: str
    bbox: tuple[float, float, float, float] | None
    interval: str
    item_count: int
    dates: tuple[str, ...]                 # distinct acquisition dates (UTC), sorted
    bands: tuple[str, ...]
    coverage: float | None                 # fraction of the bbox covered by item footprints
    input_pixels: int
    input_bytes: int
    unknown_sizes: int = 0                 # assets whose size could not be found
    matched: int | None = None             # the count a STAC API reports (numberMatched), when it does

    def to_json(self) -> dict:
        return {
            "collection": self.collection_id, "bbox": list(self.bbox) if self.bbox else None,
            "interval": self.interval, "items": self.item_count, "dates": list(self.dates),
            "bands": list(self.bands), "coverage": self.coverage, "input_pixels": self.input_pixels,
            "input_bytes": self.input_bytes, "unknown_sizes": self.unknown_sizes, "matched": self.matched,
        }


def summarize(collection: CollectionInfo, query: ItemQuery, items: list[ItemRecord],
              bands: tuple[str, ...] | None, matched: int | None = None) -> CatalogSummary:
    """Figures for ``items`` (the query's search result); ``matched`` is the source's own count."""
    pixels, nbytes, unknown = 0, 0.0, 0
    for item in items:
        for band in item.assets.values():
            window, total = window_pixels(band, query.native_bbox or query.bbox,
                                          query.native_crs if query.native_bbox else "EPSG:4326")
            pixels += window
            band_fraction = window / total if total else 1.0
            size = band.file_size if band.file_size is not None else _size_of(band.href)
            if size is None:
                unknown += 1
                continue
            nbytes += size * band_fraction / max(band.asset_bands, 1)
    used = bands or tuple(dict.fromkeys(n for i in items for n in i.assets))
    return CatalogSummary(
        collection_id=collection.id,
        bbox=query.bbox,
        interval=format_interval(query.interval),
        item_count=len(items),
        dates=tuple(sorted({i.datetime.date().isoformat() for i in items})),
        bands=tuple(used),
        coverage=footprint_coverage(items, query.bbox),
        input_pixels=int(pixels),
        input_bytes=int(round(nbytes)),
        unknown_sizes=unknown,
        matched=matched,
    )


def window_pixels(band: AssetBand, bbox, bbox_crs: str = "EPSG:4326") -> tuple[int, int]:
    """(pixels of the band's grid inside ``bbox`` (in ``bbox_crs``), all pixels of the grid)."""
    rows, cols = band.shape
    total = rows * cols
    if bbox is None or not band.crs or len(band.transform) < 6 or not total:
        return total, total
    a, _, c, _, e, f = band.transform[:6]
    west, south, east, north = _to_crs(tuple(bbox), bbox_crs, band.crs)
    col0, col1 = (west - c) / a, (east - c) / a
    row0, row1 = (north - f) / e, (south - f) / e
    col0, col1 = sorted((col0, col1))
    row0, row1 = sorted((row0, row1))
    width = max(0, min(cols, math.ceil(col1)) - max(0, math.floor(col0)))
    height = max(0, min(rows, math.ceil(row1)) - max(0, math.floor(row0)))
    return width * height, total


@lru_cache(maxsize=256)
def _to_crs(bbox: tuple[float, float, float, float], source: str, crs: str) -> tuple[float, float, float, float]:
    # cached: a summary asks for the same few (bbox, CRS) pairs once per item
    return transform_bounds(bbox, source, crs)


def _size_of(href: str) -> int | None:
    uri = "s3://" + href[len("/vsis3/"):] if href.startswith("/vsis3/") else href
    try:
        return storage.stat(uri).size
    except (SparkeoError, OSError):
        return None


def footprint_coverage(items: list[ItemRecord], bbox) -> float | None:
    """Fraction of ``bbox`` covered by the union of the items' footprints (planar, in degrees)."""
    if bbox is None:
        return None
    from shapely.geometry import box, shape
    from shapely.ops import unary_union

    area = box(*bbox)
    if not items:
        return 0.0
    shapes = [shape(i.geometry) if i.geometry else box(*i.bbox) for i in items]
    covered = unary_union([s.intersection(area) for s in shapes]).area
    return round(min(1.0, covered / area.area), 6)

"""``load_collection``: from catalog items to the leaf cube that tile tasks read.

``CatalogSource`` implements the evaluator's ``CubeSource`` protocol on the driver: it checks the
arguments, asks the layer catalog for items, groups them into solar-day time slices
(``jobs.plan.planner.time_slices``) and fixes the output grid (``jobs.plan.planner.choose_grid``).
``LoadedCollection`` is the leaf ``LazyCube``: on an executor it reads, per tile, only the items
whose footprint touches the tile, and mosaics each day (first valid pixel wins).
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Iterable, Mapping, Sequence

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube, TileContext
from jobs.cube.restore import label_periods, with_declared_dimensions
from jobs.plan.grid import Bounds, TileGrid
from jobs.plan.planner import ItemFootprint, TimeSlice, asset_grid, choose_grid, intersect, time_slices, union
from jobs.plan.extent import bbox_in_crs, temporal_bounds
from jobs.errors import LoadError, ProcessError, UnreadableAssetError
from layercatalog.errors import (EmptyQueryError, PropertyFilterError, UnknownBandError, format_bbox,
                                 format_interval)
from layercatalog.model import BandInfo, CollectionInfo, ItemQuery, ItemRecord, PropertyFilter
from layercatalog.stacurl import declared_dimensions
from sparkeo.errors import SparkeoError, UserError
from sparkeo.geometry import crs_text, same_crs, transform_bounds
from sparkeo.readpolicy import ReadPolicy, ReadRefused, reading_for_user

DIM_TYPES = {"t": "temporal", "bands": "bands", "y": "spatial", "x": "spatial"}
# resample_spatial methods that return source values (integer bands keep dtype and nodata)
VALUE_PRESERVING = ("near", "mode", "min", "max", "med")


class LoadedCollection(LazyCube):
    """The leaf cube of one ``load_collection``: dims (t, bands, y, x), float32 with NaN."""

    def __init__(self, node_id: str, collection: CollectionInfo, bands: tuple[BandInfo, ...],
                 slices: tuple[TimeSlice, ...], grid: TileGrid, footprints: Mapping[str, Bounds],
                 resampling: str | None = None):
        self.node_id = node_id
        self.resampling = resampling              # resample_spatial's method, pushed down (openEO name)
        # asset (crs, transform, shape) -> warp kernel scale, None when aligned
        self._scales: dict[tuple | str, tuple[float, float] | None] = {}
        self.collection = collection
        self.bands = bands
        self.slices = slices
        self.item_bounds = dict(footprints)       # item id -> bounds in grid CRS
        dtype, nodata = _passthrough_dtype(bands, slices)
        if collection.apply_scale:      # scaled values are computed values
            dtype, nodata = "float32", math.nan
        if resampling not in (None, *VALUE_PRESERVING):     # as resample_spatial: interpolated values
            dtype, nodata = "float32", math.nan
        self.meta = CubeMeta(
            dims=("t", "bands", "y", "x"),
            labels={"t": tuple(s.label for s in slices), "bands": tuple(b.name for b in bands)},
            grid=grid, dtype=dtype, nodata=nodata, dim_types=dict(DIM_TYPES), periods=label_periods(slices),
            band_aliases={b.name: tuple(a for a in (b.common_name, *b.aliases) if a) for b in bands})

    # --- what the planner and provenance need ----------------------------------------------------
    @property
    def items(self) -> tuple[ItemRecord, ...]:
        return tuple(i for s in self.slices for i in s.items)

    @property
    def footprints(self) -> list[ItemFootprint]:
        out = []
        for item in self.items:
            assets = [item.assets[b.name] for b in self.bands if b.name in item.assets]
            if not assets:
                continue
            a = assets[0]
            area = abs(a.transform[0] * a.transform[4] - a.transform[1] * a.transform[3])
            if not same_crs(a.crs, self.meta.grid.crs):     # a native pixel's area in the grid CRS's units
                native = asset_grid(a).bounds
                area *= _area(transform_bounds(native, a.crs, self.meta.grid.crs)) / _area(native)
            nbytes = sum(np.dtype(x.dtype or "float32").itemsize for x in assets)
            out.append(ItemFootprint(item.id, self.item_bounds[item.id], len(assets), area, nbytes))
        return out

    # --- push-down -----------------------------------------------------------------------------------
    def _narrowed(self, node_id: str, bands=None, slices=None, grid=None) -> "LoadedCollection":
        return LoadedCollection(node_id, self.collection, bands or self.bands,
                                self.slices if slices is None else slices, grid or self.meta.grid, self.item_bounds,
                                self.resampling)

    def select_bands(self, names: tuple[str, ...], node_id: str) -> "LoadedCollection | None":
        by_name = {b.name: b for b in self.bands}
        if not all(n in by_name for n in names):
            return None
        return self._narrowed(node_id, bands=tuple(by_name[n] for n in names))

    def select_time(self, start, end, node_id: str) -> "LoadedCollection | None":
        lo, hi = _instant(start), _instant(end)
        kept = tuple(TimeSlice(s.label, items) for s in self.slices
                     if (items := tuple(i for i in s.items
                                        if (lo is None or i.datetime >= lo) and (hi is None or i.datetime < hi))))
        return self._narrowed(node_id, slices=kept)

    def clip(self, grid: TileGrid, node_id: str) -> "LoadedCollection | None":
        if self.meta.grid is not None and not same_crs(grid.crs, self.meta.grid.crs):
            return None
        return self._narrowed(node_id, grid=grid)

    def resample(self, grid: TileGrid, method: str, node_id: str) -> "LoadedCollection":
        """Every asset read straight onto ``grid`` with ``method``: one warp from the files, not two."""
        bounds = {item.id: _item_bounds(item, self.bands, grid.crs) for item in self.items}
        return LoadedCollection(node_id, self.collection, self.bands, self.slices, grid, bounds, method)

    # --- per tile --------------------------------------------------------------------------------------
    def _warp_scale(self, asset) -> tuple[float, float] | None:
        """GDAL's kernel scale of ``asset`` onto the whole grid (the same in every tile); None if aligned."""
        from jobs.cube.warp import warp_scale

        # asked once per band read (36 times per tile of the composite): by href first, a dict
        # hit, before building the grid key (tuples of the transform and shape) most assets share
        if asset.href in self._scales:
            return self._scales[asset.href]
        key = (asset.crs, tuple(asset.transform), tuple(asset.shape))
        if key not in self._scales:
            source = asset_grid(asset)
            self._scales[key] = None if source.aligned_with(self.meta.grid) else warp_scale(source, self.meta.grid)
        scale = self._scales[asset.href] = self._scales[key]
        return scale

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        from jobs.cube.read import read_band, resampling_override
        from jobs.cube.warp import RESAMPLING

        override = ctx.job_options.get("resampling")
        # no NaN fill up front: every slot is either copied whole from its first read or, if nothing
        # was read into it, filled with NaN at the end (one pass over the stack less per tile)
        out = np.empty((len(self.slices), len(self.bands), *grid.shape), dtype=np.float32)
        soft = bool(ctx.job_options.get("soft_errors", False))
        # slots nothing was written to yet: the first item of a day is copied whole, later ones
        # (same-day mosaic) only fill what is still missing
        untouched = np.ones((len(self.slices), len(self.bands)), dtype=bool)
        for ti, sl in enumerate(self.slices):
            for item in sl.items:
                if intersect(self.item_bounds[item.id], grid.bounds) is None:
                    continue
                for bi, band in enumerate(self.bands):
                    asset = item.assets.get(band.name)
                    slot = out[ti, bi]
                    if asset is None or (not untouched[ti, bi] and not np.isnan(slot).any()):
                        continue
                    if asset.href in ctx.usage.skipped_assets:
                        continue
                    try:
                        method = (RESAMPLING[self.resampling] if self.resampling
                                  else resampling_override(override, band.name) if override else None)
                        # the day's first item is read straight into its slot; later ones only fill gaps
                        got = read_band(asset, grid, ctx.settings, apply_scale=self.collection.apply_scale,
                                        resampling=method, scale=self._warp_scale(asset),
                                        out=slot if untouched[ti, bi] else None, region=ctx.region)
                    except UnreadableAssetError:
                        if not soft:
                            raise
                        ctx.usage.skipped_assets.append(asset.href)
                        continue
                    ctx.usage.input_pixels += got.pixels
                    ctx.usage.bytes_read += got.bytes
                    ctx.usage.read_retries += got.retries
                    ctx.usage.blocks_read += got.blocks
                    if untouched[ti, bi]:
                        untouched[ti, bi] = False
                    else:
                        np.copyto(slot, got.values, where=np.isnan(slot))
        out[untouched] = np.nan
        return out


class CatalogSource:
    """The evaluator's ``CubeSource`` backed by a ``LayerCatalog`` and the caller's identity."""

    def __init__(self, catalog, caller, settings):
        self.catalog, self.caller, self.settings = catalog, caller, settings
        self.loaded: list[LoadedCollection] = []

    def load_collection(self, node_id: str, id: str, spatial_extent=None, temporal_extent=None,
                        bands=None, properties=None) -> LoadedCollection:
        """Resolve a ``load_collection`` node; every failure names the node and argument."""
        try:
            collection = self.catalog.get(id, self.caller)
        except UserError as exc:
            raise LoadError(node_id, "id", str(exc)) from None
        return self._load(node_id, collection, spatial_extent, temporal_extent, bands, properties)

    def load_stac(self, node_id: str, url: str, spatial_extent=None, temporal_extent=None,
                  bands=None, properties=None) -> LazyCube:
        """Resolve a ``load_stac`` node: the STAC document at ``url`` becomes an ad-hoc collection of
        the layer catalog (``LayerCatalog.stac_url``) and loads as ``load_collection`` does, with the
        dimensions the document declares (a job's results: ``jobs.cube.restore``). A missing,
        unreachable or malformed document is the user's (``url``), as an unknown collection id is."""
        if not isinstance(url, str) or not url.strip():
            raise LoadError(node_id, "url", f"expected the URL of a STAC item, collection or catalog, got {url!r}")
        policy = getattr(self.settings, "user_reads", None) or ReadPolicy()
        # every document and asset reached from the URL is the user's choice too (sparkeo.readpolicy)
        with reading_for_user(policy):
            try:
                policy.check(url.strip())
                collection = self.catalog.stac_url(url.strip())
            except ReadRefused as exc:
                raise ProcessError("ProcessArgumentInvalid", str(exc), node_id, "url") from None
            except SparkeoError as exc:
                raise LoadError(node_id, "url", str(exc)) from None
            cube = self._load(node_id, collection, spatial_extent, temporal_extent, bands, properties)
            try:    # the assets are read by GDAL on the executors, outside the policy's reach: check now
                policy.check_all(a.href for i in cube.items for a in i.assets.values() if a is not None)
            except ReadRefused as exc:
                raise ProcessError("ProcessArgumentInvalid", f"an asset of the STAC document: {exc}",
                                   node_id, "url") from None
        return with_declared_dimensions(cube, declared_dimensions(collection), node_id)

    def _load(self, node_id: str, collection: CollectionInfo, spatial_extent, temporal_extent, bands,
              properties) -> LoadedCollection:
        band_infos = _resolve_bands(node_id, collection, bands)
        bbox4326 = _bbox(node_id, spatial_extent, collection)
        interval = _interval(node_id, temporal_extent)
        query = ItemQuery(collection.id, bbox4326, interval, tuple(b.name for b in band_infos),
                          _property_filters(node_id, properties))
        try:
            found = self.catalog.search(query, self.caller, allow_empty=True)
        except UserError as exc:
            raise LoadError(node_id, _argument_of(exc), str(exc)) from None
        items = [i for i in found if any(b.name in i.assets for b in band_infos)]
        if not items:
            raise LoadError(node_id, "spatial_extent", f"no items of collection {collection.id!r} in bbox "
                                                         f"{format_bbox(bbox4326)} and interval {format_interval(interval)}")
        slices = time_slices(items)
        assets = [i.assets[b.name] for i in items for b in band_infos if b.name in i.assets]
        footprints_by_crs: dict[str, dict[str, Bounds]] = {}

        def footprints_in(crs) -> dict[str, Bounds]:
            key = crs_text(crs)
            if key not in footprints_by_crs:
                footprints_by_crs[key] = {i.id: _item_bounds(i, band_infos, crs) for i in items}
            return footprints_by_crs[key]

        def area_in(crs) -> Bounds:
            covered = union(footprints_in(crs).values())
            wanted = tuple(bbox_in_crs(spatial_extent, crs, "spatial_extent")) if spatial_extent else covered
            area = intersect(covered, wanted)
            if area is None:
                raise LoadError(node_id, "spatial_extent", f"bbox {format_bbox(bbox4326)} does not overlap "
                                                             f"the items of collection {collection.id!r}")
            return area

        grid = choose_grid(assets, area_in)
        cube = LoadedCollection(node_id, collection, band_infos, slices, grid, footprints_in(grid.crs))
        self.loaded.append(cube)
        return cube


# which load_collection argument a catalog error is about (matched by type, subclasses included)
_ARGUMENT_OF_ERROR = ((UnknownBandError, "bands"), (PropertyFilterError, "properties"),
                      (EmptyQueryError, "temporal_extent"))


def _argument_of(exc: Exception) -> str:
    """Which load_collection argument a catalog error is about (``spatial_extent`` for the others)."""
    return next((argument for kind, argument in _ARGUMENT_OF_ERROR if isinstance(exc, kind)), "spatial_extent")


# --- argument checks ---------------------------------------------------------------------------------
def _resolve_bands(node_id: str, collection: CollectionInfo, bands) -> tuple[BandInfo, ...]:
    if bands is None:
        return tuple(collection.bands)
    if isinstance(bands, str) or not isinstance(bands, Sequence) or not bands:
        raise LoadError(node_id, "bands", f"expected a non-empty list of band names, got {bands!r}")
    out = []
    for name in bands:
        info = collection.band(name) if isinstance(name, str) else None
        if info is None:
            known = ", ".join(b.name for b in collection.bands)
            raise LoadError(node_id, "bands", f"collection {collection.id!r} has no band {name!r} (bands: {known})")
        if info not in out:
            out.append(info)
    return tuple(out)


def _bbox(node_id: str, extent, collection: CollectionInfo) -> tuple[float, float, float, float]:
    """The EPSG:4326 bbox of ``spatial_extent`` (the collection's when null), checked against its extent."""
    if extent is None:
        return tuple(collection.bbox)
    if not isinstance(extent, Mapping):
        raise LoadError(node_id, "spatial_extent", f"expected an object with west, south, east, north; got {extent!r}")
    bbox4326 = tuple(bbox_in_crs(extent, "EPSG:4326", "spatial_extent"))
    if bbox4326[0] >= bbox4326[2] or bbox4326[1] >= bbox4326[3]:
        raise LoadError(node_id, "spatial_extent", f"empty bbox {extent!r}")
    if intersect(bbox4326, tuple(collection.bbox)) is None:
        raise LoadError(node_id, "spatial_extent", f"bbox {format_bbox(bbox4326)} is outside the extent of "
                                                   f"collection {collection.id!r} {format_bbox(collection.bbox)}")
    return bbox4326


def _interval(node_id: str, extent):
    """The left-closed ``temporal_extent`` as aware UTC datetimes (checked like filter_temporal)."""
    if extent is None:
        return (None, None)
    start, end = temporal_bounds(extent, "temporal_extent")
    return _instant(start), _instant(end)


def _instant(value) -> dt.datetime | None:
    """A timezone-aware UTC datetime (item datetimes are aware; the evaluator's are naive UTC)."""
    from jobs.plan.timelabels import parse_instant

    if value is None or value == "..":
        return None
    parsed = parse_instant(value)
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)


def _property_filters(node_id: str, properties) -> tuple[PropertyFilter, ...]:
    """openEO ``properties`` callbacks (or already parsed filters) as ``PropertyFilter``s."""
    from layercatalog.properties import filters_from_openeo

    if not properties:
        return ()
    if not isinstance(properties, Mapping):
        return tuple(properties)
    try:
        return filters_from_openeo({k: _plain_callback(v) for k, v in properties.items()})
    except UserError as exc:
        raise LoadError(node_id, "properties", str(exc)) from None


def _plain_callback(value):
    """The JSON form of a callback: the evaluator may hand over a parsed graph object."""
    for attr in ("doc", "flat", "raw"):
        inner = getattr(value, attr, None)
        if isinstance(inner, Mapping):
            return {"process_graph": inner} if "process_graph" not in inner else inner
    graph = getattr(value, "graph", None)
    if graph is not None:
        return _plain_callback(graph)
    return value


# --- geometry ------------------------------------------------------------------------------------------
def _area(b: Bounds) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def _item_bounds(item: ItemRecord, bands: Iterable[BandInfo], crs) -> Bounds:
    """The union of the item's loaded band assets in ``crs`` (native grids, not the 4326 bbox)."""
    out = []
    for b in bands:
        a = item.assets.get(b.name)
        if a is not None:
            out.append(transform_bounds(asset_grid(a).bounds, a.crs, crs))
    return union(out) if out else transform_bounds(item.bbox, "EPSG:4326", crs)


def _passthrough_dtype(bands: Sequence[BandInfo], slices: Sequence[TimeSlice]) -> tuple[str, float | None]:
    """Source dtype and nodata when all bands share them; else float32 with NaN."""
    kinds = set()
    for b in bands:
        for s in slices:
            for item in s.items:
                a = item.assets.get(b.name)
                if a is not None:
                    kinds.add((a.dtype or b.dtype or "float32", a.nodata if a.nodata is not None else b.nodata))
    if len(kinds) == 1:
        dtype, nodata = kinds.pop()
        if dtype.startswith("float"):
            return "float32", math.nan
        if nodata is not None:
            return dtype, float(nodata)
    return "float32", math.nan

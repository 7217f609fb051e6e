"""Planning: the output grid, same-day time slices, tiles, input estimates and budgets.

Pure arithmetic over catalog records and ``TileGrid`` values: no rasterio, no pyspark (like
odc-geo's ``geobox.py``). ``jobs.cube.load`` feeds it footprints already transformed to the grid's CRS.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from jobs.plan.blocks import TileLayout
from jobs.plan.grid import Bounds, TileGrid, Window
from jobs.plan.timelabels import TIME_LABEL_KEY
from sparkeo.geometry import same_crs
from jobs.errors import BudgetExceeded
from sparkeo.errors import ConfigError
from layercatalog.model import AssetBand, ItemRecord


@dataclass(frozen=True)
class TimeSlice:
    """One time label (a solar day) and the items mosaicked into it, first valid pixel wins."""

    label: str                          # YYYY-MM-DD
    items: tuple[ItemRecord, ...]


# A rough guide for the dry-run plan, not a promise: the demo composite (mask, NDVI, median) took
# 0.5 CPU s for 6.3 M input pixels on this project's 2-core test machine (job_metadata.json).
CPU_SECONDS_PER_INPUT_PIXEL = 1e-7


@dataclass(frozen=True)
class ItemFootprint:
    """What reading one item costs on a grid: its bounds in the grid CRS and its bands' pixel size."""

    item_id: str
    bounds: Bounds                      # in the output grid's CRS
    bands: int
    pixel_area: float                   # native pixel area (m^2 or CRS units^2), for pixel estimates
    bytes_per_pixel: float              # summed over the item's loaded bands


@dataclass(frozen=True)
class TileTask:
    """One tile of the output grid; ``region`` is the read region it belongs to (``jobs.plan.blocks``):
    the tiles of a region are planned one after the other and read its source windows once."""

    index: tuple[int, int]
    window: Window
    grid: TileGrid
    items: int                          # items touching the tile
    region: TileGrid | None = None
    # (rows, cols) read beyond the tile on each side for focal processes (``jobs.cube.focal``)
    halo: tuple[int, int] = (0, 0)

    def read_region(self, grid: TileGrid) -> TileGrid | None:
        """The region the task's reads cover: ``region`` grown by the halo, inside ``grid`` (the
        output grid: focal processes make up what lies past its edges, they read nothing there), so
        that the halo pixels of every tile come from the region's one read too."""
        if self.region is None or self.halo == (0, 0):
            return self.region
        return grown(grid, self.region, self.halo)


@dataclass(frozen=True)
class Plan:
    """The dry-run plan of a job: grid, tiles, items, estimates."""

    grid: TileGrid
    tile_size: int
    tasks: tuple[TileTask, ...]
    tiles_total: int
    item_ids: tuple[str, ...]
    input_pixels: int
    input_bytes: int
    layout: TileLayout | None = None
    halo: tuple[int, int] = (0, 0)      # (rows, cols) each tile reads beyond its edges, in the estimates

    @property
    def cpu_seconds(self) -> float:
        """Estimated CPU seconds (``CPU_SECONDS_PER_INPUT_PIXEL`` per input pixel)."""
        return self.input_pixels * CPU_SECONDS_PER_INPUT_PIXEL

    def to_json(self) -> dict:
        return {
            "grid": self.grid.to_dict(), "tile_size": self.tile_size,
            "tiles": len(self.tasks), "tiles_total": self.tiles_total,
            "items": len(self.item_ids), "input_pixels": self.input_pixels, "input_bytes": self.input_bytes,
            "cpu_seconds": round(self.cpu_seconds, 3),
            **({"tile_plan": self.layout.to_json()} if self.layout is not None else {}),
            **({"halo": list(self.halo)} if self.halo != (0, 0) else {}),
        }


# --- output grid --------------------------------------------------------------------------------
def asset_grid(asset: AssetBand) -> TileGrid:
    """The native pixel grid of a catalog asset (its ``proj:*``)."""
    return TileGrid(asset.crs, tuple(asset.transform), tuple(asset.shape))


def choose_grid(assets: Sequence[AssetBand], bounds_in: "callable") -> TileGrid:
    """The deterministic output grid for these assets (DESIGN "output grid is deterministic").

    CRS: the most common among the assets, equal CRSs counted together whatever their text (ties: the
    smallest text, for determinism).
    Resolution: the finest among assets in that CRS. Anchor: the native pixel edges of the first
    such asset with that resolution. ``bounds_in(crs)`` returns the area to cover in that CRS.
    """
    if not assets:
        raise ValueError("no assets to choose a grid from")
    groups: dict[str, list[AssetBand]] = {}     # one CRS written as "EPSG:n" and as WKT is one group
    for a in assets:
        key = next((k for k in groups if same_crs(k, a.crs)), a.crs)
        groups.setdefault(key, []).append(a)
    crs = min(groups, key=lambda c: (-len(groups[c]), min(a.crs for a in groups[c])))
    native = sorted((asset_grid(a) for a in groups[crs]), key=lambda g: (g.resolution[0] * g.resolution[1], g.transform))
    finest = native[0]
    return TileGrid.from_bounds(bounds_in(crs), crs, finest.resolution, finest.anchor)


def intersect(a: Bounds, b: Bounds) -> Bounds | None:
    """The intersection of two bounds, or None when they do not overlap with positive area."""
    left, bottom = max(a[0], b[0]), max(a[1], b[1])
    right, top = min(a[2], b[2]), min(a[3], b[3])
    if right <= left or top <= bottom:
        return None
    return left, bottom, right, top


def union(bounds: Iterable[Bounds]) -> Bounds:
    bs = list(bounds)
    return min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs)


# --- time slices ----------------------------------------------------------------------------------
def acquisition_day(item: ItemRecord) -> dt.date:
    """The item's solar day; a timestamp of exactly midnight UTC is a date without a time of day
    (e.g. Landsat scene lists), whose solar shift would move it to the wrong day."""
    t = item.datetime
    if (t.hour, t.minute, t.second, t.microsecond) == (0, 0, 0, 0):
        return t.date()
    return item.solar_day


def time_label(item: ItemRecord) -> str:
    """The ``t`` label of an item: the label a sparkeo job wrote it under (``sparkeo:time_label``, so
    that a job's results load back with their labels, ``2023-06`` periods included), else its
    acquisition day."""
    label = item.properties.get(TIME_LABEL_KEY)
    return label if isinstance(label, str) and label else acquisition_day(item).isoformat()


def scene_key(item: ItemRecord) -> tuple:
    """Items sharing this key are processings of the same scene: only the newest one is kept."""
    p = item.properties
    tile = p.get("grid:code") or p.get("s2:mgrs_tile") or p.get("mgrs:tile") or tuple(round(v, 4) for v in item.bbox)
    return (time_label(item), p.get("platform"), tile)


def time_slices(items: Iterable[ItemRecord]) -> tuple[TimeSlice, ...]:
    """Items grouped by solar day, sorted by day; reprocessed duplicates dropped (newest wins).

    Inside a day the mosaic order is acquisition time then id, so that the result never depends
    on the catalog's listing order.
    """
    newest: dict[tuple, ItemRecord] = {}
    for item in items:
        key = scene_key(item)
        kept = newest.get(key)
        if kept is None or (item.processed, item.id) > (kept.processed, kept.id):
            newest[key] = item
    days: dict[str, list[ItemRecord]] = {}
    for item in newest.values():
        days.setdefault(time_label(item), []).append(item)
    def order(label: str) -> str:
        # period labels ("2023-djf", "2023-mam") sort by their start, not alphabetically
        if any(TIME_LABEL_KEY in i.properties for i in days[label]):
            return min(i.datetime for i in days[label]).date().isoformat() + label
        return label
    return tuple(TimeSlice(day, tuple(sorted(days[day], key=lambda i: (i.datetime, i.id))))
                 for day in sorted(days, key=order))


# --- tiles and estimates ----------------------------------------------------------------------------
def grown(grid: TileGrid, part: TileGrid, halo: tuple[int, int]) -> TileGrid:
    """``part`` (a window of ``grid``) grown by ``halo`` (rows, cols) on each side, clipped to ``grid``."""
    row, col = grid.offset_of(part)
    r0, c0 = max(row - halo[0], 0), max(col - halo[1], 0)
    r1 = min(row + part.height + halo[0], grid.height)
    c1 = min(col + part.width + halo[1], grid.width)
    return grid.crop(Window(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0)))


def plan_tiles(grid: TileGrid, tile_size: int | TileLayout, footprints: Sequence[ItemFootprint],
               halo: tuple[int, int] = (0, 0)) -> Plan:
    """Cut ``grid`` into tiles, keep those touched by some footprint, and estimate the input.

    ``tile_size``: square tiles of that size, or a ``TileLayout`` (tiles inside read regions that
    follow the source blocks; the tiles come region by region).
    Input pixels of an item on a tile: the tile's area overlapping the item, in the item's
    native pixels, times its bands. Bytes are pixels times the bands' sample sizes (uncompressed).
    Each footprint is checked only against the tiles the grid's tile index says it touches
    (``TileGrid.tiles_touching``), not against every tile.
    ``halo``: (rows, cols) focal processes read beyond each tile (``jobs.cube.lazy.total_halo``); the
    estimates count each tile's input grown by it (inside the grid), as the tile reads it.
    """
    layout = tile_size if isinstance(tile_size, TileLayout) else TileLayout.plain(int(tile_size))
    cell = max(layout.tile)
    by_cell: dict[tuple[int, int], list[int]] = {}
    for n, fp in enumerate(footprints):
        for index in grid.tiles_touching(fp.bounds, cell):
            by_cell.setdefault(index, []).append(n)
    tasks, pixels, nbytes = [], 0.0, 0.0
    tiles_total = 0
    for index, window, tile, region in planned_tiles(grid, layout):
        tiles_total += 1
        touching, tile_pixels, tile_bytes = 0, 0.0, 0.0
        read = grown(grid, tile, halo).bounds if halo != (0, 0) else tile.bounds
        cells = grid.tiles_touching(read, cell)
        for n in sorted({n for c in cells for n in by_cell.get(c, ())}):
            fp = footprints[n]
            overlap = intersect(read, fp.bounds)
            if overlap is None:
                continue
            touching += intersect(tile.bounds, fp.bounds) is not None
            native_pixels = (overlap[2] - overlap[0]) * (overlap[3] - overlap[1]) / fp.pixel_area
            tile_pixels += native_pixels * fp.bands
            tile_bytes += native_pixels * fp.bytes_per_pixel
        if touching:
            pixels += tile_pixels
            nbytes += tile_bytes
            tasks.append(TileTask(index, window, tile, touching, region, tuple(halo)))
    ids = tuple(sorted({fp.item_id for fp in footprints}))
    return Plan(grid, max(layout.tile), tuple(tasks), tiles_total, ids, int(round(pixels)), int(round(nbytes)),
                layout, tuple(halo))


def planned_tiles(grid: TileGrid, layout: TileLayout):
    """``(index, window, tile grid, region grid)`` of every tile, region by region; ``index`` is
    the tile's (row, col) among all tile rows and columns."""
    pairs = [(region, window) for region in layout.regions(grid) for window in layout.tiles(region)]
    rows = {r: i for i, r in enumerate(sorted({w.row_off for _, w in pairs}))}
    cols = {c: i for i, c in enumerate(sorted({w.col_off for _, w in pairs}))}
    regions: dict[Window, TileGrid] = {}
    for region, window in pairs:
        if region not in regions:
            regions[region] = grid.crop(region)
        yield (rows[window.row_off], cols[window.col_off]), window, grid.crop(window), regions[region]


def check_budget(plan: Plan, job_options: Mapping) -> None:
    """Refuse a job whose estimate exceeds ``max_input_pixels`` or ``max_input_bytes`` (UserError)."""
    for option, estimate in (("max_input_pixels", plan.input_pixels), ("max_input_bytes", plan.input_bytes)):
        cap = int_option(job_options, option, minimum=0)
        if cap is not None and estimate > cap:
            raise BudgetExceeded(option, estimate, cap)


def int_option(job_options: Mapping, name: str, default: int | None = None, minimum: int = 1) -> int | None:
    """A whole-number job option (``tile_size``, the budget caps) of at least ``minimum``; ``ConfigError``
    (exit 2) for anything else, instead of an ``int()`` error or a zero tile size deep in the planner."""
    value = job_options.get(name, default)
    if value is None:
        return None
    number = value
    if isinstance(value, str) and value.strip().isdigit():     # "256" as the old int() accepted it
        number = int(value)
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
            or number != int(number) or number < minimum:
        raise ConfigError(f"job option {name}", value, f"expected a whole number >= {minimum}")
    return int(number)

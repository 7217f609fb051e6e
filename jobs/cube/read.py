"""Reading one band of one asset onto a tile grid, as float32 with NaN for nodata.

Aligned sources (same CRS, resolution and pixel anchor) are read with a plain window; others are
read over the tile's footprint (plus a margin) and warped with ``rasterio.warp.reproject``.
Categorical bands resample with nearest (mode when downsampling), continuous ones bilinear.
Transient failures are retried in place; anything else is a final ``UnreadableAssetError``.
Every read runs inside ``sparkeo.rasterenv.rasterio_env`` so S3/FUSE settings apply.
"""
from __future__ import annotations

import contextlib
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from jobs.cube.warp import RESAMPLING, rasterio_crs, rasterio_resampling
from jobs.plan.grid import TileGrid
from jobs.errors import TransientReadError, UnreadableAssetError
from jobs.cube.regions import BlockCache, RegionWindows
from layercatalog.model import AssetBand
from sparkeo.geometry import same_crs, transform_bounds

# Margin (source pixels) around the tile footprint so edge pixels can interpolate.
WARP_MARGIN = 2


@dataclass(frozen=True)
class BandRead:
    """The result of one read: the values on the tile grid and what it cost."""

    values: np.ndarray          # float32 (rows, cols), NaN where nodata or outside the asset
    pixels: int                 # source pixels read
    bytes: int                  # uncompressed source bytes read
    retries: int = 0
    blocks: int = 0             # source blocks decoded (0 when served from the read region's window)


def resampling_override(option, band: str) -> str | None:
    """The ``resampling`` job option for ``band``: one method for all bands, or band name -> method.

    Raises ``ValueError`` for a method rasterio does not know.
    """
    method = option.get(band) if isinstance(option, dict) else option
    if method is None:
        return None
    if method not in RESAMPLING:
        raise ValueError(f"unknown resampling method {method!r} for band {band!r} "
                         f"(one of {', '.join(sorted(RESAMPLING))})")
    return RESAMPLING[method]


def resampling_for(asset: AssetBand, source: TileGrid, target: TileGrid, override: str | None = None) -> str:
    """The resampling name: an explicit override, else nearest/mode for categorical, bilinear otherwise."""
    if override:
        return override
    if asset.categorical:
        downsampling = target.resolution[0] > 1.5 * source.resolution[0] and same_crs(source.crs, target.crs)
        return "mode" if downsampling else "nearest"
    return "bilinear"


def read_band(asset: AssetBand, grid: TileGrid, settings, *, apply_scale: bool = False,
              resampling: str | None = None, retries: int | None = None, retry_delay: float | None = None,
              scale: tuple[float, float] | None = None, out: np.ndarray | None = None,
              region: TileGrid | None = None) -> BandRead:
    """Read ``asset`` onto ``grid``; retry transient errors, raise ``UnreadableAssetError`` otherwise.

    ``region``: the read region ``grid`` lies in (``jobs.plan.blocks``). Inside ``keep_open`` the
    asset's window covering the whole region is read once and later tiles of the region slice it.

    ``scale``: GDAL's XSCALE/YSCALE for warped reads (``jobs.cube.warp.warp_scale`` of the asset onto the
    whole output grid), so kernels do not change from tile to tile near an item's edge.
    ``out``: a float32 array of the grid's shape to fill (a slot of the tile's stack): aligned reads
    convert straight into it instead of into a new array that is then copied.
    """
    retries = settings.read_retries if retries is None else retries
    delay = settings.read_retry_delay if retry_delay is None else retry_delay
    attempt = 0
    while True:
        try:
            got = _read_once(asset, grid, settings, resampling, scale, out, region)
            break
        except TransientReadError as exc:
            attempt += 1
            if attempt > retries:
                raise UnreadableAssetError(asset.href, f"{exc.reason} (after {retries} retries)") from None
            time.sleep(delay * attempt)
    values = got.values
    if out is not None and values is not out:
        out[...] = values
        values = out
    if apply_scale and (asset.scale != 1.0 or asset.offset != 0.0):
        if values is out:
            values *= np.float32(asset.scale)
            values += np.float32(asset.offset)
        else:
            values = (values * np.float32(asset.scale) + np.float32(asset.offset)).astype(np.float32)
    return BandRead(values, got.pixels, got.bytes, attempt, got.blocks)


# href -> open dataset while ``keep_open`` is active (the tiles of one task); None: open per read.
_OPEN: "OrderedDict[str, Any] | None" = None
# open datasets kept at most (file handles); the least recently used is closed first
KEEP_OPEN_MAX = 256
# (href, crs override) -> the asset's pixel grid, for the datasets in _OPEN
_GRIDS: dict[tuple[str, str | None], TileGrid] = {}
# the settings whose rasterio.Env ``keep_open`` entered for its whole block (None: one Env per read)
_ENV_SETTINGS: Any = None
# the current read region's source windows while ``keep_open`` is active
_REGION: RegionWindows | None = None


@contextlib.contextmanager
def keep_open(settings=None, halo: bool = False):
    """Within this block each asset is opened once and reused by later reads (a task's tiles read
    the same assets; opening costs ~1 ms each, as much as decoding a 512 px window). All closed on exit.
    With ``settings``, their ``rasterio.Env`` is entered once for the block instead of once per read
    (~0.2 ms each, 36 times per tile of a 12-date, 3-band composite).
    With ``halo`` (the tiles read beyond their edges for focal processes), the decoded source blocks
    are kept across read regions (``jobs.cube.regions.BlockCache``, at most ``MAX_REGION_BYTES``).
    Not nested and not shared between threads: a Python worker runs one task at a time."""
    global _OPEN, _ENV_SETTINGS, _REGION
    from sparkeo.rasterenv import rasterio_env

    previous, _OPEN = _OPEN, OrderedDict()
    previous_env = _ENV_SETTINGS
    from jobs.plan.blocks import MAX_REGION_BYTES

    previous_region, _REGION = _REGION, RegionWindows(blocks=BlockCache(MAX_REGION_BYTES) if halo else None)
    try:
        with rasterio_env(settings) if settings is not None else contextlib.nullcontext():
            _ENV_SETTINGS = settings
            yield
    finally:
        _ENV_SETTINGS = previous_env
        _REGION = previous_region
        _GRIDS.clear()
        opened, _OPEN = _OPEN, previous
        for ds in opened.values():
            ds.close()


def _dataset(href: str):
    """An open dataset for ``href``: a kept one (see ``keep_open``) or a new one the caller closes."""
    import rasterio

    if _OPEN is None:
        return rasterio.open(href)
    ds = _OPEN.get(href)
    if ds is None:
        ds = _OPEN[href] = rasterio.open(href)
        if len(_OPEN) > KEEP_OPEN_MAX:
            _OPEN.popitem(last=False)[1].close()
    else:
        _OPEN.move_to_end(href)
    return contextlib.nullcontext(ds)


def _forget(href: str) -> None:
    """Drop a kept dataset after a failed read, so a retry opens the file afresh."""
    if _OPEN is not None and href in _OPEN:
        _OPEN.pop(href).close()
        for key in [k for k in _GRIDS if k[0] == href]:
            del _GRIDS[key]
    if _REGION is not None:
        _REGION.forget(href)


def _read_once(asset: AssetBand, grid: TileGrid, settings, resampling: str | None,
               scale: tuple[float, float] | None = None, out: np.ndarray | None = None,
               region: TileGrid | None = None) -> BandRead:
    from rasterio.errors import RasterioError

    from sparkeo.rasterenv import describe_read_error, is_transient_read_error, rasterio_env

    # inside keep_open(settings) the block's Env is already entered
    entered = settings is not None and settings is _ENV_SETTINGS
    try:
        with contextlib.nullcontext() if entered else rasterio_env(settings), _dataset(asset.href) as src:
            if asset.band_index < 1 or asset.band_index > src.count:
                raise UnreadableAssetError(asset.href, f"has {src.count} band(s), no band {asset.band_index}")
            source = _source_grid(src, asset)
            nodata = asset.nodata if asset.nodata is not None else src.nodatavals[asset.band_index - 1]
            reader = _WindowReader(src, asset, source, region)
            if source.aligned_with(grid):
                return _read_aligned(reader, source, grid, nodata, out)
            return _read_warped(reader, asset, source, grid, nodata,
                                resampling_for(asset, source, grid, resampling), scale)
    except (UnreadableAssetError, TransientReadError):
        _forget(asset.href)
        raise
    except (RasterioError, OSError) as exc:
        _forget(asset.href)
        reason = describe_read_error(exc)
        if is_transient_read_error(exc, asset.href):
            raise TransientReadError(asset.href, reason) from None
        raise UnreadableAssetError(asset.href, reason) from None


def block_shape(asset: AssetBand, settings) -> tuple[int, int] | None:
    """The (rows, cols) of the asset band's internal blocks, from the file's header; None when it
    cannot be read here (the plan then falls back to plain tiles: the driver may see files the
    submitting machine cannot)."""
    from rasterio.errors import RasterioError

    from sparkeo.rasterenv import rasterio_env

    try:
        with rasterio_env(settings), _dataset(asset.href) as src:
            return tuple(src.block_shapes[asset.band_index - 1])
    except (RasterioError, OSError, IndexError):
        return None


def _source_grid(src, asset: AssetBand) -> TileGrid:
    """The asset's pixel grid; remembered while its dataset is kept open (building it from the
    dataset's transform is a good part of a read's Python overhead at 256 px)."""
    key = (asset.href, asset.crs)
    grid = _GRIDS.get(key)
    if grid is None:
        grid = TileGrid(asset.crs or src.crs.to_string(), tuple(src.transform)[:6], (src.height, src.width))
        if _OPEN is not None and asset.href in _OPEN:
            _GRIDS[key] = grid
    return grid


def _declared(nodata) -> bool:
    """Whether ``nodata`` is a value to turn into NaN (None and NaN itself are not)."""
    return nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata))


def _nodata_to_nan(values: np.ndarray, raw: np.ndarray, nodata) -> None:
    """Set ``values`` to NaN where ``raw`` (the pixels as read) holds ``nodata``.

    Most tiles hold no or few no-data pixels: one comparison and a count, then a store into just
    those pixels (no floating-point error state to enter, ~20 us less per 256 px read than a pass
    over all of them). Where many are no-data, nodata 0 (Sentinel-2, Landsat) is a division by the
    valid mask: x / 1 is x and 0 / 0 is NaN, one vectorised pass, ~3x faster than a masked store.
    """
    if nodata == 0 and np.count_nonzero(raw) == raw.size:
        return                          # counting the raw pixels: half the passes of a comparison first
    hit = raw == nodata
    count = np.count_nonzero(hit)
    if count == 0:
        return
    if nodata == 0 and count > hit.size // 8:
        with np.errstate(invalid="ignore"):
            np.divide(values, ~hit, out=values)
    else:
        values[hit] = np.float32(np.nan)


def _to_float(arr: np.ndarray, nodata) -> np.ndarray:
    """float32 copy with the band's nodata (and NaN) as NaN; 0 is data unless declared nodata."""
    out = arr.astype(np.float32)
    if _declared(nodata):
        _nodata_to_nan(out, arr, nodata)
    return out


class _WindowReader:
    """Reads source spans of one asset band: through the current read region's windows inside
    ``keep_open`` when the read has a region, straight from the file otherwise; counts the blocks
    decoded."""

    def __init__(self, src, asset: AssetBand, source: TileGrid, region: TileGrid | None):
        self.src, self.asset, self.source, self.region = src, asset, source, region
        self.blocks = 0

    def read(self, span, margin: int = 0) -> np.ndarray:
        if self.region is None or _REGION is None:
            return self._from_file(span)
        _REGION.enter(self.region)
        arr, _ = _REGION.read((self.asset.href, self.asset.band_index), span,
                              lambda: self._region_span(margin), self._from_file)
        return arr

    def _from_file(self, span) -> np.ndarray:
        from jobs.plan.blocks import blocks_touched

        block = tuple(self.src.block_shapes[self.asset.band_index - 1])
        cache = _REGION.blocks if _REGION is not None else None
        if cache is None:
            self.blocks += blocks_touched(span, block)
            return self._decode(span)
        arr, decoded = cache.read((self.asset.href, self.asset.band_index), span, block,
                                  (self.src.height, self.src.width), self._decode)
        self.blocks += decoded
        return arr

    def _decode(self, span) -> np.ndarray:
        from rasterio.windows import Window as RioWindow

        r0, c0, r1, c1 = span
        return self.src.read(self.asset.band_index, window=RioWindow(c0, r0, c1 - c0, r1 - r0))

    def _region_span(self, margin: int):
        """The source span under the whole region (plus ``margin`` px), clipped to the source;
        worked out once per source grid and region."""
        key = (self.source, margin)
        span = _REGION.spans.get(key)
        if span is None:
            span = _REGION.spans[key] = _source_span(self.source, self.region, margin)
        return span


def _source_span(source: TileGrid, grid: TileGrid, margin: int):
    """The (row0, col0, row1, col1) source pixels under ``grid`` plus ``margin``, clipped."""
    bounds = grid.bounds if same_crs(source.crs, grid.crs) else transform_bounds(grid.bounds, grid.crs, source.crs)
    win = source.window_of(bounds)
    if win.height == 0 or win.width == 0:
        return 0, 0, 0, 0
    return (max(win.row_off - margin, 0), max(win.col_off - margin, 0),
            min(win.row_off + win.height + margin, source.height), min(win.col_off + win.width + margin, source.width))


def _read_aligned(reader: _WindowReader, source: TileGrid, grid: TileGrid, nodata,
                  out: np.ndarray | None = None) -> BandRead:
    """A plain window read, converted to float32 straight into ``out`` (or a new array)."""
    rx, ry = source.resolution
    col0 = int(round((grid.transform[2] - source.transform[2]) / rx))
    row0 = int(round((source.transform[5] - grid.transform[5]) / ry))
    h, w = grid.shape
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + h, source.height), min(col0 + w, source.width)
    if out is None:
        out = np.empty((h, w), dtype=np.float32)
    if r1 <= r0 or c1 <= c0:
        out.fill(np.nan)
        return BandRead(out, 0, 0)
    arr = reader.read((r0, c0, r1, c1))
    if arr.shape != (h, w):             # the tile reaches past the asset's edge
        out.fill(np.nan)
    target = out[r0 - row0:r1 - row0, c0 - col0:c1 - col0]
    np.copyto(target, arr, casting="unsafe")
    if _declared(nodata):
        _nodata_to_nan(target, arr, nodata)
    return BandRead(out, arr.size, arr.nbytes, blocks=reader.blocks)


def _read_warped(reader: _WindowReader, asset: AssetBand, source: TileGrid, grid: TileGrid, nodata,
                 resampling: str, scale: tuple[float, float] | None = None) -> BandRead:
    from rasterio.warp import reproject
    from rasterio.windows import Window as RioWindow

    out = np.full(grid.shape, np.nan, dtype=np.float32)
    r0, c0, r1, c1 = _source_span(source, grid, WARP_MARGIN)
    if r1 <= r0 or c1 <= c0:
        return BandRead(out, 0, 0)
    rio_win = RioWindow(c0, r0, c1 - c0, r1 - r0)
    arr = reader.read((r0, c0, r1, c1), WARP_MARGIN)
    values = _to_float(arr, nodata)
    reproject(values, out, src_transform=reader.src.window_transform(rio_win), src_crs=rasterio_crs(source.crs),
              src_nodata=np.nan, dst_transform=grid.affine, dst_crs=rasterio_crs(grid.crs), dst_nodata=np.nan,
              resampling=rasterio_resampling(resampling),
              **({"XSCALE": repr(scale[0]), "YSCALE": repr(scale[1])} if scale else {}))
    return BandRead(out, arr.size, arr.nbytes, blocks=reader.blocks)

"""Zonal statistics per tile, merged exactly across tiles (aggregate_spatial's arithmetic).

A pixel belongs to a polygon when its centre is inside it (openEO 1.2.0 aggregate_spatial, the
Simple Features rule; GDAL's rasterisation with ``all_touched=False``, as
``rasterio.features.geometry_mask``). Every tile tests only its own pixel centres, so a polygon
spanning several tiles gets each pixel exactly once, and overlapping polygons each get all of theirs:
a tile's polygons are rasterised in layers of polygons whose boxes do not meet, one labelled pass per
layer (``disjoint_layers``, ``label_cells``; one rasterisation per polygon cost ~1 ms each, 6-15x the
whole tile's work this way on the benchmark's fields).

Two kinds of partial result, chosen by the reducer:

- ``Moments`` for the mergeable reducers (mean, sum, count, min, max, sd, variance): per time label
  and band the valid-pixel count, mean and sum of squared deviations (merged with Chan et al.'s
  pairwise update, stable where a sum of squares is not), min and max. A tile sends a few numbers
  per polygon, whatever the polygon's size.
- ``Pixels`` for everything else (median, quantiles, first/last, composed callbacks): the values
  themselves with each pixel's row-major position on the output grid, so the merged pixels come in
  one order whatever the tiles were.

The result per polygon is an array (time labels, bands); a polygon covering no pixel centre (outside
the data, thinner than a pixel) is all NaN: nodata, not an error. With ``counts`` (aggregate_spatial's
``target_dimension``) each value comes with how many pixel centres the polygon covered and how many of
those were valid, as a last axis labelled ``COUNT_LABELS``; those counts are 0, not nodata, for a
polygon covering no pixel centre.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from jobs.plan.grid import TileGrid

# reducers computed from Moments (each with its default ignore_nodata=true)
MERGEABLE = frozenset({"mean", "sum", "count", "min", "max", "sd", "variance"})

# the labels of aggregate_spatial's target dimension (openEO 2.0): the reducer's value, the pixel
# centres the geometry covers (valid or not), the valid ones among them
COUNT_LABELS = ("value", "total_count", "valid_count")


@dataclass(frozen=True)
class Moments:
    """Per (t, band): valid count, mean, sum of squared deviations, min, max (float64); ``pixels`` is
    how many pixel centres the polygon covered here, valid or not."""

    pixels: int
    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    min: np.ndarray
    max: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> "Moments":
        """The moments of ``values`` (t, band, pixels), NaN being nodata."""
        v = values.astype(np.float64)
        valid = ~np.isnan(v)
        n = valid.sum(axis=-1).astype(np.float64)
        with np.errstate(all="ignore"):
            mean = np.where(n > 0, np.nansum(v, axis=-1) / n, 0.0)
            m2 = np.nansum(np.where(valid, (v - mean[..., None]) ** 2, 0.0), axis=-1)
        lo = np.where(n > 0, np.min(np.where(valid, v, np.inf), axis=-1), np.nan)
        hi = np.where(n > 0, np.max(np.where(valid, v, -np.inf), axis=-1), np.nan)
        return cls(values.shape[-1], n, mean, m2, lo, hi)

    def merge(self, other: "Moments") -> "Moments":
        """Both parts' moments as one (Chan, Golub, LeVeque's pairwise update)."""
        n = self.n + other.n
        with np.errstate(all="ignore"):
            delta = other.mean - self.mean
            share = np.where(n > 0, other.n / n, 0.0)
            mean = self.mean + delta * share
            m2 = self.m2 + other.m2 + delta ** 2 * self.n * share
        return Moments(self.pixels + other.pixels, n, mean, m2,
                       np.fmin(self.min, other.min), np.fmax(self.max, other.max))

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(pixel centres covered, valid ones among them) per (t, band)."""
        return np.full(self.n.shape, float(self.pixels)), self.n

    def reduce(self, reducer: str) -> np.ndarray:
        """The reducer's value per (t, band); NaN where it has none (no valid pixel, sd of one)."""
        n = self.n
        with np.errstate(all="ignore"):
            if reducer == "count":
                return n.copy()
            if reducer == "sum":
                return np.where(n > 0, self.mean * n, np.nan)
            if reducer == "mean":
                return np.where(n > 0, self.mean, np.nan)
            if reducer == "min":
                return self.min.copy()
            if reducer == "max":
                return self.max.copy()
            variance = np.where(n > 1, self.m2 / (n - 1), np.nan)   # sample variance, as openEO's
            return np.sqrt(variance) if reducer == "sd" else variance


@dataclass(frozen=True)
class Pixels:
    """A polygon's pixels in one or more tiles: values (t, band, pixels) and their positions."""

    positions: np.ndarray          # int64 row-major index on the output grid
    values: np.ndarray             # float32

    @property
    def pixels(self) -> int:
        return int(self.positions.size)

    def counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(pixel centres covered, valid ones among them) per (t, band)."""
        return (np.full(self.values.shape[:-1], float(self.pixels)),
                (~np.isnan(self.values)).sum(axis=-1).astype(np.float64))

    def merge(self, other: "Pixels") -> "Pixels":
        return Pixels(np.concatenate([self.positions, other.positions]),
                      np.concatenate([self.values, other.values], axis=-1))

    def ordered(self) -> np.ndarray:
        """The values in row-major pixel order of the output grid."""
        return self.values[..., np.argsort(self.positions, kind="stable")]


def centre_mask(geom, grid: TileGrid) -> np.ndarray:
    """True for the pixels of ``grid`` whose centre lies inside ``geom`` (boundary: outside)."""
    from rasterio.features import geometry_mask

    return geometry_mask([geom], out_shape=grid.shape, transform=grid.affine, invert=True, all_touched=False)


def tile_partials(values: np.ndarray, grid: TileGrid, origin: tuple[int, int], width: int,
                  geoms: Sequence[tuple[int, object]], mergeable: bool) -> dict[int, Moments | Pixels]:
    """The partial results of the polygons ``geoms`` ((index, shapely geometry), in ``grid``'s CRS) on
    one tile: ``values`` (t, band, y, x) on ``grid``, whose upper-left pixel is at ``origin`` (row,
    col) of an output grid ``width`` pixels wide. Polygons covering no pixel centre here are left out."""
    out: dict[int, Moments | Pixels] = {}
    flat = values.reshape(values.shape[0], values.shape[1], -1)
    for layer in disjoint_layers([g for _, g in geoms]):
        for n, cells in label_cells([geoms[k][1] for k in layer], grid):
            index = geoms[layer[n]][0]
            picked = flat[:, :, cells]
            if mergeable:
                out[index] = Moments.of(picked)
            else:
                r, c = np.divmod(cells, grid.width)
                positions = (r + origin[0]).astype(np.int64) * width + (c + origin[1])
                out[index] = Pixels(positions, np.ascontiguousarray(picked, dtype=np.float32))
    return out


def from_wkb(polygons: Sequence[tuple[int, bytes]]) -> list[tuple[int, object]]:
    """(index, shapely geometry) for each (index, WKB) of ``polygons``, parsed in one call."""
    import shapely

    if not polygons:
        return []
    indices, wkb = zip(*polygons)
    return list(zip(indices, shapely.from_wkb(list(wkb))))


def disjoint_layers(shapes: Sequence) -> list[list[int]]:
    """The positions of ``shapes`` in layers whose members' bounding boxes do not meet (greedy), so
    that each layer rasterises in one pass with a label per polygon; overlapping polygons (each gets
    all its pixels) go to different layers. Fields that do not overlap make one layer."""
    import shapely
    from shapely.strtree import STRtree

    if not shapes:
        return []
    boxes = shapely.box(*np.asarray([g.bounds for g in shapes]).T)
    left, right = STRtree(boxes).query(boxes, predicate="intersects")
    neighbours: dict[int, list[int]] = {}
    for a, b in zip(left.tolist(), right.tolist()):
        if a != b:
            neighbours.setdefault(a, []).append(b)
    layer_of: dict[int, int] = {}
    layers: list[list[int]] = []
    for k in range(len(shapes)):
        taken = {layer_of[j] for j in neighbours.get(k, ()) if j in layer_of}
        chosen = next(i for i in range(len(layers) + 1) if i not in taken)
        if chosen == len(layers):
            layers.append([])
        layers[chosen].append(k)
        layer_of[k] = chosen
    return layers


def label_cells(shapes: Sequence, grid: TileGrid) -> list[tuple[int, np.ndarray]]:
    """(position in ``shapes``, flat row-major indices of the grid's pixels whose centre it holds) for
    every shape holding a pixel centre, from one rasterisation (GDAL's centre rule, ``all_touched``
    false: the pixels ``centre_mask`` gives each shape alone, since the shapes' boxes do not meet)."""
    from rasterio.features import rasterize

    labels = rasterize(((g, n + 1) for n, g in enumerate(shapes)), out_shape=grid.shape, transform=grid.affine,
                       fill=0, all_touched=False, dtype="int32").ravel()
    order = np.argsort(labels, kind="stable")           # row-major order kept within each label
    counts = np.bincount(labels, minlength=len(shapes) + 1)
    ends = np.cumsum(counts)
    return [(n - 1, order[ends[n - 1]:ends[n]]) for n in range(1, len(shapes) + 1) if counts[n]]


def merge_into(merged: dict[int, Moments | Pixels], partials: Mapping[int, Moments | Pixels]) -> None:
    """Add one tile's partial results to ``merged`` (index -> partial)."""
    for index, part in partials.items():
        have = merged.get(index)
        merged[index] = part if have is None else have.merge(part)


def merge_runs(pairs: Iterable[tuple[int, Moments | Pixels]]) -> Iterator[tuple[int, Moments | Pixels]]:
    """(index, merged partial) for each run of equal indices in ``pairs`` (sorted by index, as a
    shuffle sorted within its partitions gives them): one polygon is held at a time."""
    index, have = None, None
    for key, part in pairs:
        if key == index:
            have = have.merge(part)
            continue
        if index is not None:
            yield index, have
        index, have = key, part
    if index is not None:
        yield index, have


# Pixel values (float32 count) finish_stream holds before it runs the reducer on them: 4 MB, so that
# the polygons of one pixel count are reduced in one vectorised call, in bounded memory.
FINISH_BATCH_VALUES = 1 << 20


def finish_stream(parts: Iterable[tuple[int, Moments | Pixels]], reducer: str | None,
                  reduce_pixels: Callable[[np.ndarray], np.ndarray] | None,
                  batch_values: int = FINISH_BATCH_VALUES, counts: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """(index, result (t, bands), float64) for each merged partial of ``parts``; (t, bands, 3) with
    ``counts``: the value, the pixel centres covered and the valid ones (``COUNT_LABELS``).

    ``reducer`` names a MERGEABLE reducer (the partials are Moments); otherwise ``reduce_pixels``
    maps values (pixels, polygons, t, bands) to (polygons, t, bands): it is called once per distinct
    pixel count within a batch of ``batch_values`` values, all polygons of that count together."""
    if reducer is not None:
        for index, part in parts:
            yield index, _counted(part.reduce(reducer), part) if counts else part.reduce(reducer)
        return
    batch: list[tuple[int, Pixels]] = []
    held = 0
    for index, part in parts:
        batch.append((index, part))
        held += part.values.size
        if held >= batch_values:
            yield from _reduce_batch(batch, reduce_pixels, counts)
            batch, held = [], 0
    yield from _reduce_batch(batch, reduce_pixels, counts)


def _counted(values: np.ndarray, part: Moments | Pixels) -> np.ndarray:
    """``values`` (t, bands) with the part's counts beside each: (t, bands, 3), as ``COUNT_LABELS``."""
    return np.stack([values, *part.counts()], axis=-1)


def _reduce_batch(batch: list[tuple[int, Pixels]], reduce_pixels, counts: bool) -> Iterator[tuple[int, np.ndarray]]:
    by_size: dict[int, list[tuple[int, Pixels]]] = {}
    for index, part in batch:
        by_size.setdefault(part.pixels, []).append((index, part))
    for size, members in sorted(by_size.items()):
        stack = np.stack([part.ordered() for _, part in members])          # (polygons, t, bands, pixels)
        with np.errstate(all="ignore"):
            out = np.asarray(reduce_pixels(np.moveaxis(stack, -1, 0)), dtype=np.float64)
        for (index, part), values in zip(members, out):
            yield index, _counted(values, part) if counts else values


def empty_table(count: int, shape: tuple[int, int], counts: bool) -> np.ndarray:
    """The table (polygons, t, bands[, 3 with ``counts``]), float64, before any polygon's result: NaN
    values (a polygon covering no pixel centre is nodata) and zero counts."""
    if not counts:
        return np.full((count, *shape), np.nan, dtype=np.float64)
    out = np.zeros((count, *shape, len(COUNT_LABELS)), dtype=np.float64)
    out[..., 0] = np.nan
    return out

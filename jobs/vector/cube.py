"""``AggregatedCube``: aggregate_spatial's vector cube, a value per geometry, time label and band.

It sits on top of a raster cube (``source``, cropped to the geometries' bounds) like any node of
the DAG, but is not computed tile by tile into an array: each tile task asks it for the partial
results of the polygons that tile touches (``partials``); on Spark a shuffle brings each polygon's
partials together and they are reduced on the executors (``jobs.spark.zonal``), in
process ``finish`` turns partials merged with ``jobs.vector.zonal.merge_into`` into the table. Its
dimensions are ``geometry`` then those of the source left after the spatial ones (``t``, ``bands``),
as openEO 1.2.0 vector cubes have them, then, when aggregate_spatial names a ``target_dimension``
(openEO 2.0), that dimension, of type ``other``, labelled ``value``, ``total_count`` and
``valid_count`` (``jobs.vector.zonal.COUNT_LABELS``).

The geometries stay on the driver: what the executors get is a ``TileAggregator`` (the source and
the reducer, no geometry), and each tile comes with its own polygons as WKB (``tile_polygons``), so
a worker's memory follows the tile, not the polygon count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from jobs.cube.lazy import LazyCube, TileContext, as_tbyx
from jobs.plan.grid import TileGrid
from jobs.vector.geojson import Geometries
from jobs.vector.zonal import COUNT_LABELS, Moments, Pixels, empty_table, finish_stream, tile_partials

GEOMETRY_DIM = "geometry"


@dataclass(frozen=True)
class TileAggregator:
    """What a Spark task needs of an ``AggregatedCube``: the source cube and the reducer, without the
    geometries (a task is given its tiles' polygons), so that what every task unpickles does not grow
    with the polygon count."""

    source: LazyCube
    reducer: str | None
    reduce_pixels: Callable[[np.ndarray], np.ndarray] | None
    counts: bool = False            # each value with its total and valid pixel counts (a target dimension)

    @property
    def grid(self) -> TileGrid:
        """The raster grid the tiles are cut from."""
        return self.source.meta.grid

    def partials(self, grid: TileGrid, origin: tuple[int, int], polygons: Sequence[tuple[int, Any]],
                 ctx: TileContext) -> dict[int, Moments | Pixels]:
        """The partial results of ``polygons`` ((index, shapely geometry in the raster's CRS)) on the
        tile ``grid`` at ``origin`` (row, col)."""
        values = as_tbyx(self.source.compute(grid, ctx), self.source.meta.dims)
        return tile_partials(values, grid, origin, self.grid.width, polygons, self.reducer is not None)

    def finish_values(self, merged: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, values (t, bands[, 3])) for each (index, merged partial), in a polygon's memory at a time."""
        return finish_stream(merged, self.reducer, self.reduce_pixels, counts=self.counts)


class AggregatedCube(LazyCube):
    """The polygons ``geometries`` (as given) aggregated over ``source`` with a MERGEABLE ``reducer``
    name, or else ``reduce_pixels`` ((pixels, polygons, t, bands) -> (polygons, t, bands)); with a
    ``target_dimension`` name, each value comes with its pixel counts along that dimension."""

    def __init__(self, node_id: str, source: LazyCube, geometries: Geometries, reducer: str | None,
                 reduce_pixels: Callable[[np.ndarray], np.ndarray] | None, target_dimension: str | None = None):
        self.node_id, self.source, self.geometries = node_id, source, geometries
        self.reducer, self.reduce_pixels = reducer, reduce_pixels
        self.target_dimension = target_dimension
        src = source.meta
        # the polygons in the raster's CRS: what each tile rasterises
        self.local = geometries.to_crs(src.grid.crs)
        self._shapes: list | None = None
        labels = {GEOMETRY_DIM: tuple(range(len(geometries)))}
        labels.update({d: tuple(src.labels[d]) for d in src.dims if d not in ("x", "y")})
        types = {GEOMETRY_DIM: "geometry", **{d: t for d, t in src.dim_types.items() if d not in ("x", "y")}}
        dims = (GEOMETRY_DIM, *(d for d in src.dims if d not in ("x", "y")))
        if target_dimension is not None:
            dims += (target_dimension,)
            labels[target_dimension], types[target_dimension] = COUNT_LABELS, "other"
        self.meta = src.computed().replace(dims=dims, labels=labels, grid=None, dim_types=types)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_shapes"] = None          # shapely objects are rebuilt from WKB where they are used
        return state

    def inputs(self):
        return (self.source,)

    def _compute(self, grid: TileGrid, ctx: TileContext) -> np.ndarray:
        raise TypeError("a vector cube is aggregated per tile with partials(), not computed as a raster")

    @property
    def grid(self) -> TileGrid:
        """The raster grid the tiles are cut from."""
        return self.source.meta.grid

    @property
    def times(self) -> tuple[str, ...] | None:
        return tuple(str(t) for t in self.meta.labels["t"]) if "t" in self.meta.dims else None

    @property
    def bands(self) -> tuple[str, ...]:
        if "bands" in self.meta.dims:
            return tuple(str(b) for b in self.meta.labels["bands"])
        return (self.source.meta.band_name or "value",)

    def shapes(self) -> list:
        """The polygons in the raster's CRS (shapely), built once per process."""
        if self._shapes is None:
            self._shapes = self.local.shapes()
        return self._shapes

    def assign(self, tiles: Sequence[TileGrid]) -> list[tuple[int, ...]]:
        """For each tile grid, the indices of the polygons whose bounds meet it (an R-tree query)."""
        import shapely
        from shapely.strtree import STRtree

        tree = STRtree(self.shapes())
        boxes = [shapely.box(*g.bounds) for g in tiles]
        hits = tree.query(boxes, predicate="intersects") if boxes else np.empty((2, 0), dtype=int)
        out: list[list[int]] = [[] for _ in tiles]
        for tile, geom in hits.T:
            out[tile].append(int(geom))
        return [tuple(sorted(x)) for x in out]

    def tile_work(self, tasks: Sequence[Any]) -> list[tuple[Any, tuple[int, ...]]]:
        """The tile tasks (``jobs.plan.planner.TileTask``) with the polygons each must rasterise;
        tiles that meet no polygon are left out."""
        polygons = self.assign([t.grid for t in tasks])
        return [(t, p) for t, p in zip(tasks, polygons) if p]

    def tile_polygons(self, indices: Sequence[int]) -> tuple[tuple[int, bytes], ...]:
        """(index, WKB in the raster's CRS) of the polygons ``indices``: a tile's polygons as a Spark
        task receives them (bytes: shapely objects would pickle back to WKB anyway)."""
        return tuple((i, self.local.wkb[i]) for i in indices)

    def aggregator(self) -> TileAggregator:
        """The part of this cube the executors run, without the geometries."""
        return TileAggregator(self.source, self.reducer, self.reduce_pixels, self.target_dimension is not None)

    def partials(self, grid: TileGrid, origin: tuple[int, int], indices: Sequence[int],
                 ctx: TileContext) -> dict[int, Moments | Pixels]:
        """The partial results of polygons ``indices`` on the tile ``grid`` at ``origin`` (row, col)
        (in process: the shapes are this cube's)."""
        shapes = self.shapes()
        return self.aggregator().partials(grid, origin, [(i, shapes[i]) for i in indices], ctx)

    @property
    def shape(self) -> tuple[int, int, int]:
        """The values' shape: (geometries, time labels (1 without time), bands)."""
        return len(self.geometries), len(self.times or (None,)), len(self.bands)

    def empty_table(self) -> np.ndarray:
        """The table (geometries, t, bands), or (geometries, t, bands, 3) with a target dimension (the
        value, total_count, valid_count), before any polygon's result: NaN values, zero counts."""
        count, *shape = self.shape
        return empty_table(count, tuple(shape), self.target_dimension is not None)

    def finish(self, merged: Mapping[int, Any]) -> np.ndarray:
        """The table (as ``empty_table``) from the merged partials; NaN is nodata."""
        out = self.empty_table()
        for index, values in self.finish_values(merged.items()):
            out[index] = values
        return out

    def finish_values(self, merged: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, values (t, bands[, 3])) for each (index, merged partial), in a polygon's memory at a time."""
        return self.aggregator().finish_values(merged)

    def partial_bytes(self) -> int:
        """An estimate of the bytes of every polygon's partials (the pixels' values and positions
        for a pixel reducer, a few numbers otherwise): what the shuffle carries."""
        import shapely

        _, times, bands = self.shape
        if self.reducer is not None:
            return len(self.geometries) * (5 * (times * bands * 8 + 112) + 200)   # 5 arrays, their headers
        a, b, _, d, e, _ = self.grid.transform
        pixels = float(shapely.area(np.asarray(self.shapes(), dtype=object)).sum()) / max(abs(a * e - b * d), 1e-12)
        return int(pixels * (times * bands * 4 + 8)) + len(self.geometries) * 200

    def __repr__(self) -> str:
        return f"AggregatedCube({self.node_id!r}, {len(self.geometries)} geometries, dims={self.meta.dims})"

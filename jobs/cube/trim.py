"""trim_cube's two halves: which labels, rows and columns of a cube hold a valid value (``Validity``,
one small record per tile, merged on the driver), and the cube cut down to them (``trimmed``).

Which labels remain depends on pixel values, so the driver learns them from a first pass over the
input cube (``jobs.spark.scan``): each task reduces its tiles to a few boolean vectors (one per
label of t, bands and other dimensions) and the first and last valid row and column of the grid;
no pixel travels. The trimmed cube then lies on the input grid cut to the valid bounding box, so a
tile of it is a sub-grid of the input's grid and is computed from the same tile of the input.

Which labels go (openEO 1.2.0 trim_cube): slices holding only nodata at the borders of every
dimension (x, y and t keep their contiguous extent); on categorical dimensions (bands, other), whose
labels have no order to keep, every label holding only nodata goes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from jobs.cube.derived import DerivedCube
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.errors import ProcessGraphError
from jobs.plan.grid import Window

SPATIAL = ("y", "x")
# dimension types whose labels keep their order, so only their border labels may go
ORDERED_TYPES = ("temporal", "spatial")


@dataclass(frozen=True)
class Validity:
    """Where a cube holds valid values: per label of each non-spatial dimension whether any value is
    valid, and the first and last valid row/column of the grid (None: no valid pixel seen)."""

    labels: Mapping[str, tuple[bool, ...]] = field(default_factory=dict)
    rows: tuple[int, int] | None = None
    cols: tuple[int, int] | None = None

    def merge(self, other: "Validity") -> "Validity":
        """Both tiles' validity: labels or-ed, row/column ranges spanned."""
        labels = dict(self.labels)
        for dim, flags in other.labels.items():
            mine = labels.get(dim)
            labels[dim] = flags if mine is None else tuple(a or b for a, b in zip(mine, flags))
        return Validity(labels, _span(self.rows, other.rows), _span(self.cols, other.cols))


def _span(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


def tile_validity(values: np.ndarray, meta: CubeMeta, window: Window | None) -> Validity:
    """The validity of one tile's ``values`` (axes in ``meta.dims`` order, NaN nodata) at ``window``
    of the cube's grid."""
    valid = ~np.isnan(values)
    labels = {}
    for axis, dim in enumerate(meta.dims):
        if dim not in SPATIAL:
            others = tuple(i for i in range(valid.ndim) if i != axis)
            labels[dim] = tuple(bool(v) for v in valid.any(axis=others))
    rows = cols = None
    if window is not None and "y" in meta.dims:
        rows = _extent(valid, meta.axis("y"), window.row_off)
        cols = _extent(valid, meta.axis("x"), window.col_off)
    return Validity(labels, rows, cols)


def _extent(valid: np.ndarray, axis: int, offset: int) -> tuple[int, int] | None:
    along = valid.any(axis=tuple(i for i in range(valid.ndim) if i != axis))
    hits = np.flatnonzero(along)
    return (offset + int(hits[0]), offset + int(hits[-1])) if hits.size else None


def kept_labels(meta: CubeMeta, validity: Validity) -> dict[str, list[int]]:
    """The indices of the labels each non-spatial dimension keeps."""
    keep = {}
    for dim in meta.dims:
        if dim in SPATIAL:
            continue
        flags = validity.labels.get(dim, (False,) * len(meta.labels[dim]))
        hits = [i for i, ok in enumerate(flags) if ok]
        if hits and meta.dim_types.get(dim, "temporal" if dim == "t" else "other") in ORDERED_TYPES:
            hits = list(range(hits[0], hits[-1] + 1))
        keep[dim] = hits
    return keep


def trimmed(cube: LazyCube, validity: Validity, node_id: str) -> LazyCube:
    """``cube`` without its nodata-only border slices (and nodata-only categorical labels);
    ProcessGraphError naming the node when no valid value is left."""
    meta = cube.meta
    keep = kept_labels(meta, validity)
    spatial = meta.grid is not None and "y" in meta.dims
    if any(not k for k in keep.values()) or (spatial and (validity.rows is None or validity.cols is None)):
        raise ProcessGraphError(node_id, "data", "trim_cube: the data cube holds no valid value, "
                                                 "so nothing is left after trimming")
    grid = meta.grid
    if spatial:
        (r0, r1), (c0, c1) = validity.rows, validity.cols
        grid = grid.crop(Window(r0, c0, r1 - r0 + 1, c1 - c0 + 1))
    labels = {d: tuple(meta.labels[d][i] for i in keep.get(d, range(len(v)))) for d, v in meta.labels.items()}
    picks = [(meta.axis(d), np.asarray(k, dtype=int)) for d, k in keep.items() if len(k) < len(meta.labels[d])]

    def take(a: np.ndarray) -> np.ndarray:
        for axis, idx in picks:
            a = np.take(a, idx, axis=axis)
        return a

    periods = {k: v for k, v in meta.periods.items() if k in labels.get("t", ())}
    return DerivedCube(node_id, meta.replace(labels=labels, grid=grid, periods=periods), (cube,), take)

"""Cube processes combining values: mask, ndvi, merge_cubes.

``mask`` broadcasts a mask with fewer dimensions (e.g. a boolean cube from reduce_dimension over
bands) over the missing dimensions of ``data``. ``ndvi`` resolves ``nir``/``red`` by band name first,
then by common name or alias (``CubeMeta.band_aliases``) and computes with the registry's
``normalized_difference``. ``merge_cubes`` joins two cubes on one dimension whose labels differ,
resolving overlapping labels with ``overlap_resolver(x, y, context)``.
"""
from __future__ import annotations

import numpy as np

from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.cube.derived import DerivedCube, as_float
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.cubes import dimensions_of_type, match_band
from jobs.processes.reduce import probe, without_dimension
from jobs.processes.registry import Param, lookup, process
from jobs.plan.timelabels import parse_instant


def _same_grid(a: CubeMeta, b: CubeMeta, argument: str) -> None:
    if (a.grid is None) != (b.grid is None) or (a.grid is not None and a.grid != b.grid):
        raise ProcessGraphError(None, argument, f"the cubes' spatial grids differ ({a.grid} vs {b.grid}): "
                                                "use resample_cube_spatial/resample_spatial first")


def broadcaster(src: CubeMeta, dst: CubeMeta, argument: str):
    """A function putting an array of ``src``'s dims into ``dst``'s dim order, size-1 axes for missing dims."""
    missing = [d for d in src.dims if d not in dst.dims]
    if missing:
        raise ProcessGraphError(None, argument, f"dimension(s) {', '.join(missing)} are not in the data cube "
                                                f"({', '.join(dst.dims)})")
    for d in src.dims:
        if d not in ("x", "y") and tuple(src.labels[d]) != tuple(dst.labels[d]):
            raise ProcessGraphError(None, argument, f"labels of dimension {d!r} differ: {list(src.labels[d])} "
                                                    f"vs {list(dst.labels[d])}")
    order = sorted(range(len(src.dims)), key=lambda i: dst.dims.index(src.dims[i]))
    shape_dims = [d for d in dst.dims]

    def put(a: np.ndarray) -> np.ndarray:
        a = np.transpose(a, order)
        for axis, d in enumerate(shape_dims):
            if d not in src.dims:
                a = np.expand_dims(a, axis)
        return a

    return put


@process("mask", Param("data", kind="cube"), Param("mask", kind="cube"), Param("replacement", None), kind="cube")
def mask(ctx, node_id, data: LazyCube, mask: LazyCube, replacement=None):
    """``data`` with ``replacement`` (nodata by default) where ``mask`` is true / non-zero (nodata: kept)."""
    if replacement is not None and (isinstance(replacement, bool) or not isinstance(replacement, (int, float, str))):
        raise ProcessGraphError(None, "replacement", f"expected a number or null, got {replacement!r}")
    if isinstance(replacement, str):
        raise ProcessGraphError(None, "replacement", "string replacements are not supported in raster cubes")
    _same_grid(data.meta, mask.meta, "mask")
    put = broadcaster(mask.meta, data.meta, "mask")
    value = np.float32(np.nan if replacement is None else replacement)

    def apply_mask(d: np.ndarray, m: np.ndarray) -> np.ndarray:
        m = put(m)
        hit = m != 0
        if m.dtype.kind == "f":
            hit &= m == m                   # a no-data mask pixel keeps the value (NaN != 0 is true)
        if np.isnan(value) and d.dtype.kind == "f":
            # 0 / 1 = 0 and 0 / 0 = NaN: an addend that is NaN where hit, in two vectorised passes
            # (np.where with a scalar is ~5x slower); subtracting +0.0 keeps -0.0 as it is
            with np.errstate(invalid="ignore", divide="ignore"):
                return d - np.divide(d.dtype.type(0), ~hit, dtype=d.dtype)
        return np.where(hit, value, d)

    meta = data.meta
    keeps = replacement is None and meta.nodata is not None and not meta.dtype.startswith("float")
    return DerivedCube(node_id, meta if keeps else meta.computed(), (data, mask), apply_mask)


@process("ndvi", Param("data", kind="cube"), Param("nir", "nir", "string"), Param("red", "red", "string"),
         Param("target_band", None, "string"), kind="cube")
def ndvi(ctx, node_id, data: LazyCube, nir="nir", red="red", target_band=None):
    """(nir - red) / (nir + red); drops the bands dimension unless ``target_band`` names a new band."""
    meta = data.meta
    dims = dimensions_of_type(meta, "bands")
    if len(dims) != 1:
        raise ProcessError("DimensionAmbiguous", f"the cube needs exactly one bands dimension, it has {len(dims)}",
                           argument="data")
    dim = dims[0]
    i_nir = _one_band(meta, dim, nir, "NirBandAmbiguous", "nir")
    i_red = _one_band(meta, dim, red, "RedBandAmbiguous", "red")
    axis = meta.axis(dim)
    normalized_difference = lookup("normalized_difference").fn

    def compute(a: np.ndarray) -> np.ndarray:
        band = (slice(None),) * axis         # views of the two bands, not copies (np.take)
        nd = as_float(normalized_difference(x=a[band + (i_nir,)], y=a[band + (i_red,)]))
        if target_band is None:
            return nd
        return np.concatenate([a, np.expand_dims(nd, axis)], axis=axis)

    if target_band is None:
        return DerivedCube(node_id, without_dimension(meta, dim, band_name="ndvi").computed(), (data,), compute)
    if target_band in meta.labels[dim]:
        raise ProcessError("BandExists", f"a band named {target_band!r} exists already", argument="target_band")
    labels = {**meta.labels, dim: tuple(meta.labels[dim]) + (target_band,)}
    return DerivedCube(node_id, meta.replace(labels=labels).computed(), (data,), compute)


def _one_band(meta: CubeMeta, dim: str, name: str, code: str, argument: str) -> int:
    found = match_band(meta, dim, name)
    if len(found) != 1:
        what = "no band" if not found else f"{len(found)} bands"
        raise ProcessError(code, f"{what} named {name!r} (by name, common name or alias) among "
                                 f"{list(meta.labels[dim])}", argument=argument)
    return found[0]


@process("merge_cubes", Param("cube1", kind="cube"), Param("cube2", kind="cube"),
         Param("overlap_resolver", None, "callback", callback_params=("x", "y", "context")), Param("context", None),
         kind="cube")
def merge_cubes(ctx, node_id, cube1: LazyCube, cube2: LazyCube, overlap_resolver=None, context=None):
    """The union of two cubes along the one dimension whose labels differ; overlaps go to the resolver."""
    m1, m2 = cube1.meta, cube2.meta
    _same_grid(m1, m2, "cube2")
    if set(m2.dims) - set(m1.dims) or len(m2.dims) < len(m1.dims):
        if set(m2.dims) <= set(m1.dims):
            return _merge_broadcast(node_id, cube1, cube2, overlap_resolver, context)
        raise ProcessGraphError(None, "cube2", f"dimensions differ: {m1.dims} vs {m2.dims}")
    differ = [d for d in m1.dims if d not in ("x", "y") and tuple(m1.labels[d]) != tuple(m2.labels[d])]
    if not differ:
        return _merge_broadcast(node_id, cube1, cube2, overlap_resolver, context)
    if len(differ) > 1:
        raise ProcessGraphError(None, "cube2", f"labels differ in more than one dimension: {', '.join(differ)}")
    dim = differ[0]
    l1, l2 = tuple(m1.labels[dim]), tuple(m2.labels[dim])
    union = l1 + tuple(v for v in l2 if v not in l1)
    overlap = [v for v in l2 if v in l1]
    if overlap and overlap_resolver is None:
        raise ProcessError("OverlapResolverMissing", f"labels {overlap} of dimension {dim!r} are in both cubes",
                           argument="overlap_resolver")
    if m1.dim_types.get(dim) == "temporal":
        union = tuple(sorted(union, key=parse_instant))
    axis = m1.axis(dim)
    # for each output label: (index in cube1 or None, index in cube2 or None)
    sources = [(l1.index(v) if v in l1 else None, l2.index(v) if v in l2 else None) for v in union]
    order = [m2.dims.index(d) for d in m1.dims]      # cube2 may list its dims in another order

    def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        b = np.transpose(b, order)
        planes = []
        for i1, i2 in sources:
            if i2 is None:
                planes.append(np.take(a, i1, axis=axis))
            elif i1 is None:
                planes.append(np.take(b, i2, axis=axis))
            else:
                x, y = np.take(a, i1, axis=axis), np.take(b, i2, axis=axis)
                planes.append(np.broadcast_to(as_float(overlap_resolver(x=x, y=y, context=context)), x.shape))
        return np.stack(planes, axis=axis)

    labels = {**m1.labels, dim: union}
    aliases = {**m1.band_aliases, **m2.band_aliases}
    same = m1.dtype == m2.dtype and not overlap
    meta = m1.replace(labels=labels, band_aliases=aliases)
    return DerivedCube(node_id, meta if same else meta.computed(), (cube1, cube2), merge)


def _merge_broadcast(node_id, cube1: LazyCube, cube2: LazyCube, resolver, context) -> DerivedCube:
    """Every pixel overlaps (cube2 has the same labels or fewer dims): the resolver decides each."""
    if resolver is None:
        raise ProcessError("OverlapResolverMissing", "the cubes overlap completely", argument="overlap_resolver")
    put = broadcaster(cube2.meta, cube1.meta, "cube2")

    def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return as_float(resolver(x=a, y=put(b), context=context))

    probe(cube1.meta, lambda a: merge(a, np.ones(tuple(1 if d in ("x", "y") else len(cube2.meta.labels[d])
                                                        for d in cube2.meta.dims), np.float32)),
          "overlap_resolver")
    return DerivedCube(node_id, cube1.meta.computed(), (cube1, cube2), merge)

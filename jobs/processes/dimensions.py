"""Cube processes reshaping dimensions without touching values: rename_labels, drop_dimension,
add_dimension, rename_dimension; and dimension_labels, which reads them. Only the meta changes
(labels, dims); the tile function is a relabel or a reshape.
"""
from __future__ import annotations

import numpy as np

from jobs.cube.derived import DerivedCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.cubes import require_dimension
from jobs.processes.reduce import without_dimension
from jobs.processes.registry import Param, process


@process("rename_labels", Param("data", kind="cube"), Param("dimension", kind="string"), Param("target", kind="array"),
         Param("source", [], "array"), kind="cube")
def rename_labels(ctx, node_id, data, dimension, target, source=()):
    """Labels ``source`` -> ``target`` (enumerated labels 0..n-1 when ``source`` is empty)."""
    meta = data.meta
    require_dimension(meta, dimension)
    if dimension in ("x", "y"):
        raise ProcessGraphError(None, "dimension", "spatial dimension labels cannot be renamed")
    labels = list(meta.labels[dimension])
    if source:
        if len(source) != len(target):
            raise ProcessError("LabelMismatch", f"{len(source)} source labels but {len(target)} target labels",
                               argument="target")
        renames = {}
        for old, new in zip(source, target):
            index = _index(labels, old)
            if index is None:
                raise ProcessError("LabelNotAvailable", f"label {old!r} is not in dimension {dimension!r}",
                                   argument="source")
            renames[index] = new
    else:
        if not all(_index(labels, i) == i for i in range(len(labels))):
            raise ProcessError("LabelsNotEnumerated", f"the labels of {dimension!r} are not 0..n-1: give source",
                               argument="source")
        if len(target) != len(labels):
            raise ProcessError("LabelMismatch", f"{len(target)} target labels for {len(labels)} labels",
                               argument="target")
        renames = dict(enumerate(target))
    kept = [v for i, v in enumerate(labels) if i not in renames]
    for new in renames.values():
        if _index(kept, new) is not None:
            raise ProcessError("LabelExists", f"label {new!r} exists already in dimension {dimension!r}",
                               argument="target")
    new_labels = tuple(renames.get(i, v) for i, v in enumerate(labels))
    aliases = meta.band_aliases
    if meta.dim_types.get(dimension) == "bands":
        aliases = {renames.get(labels.index(b), b) if b in labels else b: a for b, a in aliases.items()}
    out = meta.replace(labels={**meta.labels, dimension: new_labels}, band_aliases=aliases)
    return DerivedCube(node_id, out, (data,), lambda a: a)


def _index(labels, value) -> int | None:
    # labels compare by value: 1 and 1.0 are one label, "1" is another
    for i, v in enumerate(labels):
        if v == value and isinstance(v, str) == isinstance(value, str):
            return i
    return None


@process("drop_dimension", Param("data", kind="cube"), Param("name", kind="string"), kind="cube")
def drop_dimension(ctx, node_id, data, name):
    """The cube without dimension ``name``, which must have exactly one label."""
    meta = data.meta
    require_dimension(meta, name, "name")
    if name in ("x", "y"):
        raise ProcessError("DimensionLabelCountMismatch", "a spatial dimension cannot be dropped", argument="name")
    if len(meta.labels[name]) != 1:
        raise ProcessError("DimensionLabelCountMismatch", f"dimension {name!r} has {len(meta.labels[name])} labels, "
                                                          "not 1", argument="name")
    axis = meta.axis(name)
    kept = str(meta.labels[name][0])       # the one band left keeps its label as its name
    return DerivedCube(node_id, without_dimension(meta, name, band_name=kept), (data,),
                       lambda a: np.take(a, 0, axis=axis))


@process("add_dimension", Param("data", kind="cube"), Param("name", kind="string"), Param("label"),
         Param("type", "other", "string"), kind="cube")
def add_dimension(ctx, node_id, data, name, label, type="other"):  # noqa: A002 (openEO parameter name)
    """A new dimension ``name`` with the single label ``label``, placed first (spatial dims stay last)."""
    meta = data.meta
    if name in meta.dims:
        raise ProcessError("DimensionExists", f"dimension {name!r} exists already", argument="name")
    if type == "spatial":
        raise ProcessGraphError(None, "type", "adding a spatial dimension is not supported")
    out = meta.replace(dims=(name,) + meta.dims, labels={**meta.labels, name: (label,)},
                       dim_types={**meta.dim_types, name: type})
    return DerivedCube(node_id, out, (data,), lambda a: a[np.newaxis])


@process("rename_dimension", Param("data", kind="cube"), Param("source", kind="string"), Param("target", kind="string"),
         kind="cube")
def rename_dimension(ctx, node_id, data, source, target):
    """The cube with dimension ``source`` called ``target``; type, labels and values unchanged."""
    meta = data.meta
    require_dimension(meta, source, "source")
    if target in meta.dims:
        raise ProcessError("DimensionExists", f"dimension {target!r} exists already", argument="target")
    if source in ("x", "y") or meta.dim_types.get(source) == "spatial":
        # tiles, grids and the GeoTIFF writer address the spatial axes as y and x
        raise ProcessGraphError(None, "source", f"renaming the spatial dimension {source!r} is not supported")
    if target in ("x", "y"):
        raise ProcessGraphError(None, "target", f"{target!r} is reserved for the spatial dimensions")

    def renamed(mapping):
        return {(target if d == source else d): v for d, v in mapping.items()}

    out = meta.replace(dims=tuple(target if d == source else d for d in meta.dims), labels=renamed(meta.labels),
                       dim_types=renamed({**{source: meta.dim_types.get(source, "other")}, **meta.dim_types}))
    return DerivedCube(node_id, out, (data,), lambda a: a)


@process("dimension_labels", Param("data", kind="cube"), Param("dimension", kind="string"), kind="cube")
def dimension_labels(ctx, node_id, data, dimension):
    """The labels of ``dimension`` (coordinates of pixel centres for x and y), known on the driver."""
    meta = data.meta
    require_dimension(meta, dimension)
    if dimension in ("x", "y") and meta.grid is not None:
        grid = meta.grid
        if dimension == "x":
            return [grid.affine.c + (i + 0.5) * grid.affine.a for i in range(grid.width)]
        return [grid.affine.f + (i + 0.5) * grid.affine.e for i in range(grid.height)]
    return list(meta.labels[dimension])

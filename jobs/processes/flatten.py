"""flatten_dimensions and unflatten_dimension (2.0 proposals): several non-spatial dimensions as one whose
labels join theirs with a separator (``2020~B1``), and back. Values are only reshaped.

The flattened dimension takes the place of the first dimension named, of type ``other`` (named
``bands`` it is the bands dimension, so a flattened ``t`` x ``bands`` saves as bands of one GeoTIFF).
Spatial dimensions stay as they are: tiles address them as ``y`` and ``x``.
"""
from __future__ import annotations

import itertools

import numpy as np

from jobs.cube.derived import DerivedCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.cubes import require_dimension
from jobs.processes.registry import Param, process


def _not_spatial(meta, dim: str, argument: str) -> None:
    if dim in ("x", "y") or meta.dim_types.get(dim) == "spatial":
        raise ProcessGraphError(None, argument, f"the spatial dimension {dim!r} cannot be (un)flattened")


def _new_type(name: str) -> str:
    return "bands" if name == "bands" else "other"


@process("flatten_dimensions", Param("data", kind="cube"), Param("dimensions", kind="array"),
         Param("target_dimension", kind="string"), Param("label_separator", "~", "string"), kind="cube")
def flatten_dimensions(ctx, node_id, data, dimensions, target_dimension, label_separator="~"):
    """``dimensions`` combined into ``target_dimension``, labels joined with ``label_separator`` in row-major order."""
    meta = data.meta
    names = list(dimensions)
    if not names:
        raise ProcessGraphError(None, "dimensions", "at least one dimension is required")
    for d in names:
        require_dimension(meta, d, "dimensions")
        _not_spatial(meta, d, "dimensions")
    if len(set(names)) != len(names):
        raise ProcessGraphError(None, "dimensions", f"a dimension is named twice: {names}")
    if target_dimension in meta.dims and target_dimension not in names:
        raise ProcessError("TargetDimensionExists", f"dimension {target_dimension!r} exists already",
                           argument="target_dimension")
    position = min(meta.axis(d) for d in names)
    rest = [d for d in meta.dims if d not in names]
    order = rest[:position] + names + rest[position:]
    perm = [meta.axis(d) for d in order]
    labels = tuple(label_separator.join(str(v) for v in combo)
                   for combo in itertools.product(*(meta.labels[d] for d in names)))
    dims = tuple(rest[:position] + [target_dimension] + rest[position:])
    new_labels = {d: meta.labels[d] for d in rest if d in meta.labels}
    new_labels[target_dimension] = labels
    types = {d: meta.dim_types.get(d, "other") for d in rest}
    types[target_dimension] = _new_type(target_dimension)
    out = meta.replace(dims=dims, labels=new_labels, dim_types=types, periods={},
                       band_aliases={} if any(meta.dim_types.get(d) == "bands" for d in names) else meta.band_aliases)

    def flatten(a: np.ndarray) -> np.ndarray:
        moved = np.transpose(a, perm)
        return moved.reshape(moved.shape[:position] + (-1,) + moved.shape[position + len(names):])

    return DerivedCube(node_id, out, (data,), flatten)


@process("unflatten_dimension", Param("data", kind="cube"), Param("dimension", kind="string"),
         Param("target_dimensions", kind="array"), Param("label_separator", "~", "string"), kind="cube")
def unflatten_dimension(ctx, node_id, data, dimension, target_dimensions, label_separator="~"):
    """``dimension`` split into ``target_dimensions`` by splitting its labels at ``label_separator``."""
    meta = data.meta
    require_dimension(meta, dimension)
    _not_spatial(meta, dimension, "dimension")
    names = list(target_dimensions)
    if len(names) < 1 or len(set(names)) != len(names):
        raise ProcessGraphError(None, "target_dimensions", f"distinct dimension names expected, got {names}")
    for d in names:
        if d in meta.dims and d != dimension:
            raise ProcessError("TargetDimensionExists", f"dimension {d!r} exists already", argument="target_dimensions")
    parts = [str(v).split(label_separator) for v in meta.labels[dimension]]
    if any(len(p) != len(names) for p in parts):
        raise ProcessGraphError(None, "target_dimensions", f"the labels of {dimension!r} do not all split into "
                                                           f"{len(names)} parts at {label_separator!r}")
    split = [tuple(dict.fromkeys(p[i] for p in parts)) for i in range(len(names))]
    if [list(c) for c in itertools.product(*split)] != parts:
        raise ProcessGraphError(None, "data", f"the labels of {dimension!r} are not every combination of their "
                                              "parts in order: the dimension cannot be unflattened")
    axis = meta.axis(dimension)
    dims = meta.dims[:axis] + tuple(names) + meta.dims[axis + 1:]
    labels = {d: v for d, v in meta.labels.items() if d != dimension}
    labels.update(zip(names, split))
    types = {d: v for d, v in meta.dim_types.items() if d != dimension}
    types.update({d: _new_type(d) for d in names})
    out = meta.replace(dims=dims, labels=labels, dim_types=types, periods={},
                       band_aliases={} if meta.dim_types.get(dimension) == "bands" else meta.band_aliases)
    shape = tuple(len(s) for s in split)
    return DerivedCube(node_id, out, (data,), lambda a: a.reshape(a.shape[:axis] + shape + a.shape[axis + 1:]))

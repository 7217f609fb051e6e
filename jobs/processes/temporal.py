"""aggregate_temporal_period: reduce a temporal dimension per calendar period.

The output labels are every period from the first to the last input label (openEO 1.2.0 formats,
``jobs.plan.timelabels``); a period without input labels is still emitted and its values are what the
reducer gives for an empty array (nodata for median, mean, min, max...). The reducer runs
vectorised once per period, on a ``LabeledArray`` of that period's slices.
"""
from __future__ import annotations

import numpy as np

from jobs.graph.callback import Callback
from jobs.cube.derived import DerivedCube, as_float
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.cubes import dimensions_of_type, require_dimension
from jobs.processes.labeled import LabeledArray
from jobs.processes.reduce import PASS_THROUGH, probe
from jobs.processes.registry import Param, process
from jobs.plan.timelabels import PERIODS, label_periods, period_label


@process("aggregate_temporal_period", Param("data", kind="cube"), Param("period", kind="string"),
         Param("reducer", kind="callback", callback_params=("data", "context")), Param("dimension", None, "string"),
         Param("context", None), kind="cube")
def aggregate_temporal_period(ctx, node_id, data, period: str, reducer: Callback, dimension=None, context=None):
    """One label per ``period`` (hour ... decade-ad), each the reducer over the labels in that period."""
    meta = data.meta
    if period not in PERIODS:
        raise ProcessGraphError(None, "period", f"unknown period {period!r} (one of {', '.join(PERIODS)})")
    if dimension is None:
        temporal = dimensions_of_type(meta, "temporal")
        if len(temporal) > 1:
            raise ProcessError("TooManyDimensions", f"the cube has {len(temporal)} temporal dimensions "
                                                    f"({', '.join(temporal)}): name one", argument="dimension")
        if not temporal:
            raise ProcessError("DimensionNotAvailable", "the cube has no temporal dimension", argument="data")
        dimension = temporal[0]
    require_dimension(meta, dimension)
    labels = tuple(meta.labels[dimension])
    if len(set(labels)) != len(labels):
        raise ProcessError("DistinctDimensionLabelsRequired", f"dimension {dimension!r} has duplicate labels",
                           argument="data")
    try:
        of_label = [period_label(t, period) for t in labels]
    except (TypeError, ValueError):
        raise ProcessGraphError(None, "data", f"labels of {dimension!r} are not dates: {list(labels)[:3]}") from None
    periods = label_periods(labels, period)
    out_labels = list(periods)
    members = [[i for i, p in enumerate(of_label) if p == label] for label in out_labels]
    axis = meta.axis(dimension)

    def aggregate(a: np.ndarray) -> np.ndarray:
        values = np.moveaxis(a, axis, 0)
        planes = []
        for idx in members:
            part = LabeledArray(values[idx], tuple(labels[i] for i in idx))
            result = as_float(reducer(data=part, context=context))
            planes.append(np.broadcast_to(result, values.shape[1:]))
        if not planes:
            return np.empty((0,) + values.shape[1:], dtype=a.dtype)
        return np.moveaxis(np.stack(planes), 0, axis)

    out = meta.replace(labels={**meta.labels, dimension: tuple(out_labels)}, periods=periods)
    probe(meta, aggregate, "reducer")
    keeps_dtype = reducer.single_process("data") in PASS_THROUGH and not meta.dtype.startswith("float")
    return DerivedCube(node_id, out if keeps_dtype else out.computed(), (data,), aggregate)

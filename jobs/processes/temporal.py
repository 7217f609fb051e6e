"""Temporal cube processes: aggregate_temporal_period, aggregate_temporal, resample_cube_temporal.

aggregate_temporal_period's output labels are every period from the first to the last input label
(openEO 1.2.0 formats, ``jobs.plan.timelabels``); a period without input labels is still emitted and its
values are what the reducer gives for an empty array (nodata for median, mean, min, max...).
aggregate_temporal does the same over user intervals (left-closed, possibly overlapping). Both run
the reducer vectorised once per group, on a ``LabeledArray`` of that group's slices.
resample_cube_temporal picks, per target label, the nearest source label (ties: the earlier one).
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Sequence

import numpy as np

from jobs.graph.callback import Callback
from jobs.cube.derived import DerivedCube, as_float
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.cubes import dimensions_of_type, require_dimension
from jobs.processes.labeled import LabeledArray
from jobs.processes.reduce import PASS_THROUGH, probe
from jobs.processes.registry import Param, process
from jobs.plan.timelabels import PERIODS, LabelPeriod, label_periods, parse_instant, period_label


def temporal_dimension(meta: CubeMeta, dimension: str | None) -> str:
    """``dimension``, or the cube's one temporal dimension when None (TooManyDimensions / DimensionNotAvailable)."""
    if dimension is None:
        temporal = dimensions_of_type(meta, "temporal")
        if len(temporal) > 1:
            raise ProcessError("TooManyDimensions", f"the cube has {len(temporal)} temporal dimensions "
                                                    f"({', '.join(temporal)}): name one", argument="dimension")
        if not temporal:
            raise ProcessError("DimensionNotAvailable", "the cube has no temporal dimension", argument="data")
        return temporal[0]
    return require_dimension(meta, dimension)


def instants_of(meta: CubeMeta, dimension: str) -> list[datetime]:
    """The labels of ``dimension`` as datetimes (an aggregated period's label: its start); a
    ProcessGraphError when they are not dates."""
    labels = meta.labels[dimension]
    try:
        return [meta.periods[t].start if t in meta.periods else parse_instant(t) for t in labels]
    except (TypeError, ValueError):
        raise ProcessGraphError(None, "data", f"labels of {dimension!r} are not dates: {list(labels)[:3]}") from None


def _grouped(node_id: str, data: LazyCube, dimension: str, members: Sequence[Sequence[int]], out_labels: tuple,
             reducer: Callback, context, **meta_changes) -> DerivedCube:
    """The reducer over each group of ``dimension``'s positions; group ``i`` becomes label ``out_labels[i]``."""
    meta = data.meta
    labels = tuple(meta.labels[dimension])
    axis = meta.axis(dimension)

    def aggregate(a: np.ndarray) -> np.ndarray:
        values = np.moveaxis(a, axis, 0)
        planes = []
        for idx in members:
            part = LabeledArray(values[list(idx)], tuple(labels[i] for i in idx))
            result = as_float(reducer(data=part, context=context))
            planes.append(np.broadcast_to(result, values.shape[1:]))
        if not planes:
            return np.empty((0,) + values.shape[1:], dtype=a.dtype)
        return np.moveaxis(np.stack(planes), 0, axis)

    out = meta.replace(labels={**meta.labels, dimension: tuple(out_labels)}, **meta_changes)
    probe(meta, aggregate, "reducer")
    keeps_dtype = reducer.single_process("data") in PASS_THROUGH and not meta.dtype.startswith("float")
    return DerivedCube(node_id, out if keeps_dtype else out.computed(), (data,), aggregate)


def _distinct(meta: CubeMeta, dimension: str) -> None:
    labels = meta.labels[dimension]
    if len(set(labels)) != len(labels):
        raise ProcessError("DistinctDimensionLabelsRequired", f"dimension {dimension!r} has duplicate labels",
                           argument="data")


@process("aggregate_temporal_period", Param("data", kind="cube"), Param("period", kind="string"),
         Param("reducer", kind="callback", callback_params=("data", "context")), Param("dimension", None, "string"),
         Param("context", None), kind="cube")
def aggregate_temporal_period(ctx, node_id, data, period: str, reducer: Callback, dimension=None, context=None):
    """One label per ``period`` (hour ... decade-ad), each the reducer over the labels in that period."""
    meta = data.meta
    if period not in PERIODS:
        raise ProcessGraphError(None, "period", f"unknown period {period!r} (one of {', '.join(PERIODS)})")
    dimension = temporal_dimension(meta, dimension)
    _distinct(meta, dimension)
    instants = instants_of(meta, dimension)
    of_label = [period_label(t, period) for t in instants]
    periods = label_periods(instants, period)
    members = [[i for i, p in enumerate(of_label) if p == label] for label in periods]
    return _grouped(node_id, data, dimension, members, tuple(periods), reducer, context, periods=periods)


_TIME_OF_DAY = re.compile(r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _interval_bound(value, argument: str) -> datetime | time | None:
    """An interval bound: a datetime (hour 24 of an end is midnight of the next day), a time of day
    (``06:00:00``, the 2.0 daily intervals) or None (open, 2.0)."""
    if value is None:
        return None
    text = str(value).strip()
    if _TIME_OF_DAY.match(text):
        return time.fromisoformat(text)
    shifted = "T24:" in text or " 24:" in text
    if shifted:
        text = text.replace("T24:", "T00:").replace(" 24:", " 00:")
    try:
        instant = parse_instant(text)
    except (TypeError, ValueError):
        raise ProcessGraphError(None, argument, f"{value!r} is not an RFC 3339 date or date-time") from None
    return instant + timedelta(days=1) if shifted else instant


def _members(interval, times: Sequence[datetime]) -> tuple[list[int], LabelPeriod | None]:
    """Positions of ``times`` in the left-closed ``interval``, and the period it spans (None: not dates)."""
    if not isinstance(interval, (list, tuple)) or len(interval) != 2:
        raise ProcessGraphError(None, "intervals", f"each interval has two elements [start, end], got {interval!r}")
    start, end = (_interval_bound(v, "intervals") for v in interval)
    if isinstance(start, time) or isinstance(end, time):
        if not (isinstance(start, time) and isinstance(end, time)):
            raise ProcessGraphError(None, "intervals", f"{interval!r} mixes a time of day and a date")
        # a daily window; one whose end is not after its start runs over midnight
        inside = (lambda c: start <= c < end) if start < end else (lambda c: c >= start or c < end)
        return [i for i, t in enumerate(times) if inside(t.time())], None
    if start is not None and end is not None and end <= start:
        raise ProcessError("TemporalExtentEmpty", f"the interval {interval!r} ends before it starts",
                           argument="intervals")
    idx = [i for i, t in enumerate(times) if (start is None or start <= t) and (end is None or t < end)]
    if start is None or end is None:
        return idx, None
    return idx, LabelPeriod(start, end, len(idx))


@process("aggregate_temporal", Param("data", kind="cube"), Param("intervals", kind="array"),
         Param("reducer", kind="callback", callback_params=("data", "context")), Param("labels", [], "array"),
         Param("dimension", None, "string"), Param("context", None), kind="cube")
def aggregate_temporal(ctx, node_id, data, intervals, reducer: Callback, labels=(), dimension=None, context=None):
    """One label per left-closed interval ``[start, end)``, the reducer over the input labels inside it."""
    meta = data.meta
    dimension = temporal_dimension(meta, dimension)
    times = instants_of(meta, dimension)
    grouped = [_members(interval, times) for interval in intervals]
    labels = tuple(labels or ())
    if labels and len(labels) != len(grouped):
        raise ProcessError("LabelMismatch", f"{len(labels)} labels for {len(grouped)} intervals", argument="labels")
    out_labels = labels or tuple(i[0] for i in intervals)
    if None in out_labels or len(set(out_labels)) != len(out_labels):
        raise ProcessError("DistinctDimensionLabelsRequired", "the intervals' start times are not distinct "
                                                              "(or one is open): give labels", argument="labels")
    # the items of the results span their interval, as aggregate_temporal_period's do
    periods = {str(label): period for label, (_, period) in zip(out_labels, grouped) if period is not None}
    return _grouped(node_id, data, dimension, [idx for idx, _ in grouped], out_labels, reducer, context,
                    periods=periods)


@process("resample_cube_temporal", Param("data", kind="cube"), Param("target", kind="cube"),
         Param("dimension", None, "string"), Param("valid_within", None, "number"), kind="cube")
def resample_cube_temporal(ctx, node_id, data, target, dimension=None, valid_within=None):
    """The temporal labels of ``target``, each with the nearest source slice (ties: the earlier one);
    with ``valid_within`` (days), per pixel the nearest valid value within that many days, else nodata."""
    meta, tmeta = data.meta, target.meta
    if dimension is None:
        shared = [d for d in dimensions_of_type(meta, "temporal") if d in dimensions_of_type(tmeta, "temporal")]
        if not shared:
            raise ProcessError("DimensionMismatch", "the cubes share no temporal dimension", argument="target")
        dims = shared
    else:
        if dimension not in meta.dims and dimension not in tmeta.dims:
            raise ProcessError("DimensionNotAvailable", f"dimension {dimension!r} exists in neither cube",
                               argument="dimension")
        if dimension not in dimensions_of_type(meta, "temporal") or dimension not in dimensions_of_type(tmeta, "temporal"):
            raise ProcessError("DimensionMismatch", f"dimension {dimension!r} is not temporal in both cubes",
                               argument="dimension")
        dims = [dimension]
    cube = data
    for dim in dims:
        cube = _nearest_in_time(node_id, cube, dim, tmeta, valid_within)
    return cube


def _nearest_in_time(node_id: str, data: LazyCube, dim: str, target: CubeMeta, valid_within) -> DerivedCube:
    meta = data.meta
    times = instants_of(meta, dim)
    targets = tuple(target.labels[dim])
    axis = meta.axis(dim)
    window = None if valid_within is None else timedelta(days=float(valid_within))
    # per target label, the source positions by distance (earlier first on ties), within the window
    order = []
    for t in instants_of(target, dim):
        ranked = sorted(range(len(times)), key=lambda i: (abs(times[i] - t), times[i]))
        order.append([i for i in ranked if window is None or abs(times[i] - t) <= window])

    def resample(a: np.ndarray) -> np.ndarray:
        values = np.moveaxis(a, axis, 0)
        planes = []
        for candidates in order:
            plane = np.full(values.shape[1:], np.nan, dtype=values.dtype)
            if window is None:
                plane = values[candidates[0]] if candidates else plane
            else:
                for i in candidates:              # the nearest valid value per pixel
                    plane = np.where(np.isnan(plane), values[i], plane)
            planes.append(plane)
        if not planes:
            return np.empty((0,) + values.shape[1:], dtype=a.dtype)
        return np.moveaxis(np.stack(planes), 0, axis)

    out = meta.replace(labels={**meta.labels, dim: targets},
                       periods={t: target.periods[t] for t in targets if t in target.periods})
    return DerivedCube(node_id, out if window is None else out.computed(), (data,), resample)

"""climatological_normal and anomaly: long-term means per calendar period, and departures from them.

climatological_normal averages (mean, ignoring nodata) every label of the one temporal dimension that
falls in the climatology period into the 1.2.0 normal labels: ``01``-``12`` (month), ``001``-``365``
(day, on a 365-day calendar: 29 February counts as 28 February, so 31 December is always ``365``),
``djf mam jja son`` (season), ``ndjfma mjjaso`` (tropical-season) or ``climatology-period``. A season
starting before the first year (December, November) counts when those months are in the cube; the
season still running at the end of the last year never does (the spec's rule).

anomaly subtracts, per label of ``data``, the normal of its period. ``data`` labels may be the period
labels aggregate_temporal_period makes (``2020-01``, ``2020-djf``...) or dates, which are mapped to
their period; a label whose normal is missing gives nodata.
"""
from __future__ import annotations

import re
from datetime import datetime

import numpy as np

from jobs.cube.derived import DerivedCube
from jobs.cube.lazy import CubeMeta, LazyCube
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.registry import Param, process
from jobs.processes.temporal import instants_of, temporal_dimension
from jobs.plan.timelabels import LabelPeriod, parse_instant, period_label

_SEASONS = {12: "djf", 1: "djf", 2: "djf", 3: "mam", 4: "mam", 5: "mam",
            6: "jja", 7: "jja", 8: "jja", 9: "son", 10: "son", 11: "son"}
_TROPICAL = {m: ("ndjfma" if m in (11, 12, 1, 2, 3, 4) else "mjjaso") for m in range(1, 13)}

# period -> the normals' labels, in order
NORMAL_LABELS = {
    "day": tuple(f"{d:03d}" for d in range(1, 366)),
    "month": tuple(f"{m:02d}" for m in range(1, 13)),
    "season": ("djf", "mam", "jja", "son"),
    "tropical-season": ("ndjfma", "mjjaso"),
    "climatology-period": ("climatology-period",),
}
ANOMALY_PERIODS = ("hour", "day", "week", "dekad", "month", "season", "tropical-season", "year", "decade",
                   "decade-ad", "climatology-period", "single-period")


def day_of_year_365(t: datetime) -> int:
    """Day of the year on a 365-day calendar: 29 February is day 59, like 28 February."""
    if t.month == 2 and t.day == 29:
        return 59
    return datetime(2001, t.month, t.day).timetuple().tm_yday


def normal_label(t: datetime, period: str) -> str:
    """The normals' label of the ``period`` (a climatological_normal period) that ``t`` falls in."""
    if period == "day":
        return f"{day_of_year_365(t):03d}"
    if period == "month":
        return f"{t.month:02d}"
    if period == "season":
        return _SEASONS[t.month]
    if period == "tropical-season":
        return _TROPICAL[t.month]
    return "climatology-period"


def climatology_window(period: str, first_year: int, last_year: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of the labels averaged: whole years, seasons starting in the year before included."""
    if period == "season":
        return datetime(first_year - 1, 12, 1), datetime(last_year, 12, 1)
    if period == "tropical-season":
        return datetime(first_year - 1, 11, 1), datetime(last_year, 11, 1)
    return datetime(first_year, 1, 1), datetime(last_year + 1, 1, 1)


def _year(value, argument: str) -> int:
    match = re.match(r"^\s*(\d{4})", str(value))
    if not match:
        raise ProcessGraphError(None, argument, f"{value!r} is not a year")
    return int(match.group(1))


@process("climatological_normal", Param("data", kind="cube"), Param("period", kind="string"),
         Param("climatology_period", ["1981", "2010"], "array"), kind="cube")
def climatological_normal(ctx, node_id, data: LazyCube, period: str, climatology_period=("1981", "2010")):
    """The mean per ``period`` (day, month, season, tropical-season, climatology-period) over the years
    of ``climatology_period`` (both included)."""
    meta = data.meta
    if period not in NORMAL_LABELS:
        raise ProcessGraphError(None, "period", f"unknown period {period!r} (one of {', '.join(NORMAL_LABELS)})")
    if not isinstance(climatology_period, (list, tuple)) or len(climatology_period) != 2:
        raise ProcessGraphError(None, "climatology_period", f"two years [first, last] expected, "
                                                            f"got {climatology_period!r}")
    first, last = (_year(y, "climatology_period") for y in climatology_period)
    if first > last:
        raise ProcessGraphError(None, "climatology_period", f"the first year {first} is after the last {last}")
    dim = temporal_dimension(meta, None)
    start, end = climatology_window(period, first, last)
    keys = [normal_label(t, period) if start <= t < end else None for t in instants_of(meta, dim)]
    if not any(k is not None for k in keys):
        raise ProcessGraphError(None, "data", f"no label of {dim!r} lies in the climatology period {first}-{last}")
    out_labels = NORMAL_LABELS[period]
    members = [np.array([i for i, k in enumerate(keys) if k == label], dtype=int) for label in out_labels]
    axis = meta.axis(dim)

    def normals(a: np.ndarray) -> np.ndarray:
        values = np.moveaxis(a, axis, 0)
        planes = []
        for idx in members:
            part = values[idx]
            valid = ~np.isnan(part)
            # mean ignoring nodata; a period without valid values is nodata (0/0)
            planes.append(np.where(valid, part, 0).sum(axis=0) / valid.sum(axis=0))
        return np.moveaxis(np.stack(planes), 0, axis)

    # each normal stands for the whole climatology period (the results' items span it)
    periods = {label: LabelPeriod(start, end, len(idx)) for label, idx in zip(out_labels, members)}
    out = meta.replace(labels={**meta.labels, dim: out_labels}, periods=periods)
    return DerivedCube(node_id, out.computed(), (data,), normals)


def anomaly_key(label, period: str) -> str:
    """The normals' label for one ``data`` label: a period label (``2020-01``, ``2020-djf``) or a date."""
    text = str(label)
    if period in ("year", "decade", "decade-ad"):
        return text[:4]
    is_hour_label = re.match(r"^\d{4}-\d{2}-\d{2}-\d{2}$", text)
    if re.match(r"^\d{4}-\d{2}-\d{2}([T ]|$)", text) and not is_hour_label:
        t = parse_instant(text)
        if period in NORMAL_LABELS:
            return normal_label(t, period)
        return period_label(t, period).rsplit("-", 1)[-1]
    return text.rsplit("-", 1)[-1]


def _aligned(meta: CubeMeta, dim: str, nmeta: CubeMeta, ndim: str) -> None:
    """normals must have data's dimensions (temporal apart) in the same order, labels and grid."""
    others = [d for d in meta.dims if d != dim]
    if [d for d in nmeta.dims if d != ndim] != others or meta.axis(dim) != nmeta.axis(ndim):
        raise ProcessError("DimensionMismatch", f"normals has dimensions {nmeta.dims}, data {meta.dims}",
                           argument="normals")
    for d in others:
        if d not in ("x", "y") and tuple(meta.labels[d]) != tuple(nmeta.labels[d]):
            raise ProcessError("DimensionMismatch", f"labels of {d!r} differ between data and normals",
                               argument="normals")
    if meta.grid != nmeta.grid:
        raise ProcessError("DimensionMismatch", "normals lies on another spatial grid than data", argument="normals")


@process("anomaly", Param("data", kind="cube"), Param("normals", kind="cube"), Param("period", kind="string"),
         kind="cube")
def anomaly(ctx, node_id, data: LazyCube, normals: LazyCube, period: str):
    """``data`` minus the normal of each label's ``period``."""
    meta, nmeta = data.meta, normals.meta
    if period not in ANOMALY_PERIODS:
        raise ProcessGraphError(None, "period", f"unknown period {period!r} (one of {', '.join(ANOMALY_PERIODS)})")
    dim = temporal_dimension(meta, None)
    ndim = temporal_dimension(nmeta, None)
    _aligned(meta, dim, nmeta, ndim)
    normal_labels = [str(v) for v in nmeta.labels[ndim]]
    if period in ("climatology-period", "single-period"):
        if len(normal_labels) != 1:
            raise ProcessError("ProcessParameterInvalid", f"normals of a {period} need one label, "
                                                          f"it has {len(normal_labels)}", argument="normals")
        index = [0] * len(meta.labels[dim])
    else:
        try:
            # an aggregated label maps by its period's start (day: on the normals' 365-day calendar)
            keys = [normal_label(meta.periods[label].start, period)
                    if label in meta.periods and period in NORMAL_LABELS else anomaly_key(label, period)
                    for label in meta.labels[dim]]
        except (TypeError, ValueError):
            raise ProcessGraphError(None, "data", f"labels of {dim!r} are not {period} labels or dates") from None
        index = [normal_labels.index(k) if k in normal_labels else -1 for k in keys]
    idx = np.asarray(index, dtype=int)
    axis = meta.axis(dim)

    def subtract(a: np.ndarray, n: np.ndarray) -> np.ndarray:
        if not len(idx):
            return a
        picked = np.take(n, np.maximum(idx, 0), axis=axis)
        missing = np.reshape(idx < 0, [-1 if i == axis else 1 for i in range(a.ndim)])
        return a - np.where(missing, np.nan, picked)

    return DerivedCube(node_id, meta.computed(), (data, normals), subtract)

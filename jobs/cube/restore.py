"""What ``load_stac`` restores of a sparkeo job's results besides pixels and labels: the calendar
periods of aggregated time labels, and the dimensions the saved cube had.

A job writes each file's ``t`` label (``sparkeo:time_label``), an aggregated label's period
(``start_datetime``/``end_datetime``, inclusive end) and observation count (``sparkeo:observations``),
and the cube's dimensions (``cube:dimensions`` of its collection: no ``t`` when it was reduced, no
``bands`` when a process dropped them). Loading the results back gives the same cube: the same
periods in its metadata (so a second job's documents say the same), and the dimensions it had.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Sequence

import numpy as np

from jobs.cube.derived import DerivedCube
from jobs.cube.lazy import LazyCube
from jobs.plan.planner import TimeSlice
from jobs.plan.timelabels import TIME_LABEL_KEY, LabelPeriod, parse_instant

OBSERVATIONS_KEY = "sparkeo:observations"
# STAC's end_datetime is inclusive; the results documents write a period's last second
INCLUSIVE_END = dt.timedelta(seconds=1)


def label_periods(slices: Iterable[TimeSlice]) -> dict[str, LabelPeriod]:
    """Time label -> its period, for the slices whose items a job wrote as aggregated periods."""
    out = {}
    for s in slices:
        for item in s.items:
            p = item.properties
            if p.get(TIME_LABEL_KEY) == s.label and p.get("start_datetime") and p.get("end_datetime"):
                observations = p.get(OBSERVATIONS_KEY)
                out[s.label] = LabelPeriod(parse_instant(p["start_datetime"]),
                                           parse_instant(p["end_datetime"]) + INCLUSIVE_END,
                                           observations if isinstance(observations, int) else len(s.items))
                break
    return out


def with_declared_dimensions(cube: LazyCube, declared: Sequence[str] | None, node_id: str) -> LazyCube:
    """``cube`` (t, bands, y, x) without the single-label ``t`` or ``bands`` dimension the document
    does not declare; unchanged when it declares no dimensions or the dimension has several labels."""
    if declared is None or "spatial" not in declared:
        return cube
    meta = cube.meta
    drop = [d for d, kind in (("t", "temporal"), ("bands", "bands"))
            if kind not in declared and len(meta.labels[d]) == 1]
    if not drop:
        return cube
    axes = tuple(meta.axis(d) for d in drop)
    labels = {k: v for k, v in meta.labels.items() if k not in drop}
    changes = {"band_name": meta.labels["bands"][0]} if "bands" in drop else {}
    narrowed = meta.replace(dims=tuple(d for d in meta.dims if d not in drop), labels=labels,
                            dim_types={k: v for k, v in meta.dim_types.items() if k not in drop},
                            periods={} if "t" in drop else meta.periods, **changes)
    return DerivedCube(node_id, narrowed, (cube,), lambda a: np.squeeze(a, axis=axes))

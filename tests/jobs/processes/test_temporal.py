"""aggregate_temporal_period and its period labels (``jobs.plan.timelabels``), against numpy."""
from __future__ import annotations

import warnings
from datetime import datetime

import numpy as np
import pytest

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.errors import ProcessError
from jobs.graph.evaluate import build
from jobs.graph.parse import ProcessGraph
from jobs.plan.timelabels import LabelPeriod, parse_instant, period_label, periods_spanning
from tests.fixtures.cubes import UTM_GRID, ArraySource


@pytest.mark.parametrize("instant, period, label", [
    ("2024-01-28T00:00:00Z", "dekad", "2024-03"), ("2024-02-01", "dekad", "2024-04"),
    ("2024-02-29", "dekad", "2024-06"), ("2024-12-31", "dekad", "2024-36"),
    ("2023-12-28", "season", "2023-djf"), ("2024-02-29", "season", "2023-djf"), ("2024-03-01", "season", "2024-mam"),
    ("2023-11-01", "tropical-season", "2023-ndjfma"), ("2024-04-30", "tropical-season", "2023-ndjfma"),
    ("2024-05-01", "tropical-season", "2024-mjjaso"), ("2021-06-15", "month", "2021-06"),
    ("2021-06-15", "year", "2021"), ("2020-02-01", "day", "2020-032"), ("2023-01-01", "week", "2022-52"),
    ("2020-06-01T04:30:00+02:00", "hour", "2020-06-01-02"), ("2029-12-31", "decade", "2020"),
    ("2020-12-31", "decade-ad", "2011"), ("2021-01-01", "decade-ad", "2021"),
])
def test_period_labels(instant, period, label):
    assert period_label(instant, period) == label


def test_every_period_between_first_and_last_is_listed():
    assert periods_spanning(["2021-06-15", "2021-01-03"], "month") == [f"2021-{m:02d}" for m in range(1, 7)]
    assert periods_spanning(["2023-12-01", "2024-09-01"], "season") == ["2023-djf", "2024-mam", "2024-jja", "2024-son"]
    assert parse_instant("2021-06-01T10:00:00Z") == parse_instant("2021-06-01T12:00:00+02:00")


DATES = ("2021-01-05", "2021-01-25", "2021-03-02", "2021-03-20", "2021-03-31")


def _cube():
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 1, (len(DATES), 1, 7, 9)).astype(np.float32)
    values[1, 0, :2] = np.nan
    return ArrayCube(values, ("t", "bands", "y", "x"), {"t": DATES, "bands": ("B1",)}, UTM_GRID, node_id="c")


def _aggregate(period: str, reducer: str = "mean", process_id: str = "aggregate_temporal_period", **extra):
    """``process_id`` (aggregate_temporal_period: ``period``; aggregate_temporal: intervals) with ``reducer``."""
    grouping = {"period": period} if process_id == "aggregate_temporal_period" else {"intervals": period}
    flat = {
        "load": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                               "temporal_extent": None}},
        "agg": {"process_id": process_id, "arguments": {
            "data": {"from_node": "load"}, **grouping, **extra,
            "reducer": {"process_graph": {"r": {"process_id": reducer, "arguments": {"data": {"from_parameter": "data"}},
                                                "result": True}}}}, "result": True}}
    return build(ProcessGraph.parse(flat), ArraySource({"c": _cube()})).output


def test_monthly_mean_emits_empty_months_as_nodata():
    cube = _aggregate("month")
    assert cube.meta.labels["t"] == ("2021-01", "2021-02", "2021-03")
    # each label knows its own period and how many input labels it holds (the results' item times)
    assert cube.meta.periods == {
        "2021-01": LabelPeriod(datetime(2021, 1, 1), datetime(2021, 2, 1), 2),
        "2021-02": LabelPeriod(datetime(2021, 2, 1), datetime(2021, 3, 1), 0),
        "2021-03": LabelPeriod(datetime(2021, 3, 1), datetime(2021, 4, 1), 3)}
    assert _aggregate("dekad").meta.periods["2021-09"] == LabelPeriod(datetime(2021, 3, 21), datetime(2021, 4, 1), 1)
    got = materialize(cube)
    values = _cube().values.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_allclose(got[0], np.nanmean(values[0:2], axis=0), rtol=1e-6)
    assert np.isnan(got[1]).all()                                         # February: no acquisition
    np.testing.assert_allclose(got[2], values[2:5].mean(axis=0), rtol=1e-6)


def test_dekads_with_median():
    cube = _aggregate("dekad", "median")
    labels = cube.meta.labels["t"]
    assert labels[0] == "2021-01" and labels[-1] == "2021-09" and len(labels) == 9
    got = materialize(cube)
    values = _cube().values.astype(np.float64)
    np.testing.assert_allclose(got[0], values[0], rtol=1e-6)              # Jan 5 alone in dekad 1
    np.testing.assert_allclose(got[labels.index("2021-08")], np.median(values[[3]], axis=0), rtol=1e-6)
    np.testing.assert_allclose(got[labels.index("2021-09")], values[4], rtol=1e-6)
    assert np.isnan(got[labels.index("2021-02")]).all()


def test_unknown_dimension_and_period():
    with pytest.raises(ProcessError) as info:
        _aggregate("month", dimension="time")
    assert (info.value.code, info.value.node_id) == ("DimensionNotAvailable", "agg")
    with pytest.raises(Exception) as info:
        _aggregate("fortnight")
    assert getattr(info.value, "node_id", None) == "agg" and "fortnight" in str(info.value)


# --- aggregate_temporal --------------------------------------------------------------------------------
def _intervals(intervals, reducer: str = "mean", **extra):
    return _aggregate(intervals, reducer, "aggregate_temporal", **extra)


def test_aggregate_temporal_over_overlapping_left_closed_intervals():
    cube = _intervals([["2021-01-01", "2021-01-25"], ["2021-01-01", "2021-03-20T24:00:00Z"],
                       ["2021-02-01", "2021-03-01"]], "max", labels=["a", "b", "c"])
    assert cube.meta.labels["t"] == ("a", "b", "c")
    assert cube.meta.periods["b"] == LabelPeriod(datetime(2021, 1, 1), datetime(2021, 3, 21), 4)
    got = materialize(cube)
    values = _cube().values
    np.testing.assert_array_equal(got[0], values[0])                      # 01-25 itself is excluded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(got[1], np.nanmax(values[0:4], axis=0))    # hour 24 takes in 03-20
    assert np.isnan(got[2]).all()


def test_aggregate_temporal_labels_default_to_the_starts_and_must_be_distinct():
    assert _intervals([["2021-01-01", "2021-02-01"], ["2021-03-01", "2021-04-01"]]).meta.labels["t"] == \
        ("2021-01-01", "2021-03-01")
    for intervals, extra, code in (
            ([["2021-01-01", "2021-02-01"], ["2021-01-01", "2021-04-01"]], {}, "DistinctDimensionLabelsRequired"),
            ([["2021-03-01", "2021-02-01"]], {}, "TemporalExtentEmpty"),
            ([["2021-01-01", "2021-02-01"]], {"labels": ["a", "b"]}, "LabelMismatch")):
        with pytest.raises(ProcessError) as info:
            _intervals(intervals, **extra)
        assert (info.value.code, info.value.node_id) == (code, "agg")


# --- resample_cube_temporal ------------------------------------------------------------------------------
def _resampled(targets, valid_within=None):
    target = ArrayCube(np.zeros((len(targets), 1, 7, 9)), ("t", "bands", "y", "x"), {"t": targets, "bands": ("B1",)},
                       UTM_GRID, node_id="target")
    flat = {
        "load": {"process_id": "load_collection", "arguments": {"id": "c", "spatial_extent": None,
                                                               "temporal_extent": None}},
        "tgt": {"process_id": "load_collection", "arguments": {"id": "target", "spatial_extent": None,
                                                              "temporal_extent": None}},
        "res": {"process_id": "resample_cube_temporal", "arguments": {
            "data": {"from_node": "load"}, "target": {"from_node": "tgt"},
            **({} if valid_within is None else {"valid_within": valid_within})}, "result": True}}
    return build(ProcessGraph.parse(flat), ArraySource({"c": _cube(), "target": target})).output


def test_resample_cube_temporal_takes_the_nearest_label_earlier_on_ties():
    targets = ("2021-01-15", "2021-02-20", "2021-03-11")       # 01-15: 01-05 and 01-25 tie -> 01-05
    cube = _resampled(targets)
    assert cube.meta.labels["t"] == targets
    got, values = materialize(cube), _cube().values
    np.testing.assert_array_equal(got, values[[0, 2, 2]])


def test_resample_cube_temporal_valid_within_skips_nodata_per_pixel():
    got, values = materialize(_resampled(("2021-01-22", "2021-02-15"), valid_within=7)), _cube().values
    # 01-25 is nearest, but its first two rows are nodata: 01-22 - 7 days reaches back to 01-15 only
    assert np.isnan(got[0, 0, :2]).all()
    np.testing.assert_array_equal(got[0, 0, 2:], values[1, 0, 2:])
    assert np.isnan(got[1]).all()                                      # nothing within 7 days of 02-15

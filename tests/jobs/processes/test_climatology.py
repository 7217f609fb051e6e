"""climatological_normal and anomaly against numpy on an irregular series with gaps."""
from __future__ import annotations

import warnings
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from jobs.cube.arraycube import ArrayCube, materialize
from jobs.errors import ProcessError, ProcessGraphError
from jobs.processes.climatology import anomaly_key, day_of_year_365, normal_label
from jobs.plan.timelabels import parse_instant
from tests.fixtures.cubes import UTM_GRID, ArraySource, built, callback

# every 17 days from December 2018 to January 2022: irregular, some months twice, some once
DATES = tuple(str(date(2018, 12, 3) + timedelta(days=17 * i)) for i in range(68))


def _values() -> np.ndarray:
    rng = np.random.default_rng(11)
    values = rng.normal(0.4, 0.2, (len(DATES), 1, 7, 9)).astype(np.float32)
    values[rng.random(values.shape) < 0.15] = np.nan
    return values


def _source() -> ArraySource:
    cube = ArrayCube(_values(), ("t", "bands", "y", "x"), {"t": DATES, "bands": ("ndvi",)}, UTM_GRID, node_id="s2")
    return ArraySource({"s2": cube})


def _normals(period: str, years=("2019", "2020")):
    return built({"clim": {"process_id": "climatological_normal", "arguments": {
        "data": {"from_node": "load"}, "period": period, "climatology_period": list(years)}}}, _source())


def _nanmean(stack: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(stack.astype(np.float64), axis=0)


def _expected(period: str, first: date, end: date) -> dict:
    values = _values()
    keys = [normal_label(parse_instant(d), period) if first <= date.fromisoformat(d) < end else None for d in DATES]
    return {k: _nanmean(values[[i for i, key in enumerate(keys) if key == k]]) for k in set(keys) - {None}}


@pytest.mark.parametrize("period, labels, first, end", [
    ("month", [f"{m:02d}" for m in range(1, 13)], date(2019, 1, 1), date(2021, 1, 1)),
    # December 2018 belongs to the first winter; December 2020 starts a season that never ends in 2020
    ("season", ["djf", "mam", "jja", "son"], date(2018, 12, 1), date(2020, 12, 1)),
    ("tropical-season", ["ndjfma", "mjjaso"], date(2018, 11, 1), date(2020, 11, 1)),
    ("climatology-period", ["climatology-period"], date(2019, 1, 1), date(2021, 1, 1)),
])
def test_normals_are_the_mean_per_period_inside_the_climatology_years(period, labels, first, end):
    cube = _normals(period)
    assert cube.meta.labels["t"] == tuple(labels)
    assert {(v.start, v.end) for v in cube.meta.periods.values()} == {(datetime(*first.timetuple()[:3]),
                                                                        datetime(*end.timetuple()[:3]))}
    got = materialize(cube)
    expected = _expected(period, first, end)
    for i, label in enumerate(labels):
        np.testing.assert_allclose(got[i], expected[label], rtol=1e-5, equal_nan=True)


def test_daily_normals_have_365_labels_and_empty_days_are_nodata():
    cube = _normals("day")
    labels = cube.meta.labels["t"]
    assert len(labels) == 365 and labels[0] == "001" and labels[-1] == "365"
    got = materialize(cube)
    expected = _expected("day", date(2019, 1, 1), date(2021, 1, 1))
    for key, value in expected.items():
        np.testing.assert_allclose(got[labels.index(key)], value, rtol=1e-5, equal_nan=True)
    empty = [i for i, label in enumerate(labels) if label not in expected]
    assert empty and np.isnan(got[empty]).all()


def test_leap_day_counts_as_28_february():
    assert day_of_year_365(parse_instant("2020-02-29")) == day_of_year_365(parse_instant("2019-02-28")) == 59
    assert day_of_year_365(parse_instant("2020-12-31")) == 365
    assert anomaly_key("2020-djf", "season") == "djf" and anomaly_key("2020-07", "month") == "07"
    assert anomaly_key("2020-07-15T10:00:00Z", "month") == "07" and anomaly_key("2020-06-01-13", "hour") == "13"


def _monthly_anomaly():
    mean = callback(("m", "mean", {"data": {"from_parameter": "data"}}))
    return built({
        "monthly": {"process_id": "aggregate_temporal_period", "arguments": {
            "data": {"from_node": "load"}, "period": "month", "reducer": mean}},
        "clim": {"process_id": "climatological_normal", "arguments": {
            "data": {"from_node": "monthly"}, "period": "month", "climatology_period": ["2019", "2021"]}},
        "anom": {"process_id": "anomaly", "arguments": {
            "data": {"from_node": "monthly"}, "normals": {"from_node": "clim"}, "period": "month"}}}, _source())


def test_anomaly_of_monthly_means_is_the_departure_from_their_monthly_normal():
    cube = _monthly_anomaly()
    months = cube.meta.labels["t"]
    assert months[0] == "2018-12" and months[-1] == "2022-01"
    got = materialize(cube)
    values = _values()
    monthly = {m: _nanmean(values[[i for i, d in enumerate(DATES) if d[:7] == m]]) for m in months}
    normals = {f"{k:02d}": _nanmean(np.stack([monthly[m] for m in months if m[5:] == f"{k:02d}" and "2019" <= m[:4] <= "2021"]))
               for k in range(1, 13)}
    for i, m in enumerate(months):
        np.testing.assert_allclose(got[i], monthly[m] - normals[m[5:]], rtol=1e-5, atol=1e-6, equal_nan=True)


def test_anomaly_maps_dates_to_their_period_and_checks_the_normals():
    anomaly = built({
        "clim": {"process_id": "climatological_normal", "arguments": {
            "data": {"from_node": "load"}, "period": "season", "climatology_period": ["2019", "2020"]}},
        "anom": {"process_id": "anomaly", "arguments": {
            "data": {"from_node": "load"}, "normals": {"from_node": "clim"}, "period": "season"}}}, _source())
    got, normals = materialize(anomaly), materialize(_normals("season"))
    season = {12: 0, 1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 8: 2, 9: 3, 10: 3, 11: 3}
    for i, d in enumerate(DATES):
        np.testing.assert_allclose(got[i], _values()[i] - normals[season[int(d[5:7])]], rtol=1e-5, equal_nan=True)
    with pytest.raises(ProcessError) as info:
        built({"other": {"process_id": "filter_bands", "arguments": {"data": {"from_node": "load"}, "bands": ["ndvi"]}},
               "clim": {"process_id": "climatological_normal", "arguments": {
                   "data": {"from_node": "load"}, "period": "month", "climatology_period": ["2019", "2020"]}},
               "red": {"process_id": "reduce_dimension", "arguments": {
                   "data": {"from_node": "clim"}, "dimension": "bands",
                   "reducer": callback(("m", "mean", {"data": {"from_parameter": "data"}}))}},
               "anom": {"process_id": "anomaly", "arguments": {
                   "data": {"from_node": "other"}, "normals": {"from_node": "red"}, "period": "month"}}}, _source())
    assert (info.value.code, info.value.node_id, info.value.argument) == ("DimensionMismatch", "anom", "normals")


def test_climatology_period_outside_the_data_is_refused_naming_the_node():
    with pytest.raises(ProcessGraphError) as info:
        _normals("month", ("1981", "2010"))
    assert info.value.node_id == "clim" and "1981-2010" in str(info.value)
    with pytest.raises(ProcessGraphError) as info:
        _normals("dekad")
    assert info.value.argument == "period"


def test_daily_anomaly_of_aggregated_days_uses_the_365_day_calendar_in_leap_years():
    """1 March is day 061 of 2020 but day 060 of the normals: both years' 1 March share one normal."""
    values = np.random.default_rng(2).random((2, 7, 9)).astype(np.float32)
    cube = ArrayCube(values, ("t", "y", "x"), {"t": ("2020-03-01", "2021-03-01")}, UTM_GRID, node_id="s2")
    mean = callback(("m", "mean", {"data": {"from_parameter": "data"}}))
    anomaly = built({
        "days": {"process_id": "aggregate_temporal_period", "arguments": {
            "data": {"from_node": "load"}, "period": "day", "reducer": mean}},
        "clim": {"process_id": "climatological_normal", "arguments": {
            "data": {"from_node": "days"}, "period": "day", "climatology_period": ["2020", "2021"]}},
        "anom": {"process_id": "anomaly", "arguments": {
            "data": {"from_node": "days"}, "normals": {"from_node": "clim"}, "period": "day"}},
        "pick": {"process_id": "filter_labels", "arguments": {"data": {"from_node": "anom"}, "dimension": "t",
                 "condition": callback(("in", "array_contains", {"data": ["2020-061", "2021-060"],
                                                                  "value": {"from_parameter": "value"}}))}}},
        ArraySource({"s2": cube}))
    assert anomaly.meta.labels["t"] == ("2020-061", "2021-060")
    got = materialize(anomaly)
    normal = values.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(got, values - normal, rtol=1e-5, atol=1e-6)

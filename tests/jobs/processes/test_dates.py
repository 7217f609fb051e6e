"""date_shift, date_between, date_difference; and on cube labels through filter_labels and array_apply."""
from __future__ import annotations

import numpy as np
import pytest

from jobs.cube.arraycube import materialize
from jobs.errors import ProcessError
from jobs.processes.dates import date_between, date_difference, date_shift
from tests.fixtures.cubes import S2_DATES, built, callback, s2_values


@pytest.mark.parametrize("date, value, unit, expect", [
    ("2020-01-31", 1, "month", "2020-02-29"),                      # rounded down to the month's last day
    ("2019-01-31", 13, "month", "2020-02-29"),
    ("2020-02-29T10:00:00Z", -1, "year", "2019-02-28T10:00:00Z"),
    ("2021-03-31T00:00:00+02:00", -7, "day", "2021-03-24T00:00:00+02:00"),   # the offset is kept
    ("2018-01-01", 25, "hour", "2018-01-02"),                      # a date stays a date
    ("2016-12-31T23:59:60Z", 1, "second", "2017-01-01T00:00:00Z"),   # a leap second rounds down to :59
    ("2018-12-31T17:22:45Z", 1150, "millisecond", "2018-12-31T17:22:46.150Z"),
])
def test_date_shift(date, value, unit, expect):
    assert date_shift(date, value, unit) == expect


def test_date_difference_and_between():
    assert date_difference("2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00") == 0
    assert date_difference("2020-01-01", "2020-01-15", unit="week") == 2
    assert date_between("2020-06-01T12:00:00Z", "2020-06-01", "2020-06-01") is True
    assert date_between("2020-06-01", "2020-07-01", "2020-06-01") is False      # swapped bounds


def test_invalid_dates_and_units_are_user_errors():
    with pytest.raises(ProcessError, match="'date'.*2020-13-01"):
        date_shift("2020-13-01", 1, "day")
    with pytest.raises(ProcessError, match="unit"):
        date_difference("2020-01-01", "2020-01-02", unit="fortnight")


def test_filter_labels_over_t_with_date_between():
    condition = callback(("in", "date_between", {"x": {"from_parameter": "value"}, "min": "2021-06-01",
                                                  "max": "2021-07-01", "exclude_max": True}))
    cube = built({"f": {"process_id": "filter_labels", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "condition": condition}}})
    assert cube.meta.labels["t"] == S2_DATES[1:4]
    np.testing.assert_array_equal(materialize(cube), s2_values()[1:4])


def test_array_apply_weights_by_days_since_the_first_label():
    inner = callback(("d", "date_difference", {"date1": S2_DATES[0], "date2": {"from_parameter": "label"},
                                               "unit": "day"}),
                     ("w", "multiply", {"x": {"from_parameter": "x"}, "y": {"from_node": "d"}}))
    process = callback(("a", "array_apply", {"data": {"from_parameter": "data"}, "process": inner}))
    cube = built({"a": {"process_id": "apply_dimension", "arguments": {
        "data": {"from_node": "load"}, "dimension": "t", "process": process}}})
    days = np.array([0, 2, 12, 22, 32, 77], dtype=np.float32).reshape(-1, 1, 1, 1)
    np.testing.assert_allclose(materialize(cube), s2_values() * days, rtol=1e-6)

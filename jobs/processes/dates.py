"""Date arithmetic (proposals): ``date_shift`` (1.2.0), ``date_between`` and ``date_difference``
(2.0 additions, implemented because graphs filtering or weighting time labels use them).

Dates are RFC 3339 strings: a date (``2020-01-31``, midnight UTC) or a date-time with ``Z`` or an
offset. ``date_shift`` keeps the form and the offset it was given: a date stays a date, a date-time
keeps its offset, and milliseconds appear only when there are some. Months and years that land on a
day the month lacks round down to its last day (2020-01-31 + 1 month = 2020-02-29). A leap second
(``23:59:60``) is rounded down to ``23:59:59`` like any invalid time (leap seconds are ignored in
computations), so it is never returned.

In a cube callback these work on labels: ``filter_labels(dimension="t")`` with ``date_between``,
or ``array_apply`` reading ``label``.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from jobs.errors import ProcessError
from jobs.processes.registry import Param, process

UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "year")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LEAP = re.compile(r"(T\d{2}:\d{2}:)60")
_FIXED = {"millisecond": timedelta(milliseconds=1), "second": timedelta(seconds=1), "minute": timedelta(minutes=1),
          "hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
# mean calendar lengths, for differences in months and years (a month is not a fixed duration)
_MEAN = {"month": timedelta(days=365.2425 / 12), "year": timedelta(days=365.2425)}


@dataclass(frozen=True)
class Instant:
    """A parsed RFC 3339 date or date-time, remembering which form it came in."""

    at: datetime            # aware
    date_only: bool

    def text(self) -> str:
        """The instant in the form it was given (a date, or a date-time with its offset)."""
        if self.date_only:
            return self.at.date().isoformat()
        stamp = self.at.strftime("%Y-%m-%dT%H:%M:%S")
        if self.at.microsecond:
            stamp += f".{self.at.microsecond // 1000:03d}"
        offset = self.at.utcoffset()
        if not offset:
            return stamp + "Z"
        sign, minutes = ("-", -offset) if offset < timedelta(0) else ("+", offset)
        hours, rest = divmod(int(minutes.total_seconds()) // 60, 60)
        return f"{stamp}{sign}{hours:02d}:{rest:02d}"


def instant(value, argument: str) -> Instant:
    """``value`` parsed as an RFC 3339 date or date-time; ProcessParameterInvalid otherwise."""
    if not isinstance(value, str):
        raise ProcessError("ProcessParameterInvalid", f"parameter {argument!r} must be a date or date-time, "
                                                      f"got {value!r}")
    text = value.strip()
    try:
        if _DATE.match(text):
            return Instant(datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc), True)
        text = _LEAP.sub(r"\g<1>59", text).replace("z", "Z").replace("Z", "+00:00").replace("t", "T")
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ProcessError("ProcessParameterInvalid", f"parameter {argument!r}: not an RFC 3339 date or "
                                                      f"date-time: {value!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return Instant(at, False)


def _unit(unit) -> str:
    if unit not in UNITS:
        raise ProcessError("ProcessParameterInvalid", f"parameter 'unit' must be one of {', '.join(UNITS)}, "
                                                      f"got {unit!r}")
    return unit


def _add_months(at: datetime, months: int) -> datetime:
    year, month = divmod(at.month - 1 + months, 12)
    year += at.year
    day = min(at.day, calendar.monthrange(year, month + 1)[1])
    return at.replace(year=year, month=month + 1, day=day)


@process("date_shift", Param("date", kind="string"), Param("value", kind="number"), Param("unit", kind="string"))
def date_shift(date, value, unit):  # noqa: A002 (openEO parameter name)
    """``date`` moved by ``value`` units (negative: back); a date stays a date, the offset is kept."""
    start = instant(date, "date")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ProcessError("ProcessParameterInvalid", f"parameter 'value' must be an integer, got {value!r}")
    unit, value = _unit(unit), int(value)
    if unit in ("month", "year"):
        at = _add_months(start.at, value * (12 if unit == "year" else 1))
    else:
        at = start.at + value * _FIXED[unit]
    return Instant(at, start.date_only).text()


@process("date_between", Param("x", kind="string"), Param("min", kind="string"), Param("max", kind="string"),
         Param("exclude_max", False, kind="boolean"))
def date_between(x, min, max, exclude_max=False):  # noqa: A002 (openEO parameter names)
    """``min <= x <= max`` as instants (``x < max`` with ``exclude_max``; a date bound is its whole day);
    swapped bounds give false."""
    if x is None:
        return None
    return within(x, min, max, exclude_max)


@process("date_difference", Param("date1", kind="string"), Param("date2", kind="string"),
         Param("unit", "second", kind="string"))
def date_difference(date1, date2, unit="second"):
    """``date2 - date1`` in ``unit`` (months and years: mean calendar lengths)."""
    unit = _unit(unit)
    delta = instant(date2, "date2").at - instant(date1, "date1").at
    return delta / _MEAN.get(unit, _FIXED.get(unit))


def within(x, min, max, exclude_max: bool) -> bool:  # noqa: A002 (openEO parameter names)
    """Whether instant ``x`` lies in [min, max] (or [min, max)); a date bound covers its whole day, so
    ``2018-12-31T17:22:45Z`` is within max ``2018-12-31`` (the 1.2.0 example of ``between``)."""
    t, lo, hi = instant(x, "x"), instant(min, "min"), instant(max, "max")
    if lo.at > hi.at:
        return False
    below, low = _at_precision(t, lo)
    above, high = _at_precision(t, hi)
    return below >= low and (above < high if exclude_max else above <= high)


def _at_precision(value: Instant, bound: Instant):
    """(value, bound) compared as UTC days when the bound is a date, else as instants."""
    if bound.date_only:
        return value.at.astimezone(timezone.utc).date(), bound.at.date()
    return value.at, bound.at

"""Temporal labels: parsing RFC 3339 instants and the calendar periods of aggregate_temporal_period.

Labels of ``t`` are strings ("2021-06-01" or "2021-06-01T10:20:30Z"); comparisons go through
``parse_instant`` (naive UTC datetimes). Periods follow the openEO 1.2.0 label formats
(``YYYY-MM`` for month, ``YYYY-djf`` for a season named by the year of its first month, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable

# The item property (and asset field) under which a job's results record each file's ``t`` label, so
# that they load back with the same labels (``load_stac``).
TIME_LABEL_KEY = "sparkeo:time_label"
PERIODS = ("hour", "day", "week", "dekad", "month", "season", "tropical-season", "year", "decade", "decade-ad")


def parse_instant(value: str | date | datetime) -> datetime:
    """A naive UTC datetime for an RFC 3339 date or date-time (``Z`` or an offset), or a date."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        dt = datetime.fromisoformat(text.replace(" ", "T", 1) if len(text) > 10 else text)
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _month_start(dt: datetime, months: tuple[int, ...]) -> datetime:
    """The latest start month in ``months`` at or before ``dt`` (a season starts in its first month)."""
    candidates = [datetime(dt.year - (m > dt.month), m, 1) for m in months]
    return max(c for c in candidates if c <= dt)


def _add_months(dt: datetime, n: int) -> datetime:
    y, m = divmod(dt.month - 1 + n, 12)
    return datetime(dt.year + y, m + 1, 1)


def _dekad_start(dt: datetime) -> datetime:
    return datetime(dt.year, dt.month, min((dt.day - 1) // 10, 2) * 10 + 1)


def _next_dekad(start: datetime) -> datetime:
    return _add_months(start, 1) if start.day == 21 else start + timedelta(days=10)


_SEASONS = {12: "djf", 3: "mam", 6: "jja", 9: "son"}
_TROPICAL = {11: "ndjfma", 5: "mjjaso"}

# period -> (start of the period containing an instant, start of the next period, label of a start)
_RULES: dict[str, tuple[Callable, Callable, Callable]] = {
    "hour": (lambda d: d.replace(minute=0, second=0, microsecond=0), lambda s: s + timedelta(hours=1),
             lambda s: f"{s:%Y-%m-%d}-{s.hour:02d}"),
    "day": (lambda d: datetime(d.year, d.month, d.day), lambda s: s + timedelta(days=1),
            lambda s: f"{s.year:04d}-{s.timetuple().tm_yday:03d}"),
    "week": (lambda d: datetime(d.year, d.month, d.day) - timedelta(days=d.weekday()),
             lambda s: s + timedelta(days=7),
             lambda s: f"{s.isocalendar()[0]:04d}-{s.isocalendar()[1]:02d}"),
    "dekad": (_dekad_start, _next_dekad,
              lambda s: f"{s.year:04d}-{(s.month - 1) * 3 + (s.day - 1) // 10 + 1:02d}"),
    "month": (lambda d: datetime(d.year, d.month, 1), lambda s: _add_months(s, 1), lambda s: f"{s:%Y-%m}"),
    "season": (lambda d: _month_start(d, tuple(_SEASONS)), lambda s: _add_months(s, 3),
               lambda s: f"{s.year:04d}-{_SEASONS[s.month]}"),
    "tropical-season": (lambda d: _month_start(d, tuple(_TROPICAL)), lambda s: _add_months(s, 6),
                        lambda s: f"{s.year:04d}-{_TROPICAL[s.month]}"),
    "year": (lambda d: datetime(d.year, 1, 1), lambda s: datetime(s.year + 1, 1, 1), lambda s: f"{s.year:04d}"),
    "decade": (lambda d: datetime(d.year // 10 * 10, 1, 1), lambda s: datetime(s.year + 10, 1, 1),
               lambda s: f"{s.year:04d}"),
    "decade-ad": (lambda d: datetime((d.year - 1) // 10 * 10 + 1, 1, 1), lambda s: datetime(s.year + 10, 1, 1),
                  lambda s: f"{s.year:04d}"),
}


def period_label(instant: str | datetime, period: str) -> str:
    """The label of the ``period`` containing ``instant``."""
    start, _, label = _RULES[period]
    return label(start(parse_instant(instant)))


def periods_spanning(instants, period: str) -> list[str]:
    """Every period label from the earliest to the latest instant, consecutive (empty ones included)."""
    return list(label_periods(instants, period))


@dataclass(frozen=True)
class LabelPeriod:
    """The calendar period an aggregated label stands for: ``[start, end)`` in naive UTC, and how many
    input labels fell into it (0: an empty period, all nodata)."""

    start: datetime
    end: datetime
    observations: int


def label_periods(instants, period: str) -> dict[str, LabelPeriod]:
    """Every period label from the earliest to the latest instant (as ``periods_spanning``) with its
    period and the number of ``instants`` inside it."""
    times = [parse_instant(t) for t in instants]
    if not times:
        return {}
    start, step, label = _RULES[period]
    out, s, end = {}, start(min(times)), start(max(times))
    while s <= end:
        nxt = step(s)
        out[label(s)] = LabelPeriod(s, nxt, sum(1 for t in times if s <= t < nxt))
        s = nxt
    return out

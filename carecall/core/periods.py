"""A report's period and its buckets (weeks from Monday, or calendar months), in the agency's
time zone.

The databases group rows by moment, and SQLite knows nothing of time zones, so the zone is
applied here: each bucket's first and last local dates become the UTC moments of their local
midnights (`zoneinfo`, so a week with a daylight-saving change is 167 or 169 hours long), and
the queries group rows by which of those ranges their moment falls in. A period is a handful
of buckets (at most 53 weeks), so this is a few dozen conversions, whatever the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Grouping = Literal["week", "month"]
GROUPINGS: tuple[Grouping, ...] = ("week", "month")

MAX_PERIOD_DAYS = 366
"""The longest period one report covers: a year, a leap year's included."""
EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)
"""Dates outside these are refused: no data can be there, and a day's midnight must exist in
every zone (the first and last days Python can hold have none)."""
DEFAULT_BUCKETS = {"week": 12, "month": 6}
"""Without `from`, a report covers this many weeks or months, ending with the current one."""


class PeriodError(ValueError):
    """A period that can't be reported on; the message says why, for a person."""


@dataclass(frozen=True)
class Bucket:
    """One week or month of the period: its local dates (clipped to the period) and the UTC
    moments of its local start and end (end exclusive)."""

    label: str
    """`2026-W02` (the ISO week, which starts on Monday) or `2026-01`."""
    first_day: date
    last_day: date
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date
    grouping: Grouping
    zone: ZoneInfo
    buckets: tuple[Bucket, ...]

    @property
    def start_at(self) -> datetime:
        return self.buckets[0].start_at

    @property
    def end_at(self) -> datetime:
        return self.buckets[-1].end_at


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC moment `day` begins in `tz`. Where a daylight-saving change skips midnight
    (clocks go from 00:00 to 01:00), the day begins at the first moment that exists."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def bucket_start(day: date, grouping: Grouping) -> date:
    """The Monday of `day`'s week, or the first of its month."""
    if grouping == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_start(start: date, grouping: Grouping) -> date:
    if grouping == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def _label(start: date, grouping: Grouping) -> str:
    if grouping == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start:%Y-%m}"


def default_first_day(last_day: date, grouping: Grouping) -> date:
    """Where a report without `from` starts: whole weeks or months, the last one `last_day`'s."""
    start = bucket_start(last_day, grouping)
    for _ in range(DEFAULT_BUCKETS[grouping] - 1):
        start = bucket_start(start - timedelta(days=1), grouping)
    return start


def check_day(name: str, day: date) -> None:
    """`PeriodError` for a date no report can start or end on."""
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(f"'{name}' must be between {EARLIEST} and {LATEST}.")


def make_period(first_day: date, last_day: date, grouping: Grouping, tz: ZoneInfo) -> Period:
    """The period from `first_day` to `last_day` (both included, local dates in `tz`), cut
    into weeks or months; the first and last are clipped to the period. `PeriodError` for a
    period backwards, too long or out of range."""
    check_day("from", first_day)
    check_day("to", last_day)
    if first_day > last_day:
        raise PeriodError(f"'from' ({first_day}) is after 'to' ({last_day}).")
    days = (last_day - first_day).days + 1
    if days > MAX_PERIOD_DAYS:
        raise PeriodError(
            f"The period is {days} days long; a report covers at most {MAX_PERIOD_DAYS} days."
        )
    buckets: list[Bucket] = []
    start = bucket_start(first_day, grouping)
    while start <= last_day:
        following = _next_start(start, grouping)
        first = max(start, first_day)
        last = min(following - timedelta(days=1), last_day)
        buckets.append(
            Bucket(
                label=_label(start, grouping),
                first_day=first,
                last_day=last,
                start_at=local_midnight(first, tz),
                end_at=local_midnight(last + timedelta(days=1), tz),
            )
        )
        start = following
    return Period(first_day, last_day, grouping, tz, tuple(buckets))

"""When a senior may be called: plans' weekdays and local windows, calling hours, DST.

Everything here is pure: local times are turned into UTC moments with the senior's IANA zone
(`zoneinfo`), so a 10:00 window is at 10:00 local time on both sides of a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

CALLING_HOURS = (time(8, 0), time(21, 0))
"""Calls are placed only between 08:00 and 21:00 in the called person's local time (TCPA)."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = {
    **{day: day for day in WEEKDAYS},
    **{
        name: day
        for day, names in zip(
            WEEKDAYS,
            (
                ("monday",),
                ("tuesday", "tues"),
                ("wednesday",),
                ("thursday", "thur", "thurs"),
                ("friday",),
                ("saturday",),
                ("sunday",),
            ),
            strict=True,
        )
        for name in names
    },
}


class ScheduleError(ValueError):
    """A plan or zone that can't be used; the message says what to fix, and `messages` holds
    each thing to fix when there are several (a window both backwards and out of hours)."""

    def __init__(self, *messages: str) -> None:
        self.messages = messages
        super().__init__(" ".join(messages))


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or `ScheduleError`."""
    text = (name or "").strip()
    if not text or text not in _known_zones():
        raise ScheduleError(
            f"'{text[:64]}' is not a time zone. Use an IANA name such as America/Chicago "
            "or Europe/London."
        )
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"'{text[:64]}' is not a known time zone.") from None


_ZONES: frozenset[str] | None = None


def _known_zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return _ZONES


def parse_weekdays(days: str | Iterable[str]) -> tuple[str, ...]:
    """`"Mon, tue,FRIDAY"` or `["mon", "fri"]` → `("mon", "tue", "fri")`, Monday first.
    `"weekdays"`, `"daily"` and `"weekends"` are understood too."""
    items = days.split(",") if isinstance(days, str) else list(days)
    chosen: set[str] = set()
    for item in items:
        word = item.strip().lower()
        if not word:
            continue
        if word in ("daily", "every day", "everyday", "all"):
            chosen.update(WEEKDAYS)
        elif word == "weekdays":
            chosen.update(WEEKDAYS[:5])
        elif word == "weekends":
            chosen.update(WEEKDAYS[5:])
        elif word in _DAY_NAMES:
            chosen.add(_DAY_NAMES[word])
        else:
            raise ScheduleError(
                f"'{item.strip()[:20]}' is not a day of the week. Use mon, tue, wed, thu, fri, "
                "sat, sun (or weekdays / daily)."
            )
    if not chosen:
        raise ScheduleError("Choose at least one day of the week for the check-in.")
    return tuple(day for day in WEEKDAYS if day in chosen)


@dataclass(frozen=True)
class Window:
    """A local time window on some weekdays, e.g. Mon–Fri 10:00–11:00."""

    weekdays: tuple[str, ...]
    start: time
    end: time

    def __post_init__(self) -> None:
        # Every problem at once: a 23:00–02:00 window is both backwards and out of hours.
        problems: list[str] = []
        if self.start >= self.end:
            problems.append("The window must end after it starts, e.g. 10:00 to 11:00.")
        first, last = CALLING_HOURS
        if not (first <= self.start <= last and first <= self.end <= last):
            problems.append(
                "Check-in windows must lie between 08:00 and 21:00 in the person's local time: "
                "calls are never placed outside those hours."
            )
        length = datetime.combine(date.min, self.end) - datetime.combine(date.min, self.start)
        if timedelta(0) < length < timedelta(minutes=10):
            problems.append("The window must be at least 10 minutes long.")
        if problems:
            raise ScheduleError(*problems)

    def overlaps(self, other: Window) -> bool:
        shares_a_day = bool(set(self.weekdays) & set(other.weekdays))
        return shares_a_day and self.start < other.end and other.start < self.end

    def occurs_on(self, local_date: date) -> bool:
        return WEEKDAYS[local_date.weekday()] in self.weekdays

    def on(self, local_date: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The window on that local date, as UTC moments."""
        return (
            to_utc(datetime.combine(local_date, self.start), tz),
            to_utc(datetime.combine(local_date, self.end), tz),
        )

    def describe(self) -> str:
        return f"{format_days(self.weekdays)} {self.start:%H:%M}–{self.end:%H:%M}"


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz` → UTC. A time skipped by a DST change (02:30 on the spring
    morning) is taken as the moment after the gap; a repeated one as its first occurrence."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    # In a gap the two folds straddle it (fold=1 lands *before* it): take the later moment.
    if first.astimezone(tz).replace(tzinfo=None) != local:
        return max(first, second)
    return min(first, second)


def within_calling_hours(moment: datetime, tz: ZoneInfo) -> bool:
    first, last = CALLING_HOURS
    local = moment.astimezone(tz).time()
    return first <= local < last


def local_dates_around(moment: datetime, tz: ZoneInfo) -> list[date]:
    """Today and tomorrow where the person lives: the dates whose check-ins may be due soon."""
    today = moment.astimezone(tz).date()
    return [today, today + timedelta(days=1)]


def first_overlap(windows: Sequence[Window]) -> tuple[Window, Window] | None:
    for i, one in enumerate(windows):
        for other in windows[i + 1 :]:
            if one.overlaps(other):
                return one, other
    return None


def format_days(weekdays: Sequence[str]) -> str:
    days = tuple(weekdays)
    if days == WEEKDAYS:
        return "Every day"
    if days == WEEKDAYS[:5]:
        return "Mon–Fri"
    if days == WEEKDAYS[5:]:
        return "Sat–Sun"
    return ", ".join(day.capitalize() for day in days)


def parse_clock_time(text: str) -> time:
    """`"10:00"`, `"9:30"` → a time; `ScheduleError` otherwise."""
    try:
        hours, minutes = (int(part) for part in text.strip().split(":"))
        return time(hours, minutes)
    except (ValueError, TypeError):
        raise ScheduleError(f"'{text[:10]}' is not a time of day; use HH:MM, e.g. 10:00.") from None

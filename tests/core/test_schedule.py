"""The schedule math, pure: windows and their messages, weekdays, and local time across
daylight-saving changes in three zones (one of them in the southern hemisphere, where autumn
is in April)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecall.core.schedule import (
    WEEKDAYS,
    ScheduleError,
    Window,
    first_overlap,
    parse_clock_time,
    parse_weekdays,
    to_utc,
    within_calling_hours,
    zone,
)

WEEK = WEEKDAYS
CHICAGO = ZoneInfo("America/Chicago")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")

# (zone, the local date of a DST change in 2026, the offset before it, the offset after it)
DST_CHANGES = [
    pytest.param(CHICAGO, date(2026, 3, 8), -6, -5, id="Chicago spring forward"),
    pytest.param(CHICAGO, date(2026, 11, 1), -5, -6, id="Chicago fall back"),
    pytest.param(LONDON, date(2026, 3, 29), 0, 1, id="London spring forward"),
    pytest.param(LONDON, date(2026, 10, 25), 1, 0, id="London fall back"),
    pytest.param(SYDNEY, date(2026, 4, 5), 11, 10, id="Sydney fall back"),
    pytest.param(SYDNEY, date(2026, 10, 4), 10, 11, id="Sydney spring forward"),
]


def _window(start: str = "10:00", end: str = "11:00", days: str = "daily") -> Window:
    return Window(parse_weekdays(days), parse_clock_time(start), parse_clock_time(end))


def _hours(offset: timedelta | None) -> float:
    assert offset is not None
    return offset.total_seconds() / 3600


# --- windows and weekdays ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("11:00", "10:00", "must end after it starts"),
        ("10:00", "10:00", "must end after it starts"),
        ("07:59", "09:00", "between 08:00 and 21:00"),
        ("20:00", "21:01", "between 08:00 and 21:00"),
        ("10:00", "10:09", "at least 10 minutes"),
    ],
)
def test_a_window_outside_the_rules_says_what_to_fix(start: str, end: str, words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        _window(start, end)


def test_a_window_breaking_several_rules_says_each() -> None:
    """23:00–02:00 (meant across midnight) is backwards and out of calling hours: both are said."""
    with pytest.raises(ScheduleError) as refused:
        _window("23:00", "02:00")

    assert refused.value.messages == (
        "The window must end after it starts, e.g. 10:00 to 11:00.",
        "Check-in windows must lie between 08:00 and 21:00 in the person's local time: calls "
        "are never placed outside those hours.",
    )


def test_windows_at_the_edges_of_calling_hours_are_allowed() -> None:
    assert _window("08:00", "08:10").start == time(8, 0)
    assert _window("20:50", "21:00").end == time(21, 0)
    assert _window("8:00", "21:00").describe() == "Every day 08:00–21:00"


@pytest.mark.parametrize("text", ["", "10", "10:00:00", "ten", "24:00", "10:60", "-1:00"])
def test_a_time_of_day_must_be_hh_mm(text: str) -> None:
    with pytest.raises(ScheduleError, match="is not a time of day; use HH:MM"):
        parse_clock_time(text)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ("mon", ("mon",)),
        ("Mon, tue,FRIDAY", ("mon", "tue", "fri")),
        ("fri,mon,fri", ("mon", "fri")),
        (["sun", "Thursday", "thurs"], ("thu", "sun")),
        ("weekdays", WEEK[:5]),
        ("weekends", ("sat", "sun")),
        ("daily", WEEK),
        ("weekdays, sat", WEEK[:6]),
        ("tues, wednesday,", ("tue", "wed")),
    ],
)
def test_weekdays_in_their_many_spellings(days: str | list[str], expected: tuple[str, ...]) -> None:
    assert parse_weekdays(days) == expected


@pytest.mark.parametrize(
    ("days", "words"),
    [
        ("", "at least one day"),
        ([], "at least one day"),
        (" , ", "at least one day"),
        ("mon,funday", "'funday' is not a day of the week"),
        (["mon", "1"], "'1' is not a day of the week"),
    ],
)
def test_bad_weekdays_say_what_is_wrong(days: str | list[str], words: str) -> None:
    with pytest.raises(ScheduleError, match=words):
        parse_weekdays(days)


def test_zones_are_iana_names_only() -> None:
    assert zone(" America/Chicago ").key == "America/Chicago"
    for bad in ("", "CST", "Mars/Olympus", "../etc/passwd", "america/chicago"):
        with pytest.raises(ScheduleError, match="not a time zone"):
            zone(bad)


def test_first_overlap_finds_windows_sharing_a_day_and_time() -> None:
    mornings = _window("10:00", "11:00", "weekdays")
    next_hour = _window("11:00", "12:00", "weekdays")  # touches, doesn't overlap
    weekend = _window("10:00", "11:00", "weekends")  # same time, other days
    friday = _window("10:30", "12:00", "fri")

    assert first_overlap([]) is None
    assert first_overlap([mornings, next_hour, weekend]) is None
    assert first_overlap([mornings, next_hour, weekend, friday]) == (mornings, friday)
    assert first_overlap([friday, next_hour]) == (friday, next_hour)
    assert mornings.overlaps(friday) and friday.overlaps(mornings)
    assert not mornings.overlaps(next_hour)


def test_a_window_occurs_on_its_weekdays_only() -> None:
    window = _window(days="mon,thu")
    monday = date(2026, 3, 2)
    assert [window.occurs_on(monday + timedelta(days=n)) for n in range(7)] == [
        True,
        False,
        False,
        True,
        False,
        False,
        False,
    ]


# --- daylight saving --------------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "change", "before", "after"), DST_CHANGES)
def test_a_10_to_11_window_stays_10_to_11_local_across_the_change(
    tz: ZoneInfo, change: date, before: int, after: int
) -> None:
    window = _window("10:00", "11:00")
    offsets = []
    for day in (change + timedelta(days=n) for n in range(-3, 4)):
        start, end = window.on(day, tz)
        assert start.tzinfo == UTC and end.tzinfo == UTC
        assert start.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, time(10, 0))
        assert end.astimezone(tz).replace(tzinfo=None) == datetime.combine(day, time(11, 0))
        assert end - start == timedelta(hours=1)
        offsets.append(_hours(start.astimezone(tz).utcoffset()))
        # The UTC hour is 10:00 minus that day's offset: it moves when the clocks change.
        assert start.hour == (10 - offsets[-1]) % 24
    # Days before the change keep the old offset; the change's day (clocks moved at night)
    # and the days after have the new one.
    assert offsets == [before] * 3 + [after] * 4


@pytest.mark.parametrize(("tz", "change", "before", "after"), DST_CHANGES)
def test_calling_hours_edges_on_both_sides_of_the_change(
    tz: ZoneInfo, change: date, before: int, after: int
) -> None:
    for day, offset in ((change - timedelta(days=1), before), (change + timedelta(days=1), after)):

        def utc(hour: int, minute: int, day: date = day, offset: int = offset) -> datetime:
            # The UTC moment of that local wall-clock time, worked out by hand from the offset.
            local = datetime.combine(day, time(hour, minute), tzinfo=UTC)
            return local - timedelta(hours=offset)

        assert not within_calling_hours(utc(7, 59), tz)
        assert within_calling_hours(utc(8, 0), tz)
        assert within_calling_hours(utc(20, 59), tz)
        assert not within_calling_hours(utc(21, 0), tz)
        assert not within_calling_hours(utc(3, 0), tz)

    # The same UTC moment is inside calling hours on one side of the change and outside on the
    # other: 07:30 local before the change is 08:30 or 06:30 local after it.
    day_before, day_after = change - timedelta(days=1), change + timedelta(days=1)
    half_past_seven_before = datetime.combine(day_before, time(7, 30), tzinfo=UTC) - timedelta(
        hours=before
    )
    same_utc_time_after = half_past_seven_before + (day_after - day_before)
    assert not within_calling_hours(half_past_seven_before, tz)
    assert within_calling_hours(same_utc_time_after, tz) == (after > before)


def test_calling_hours_are_in_the_persons_time_not_utc() -> None:
    afternoon_utc = datetime(2026, 1, 15, 13, 59, tzinfo=UTC)  # 07:59 in Chicago
    assert not within_calling_hours(afternoon_utc, CHICAGO)
    assert within_calling_hours(afternoon_utc, LONDON)
    night_utc = datetime(2026, 1, 16, 2, 59, tzinfo=UTC)  # 20:59 in Chicago, 13:59 in Sydney
    assert within_calling_hours(night_utc, CHICAGO)
    assert within_calling_hours(night_utc, SYDNEY)
    assert not within_calling_hours(night_utc, LONDON)


@pytest.mark.parametrize(
    ("tz", "skipped", "after_the_gap"),
    [
        (CHICAGO, datetime(2026, 3, 8, 2, 30), datetime(2026, 3, 8, 8, 30, tzinfo=UTC)),
        (LONDON, datetime(2026, 3, 29, 1, 30), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        (SYDNEY, datetime(2026, 10, 4, 2, 30), datetime(2026, 10, 3, 16, 30, tzinfo=UTC)),
    ],
)
def test_a_time_skipped_by_spring_forward_is_taken_as_the_moment_after_the_gap(
    tz: ZoneInfo, skipped: datetime, after_the_gap: datetime
) -> None:
    moment = to_utc(skipped, tz)
    assert moment == after_the_gap
    # An hour after the skipped time on the new clock: 02:30 that never happened is 03:30.
    assert moment.astimezone(tz).replace(tzinfo=None) == skipped + timedelta(hours=1)


@pytest.mark.parametrize(
    ("tz", "repeated", "first_time", "second_time"),
    [
        (
            CHICAGO,
            datetime(2026, 11, 1, 1, 30),
            datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
            datetime(2026, 11, 1, 7, 30, tzinfo=UTC),
        ),
        (
            LONDON,
            datetime(2026, 10, 25, 1, 30),
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        ),
        (
            SYDNEY,
            datetime(2026, 4, 5, 2, 30),
            datetime(2026, 4, 4, 15, 30, tzinfo=UTC),
            datetime(2026, 4, 4, 16, 30, tzinfo=UTC),
        ),
    ],
)
def test_a_time_repeated_by_fall_back_is_taken_as_its_first_occurrence(
    tz: ZoneInfo, repeated: datetime, first_time: datetime, second_time: datetime
) -> None:
    assert to_utc(repeated, tz) == first_time
    # Both really are that wall-clock time: the clocks showed it twice.
    for moment in (first_time, second_time):
        assert moment.astimezone(tz).replace(tzinfo=None) == repeated


def test_an_ordinary_time_is_converted_with_that_days_offset() -> None:
    assert to_utc(datetime(2026, 1, 15, 10, 0), CHICAGO) == datetime(2026, 1, 15, 16, tzinfo=UTC)
    assert to_utc(datetime(2026, 7, 15, 10, 0), CHICAGO) == datetime(2026, 7, 15, 15, tzinfo=UTC)
    assert to_utc(datetime(2026, 7, 15, 10, 0), SYDNEY) == datetime(2026, 7, 15, 0, tzinfo=UTC)

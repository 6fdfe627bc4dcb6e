"""A report's period in the agency's zone: weeks from Monday, months, clipped to the period; each
bucket's local midnights as UTC moments across daylight-saving changes; periods refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecall.core.periods import (
    MAX_PERIOD_DAYS,
    PeriodError,
    default_first_day,
    local_midnight,
    make_period,
)

LONDON = ZoneInfo("Europe/London")
CHICAGO = ZoneInfo("America/Chicago")


def test_weeks_start_on_monday_and_the_first_and_last_are_clipped() -> None:
    # Wednesday 7 January to Tuesday 20 January 2026.
    period = make_period(date(2026, 1, 7), date(2026, 1, 20), "week", ZoneInfo("UTC"))

    assert [(b.label, b.first_day, b.last_day) for b in period.buckets] == [
        ("2026-W02", date(2026, 1, 7), date(2026, 1, 11)),
        ("2026-W03", date(2026, 1, 12), date(2026, 1, 18)),
        ("2026-W04", date(2026, 1, 19), date(2026, 1, 20)),
    ]
    assert period.start_at == datetime(2026, 1, 7, tzinfo=UTC)
    assert period.end_at == datetime(2026, 1, 21, tzinfo=UTC)


def test_a_week_across_new_year_is_named_by_its_iso_week() -> None:
    period = make_period(date(2025, 12, 29), date(2026, 1, 4), "week", LONDON)

    assert [b.label for b in period.buckets] == ["2026-W01"]


def test_the_week_clocks_go_forward_is_167_hours_and_the_next_starts_at_local_midnight() -> None:
    # Europe/London: 01:00 GMT on Sunday 29 March 2026 becomes 02:00 BST.
    period = make_period(date(2026, 3, 16), date(2026, 4, 5), "week", LONDON)
    twelve, thirteen, fourteen = period.buckets

    assert thirteen.start_at == datetime(2026, 3, 23, 0, 0, tzinfo=UTC)
    assert thirteen.end_at == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)  # Monday 00:00 BST
    assert thirteen.end_at - thirteen.start_at == timedelta(hours=167)
    assert twelve.end_at - twelve.start_at == timedelta(hours=168)
    assert fourteen.start_at == thirteen.end_at
    assert fourteen.end_at == datetime(2026, 4, 5, 23, 0, tzinfo=UTC)


def test_the_week_clocks_go_back_is_169_hours() -> None:
    # America/Chicago: 02:00 CDT on Sunday 1 November 2026 becomes 01:00 CST.
    [week] = make_period(date(2026, 10, 26), date(2026, 11, 1), "week", CHICAGO).buckets

    assert week.start_at == datetime(2026, 10, 26, 5, 0, tzinfo=UTC)
    assert week.end_at == datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    assert week.end_at - week.start_at == timedelta(hours=169)


def test_months_are_calendar_months_in_the_agency_zone() -> None:
    period = make_period(date(2026, 3, 16), date(2026, 5, 31), "month", LONDON)

    assert [(b.label, b.first_day, b.last_day) for b in period.buckets] == [
        ("2026-03", date(2026, 3, 16), date(2026, 3, 31)),
        ("2026-04", date(2026, 4, 1), date(2026, 4, 30)),
        ("2026-05", date(2026, 5, 1), date(2026, 5, 31)),
    ]
    assert period.buckets[1].start_at == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


def test_december_is_followed_by_january() -> None:
    period = make_period(date(2025, 11, 1), date(2026, 2, 28), "month", ZoneInfo("UTC"))

    assert [b.label for b in period.buckets] == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_a_midnight_skipped_by_daylight_saving_starts_the_day_at_its_first_moment() -> None:
    # America/Havana: on 8 March 2026 clocks go from 00:00 straight to 01:00 (CDT).
    havana = ZoneInfo("America/Havana")

    start = local_midnight(date(2026, 3, 8), havana)

    assert start == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    assert start.astimezone(havana).hour == 1


def test_a_year_is_53_weeks_or_12_months_at_most() -> None:
    weeks = make_period(date(2024, 1, 1), date(2024, 12, 31), "week", LONDON)
    months = make_period(date(2024, 1, 1), date(2024, 12, 31), "month", LONDON)

    assert (weeks.last_day - weeks.first_day).days + 1 == MAX_PERIOD_DAYS
    assert len(weeks.buckets) == 53
    assert len(months.buckets) == 12


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (date(2026, 3, 2), date(2026, 3, 1), "'from' (2026-03-02) is after 'to' (2026-03-01)."),
        (
            date(2025, 1, 1),
            date(2026, 1, 2),
            "The period is 367 days long; a report covers at most 366 days.",
        ),
        (date(1969, 12, 31), date(1970, 1, 5), "'from' must be between 1970-01-01 and 2999-12-31."),
        (date(2999, 12, 31), date(9999, 12, 31), "'to' must be between 1970-01-01 and 2999-12-31."),
    ],
)
def test_a_period_that_cannot_be_reported_on_says_why(
    first: date, last: date, message: str
) -> None:
    with pytest.raises(PeriodError) as refused:
        make_period(first, last, "week", LONDON)

    assert str(refused.value) == message


def test_without_a_start_a_report_covers_12_weeks_or_6_months_ending_with_the_current() -> None:
    thursday = date(2026, 3, 26)

    assert default_first_day(thursday, "week") == date(2026, 1, 5)
    assert default_first_day(thursday, "month") == date(2025, 10, 1)
    assert len(make_period(date(2026, 1, 5), thursday, "week", LONDON).buckets) == 12

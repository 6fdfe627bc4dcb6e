"""Quiet hours and daylight saving: plans in three time zones, run round by round across each
zone's DST change; every call falls inside its window in local time, inside 08:00–21:00, once a
day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from carecall.checkins.roster import PlanInput, RosterService
from carecall.settings import Settings
from tests.checkins.clocks import FakeClock
from tests.checkins.program import running_program

# (zone, a moment two days before its change, the change's local date)
DST_CHANGES = [
    ("America/Chicago", datetime(2026, 3, 6, 12, tzinfo=UTC), date(2026, 3, 8)),  # spring forward
    ("Europe/London", datetime(2026, 10, 23, 12, tzinfo=UTC), date(2026, 10, 25)),  # fall back
    ("Australia/Sydney", datetime(2026, 4, 3, 12, tzinfo=UTC), date(2026, 4, 5)),  # fall back
]

PLANS = [
    PlanInput(weekdays="daily", window_start="08:00", window_end="08:30", retry_delay_minutes=10),
    PlanInput(weekdays="daily", window_start="20:30", window_end="21:00", retry_delay_minutes=10),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("zone_name", "start", "change"), DST_CHANGES)
def test_calls_stay_in_local_windows_across_a_dst_change(
    make_settings: Callable[..., Settings],
    database_url: str,
    zone_name: str,
    start: datetime,
    change: date,
) -> None:
    tz = ZoneInfo(zone_name)
    clock = FakeClock(start)
    with running_program(make_settings(database_url=database_url), clock) as program:
        early = program.add_senior(name="Early Bird", phone="+13125550111", timezone=zone_name)
        late = program.add_senior(name="Night Owl", phone="+13125550112", timezone=zone_name)
        portal = program.client.portal
        assert portal is not None
        roster = RosterService(program.state.seniors, clock)
        portal.call(roster.add_plan, early.id, PLANS[0])
        portal.call(roster.add_plan, late.id, PLANS[1])

        # Four days of rounds; each day's first try goes unanswered, the
        # second is answered.
        answered: set[str] = set()
        tries: dict[tuple[str, date], int] = {}
        end = start + timedelta(days=4)
        while clock.now() < end:
            program.run_round()
            for sid, placed_at in list(program.twilio.placed_at.items()):
                if sid in answered:
                    continue
                answered.add(sid)
                key = (program.twilio.calls[sid]["to"], placed_at.astimezone(tz).date())
                tries[key] = tries.get(key, 0) + 1
                program.twilio_says(sid, "no-answer" if tries[key] == 1 else "completed")
            # Every 10 minutes around the windows, hourly otherwise (rounds run all night too).
            local_hour = clock.now().astimezone(tz).hour
            clock.advance(minutes=10 if local_hour in (7, 8, 9, 19, 20, 21) else 60)

        calls = program.twilio.sent("call")
        by_day: dict[tuple[str, date], list[datetime]] = {}
        for stamped in calls:
            local = stamped.at.astimezone(tz)
            assert 8 <= local.hour < 21, f"a call at {local:%H:%M} local"
            by_day.setdefault((stamped.form["To"], local.date()), []).append(local)
        for (number, _day), moments in by_day.items():
            first = moments[0]
            if number == "+13125550111":
                assert (first.hour, first.minute) == (8, 0)
                assert all(m.hour == 8 and m.minute < 30 for m in moments)
            else:
                assert (first.hour, first.minute) == (20, 30)
                assert all(m.hour == 20 and m.minute >= 30 for m in moments)
            assert len(moments) == 2, "one unanswered try, then the answered one"
        days = {day for (_number, day) in by_day}
        assert change in days and change - timedelta(days=1) in days
        assert change + timedelta(days=1) in days
        offsets = {m.utcoffset() for ms in by_day.values() for m in ms}
        assert len(offsets) == 2, "the UTC offset really changed during the run"

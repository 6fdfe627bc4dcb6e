"""RosterService against real SQLite and PostgreSQL: what it refuses (duplicates, overlaps,
consent from the future, a caregiver with the person's own number) and what it allows
(back-to-back windows, the same hours on other days, inactive plans alongside active ones)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.checkins.roster import (
    CaregiverInput,
    ConsentInput,
    PlanInput,
    PlanNotFound,
    PlanOverlap,
    RosterError,
    RosterService,
    SeniorInput,
    SeniorNotFound,
)
from carecall.persistence.database import create_session_factory
from carecall.persistence.roster import SeniorRepository
from tests.checkins.clocks import FakeClock

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
NUMBER = "+13125550101"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def roster(engine: AsyncEngine, clock: FakeClock) -> RosterService:
    return RosterService(SeniorRepository(create_session_factory(engine)), clock)


def _person(number: str = NUMBER, *caregivers: CaregiverInput, name: str = "Ruth") -> SeniorInput:
    return SeniorInput(
        name=name, phone_number=number, timezone="America/Chicago", caregivers=caregivers
    )


def _plan(days: str, start: str, end: str, *, active: bool = True) -> PlanInput:
    return PlanInput(weekdays=days, window_start=start, window_end=end, active=active)


async def test_a_number_belongs_to_one_person_only(roster: RosterService) -> None:
    first = await roster.create(_person())
    with pytest.raises(RosterError, match=r"\+13125550101 already belongs to someone"):
        await roster.create(_person("+1 312-555-0101", name="Someone else"))

    second = await roster.create(_person("+13125550102", name="Ida"))
    with pytest.raises(RosterError, match="already belongs"):
        await roster.update(second.id, _person(NUMBER, name="Ida"))

    assert (await roster.get(second.id)).phone_number == "+13125550102"
    assert (await roster.get(first.id)).name == "Ruth"


async def test_overlapping_windows_on_a_shared_day_are_refused(roster: RosterService) -> None:
    senior = await roster.create(_person())
    await roster.add_plan(senior.id, _plan("mon,wed,fri", "10:00", "11:00"))

    for days, start, end in [
        ("fri", "10:30", "11:30"),  # intersects on Friday
        ("daily", "09:00", "10:01"),  # one minute into it
        ("wed", "10:15", "10:45"),  # inside it
        ("mon,wed,fri", "10:00", "11:00"),  # the same
    ]:
        with pytest.raises(PlanOverlap, match="overlaps the plan Mon, Wed, Fri 10:00–11:00"):
            await roster.add_plan(senior.id, _plan(days, start, end))

    assert len((await roster.get(senior.id)).plans) == 1


async def test_back_to_back_windows_and_other_days_are_allowed(roster: RosterService) -> None:
    senior = await roster.create(
        _person(),
        plans=[_plan("weekdays", "10:00", "11:00"), _plan("weekdays", "11:00", "12:00")],
    )
    await roster.add_plan(senior.id, _plan("weekdays", "09:50", "10:00"))
    await roster.add_plan(senior.id, _plan("sat,sun", "10:00", "11:00"))

    plans = (await roster.get(senior.id)).plans
    assert [(p.weekdays, p.window_start, p.window_end) for p in plans] == [
        ("mon,tue,wed,thu,fri", time(10, 0), time(11, 0)),
        ("mon,tue,wed,thu,fri", time(11, 0), time(12, 0)),
        ("mon,tue,wed,thu,fri", time(9, 50), time(10, 0)),
        ("sat,sun", time(10, 0), time(11, 0)),
    ]


async def test_overlapping_plans_in_one_new_person_store_nothing(roster: RosterService) -> None:
    with pytest.raises(PlanOverlap):
        await roster.create(
            _person(), plans=[_plan("mon", "10:00", "11:00"), _plan("mon", "10:30", "12:00")]
        )
    with pytest.raises(RosterError, match="between 08:00 and 21:00"):
        await roster.create(
            _person(), plans=[_plan("mon", "10:00", "11:00"), _plan("tue", "20:00", "22:00")]
        )
    # Nothing was half-made: the number is still free.
    assert (await roster.create(_person())).phone_number == NUMBER


async def test_inactive_plans_dont_count_for_overlaps(roster: RosterService) -> None:
    senior = await roster.create(_person())
    paused = await roster.add_plan(senior.id, _plan("mon", "10:00", "11:00", active=False))
    active = await roster.add_plan(senior.id, _plan("mon", "10:30", "11:30"))
    # An inactive plan may overlap an active one, too.
    await roster.add_plan(senior.id, _plan("mon", "10:00", "12:00", active=False))

    # Turning the paused plan back on now collides with the active one.
    with pytest.raises(PlanOverlap, match="overlaps the plan Mon 10:30–11:30"):
        await roster.update_plan(senior.id, paused.id, _plan("mon", "10:00", "11:00"))
    # Moved clear of it, it may be active again; changing a plan doesn't collide with itself.
    moved = await roster.update_plan(senior.id, paused.id, _plan("mon", "08:00", "10:30"))
    assert moved.active and moved.window_end == time(10, 30)
    again = await roster.update_plan(senior.id, active.id, _plan("mon", "10:30", "11:00"))
    assert again.window_end == time(11, 0)


async def test_plans_belong_to_their_person(roster: RosterService) -> None:
    ruth = await roster.create(_person())
    ida = await roster.create(_person("+13125550102", name="Ida"))
    plan = await roster.add_plan(ida.id, _plan("mon", "10:00", "11:00"))

    with pytest.raises(PlanNotFound, match=f"no check-in plan {plan.id}"):
        await roster.update_plan(ruth.id, plan.id, _plan("tue", "10:00", "11:00"))
    with pytest.raises(PlanNotFound):
        await roster.delete_plan(ruth.id, plan.id)
    with pytest.raises(SeniorNotFound, match="There is no person 999 on the roster"):
        await roster.add_plan(999, _plan("mon", "10:00", "11:00"))

    await roster.delete_plan(ida.id, plan.id)
    assert (await roster.get(ida.id)).plans == []


async def test_consent_is_recorded_with_who_how_and_when_never_in_the_future(
    roster: RosterService, clock: FakeClock
) -> None:
    senior = await roster.create(_person())
    assert not senior.has_consent

    with pytest.raises(RosterError, match="future"):
        await roster.record_consent(
            senior.id,
            ConsentInput("Ruth", "verbal", at=NOW + timedelta(seconds=1)),
            recorded_by="nurse@example.org",
        )
    with pytest.raises(RosterError, match="UTC offset"):
        await roster.record_consent(
            senior.id, ConsentInput("Ruth", "verbal", at=datetime(2026, 3, 1, 9)), recorded_by=None
        )
    with pytest.raises(RosterError, match="must be one of: verbal, written"):
        await roster.record_consent(senior.id, ConsentInput("Ruth", "nod"), recorded_by=None)
    with pytest.raises(RosterError, match="Who gave consent is required"):
        await roster.record_consent(senior.id, ConsentInput("  ", "verbal"), recorded_by=None)
    assert not (await roster.get(senior.id)).has_consent

    chicago_morning = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=-6)))
    await roster.record_consent(
        senior.id,
        ConsentInput(" Ruth herself ", "Written", at=chicago_morning),
        recorded_by="nurse@example.org",
    )
    stored = await roster.get(senior.id)
    assert stored.has_consent
    assert stored.consent_given_by == "Ruth herself"
    assert stored.consent_method == "written"
    assert stored.consent_recorded_by == "nurse@example.org"
    # The moment is kept on both databases (SQLite drops offsets: it is stored as UTC).
    assert stored.consent_at is not None
    assert stored.consent_at.replace(tzinfo=stored.consent_at.tzinfo or UTC) == chicago_morning

    clock.advance(hours=1)
    await roster.record_consent(senior.id, ConsentInput("Ruth", "verbal"), recorded_by="api")
    latest = (await roster.get(senior.id)).consent_at
    assert latest is not None
    assert latest.replace(tzinfo=latest.tzinfo or UTC) == NOW + timedelta(hours=1)


async def test_a_caregiver_cant_have_the_persons_own_number(roster: RosterService) -> None:
    own = CaregiverInput(name="Ruth again", phone_number="+1 (312) 555-0101")
    with pytest.raises(RosterError, match="Caregiver 2 has the person's own phone number"):
        await roster.create(_person(NUMBER, CaregiverInput("Sam", "+13125550109"), own))

    senior = await roster.create(_person(NUMBER, CaregiverInput("Sam", "+13125550109")))
    with pytest.raises(RosterError, match="Caregiver 1 has the person's own phone number"):
        await roster.update(senior.id, _person(NUMBER, own))
    # Changing the person's number to their caregiver's is refused the same way.
    with pytest.raises(RosterError, match="own phone number"):
        await roster.update(
            senior.id, _person("+13125550109", CaregiverInput("Sam", "+13125550109"))
        )
    assert [c.name for c in (await roster.get(senior.id)).caregivers] == ["Sam"]

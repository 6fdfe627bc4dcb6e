"""Who a call is for: the brief the voice webhook loads for the media stream, from the roster,
on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.calls.briefs import GENERIC_BRIEF, CallBrief, CallBriefs
from carecall.checkins.roster import RosterService, SeniorInput
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import Senior
from carecall.persistence.repositories import CallRepository
from carecall.persistence.roster import SeniorRepository
from tests.checkins.clocks import FakeClock

NOTES = "Loves her garden. Son Tom visits on Sundays. A little hard of hearing."


@pytest.fixture
def seniors(engine: AsyncEngine) -> SeniorRepository:
    return SeniorRepository(create_session_factory(engine))


async def _mary(seniors: SeniorRepository, **changes: str) -> Senior:
    data = SeniorInput(
        name="Mary Jones",
        phone_number="+14155550123",
        timezone="America/Chicago",
        preferred_name="Molly",
        notes=NOTES,
        on_behalf_of="your daughter Susan",
        language="en",
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return await RosterService(seniors, FakeClock()).create(data)


async def test_a_brief_says_what_the_bot_needs_to_know(
    seniors: SeniorRepository, calls_repo: CallRepository
) -> None:
    mary = await _mary(seniors)
    assert CallBrief.of(mary) == CallBrief(
        "Molly", "your daughter Susan", NOTES, "en", senior_id=mary.id
    )
    assert CallBrief.of(mary).personal and not GENERIC_BRIEF.personal
    plain = await _mary(seniors, phone_number="+14155550124", preferred_name="", on_behalf_of="")
    assert CallBrief.of(plain).spoken_name == "Mary"  # no preferred name: the first name
    assert CallBrief.of(plain).on_behalf_of is None  # then the organization's name is said


async def test_the_voice_webhook_loads_it_and_the_stream_takes_it_from_memory(
    seniors: SeniorRepository, calls_repo: CallRepository
) -> None:
    mary = await _mary(seniors)
    call = await calls_repo.create(mary.phone_number, None, senior_id=mary.id)
    stranger = await calls_repo.create("+14155550999", None)
    briefs = CallBriefs(calls_repo, seniors, lookup_timeout=0)

    assert (await briefs.load(call.id)).spoken_name == "Molly"
    assert await briefs.load(stranger.id) == GENERIC_BRIEF
    assert len(briefs) == 2
    # A timeout of 0 can't wait for any database: these come from memory.
    assert (await briefs.for_stream(call.id)).notes == NOTES
    assert await briefs.for_stream(stranger.id) == GENERIC_BRIEF

    briefs.forget(call.id)
    briefs.forget(stranger.id)
    assert len(briefs) == 0 and briefs.get(call.id) is None
    # Not in memory and no time to read the database: the generic greeting, at once.
    assert await briefs.for_stream(call.id) == GENERIC_BRIEF


async def test_a_stream_on_another_process_reads_the_database(
    seniors: SeniorRepository, calls_repo: CallRepository
) -> None:
    mary = await _mary(seniors)
    call = await calls_repo.create(mary.phone_number, None, senior_id=mary.id)
    briefs = CallBriefs(calls_repo, seniors, lookup_timeout=5)

    brief = await briefs.for_stream(call.id)

    assert brief.spoken_name == "Molly" and brief.on_behalf_of == "your daughter Susan"
    assert briefs.get(call.id) == brief  # remembered until the call ends
    assert await briefs.for_stream(987_654) == GENERIC_BRIEF  # no such call


async def test_the_store_never_grows_past_its_bound(
    seniors: SeniorRepository, calls_repo: CallRepository
) -> None:
    briefs = CallBriefs(calls_repo, seniors, max_entries=3)
    for call_id in range(1, 6):
        briefs.remember(call_id, CallBrief(f"Person {call_id}"))
    assert len(briefs) == 3
    assert briefs.get(1) is None and briefs.get(2) is None
    assert briefs.get(5) == CallBrief("Person 5")


async def test_the_brief_carries_the_digest_of_recent_calls(
    seniors: SeniorRepository, calls_repo: CallRepository, engine: AsyncEngine
) -> None:
    from datetime import UTC, datetime

    from carecall.persistence.wellbeing import WellbeingRepository

    memories = WellbeingRepository(create_session_factory(engine))
    mary = await _mary(seniors)
    call = await calls_repo.create(mary.phone_number, None, senior_id=mary.id)
    briefs = CallBriefs(calls_repo, seniors, memories, lookup_timeout=0)
    assert (await briefs.load(call.id)).memory is None  # no call yet: nothing to remember

    digest = "Tue 24 Nov: her granddaughter visited on Sunday. Follow up: her sore knee."
    await memories.save_digest(mary.id, digest, 1, datetime.now(UTC))
    assert (await briefs.load(call.id)).memory == digest


async def test_the_call_can_be_put_through_to_the_first_caregiver_who_takes_calls(
    seniors: SeniorRepository,
) -> None:
    from carecall.checkins.roster import CaregiverInput

    mary = await RosterService(seniors, FakeClock()).create(
        SeniorInput(
            name="Mary Jones",
            phone_number="+14155550123",
            timezone="America/Chicago",
            caregivers=[
                CaregiverInput("Susan Jones", "+14155550190", "daughter", "sms"),
                CaregiverInput("Tom Jones", "+14155550191", "Son", "call"),
                CaregiverInput("Ann Lee", "+14155550192", "", "call"),
            ],
        )
    )
    line = CallBrief.of(mary).connect_to
    assert line is not None
    assert (line.spoken, line.first_name, line.phone_number) == (
        "your son Tom",
        "Tom",
        "+14155550191",
    )
    # A hand-over tries everybody who takes calls, in their order (`calls.handover`).
    ladder = CallBrief.of(mary).connect_ladder
    assert [(c.name, c.spoken) for c in ladder] == [
        ("Tom Jones", "your son Tom"),
        ("Ann Lee", "Ann Lee"),
    ]
    texted_only = await RosterService(seniors, FakeClock()).create(
        SeniorInput(
            name="John Doe",
            phone_number="+14155550124",
            timezone="America/Chicago",
            caregivers=[CaregiverInput("Susan Jones", "+14155550190", "daughter", "sms")],
        )
    )
    assert CallBrief.of(texted_only).connect_to is None
    assert CallBrief.of(texted_only).connect_ladder == ()

"""The record writer: publishes at once, stores in order, survives database trouble."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.calls.briefs import CallBrief
from carecall.calls.recorder import RecordWriter
from carecall.checkins.roster import ConsentInput, RosterService, SeniorInput
from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.core.events import CallEvent, InProcessEventBus
from carecall.persistence.database import create_session_factory
from carecall.persistence.models import TurnRole
from carecall.persistence.repositories import CallRepository, TurnLike
from carecall.persistence.roster import SeniorRepository
from carecall.pipeline.events import CallNote, TurnRecord
from tests.checkins.clocks import FakeClock


def _turn(call_id: int, sequence: int, text: str) -> TurnRecord:
    now = datetime.now(UTC)
    return TurnRecord(call_id, sequence, TurnRole.USER, text, now, now)


async def test_records_are_published_and_stored_in_order(calls_repo: CallRepository) -> None:
    call = await calls_repo.create("+14155550100", None)
    bus = InProcessEventBus()
    writer = RecordWriter(calls_repo, bus)
    await writer.start()
    async with bus.subscribe() as events:
        for i in range(1, 6):
            writer.submit(_turn(call.id, i, f"line {i}"))
        writer.submit(CallNote(call.id, end_reason="caller-hangup"))
        received: list[CallEvent] = [await asyncio.wait_for(anext(events), 5) for _ in range(6)]
    await writer.drain()
    await writer.stop()
    assert [e.data.get("sequence") for e in received[:5]] == [1, 2, 3, 4, 5]
    assert received[5].kind == "call.status" and received[5].data == {"end_reason": "caller-hangup"}
    stored = await calls_repo.get(call.id, with_turns=True)
    assert stored is not None
    assert [t.text for t in stored.turns] == [f"line {i}" for i in range(1, 6)]
    assert stored.end_reason == "caller-hangup"


async def test_a_rejected_record_does_not_hold_back_the_others(calls_repo: CallRepository) -> None:
    call = await calls_repo.create("+14155550100", None)
    writer = RecordWriter(calls_repo, InProcessEventBus())
    await writer.start()
    writer.submit(_turn(call.id, 1, "kept"))
    writer.submit(_turn(999_999, 1, "no such call"))  # violates the foreign key
    writer.submit(_turn(call.id, 2, "kept too"))
    await writer.drain()
    await writer.stop()
    stored = await calls_repo.get(call.id, with_turns=True)
    assert stored is not None and [t.text for t in stored.turns] == ["kept", "kept too"]


class _FlakyRepository(CallRepository):
    """Fails the first writes as an unreachable database would."""

    def __init__(self, inner: CallRepository, failures: int) -> None:
        self._inner = inner
        self.failures = failures

    async def add_turns(self, turns: Sequence[TurnLike]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unreachable")
        await self._inner.add_turns(turns)


async def test_a_database_outage_delays_writes_but_loses_nothing(
    calls_repo: CallRepository,
) -> None:
    call = await calls_repo.create("+14155550100", None)
    flaky = _FlakyRepository(calls_repo, failures=3)
    writer = RecordWriter(flaky, InProcessEventBus())
    await writer.start()
    for i in range(1, 4):
        writer.submit(_turn(call.id, i, f"line {i}"))
    await writer.drain(timeout=10)
    await writer.stop()
    assert flaky.failures == 0
    stored = await calls_repo.get(call.id, with_turns=True)
    assert stored is not None and [t.sequence for t in stored.turns] == [1, 2, 3]


async def test_an_opt_out_marks_the_person_do_not_call(
    engine: AsyncEngine, calls_repo: CallRepository
) -> None:
    seniors = SeniorRepository(create_session_factory(engine))
    roster = RosterService(seniors, FakeClock())
    mary = await roster.create(SeniorInput("Mary Jones", "+14155550123", "America/Chicago"))
    await roster.record_consent(mary.id, ConsentInput("Mary", "verbal"), recorded_by=None)
    call = await calls_repo.create(mary.phone_number, None, senior_id=mary.id)
    stranger = await calls_repo.create("+14155550999", None)
    bus = InProcessEventBus()
    writer = RecordWriter(calls_repo, bus, seniors)
    await writer.start()
    end_reason = f"bot-hangup: {OPT_OUT_REASON}"
    async with bus.subscribe() as events:
        writer.submit(CallNote(call.id, end_reason=end_reason, opted_out=True))
        writer.submit(CallNote(stranger.id, end_reason=end_reason, opted_out=True))
        published = [await asyncio.wait_for(anext(events), 5) for _ in range(2)]
    await writer.drain()
    await writer.stop()

    assert published[0].data == {"end_reason": end_reason, "opted_out": True}
    marked = await seniors.get(mary.id)
    assert marked is not None and marked.do_not_call
    assert marked.do_not_call_reason == OPT_OUT_REASON and marked.do_not_call_at is not None
    stored = await calls_repo.get(call.id)
    assert stored is not None and stored.end_reason == end_reason
    # A number not on the roster: nothing to mark, the call's end is stored all the same.
    other = await calls_repo.get(stranger.id)
    assert other is not None and other.end_reason == end_reason


async def test_an_ordinary_end_marks_no_one(
    engine: AsyncEngine, calls_repo: CallRepository
) -> None:
    seniors = SeniorRepository(create_session_factory(engine))
    mary = await RosterService(seniors, FakeClock()).create(
        SeniorInput("Mary Jones", "+14155550123", "America/Chicago")
    )
    call = await calls_repo.create(mary.phone_number, None, senior_id=mary.id)
    writer = RecordWriter(calls_repo, InProcessEventBus(), seniors)
    await writer.start()
    writer.submit(CallNote(call.id, end_reason="bot-hangup: caller said goodbye"))
    await writer.drain()
    await writer.stop()
    unchanged = await seniors.get(mary.id)
    assert unchanged is not None and not unchanged.do_not_call


async def test_a_pause_profile_is_stored_on_the_person_and_published_to_no_one(
    engine: AsyncEngine, calls_repo: CallRepository
) -> None:
    seniors = SeniorRepository(create_session_factory(engine))
    mary = await RosterService(seniors, FakeClock()).create(
        SeniorInput("Mary Jones", "+14155550123", "America/Chicago")
    )
    assert mary.turn_patience == 1.0  # none learnt yet
    call = await calls_repo.create(mary.phone_number, None, senior_id=mary.id)
    stranger = await calls_repo.create("+14155550999", None)
    bus = InProcessEventBus()
    writer = RecordWriter(calls_repo, bus, seniors)
    await writer.start()
    async with bus.subscribe() as events:
        writer.submit(CallNote(call.id, turn_patience=1.27))
        writer.submit(CallNote(stranger.id, turn_patience=1.5))
        writer.submit(CallNote(call.id, end_reason="caller-hangup"))
        first = await asyncio.wait_for(anext(events), 5)
    await writer.drain()
    await writer.stop()

    assert first.data == {"end_reason": "caller-hangup"}  # the profile is not a page's news
    stored = await seniors.get(mary.id)
    assert stored is not None and stored.turn_patience == 1.27
    assert CallBrief.of(stored).patience == 1.27

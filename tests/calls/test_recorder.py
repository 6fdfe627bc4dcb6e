"""The record writer: publishes at once, stores in order, survives database trouble."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from calls.recorder import RecordWriter
from persistence.models import TurnRole
from persistence.repositories import CallRepository, TurnLike
from pipeline.events import CallEvent, CallNote, InProcessEventBus, TurnRecord


def _turn(call_id: int, sequence: int, text: str) -> TurnRecord:
    now = datetime.now(UTC)
    return TurnRecord(call_id, sequence, TurnRole.USER, text, now, now)


async def test_records_are_published_and_stored_in_order(calls_repo: CallRepository) -> None:
    call = await calls_repo.create("+14155550100", None)
    bus = InProcessEventBus()
    writer = RecordWriter(calls_repo, bus)
    writer.start()
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
    writer.start()
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
    writer.start()
    for i in range(1, 4):
        writer.submit(_turn(call.id, i, f"line {i}"))
    await writer.drain(timeout=10)
    await writer.stop()
    assert flaky.failures == 0
    stored = await calls_repo.get(call.id, with_turns=True)
    assert stored is not None and [t.sequence for t in stored.turns] == [1, 2, 3]

"""Runs on SQLite and on PostgreSQL (the `database_url` fixture is parametrized)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.persistence.models import CallChannel, CallStatus, TurnRole
from carecall.persistence.repositories import CallFilter, CallRepository, StatusUpdate
from carecall.pipeline.events import StepRecord, TurnRecord


async def _placed(repo: CallRepository, sid: str = "CA" + "a" * 32) -> int:
    call = await repo.create("+14155550100", "+15005550006")
    await repo.mark_placed(call.id, sid, CallStatus.QUEUED)
    return call.id


async def test_migrations_create_the_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
    assert {"calls", "conversation_turns", "alembic_version"} <= set(tables)


async def test_a_call_is_a_phone_call_unless_told_otherwise(calls_repo: CallRepository) -> None:
    phone = await calls_repo.create("+14155550100", "+15005550006")
    demo = await calls_repo.create("demo", None, channel=CallChannel.DEMO)
    stored = [await calls_repo.get(phone.id), await calls_repo.get(demo.id)]
    assert [call.channel for call in stored if call] == [CallChannel.PHONE, CallChannel.DEMO]


async def test_status_moves_forward_and_records_times(calls_repo: CallRepository) -> None:
    call_id = await _placed(calls_repo)
    sid = "CA" + "a" * 32
    for status in ("initiated", "ringing", "in-progress"):
        call, changed = await calls_repo.apply_status(StatusUpdate(sid, CallStatus(status)))
        assert changed and call is not None and call.status.value == status
    call, _ = await calls_repo.apply_status(
        StatusUpdate(sid, CallStatus.COMPLETED, sequence_number=4, duration_seconds=63)
    )
    assert call is not None
    stored = await calls_repo.get(call_id)
    assert stored is not None
    assert stored.status is CallStatus.COMPLETED
    assert stored.answered_at is not None and stored.ended_at is not None
    assert stored.duration_seconds == 63
    assert stored.end_reason == "completed"
    assert stored.last_callback_sequence == 4


async def test_late_duplicate_and_out_of_order_callbacks_never_move_a_call_back(
    calls_repo: CallRepository,
) -> None:
    call_id = await _placed(calls_repo)
    sid = "CA" + "a" * 32
    await calls_repo.apply_status(StatusUpdate(sid, CallStatus.IN_PROGRESS, sequence_number=2))
    # ringing arrives late: ignored
    call, changed = await calls_repo.apply_status(
        StatusUpdate(sid, CallStatus.RINGING, sequence_number=1)
    )
    assert not changed and call is not None and call.status is CallStatus.IN_PROGRESS
    await calls_repo.apply_status(StatusUpdate(sid, CallStatus.COMPLETED, sequence_number=3))
    # duplicate completed and a late in-progress: nothing changes; completed stays completed
    _, changed_dup = await calls_repo.apply_status(
        StatusUpdate(sid, CallStatus.COMPLETED, sequence_number=3)
    )
    _, changed_late = await calls_repo.apply_status(
        StatusUpdate(sid, CallStatus.IN_PROGRESS, sequence_number=2)
    )
    assert not changed_dup and not changed_late
    # a different final status after completed is ignored too
    await calls_repo.apply_status(StatusUpdate(sid, CallStatus.FAILED))
    stored = await calls_repo.get(call_id)
    assert stored is not None and stored.status is CallStatus.COMPLETED


async def test_unknown_call_sid_is_ignored(calls_repo: CallRepository) -> None:
    call, changed = await calls_repo.apply_status(StatusUpdate("CA" + "f" * 32, CallStatus.RINGING))
    assert call is None and not changed


async def test_a_callback_before_the_sid_is_stored_is_not_undone(
    calls_repo: CallRepository,
) -> None:
    call = await calls_repo.create("+14155550100", None)
    # Twilio's answer to calls.create said "queued", but a callback already set "ringing".
    await calls_repo.mark_placed(call.id, "CA" + "b" * 32, CallStatus.RINGING)
    updated = await calls_repo.mark_placed(call.id, "CA" + "b" * 32, CallStatus.QUEUED)
    assert updated is not None and updated.status is CallStatus.RINGING


async def test_mark_failed_keeps_the_reason(calls_repo: CallRepository) -> None:
    call = await calls_repo.create("+14155550100", None)
    failed = await calls_repo.mark_failed(call.id, "Twilio said no")
    assert (
        failed is not None
        and failed.status is CallStatus.FAILED
        and failed.error == "Twilio said no"
    )


async def test_turns_are_stored_in_order_and_never_twice(calls_repo: CallRepository) -> None:
    call_id = await _placed(calls_repo)
    start = datetime.now(UTC)
    turns = [
        TurnRecord(
            call_id,
            1,
            TurnRole.ASSISTANT,
            "Hello!",
            start,
            start + timedelta(seconds=2),
            backchannels="Mm-hm. / Yes.",
        ),
        TurnRecord(call_id, 2, TurnRole.USER, "Hi there", start + timedelta(seconds=3), None),
        TurnRecord(
            call_id, 3, TurnRole.ASSISTANT, "How are", start, None, interrupted=True, latency_ms=812
        ),
    ]
    await calls_repo.add_turns(turns[:2])
    await calls_repo.add_turns(turns)  # a retried batch: the first two are skipped
    call = await calls_repo.get(call_id, with_turns=True)
    assert call is not None
    assert [(t.sequence, t.role, t.text) for t in call.turns] == [
        (1, TurnRole.ASSISTANT, "Hello!"),
        (2, TurnRole.USER, "Hi there"),
        (3, TurnRole.ASSISTANT, "How are"),
    ]
    assert call.turns[2].interrupted and call.turns[2].latency_ms == 812
    assert [t.backchannels for t in call.turns] == ["Mm-hm. / Yes.", None, None]


async def test_moments_come_back_aware_in_utc_as_the_same_instant(
    calls_repo: CallRepository,
) -> None:
    """SQLite has no time zone type; the column type makes both databases answer alike: stored
    in UTC (a naive moment is taken as UTC), read back aware, and compared as instants."""
    call_id = await _placed(calls_repo)
    chicago = datetime(2026, 3, 2, 9, 30, tzinfo=ZoneInfo("America/Chicago"))  # 15:30 UTC
    naive = datetime(2026, 3, 2, 15, 31)
    await calls_repo.add_turns([TurnRecord(call_id, 1, TurnRole.USER, "Hi", chicago, naive)])

    call = await calls_repo.get(call_id, with_turns=True)

    assert call is not None
    moments = [call.created_at, call.turns[0].started_at, call.turns[0].ended_at]
    assert [m.utcoffset() if m else None for m in moments] == [timedelta(0)] * 3
    assert call.turns[0].started_at == chicago
    assert call.turns[0].ended_at == naive.replace(tzinfo=UTC)
    created_in_chicago = call.created_at.astimezone(ZoneInfo("America/Chicago"))
    after = CallFilter(created_from=created_in_chicago + timedelta(microseconds=1))
    assert (await calls_repo.search(CallFilter(created_from=created_in_chicago)))[1] == 1
    assert (await calls_repo.search(after))[1] == 0


async def test_end_reason_first_writer_wins_and_errors_accumulate(
    calls_repo: CallRepository,
) -> None:
    call_id = await _placed(calls_repo)
    await calls_repo.note_end_reason(call_id, "bot-hangup: done")
    await calls_repo.note_end_reason(call_id, "caller-hangup")
    await calls_repo.note_error(call_id, "LLM timeout")
    await calls_repo.note_error(call_id, "TTS failed")
    call = await calls_repo.get(call_id)
    assert call is not None
    assert call.end_reason == "bot-hangup: done"
    assert call.error == "LLM timeout\nTTS failed"


async def test_list_recent_pages_newest_first(calls_repo: CallRepository) -> None:
    ids = [(await calls_repo.create(f"+1415555010{i}", None)).id for i in range(5)]
    page, total = await calls_repo.list_recent(limit=2, offset=1)
    assert total == 5
    assert [c.id for c in page] == [ids[3], ids[2]]


@pytest.mark.parametrize("status", list(CallStatus))
def test_final_statuses_are_exactly_twilios_end_states(status: CallStatus) -> None:
    assert status.is_final == (
        status.value in {"completed", "busy", "no-answer", "canceled", "failed"}
    )


async def test_concurrent_writers_never_undo_each_other(calls_repo: CallRepository) -> None:
    """A `completed` callback racing the conversation's end reason and an error note: all
    three facts survive, whichever order the database applies them in."""
    for attempt in range(15):
        sid = f"CA{attempt:032x}"
        call_id = await _placed(calls_repo, sid)
        await calls_repo.apply_status(StatusUpdate(sid, CallStatus.IN_PROGRESS))
        await asyncio.gather(
            calls_repo.apply_status(StatusUpdate(sid, CallStatus.COMPLETED, duration_seconds=9)),
            calls_repo.note_end_reason(call_id, "bot-hangup: done"),
            calls_repo.note_error(call_id, "TTS hiccup"),
        )
        call = await calls_repo.get(call_id)
        assert call is not None
        assert (call.status, call.end_reason, call.error, call.duration_seconds) == (
            CallStatus.COMPLETED,
            "bot-hangup: done",
            "TTS hiccup",
            9,
        )


async def test_steps_are_stored_in_order_and_never_twice(calls_repo: CallRepository) -> None:
    call_id = await _placed(calls_repo)
    at = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    steps = [
        StepRecord(call_id, 2, "no_answer", "Tom Jones: didn't answer.", at),
        StepRecord(call_id, 1, "dialling", "Calling Tom Jones to take the call.", at),
    ]
    await calls_repo.add_steps(steps)
    await calls_repo.add_steps(steps[:1])  # a batch retried after a lost answer
    await calls_repo.add_steps([])
    stored = await calls_repo.steps(call_id)
    assert [(s.sequence, s.kind) for s in stored] == [(1, "dialling"), (2, "no_answer")]
    assert stored[0].at == at
    assert await calls_repo.steps(call_id + 1) == []

"""Every query carecall makes. Each method is one unit of work with its own session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from persistence.models import Call, CallStatus, ConversationTurn, TurnRole, utcnow


class TurnLike(Protocol):
    """A finished turn as the pipeline observed it (see `pipeline.events.TurnRecord`)."""

    @property
    def call_id(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def role(self) -> TurnRole: ...
    @property
    def text(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def interrupted(self) -> bool: ...
    @property
    def latency_ms(self) -> int | None: ...


@dataclass(frozen=True)
class StatusUpdate:
    """One Twilio status callback, already parsed."""

    call_sid: str
    status: CallStatus
    sequence_number: int | None = None
    duration_seconds: int | None = None
    answered_by: str | None = None


class CallRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(self, to_number: str, from_number: str | None) -> Call:
        async with self._sessions.begin() as session:
            call = Call(to_number=to_number, from_number=from_number, status=CallStatus.CREATED)
            session.add(call)
        return call

    async def get(self, call_id: int, *, with_turns: bool = False) -> Call | None:
        query = select(Call).where(Call.id == call_id)
        if with_turns:
            query = query.options(selectinload(Call.turns))
        async with self._sessions() as session:
            return (await session.execute(query)).scalar_one_or_none()

    async def list_recent(self, *, limit: int = 50, offset: int = 0) -> tuple[Sequence[Call], int]:
        async with self._sessions() as session:
            total = (await session.execute(select(func.count(Call.id)))).scalar_one()
            rows = await session.execute(
                select(Call).order_by(Call.id.desc()).limit(limit).offset(offset)
            )
            return rows.scalars().all(), total

    async def mark_placed(self, call_id: int, twilio_sid: str, status: CallStatus) -> Call | None:
        """Record Twilio's SID and first status, unless a callback already moved the call on."""
        async with self._sessions.begin() as session:
            call = await session.get(Call, call_id, with_for_update=True)
            if call is None:
                return None
            call.twilio_sid = twilio_sid
            if status.rank > call.status.rank:
                call.status = status
            return call

    async def mark_failed(self, call_id: int, error: str) -> Call | None:
        async with self._sessions.begin() as session:
            call = await session.get(Call, call_id, with_for_update=True)
            if call is None:
                return None
            if not call.status.is_final:
                call.status = CallStatus.FAILED
                call.ended_at = utcnow()
                call.end_reason = "failed"
            call.error = error
            return call

    async def apply_status(self, update_: StatusUpdate) -> tuple[Call | None, bool]:
        """Apply a status callback idempotently; return (call, whether anything changed).

        Callbacks arrive late, twice or out of order: a call only ever moves forward in its
        life (queued → ringing → in-progress → a final status), and a final status is kept.
        """
        async with self._sessions.begin() as session:
            call = (
                await session.execute(
                    select(Call).where(Call.twilio_sid == update_.call_sid).with_for_update()
                )
            ).scalar_one_or_none()
            if call is None:
                return None, False
            changed = False
            if update_.status.rank > call.status.rank:
                call.status = update_.status
                changed = True
                now = utcnow()
                if update_.status is CallStatus.IN_PROGRESS and call.answered_at is None:
                    call.answered_at = now
                if update_.status.is_final:
                    call.ended_at = call.ended_at or now
                    call.end_reason = call.end_reason or update_.status.value
            if update_.duration_seconds is not None and call.duration_seconds is None:
                call.duration_seconds = update_.duration_seconds
                changed = True
            if update_.answered_by and call.answered_by != update_.answered_by:
                call.answered_by = update_.answered_by
                changed = True
            if update_.sequence_number is not None:
                call.last_callback_sequence = max(
                    call.last_callback_sequence or 0, update_.sequence_number
                )
            return call, changed

    async def note_end_reason(self, call_id: int, reason: str) -> None:
        """Why the conversation ended (e.g. `bot-hangup`, `caller-hangup`), first writer wins."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Call)
                # A status callback records plain "completed"; the conversation knows more.
                .where(
                    Call.id == call_id,
                    or_(Call.end_reason.is_(None), Call.end_reason == "completed"),
                )
                .values(end_reason=reason)
            )

    async def note_error(self, call_id: int, message: str) -> None:
        """Append an error seen during the call; the call itself goes on."""
        async with self._sessions.begin() as session:
            call = await session.get(Call, call_id, with_for_update=True)
            if call is not None:
                call.error = f"{call.error}\n{message}" if call.error else message

    async def add_turns(self, turns: Sequence[TurnLike]) -> None:
        """Insert turns; a (call, sequence) pair already stored is skipped, never duplicated."""
        if not turns:
            return
        rows = [
            {
                "call_id": t.call_id,
                "sequence": t.sequence,
                "role": t.role,
                "text": t.text,
                "started_at": t.started_at,
                "ended_at": t.ended_at,
                "interrupted": t.interrupted,
                "latency_ms": t.latency_ms,
            }
            for t in turns
        ]
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(ConversationTurn).values(rows)
            await session.execute(
                statement.on_conflict_do_nothing(index_elements=["call_id", "sequence"])
            )

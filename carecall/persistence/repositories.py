"""Every query carecall makes. Each method is one unit of work with its own session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Update, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.persistence.models import (
    Call,
    CallChannel,
    CallStatus,
    CallStep,
    ConversationTurn,
    TurnRole,
    utcnow,
)


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
    @property
    def backchannels(self) -> str | None: ...


class StepLike(Protocol):
    """One step of a call (see `pipeline.events.StepRecord`)."""

    @property
    def call_id(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def at(self) -> datetime: ...


@dataclass(frozen=True)
class StatusUpdate:
    """One Twilio status callback, already parsed."""

    call_sid: str
    status: CallStatus
    sequence_number: int | None = None
    duration_seconds: int | None = None
    answered_by: str | None = None


@dataclass(frozen=True)
class CallFilter:
    """Which calls to list. Every field is optional; set ones must all match."""

    number_digits: str | None = None
    """A run of digits anywhere in the E.164 number called, e.g. "555" or "14155550100"."""
    statuses: Sequence[CallStatus] = ()
    created_from: datetime | None = None
    """Inclusive; a naive datetime is taken as UTC."""
    created_before: datetime | None = None
    """Exclusive; a naive datetime is taken as UTC."""

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.number_digits:
            if not self.number_digits.isdigit():
                raise ValueError("number_digits must be digits only")
            conditions.append(Call.to_number.contains(self.number_digits))
        if self.statuses:
            conditions.append(Call.status.in_(list(self.statuses)))
        if self.created_from is not None:
            conditions.append(Call.created_at >= self.created_from)
        if self.created_before is not None:
            conditions.append(Call.created_at < self.created_before)
        return conditions


class CallRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        to_number: str,
        from_number: str | None,
        *,
        channel: CallChannel = CallChannel.PHONE,
        senior_id: int | None = None,
        checkin_id: int | None = None,
    ) -> Call:
        async with self._sessions.begin() as session:
            call = Call(
                to_number=to_number,
                from_number=from_number,
                status=CallStatus.CREATED,
                channel=channel,
                senior_id=senior_id,
                checkin_id=checkin_id,
            )
            session.add(call)
        return call

    async def get(self, call_id: int, *, with_turns: bool = False) -> Call | None:
        query = select(Call).where(Call.id == call_id)
        if with_turns:
            query = query.options(selectinload(Call.turns))
        async with self._sessions() as session:
            return (await session.execute(query)).scalar_one_or_none()

    async def list_recent(self, *, limit: int = 50, offset: int = 0) -> tuple[Sequence[Call], int]:
        return await self.search(CallFilter(), limit=limit, offset=offset)

    async def search(
        self, filters: CallFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[Sequence[Call], int]:
        """Calls matching `filters`, newest first, and how many match in all."""
        conditions = filters.conditions()
        async with self._sessions() as session:
            total = (
                await session.execute(select(func.count(Call.id)).where(*conditions))
            ).scalar_one()
            rows = await session.execute(
                select(Call).where(*conditions).order_by(Call.id.desc()).limit(limit).offset(offset)
            )
            return rows.scalars().all(), total

    # Every write below is a conditional UPDATE: the database decides on the row as it is at
    # that moment, so concurrent writers (status callbacks, the record writer) can't undo each
    # other. Read-modify-write would lose updates on SQLite, which ignores FOR UPDATE.

    async def mark_placed(self, call_id: int, twilio_sid: str, status: CallStatus) -> Call | None:
        """Record Twilio's SID and first status, unless a callback already moved the call on."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Call).where(Call.id == call_id).values(twilio_sid=twilio_sid)
            )
            await session.execute(
                update(Call)
                .where(Call.id == call_id, Call.status.in_(_before(status)))
                .values(status=status)
            )
            return await session.get(Call, call_id)

    async def mark_failed(self, call_id: int, error: str) -> Call | None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Call)
                .where(Call.id == call_id, Call.status.in_(_before(CallStatus.FAILED)))
                .values(
                    status=CallStatus.FAILED,
                    ended_at=func.coalesce(Call.ended_at, utcnow()),
                    end_reason=func.coalesce(Call.end_reason, "failed"),
                )
            )
            await session.execute(update(Call).where(Call.id == call_id).values(error=error))
            return await session.get(Call, call_id)

    async def apply_status(self, update_: StatusUpdate) -> tuple[Call | None, bool]:
        """Apply a status callback idempotently; return (call, whether anything changed).

        Callbacks arrive late, twice or out of order: a call only ever moves forward in its
        life (queued → ringing → in-progress → a final status), and a final status is kept.
        """
        this_call = Call.twilio_sid == update_.call_sid
        new = update_.status
        now = utcnow()
        moved: dict[str, Any] = {"status": new}
        if new is CallStatus.IN_PROGRESS:
            moved["answered_at"] = func.coalesce(Call.answered_at, now)
        if new.is_final:
            moved["ended_at"] = func.coalesce(Call.ended_at, now)
            moved["end_reason"] = func.coalesce(Call.end_reason, new.value)
        async with self._sessions.begin() as session:
            changed = await _updated(
                session, update(Call).where(this_call, Call.status.in_(_before(new))).values(moved)
            )
            if update_.duration_seconds is not None:
                changed |= await _updated(
                    session,
                    update(Call)
                    .where(this_call, Call.duration_seconds.is_(None))
                    .values(duration_seconds=update_.duration_seconds),
                )
            if update_.answered_by:
                changed |= await _updated(
                    session,
                    update(Call)
                    .where(this_call, Call.answered_by.is_distinct_from(update_.answered_by))
                    .values(answered_by=update_.answered_by),
                )
            if update_.sequence_number is not None:
                await session.execute(
                    update(Call)
                    .where(
                        this_call,
                        or_(
                            Call.last_callback_sequence.is_(None),
                            Call.last_callback_sequence < update_.sequence_number,
                        ),
                    )
                    .values(last_callback_sequence=update_.sequence_number)
                )
            call = (await session.execute(select(Call).where(this_call))).scalar_one_or_none()
            return call, changed and call is not None

    async def note_answered_by(self, call_sid: str, answered_by: str) -> tuple[Call | None, bool]:
        """Who or what answered (Twilio's answering-machine detection: `human`,
        `machine_end_beep`, `fax`, ...); returns (call, whether anything changed). A machine's
        verdict is kept once given: a later `human`/`unknown` doesn't undo it."""
        this_call = Call.twilio_sid == call_sid
        conditions = [this_call, Call.answered_by.is_distinct_from(answered_by)]
        if not is_machine(answered_by):
            conditions.append(
                or_(
                    Call.answered_by.is_(None),
                    ~(
                        Call.answered_by.startswith("machine_", autoescape=True)
                        | (Call.answered_by == "fax")
                    ),
                )
            )
        async with self._sessions.begin() as session:
            changed = await _updated(
                session, update(Call).where(*conditions).values(answered_by=answered_by)
            )
            call = (await session.execute(select(Call).where(this_call))).scalar_one_or_none()
            return call, changed and call is not None

    async def unfinished(self, *, created_before: datetime, limit: int = 200) -> Sequence[Call]:
        """Calls not yet in a final status that were created before `created_before`, oldest
        first: what a restart may have left behind."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Call)
                .where(
                    Call.status.in_([s for s in CallStatus if not s.is_final]),
                    Call.created_at < created_before,
                )
                .order_by(Call.id)
                .limit(limit)
            )
            return rows.scalars().all()

    async def mark_connected(self, call_id: int) -> Call | None:
        """A call without Twilio (talk in the browser) is answered: in progress from now."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Call)
                .where(Call.id == call_id, Call.status.in_(_before(CallStatus.IN_PROGRESS)))
                .values(status=CallStatus.IN_PROGRESS, answered_at=utcnow())
            )
            return await session.get(Call, call_id)

    async def mark_finished(self, call_id: int) -> Call | None:
        """A call without Twilio is over: completed if it was answered, else failed; how long
        it lasted from the answer."""
        async with self._sessions.begin() as session:
            call = await session.get(Call, call_id)
            if call is None or call.status.is_final:
                return call
            now = utcnow()
            answered = call.answered_at
            call.status = CallStatus.COMPLETED if answered else CallStatus.FAILED
            call.ended_at = now
            if answered is not None:
                call.duration_seconds = round((now - answered).total_seconds())
            return call

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
            await session.execute(
                update(Call)
                .where(Call.id == call_id)
                .values(
                    error=case((Call.error.is_(None), message), else_=Call.error + "\n" + message)
                )
            )

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
                "backchannels": t.backchannels,
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

    async def add_steps(self, steps: Sequence[StepLike]) -> None:
        """Insert call steps; a (call, sequence) pair already stored is skipped, never
        duplicated (a retried batch)."""
        if not steps:
            return
        rows = [
            {
                "call_id": s.call_id,
                "sequence": s.sequence,
                "kind": s.kind,
                "text": s.text,
                "at": s.at,
            }
            for s in steps
        ]
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            statement = insert(CallStep).values(rows)
            await session.execute(
                statement.on_conflict_do_nothing(index_elements=["call_id", "sequence"])
            )

    async def steps(self, call_id: int) -> Sequence[CallStep]:
        """The call's steps, in order."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(CallStep).where(CallStep.call_id == call_id).order_by(CallStep.sequence)
            )
            return rows.scalars().all()


def is_machine(answered_by: str | None) -> bool:
    """Whether Twilio's answering-machine detection found a machine (or a fax), not a person."""
    return answered_by is not None and (answered_by.startswith("machine_") or answered_by == "fax")


def _before(status: CallStatus) -> list[CallStatus]:
    """The statuses a call may move on from to reach `status`."""
    return [s for s in CallStatus if s.rank < status.rank]


async def _updated(session: AsyncSession, statement: Update) -> bool:
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))

"""The escalation ladder's queries: open an escalation once, claim each step once, record what
was sent, acknowledge.

Every change is a conditional UPDATE (or an insert that yields to the unique check-in): the
database decides on the row as it is at that moment, so several dispatchers on one database can
run the ladder at once and each caregiver is told once. Read-modify-write would not do: SQLite
ignores FOR UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Result, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.persistence.models import (
    Caregiver,
    Checkin,
    ContactMethod,
    Escalation,
    EscalationNotice,
    EscalationState,
    Senior,
)

ACKNOWLEDGEABLE = (EscalationState.OPEN, EscalationState.EXHAUSTED)
"""An exhausted escalation is still waiting for someone to take it in hand."""


@dataclass(frozen=True)
class NoticeRecord:
    """One message to one caregiver: about to be sent, sent (a SID) or failed (an error)."""

    escalation_id: int
    caregiver_id: int | None
    contact_name: str
    to_number: str
    method: ContactMethod
    body: str
    sent_at: datetime
    twilio_sid: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ToldContact:
    """An escalation that a phone number was told about (by a notice that went out)."""

    escalation: Escalation
    contact_name: str
    senior: Senior


class EscalationRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def open(
        self,
        *,
        senior_id: int,
        checkin_id: int,
        reason: str,
        ack_minutes: int,
        now: datetime,
    ) -> Escalation | None:
        """A new open escalation for the check-in, its first step due `now`; None if the
        check-in already has one (whoever inserted first, in whichever process, wins)."""
        values = {
            "senior_id": senior_id,
            "checkin_id": checkin_id,
            "reason": reason,
            "state": EscalationState.OPEN,
            "step": 0,
            "next_step_at": now,
            "ack_minutes": ack_minutes,
            "created_at": now,
        }
        async with self._sessions.begin() as session:
            insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
            inserted = await session.execute(
                insert(Escalation)
                .values(values)
                .on_conflict_do_nothing(index_elements=[Escalation.checkin_id])
                .returning(Escalation.id)
            )
            escalation_id = inserted.scalar_one_or_none()
            if escalation_id is None:
                return None
            return await session.get(Escalation, escalation_id)

    async def get(self, escalation_id: int, *, with_notices: bool = False) -> Escalation | None:
        query = select(Escalation).where(Escalation.id == escalation_id)
        if with_notices:
            query = query.options(selectinload(Escalation.notices))
        async with self._sessions() as session:
            return (await session.execute(query)).scalar_one_or_none()

    async def search(
        self,
        *,
        state: EscalationState | None = None,
        senior_id: int | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[Sequence[Escalation], int]:
        """Escalations (with their notices), newest first, and how many match in all."""
        conditions = []
        if state is not None:
            conditions.append(Escalation.state == state)
        if senior_id is not None:
            conditions.append(Escalation.senior_id == senior_id)
        async with self._sessions() as session:
            total = (
                await session.execute(select(func.count(Escalation.id)).where(*conditions))
            ).scalar_one()
            rows = await session.execute(
                select(Escalation)
                .where(*conditions)
                .options(selectinload(Escalation.notices))
                .order_by(Escalation.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return rows.scalars().all(), total

    async def due(self, now: datetime, *, limit: int = 100) -> Sequence[Escalation]:
        """Open escalations whose next step (tell the next contact, or give up) is due."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Escalation)
                .where(Escalation.state == EscalationState.OPEN, Escalation.next_step_at <= now)
                .order_by(Escalation.next_step_at, Escalation.id)
                .limit(limit)
            )
            return rows.scalars().all()

    async def senior(self, senior_id: int) -> Senior | None:
        """The senior with their caregivers in ladder order."""
        async with self._sessions() as session:
            return (
                await session.execute(
                    select(Senior)
                    .where(Senior.id == senior_id)
                    .options(selectinload(Senior.caregivers))
                )
            ).scalar_one_or_none()

    async def checkin(self, checkin_id: int) -> Checkin | None:
        async with self._sessions() as session:
            return await session.get(Checkin, checkin_id)

    async def claim_step(
        self, escalation_id: int, step: int, now: datetime, next_step_at: datetime
    ) -> bool:
        """Take step `step` (tell contact number `step`) for this process: True for exactly one
        caller, and only while the escalation is open, still at that step and due."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Escalation)
                .where(
                    Escalation.id == escalation_id,
                    Escalation.state == EscalationState.OPEN,
                    Escalation.step == step,
                    Escalation.next_step_at <= now,
                )
                .values(step=step + 1, next_step_at=next_step_at)
            )
            return _changed(result)

    async def exhaust(self, escalation_id: int, step: int, now: datetime) -> Escalation | None:
        """Nobody is left to tell: exhausted (once). None if someone acknowledged it, another
        process got here first, or it is not due yet."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Escalation)
                .where(
                    Escalation.id == escalation_id,
                    Escalation.state == EscalationState.OPEN,
                    Escalation.step == step,
                    Escalation.next_step_at <= now,
                )
                .values(state=EscalationState.EXHAUSTED, next_step_at=None)
            )
            if not _changed(result):
                return None
            return await session.get(Escalation, escalation_id)

    async def make_due(self, escalation_id: int, step: int, now: datetime) -> bool:
        """Bring step `step` forward to `now` (the previous contact can't be reached, so there
        is no answer to wait for); False if the escalation has moved on meanwhile."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Escalation)
                .where(
                    Escalation.id == escalation_id,
                    Escalation.state == EscalationState.OPEN,
                    Escalation.step == step,
                )
                .values(next_step_at=now)
            )
            return _changed(result)

    async def add_notice(self, notice: NoticeRecord) -> EscalationNotice:
        """Store a notice about to be sent, before Twilio is asked: if this process dies while
        sending, the step it claimed still shows who was being told."""
        async with self._sessions.begin() as session:
            row = EscalationNotice(**vars(notice))
            session.add(row)
        return row

    async def settle_notice(
        self, notice_id: int, *, twilio_sid: str | None, error: str | None
    ) -> None:
        """What became of a notice: Twilio's SID, or why it could not be sent."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(EscalationNotice)
                .where(EscalationNotice.id == notice_id)
                .values(twilio_sid=twilio_sid, error=error)
            )

    async def acknowledge(self, escalation_id: int, *, by: str, now: datetime) -> Escalation | None:
        """Someone has it in hand: acknowledged (the first one to say so is recorded); None if
        there is no open or exhausted escalation with that id."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Escalation)
                .where(Escalation.id == escalation_id, Escalation.state.in_(ACKNOWLEDGEABLE))
                .values(
                    state=EscalationState.ACKNOWLEDGED,
                    acknowledged_at=now,
                    acknowledged_by=by[:254],
                    next_step_at=None,
                )
            )
            if not _changed(result):
                return None
            return await session.get(Escalation, escalation_id)

    async def told(self, phone_number: str) -> list[ToldContact]:
        """The open or exhausted escalations a notice to `phone_number` went out for, with the
        name they were told under and the senior concerned, oldest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Escalation, EscalationNotice.contact_name, Senior)
                .join(EscalationNotice, EscalationNotice.escalation_id == Escalation.id)
                .join(Senior, Senior.id == Escalation.senior_id)
                .where(
                    EscalationNotice.to_number == phone_number,
                    EscalationNotice.error.is_(None),
                    Escalation.state.in_(ACKNOWLEDGEABLE),
                )
                .order_by(Escalation.id, EscalationNotice.id)
            )
            found: dict[int, ToldContact] = {}
            for escalation, contact_name, senior in rows:
                found.setdefault(escalation.id, ToldContact(escalation, contact_name, senior))
            return list(found.values())

    async def last_told_language(self, phone_number: str) -> str | None:
        """The language of the person the latest notice to `phone_number` was about, whatever
        became of it (to answer a late reply in it); None if none went there."""
        async with self._sessions() as session:
            language: str | None = await session.scalar(
                select(Senior.language)
                .join(Escalation, Escalation.senior_id == Senior.id)
                .join(EscalationNotice, EscalationNotice.escalation_id == Escalation.id)
                .where(EscalationNotice.to_number == phone_number)
                .order_by(EscalationNotice.id.desc())
                .limit(1)
            )
            return language

    async def contact_name(self, escalation_id: int, phone_number: str) -> str | None:
        """The name the escalation's notices to this number used, else the senior's caregiver
        with this number: who pressed 1 on a notice call."""
        async with self._sessions() as session:
            noticed = (
                await session.execute(
                    select(EscalationNotice.contact_name)
                    .where(
                        EscalationNotice.escalation_id == escalation_id,
                        EscalationNotice.to_number == phone_number,
                    )
                    .order_by(EscalationNotice.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if noticed is not None:
                return noticed
            return (
                await session.execute(
                    select(Caregiver.name)
                    .join(Escalation, Escalation.senior_id == Caregiver.senior_id)
                    .where(Escalation.id == escalation_id, Caregiver.phone_number == phone_number)
                    .order_by(Caregiver.position)
                    .limit(1)
                )
            ).scalar_one_or_none()


def _changed(result: Result[Any]) -> bool:
    """Whether a conditional UPDATE matched its row (it did what it was asked, once)."""
    return bool(getattr(result, "rowcount", 0))


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name

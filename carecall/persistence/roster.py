"""The roster's queries: seniors with their caregivers and plans, consent, do-not-call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.persistence.models import (
    Call,
    Caregiver,
    Checkin,
    CheckinOutcome,
    CheckinPlan,
    CheckinState,
    Senior,
    utcnow,
)
from carecall.persistence.privacy import recording_files_of, their_calls
from carecall.persistence.recordings import RecordingFiles


@dataclass(frozen=True)
class CaregiverFields:
    name: str
    relation: str
    phone_number: str
    contact_by: str


@dataclass(frozen=True)
class PlanFields:
    weekdays: str
    window_start: Any
    window_end: Any
    max_attempts: int
    retry_delay_minutes: int
    escalation_ack_minutes: int
    active: bool = True


class SeniorRepository:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        recordings: RecordingFiles | None = None,
    ) -> None:
        """``recordings``: where call recordings are kept, so erasing a person deletes the
        files of their calls too (without it, the retention job's sweep finds them later)."""
        self._sessions = sessions
        self._recordings = recordings

    async def create(
        self,
        fields: dict[str, Any],
        caregivers: Sequence[CaregiverFields] = (),
        plans: Sequence[PlanFields] = (),
    ) -> Senior:
        """Store a senior (fields are `Senior` columns) with caregivers in ladder order."""
        async with self._sessions.begin() as session:
            senior = Senior(**fields)
            senior.caregivers = [Caregiver(position=i, **vars(c)) for i, c in enumerate(caregivers)]
            senior.plans = [CheckinPlan(**vars(p)) for p in plans]
            session.add(senior)
            await session.flush()
            senior_id = senior.id
        found = await self.get(senior_id)
        assert found is not None
        return found

    async def get(self, senior_id: int) -> Senior | None:
        async with self._sessions() as session:
            return (
                await session.execute(_with_details(select(Senior).where(Senior.id == senior_id)))
            ).scalar_one_or_none()

    async def find_by_number(self, phone_number: str) -> Senior | None:
        async with self._sessions() as session:
            return (
                await session.execute(
                    _with_details(select(Senior).where(Senior.phone_number == phone_number))
                )
            ).scalar_one_or_none()

    async def search(
        self, text: str = "", *, limit: int = 50, offset: int = 0
    ) -> tuple[Sequence[Senior], int]:
        """Seniors whose name, preferred name or number contains `text`, by name."""
        conditions = []
        needle = text.strip()
        if needle:
            pattern = f"%{_escape_like(needle.lower())}%"
            digits = "".join(ch for ch in needle if ch.isdigit())
            matches: list[ColumnElement[bool]] = [
                func.lower(Senior.name).like(pattern, escape="\\"),
                func.lower(func.coalesce(Senior.preferred_name, "")).like(pattern, escape="\\"),
            ]
            if digits:
                matches.append(Senior.phone_number.contains(digits))
            conditions.append(or_(*matches))
        async with self._sessions() as session:
            total = (
                await session.execute(select(func.count(Senior.id)).where(*conditions))
            ).scalar_one()
            rows = await session.execute(
                _with_details(
                    select(Senior)
                    .where(*conditions)
                    .order_by(func.lower(Senior.name), Senior.id)
                    .limit(limit)
                    .offset(offset)
                )
            )
            return rows.scalars().all(), total

    async def update(self, senior_id: int, fields: dict[str, Any]) -> Senior | None:
        """Change some of a senior's columns; None if there is no such senior."""
        async with self._sessions.begin() as session:
            senior = await session.get(Senior, senior_id)
            if senior is None:
                return None
            for name, value in fields.items():
                setattr(senior, name, value)
        return await self.get(senior_id)

    async def replace_caregivers(
        self, senior_id: int, caregivers: Sequence[CaregiverFields]
    ) -> Senior | None:
        """Set the escalation ladder: these contacts, in this order."""
        async with self._sessions.begin() as session:
            if await session.get(Senior, senior_id) is None:
                return None
            await session.execute(delete(Caregiver).where(Caregiver.senior_id == senior_id))
            session.add_all(
                Caregiver(senior_id=senior_id, position=i, **vars(c))
                for i, c in enumerate(caregivers)
            )
        return await self.get(senior_id)

    async def add_plan(self, senior_id: int, plan: PlanFields) -> CheckinPlan:
        async with self._sessions.begin() as session:
            row = CheckinPlan(senior_id=senior_id, **vars(plan))
            session.add(row)
        return row

    async def update_plan(self, plan_id: int, fields: dict[str, Any]) -> CheckinPlan | None:
        """Change a plan; check-ins already made from it that haven't been tried go (as when it
        is deleted), so the old window or a paused plan is never dialled: scheduling makes
        them again from the plan as it is now."""
        async with self._sessions.begin() as session:
            plan = await session.get(CheckinPlan, plan_id)
            if plan is None:
                return None
            for name, value in fields.items():
                setattr(plan, name, value)
            await session.execute(
                delete(Checkin).where(
                    Checkin.plan_id == plan_id,
                    Checkin.state == CheckinState.PENDING,
                    Checkin.attempts == 0,
                )
            )
            return plan

    async def delete_plan(self, plan_id: int) -> bool:
        """Remove a plan; check-ins already scheduled from it that haven't been tried go too."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(Checkin).where(
                    Checkin.plan_id == plan_id,
                    Checkin.state == CheckinState.PENDING,
                    Checkin.attempts == 0,
                )
            )
            result = await session.execute(delete(CheckinPlan).where(CheckinPlan.id == plan_id))
            return bool(getattr(result, "rowcount", 0))

    async def delete(self, senior_id: int) -> bool:
        """Delete the person and everything stored about them, in one transaction: their calls
        (placed for them or to their number) with transcripts, recordings and wellbeing records
        first, then the person, which takes caregivers, plans, check-ins, escalations, memory
        and alerts with it; once that is committed, their recordings' files. False if there is
        no such person."""
        async with self._sessions.begin() as session:
            senior = await session.get(Senior, senior_id)
            if senior is None:
                return False
            recordings = await recording_files_of(session, senior)
            await session.execute(delete(Call).where(their_calls(senior)))
            await session.execute(delete(Senior).where(Senior.id == senior_id))
        if self._recordings is not None:
            await self._recordings.delete(recordings)
        return True

    async def record_consent(
        self,
        senior_id: int,
        *,
        given_by: str,
        method: str,
        at: datetime,
        recorded_by: str | None,
        recording: bool = False,
    ) -> Senior | None:
        """The consent record replaces the one before; one that does not say recording was
        agreed turns "record calls" off too."""
        fields: dict[str, Any] = {
            "consent_given_by": given_by,
            "consent_method": method,
            "consent_at": at,
            "consent_recorded_by": recorded_by,
            "consent_recording": recording,
        }
        if not recording:
            fields["record_calls"] = False
        return await self.update(senior_id, fields)

    async def set_do_not_call(
        self, senior_id: int, do_not_call: bool, *, reason: str | None = None
    ) -> Senior | None:
        return await self.update(
            senior_id,
            {
                "do_not_call": do_not_call,
                "do_not_call_at": utcnow() if do_not_call else None,
                "do_not_call_reason": reason if do_not_call else None,
            },
        )

    async def set_turn_patience_by_call(self, call_id: int, patience: float) -> None:
        """Store the pause profile learnt from this call on the person it was for (none: a
        number not on the roster)."""
        async with self._sessions.begin() as session:
            call = await session.get(Call, call_id)
            if call is None or call.senior_id is None:
                return
            await session.execute(
                update(Senior).where(Senior.id == call.senior_id).values(turn_patience=patience)
            )

    async def opt_out_by_call(self, call_id: int, reason: str) -> int | None:
        """The person asked during this call not to be called again: mark them do-not-call and
        close the call's check-in as opted out. Returns the senior's id (None: the call was
        to no one on the roster)."""
        now = utcnow()
        async with self._sessions.begin() as session:
            call = await session.get(Call, call_id)
            if call is None or call.senior_id is None:
                return None
            await session.execute(
                update(Senior)
                .where(Senior.id == call.senior_id, Senior.do_not_call.is_(False))
                .values(do_not_call=True, do_not_call_at=now, do_not_call_reason=reason[:200])
            )
            if call.checkin_id is not None:
                # Whether or not Twilio's final status was handled first, the check-in ends
                # as opted out (a "completed" from that status callback is overwritten).
                await session.execute(
                    update(Checkin)
                    .where(
                        Checkin.id == call.checkin_id,
                        or_(Checkin.outcome.is_(None), Checkin.outcome == CheckinOutcome.COMPLETED),
                    )
                    .values(
                        state=CheckinState.DONE,
                        outcome=CheckinOutcome.OPTED_OUT,
                        last_result=CheckinOutcome.OPTED_OUT,
                        next_attempt_at=None,
                        finished_at=func.coalesce(Checkin.finished_at, now),
                    )
                )
            # Nothing more is dialed for them: check-ins still waiting are skipped.
            await session.execute(
                update(Checkin)
                .where(Checkin.senior_id == call.senior_id, Checkin.state == CheckinState.PENDING)
                .values(
                    state=CheckinState.DONE,
                    outcome=CheckinOutcome.SKIPPED,
                    next_attempt_at=None,
                    finished_at=now,
                    note="asked not to be called again",
                )
            )
            return call.senior_id


def _with_details(query: Any) -> Any:
    return query.options(selectinload(Senior.caregivers), selectinload(Senior.plans))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""Read-only queries for the check-in program's pages: today's check-ins across the roster, one
person's history of check-ins and escalations, and the escalations still waiting for a caregiver.

"Today" is each person's own local date: at 01:00 UTC it is already tomorrow in Sydney and
still yesterday in Chicago. Check-ins are stored with their local date, so one query fetches the
UTC date ±1 (every zone's today is within it) and each person keeps only theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.core.schedule import ScheduleError, zone
from carecall.persistence.models import (
    Call,
    Checkin,
    CheckinPlan,
    Escalation,
    EscalationState,
    Senior,
)

WAITING = (EscalationState.OPEN, EscalationState.EXHAUSTED)
"""Escalations nobody has acknowledged yet: an exhausted one (every contact told) still needs
someone to act, so it stays on the Today view."""


@dataclass(frozen=True)
class CheckinRecord:
    """One check-in with the plan it came from (for its number of tries) and its calls."""

    checkin: Checkin
    plan: CheckinPlan | None
    calls: Sequence[Call] = ()


@dataclass(frozen=True)
class EscalationRecord:
    """One escalation, its notices (loaded, oldest first) and the person it is about."""

    escalation: Escalation
    senior: Senior


@dataclass(frozen=True)
class SeniorDay:
    senior: Senior
    zone: ZoneInfo
    checkins: Sequence[CheckinRecord]


@dataclass(frozen=True)
class TodayOverview:
    days: Sequence[SeniorDay]
    """People with a check-in on their local today, by name."""
    open_escalations: Sequence[EscalationRecord]
    quiet: int = 0
    """People on the roster with no check-in today."""
    escalations_by_senior: dict[int, list[EscalationRecord]] = field(default_factory=dict)


def senior_zone(senior: Senior) -> ZoneInfo:
    """The person's zone; a zone this machine no longer knows shows as UTC rather than failing
    the whole page."""
    try:
        return zone(senior.timezone)
    except ScheduleError:
        return ZoneInfo("UTC")


class ProgramViews:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def today(self, now: datetime) -> TodayOverview:
        """Every person's check-ins on their local date at `now`, and the waiting escalations."""
        utc_day = now.date()
        async with self._sessions() as session:
            seniors = (
                (await session.execute(select(Senior).order_by(func.lower(Senior.name), Senior.id)))
                .scalars()
                .all()
            )
            checkins = (
                (
                    await session.execute(
                        select(Checkin)
                        .where(
                            Checkin.local_date >= utc_day - timedelta(days=1),
                            Checkin.local_date <= utc_day + timedelta(days=1),
                        )
                        .order_by(Checkin.window_start_at, Checkin.id)
                    )
                )
                .scalars()
                .all()
            )
            local_today = {s.id: now.astimezone(senior_zone(s)).date() for s in seniors}
            todays = [c for c in checkins if local_today.get(c.senior_id) == c.local_date]
            records = await _records(session, todays)
            escalations = await _waiting_escalations(session)
        by_senior: dict[int, list[CheckinRecord]] = {}
        for record in records:
            by_senior.setdefault(record.checkin.senior_id, []).append(record)
        days = [
            SeniorDay(senior, senior_zone(senior), by_senior[senior.id])
            for senior in seniors
            if senior.id in by_senior
        ]
        grouped: dict[int, list[EscalationRecord]] = {}
        for waiting in escalations:
            grouped.setdefault(waiting.senior.id, []).append(waiting)
        return TodayOverview(days, escalations, len(seniors) - len(days), grouped)

    async def checkins_for(self, senior_id: int, limit: int = 30) -> Sequence[CheckinRecord]:
        """The person's latest check-ins, newest first, with the calls each one made."""
        async with self._sessions() as session:
            checkins = (
                (
                    await session.execute(
                        select(Checkin)
                        .where(Checkin.senior_id == senior_id)
                        .order_by(Checkin.local_date.desc(), Checkin.window_start_at.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
            return await _records(session, checkins)

    async def escalations_for(self, senior_id: int, limit: int = 20) -> Sequence[Escalation]:
        """The person's latest escalations, newest first, each with every notice sent."""
        async with self._sessions() as session:
            return (
                (
                    await session.execute(
                        select(Escalation)
                        .where(Escalation.senior_id == senior_id)
                        .options(selectinload(Escalation.notices))
                        .order_by(Escalation.created_at.desc(), Escalation.id.desc())
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )

    async def open_escalations(self) -> Sequence[EscalationRecord]:
        """Escalations no caregiver has acknowledged yet, oldest first."""
        async with self._sessions() as session:
            return await _waiting_escalations(session)


async def _records(session: AsyncSession, checkins: Sequence[Checkin]) -> list[CheckinRecord]:
    if not checkins:
        return []
    ids = [c.id for c in checkins]
    plan_ids = {c.plan_id for c in checkins}
    plans = {
        plan.id: plan
        for plan in (
            await session.execute(select(CheckinPlan).where(CheckinPlan.id.in_(plan_ids)))
        ).scalars()
    }
    calls: dict[int, list[Call]] = {}
    for call in (
        await session.execute(
            select(Call).where(Call.checkin_id.in_(ids)).order_by(Call.created_at, Call.id)
        )
    ).scalars():
        if call.checkin_id is not None:
            calls.setdefault(call.checkin_id, []).append(call)
    return [CheckinRecord(c, plans.get(c.plan_id), calls.get(c.id, [])) for c in checkins]


async def _waiting_escalations(session: AsyncSession) -> list[EscalationRecord]:
    escalations = (
        (
            await session.execute(
                select(Escalation)
                .where(Escalation.state.in_(WAITING))
                .options(selectinload(Escalation.notices))
                .order_by(Escalation.created_at, Escalation.id)
            )
        )
        .scalars()
        .all()
    )
    seniors = await _seniors(session, {e.senior_id for e in escalations})
    return [
        EscalationRecord(e, seniors[e.senior_id]) for e in escalations if e.senior_id in seniors
    ]


async def _seniors(session: AsyncSession, ids: Iterable[int]) -> dict[int, Senior]:
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.execute(select(Senior).where(Senior.id.in_(wanted)))
    return {senior.id: senior for senior in rows.scalars()}

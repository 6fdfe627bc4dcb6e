"""The dispatcher's queries: each day's check-ins made from plans, claimed atomically, and each
try's result recorded, so however many dispatchers run, each check-in is dialed once per try.

Claiming is one conditional UPDATE: on PostgreSQL the rows are picked with
`FOR UPDATE SKIP LOCKED` (two dispatchers never wait on or take each other's rows); SQLite runs
one write at a time, so the same UPDATE … WHERE state = 'pending' is atomic there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from carecall.core.schedule import Window, local_dates_around, zone
from carecall.persistence.models import (
    Checkin,
    CheckinOutcome,
    CheckinPlan,
    CheckinState,
    DialPacer,
    Senior,
)

_WINDOW_CLOSED = "the window closed before a try"


@dataclass(frozen=True)
class ClaimedCheckin:
    """A check-in this dispatcher now owns for one try, with whom and how to call."""

    checkin: Checkin
    senior: Senior
    plan: CheckinPlan


@dataclass(frozen=True)
class TryRecorded:
    """What recording a try's result did."""

    checkin: Checkin
    finished: bool
    """The check-in is over (reached, or out of tries or time); else a retry is scheduled."""


class CheckinRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def schedule(self, now: datetime, *, senior_id: int | None = None) -> int:
        """Make the check-ins of today and tomorrow (in each senior's zone) for every active
        plan of a senior who may be called, unless made already; returns how many are new.
        Windows that have already ended are not made. With `senior_id`, only that person's
        (just after their plans, consent or do-not-call changed)."""
        query = (
            select(CheckinPlan, Senior)
            .join(Senior, Senior.id == CheckinPlan.senior_id)
            .where(
                CheckinPlan.active.is_(True),
                Senior.consent_at.is_not(None),
                Senior.do_not_call.is_(False),
            )
        )
        if senior_id is not None:
            query = query.where(Senior.id == senior_id)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        new: list[dict[str, Any]] = []
        for plan, senior in rows:
            tz = zone(senior.timezone)
            window = Window(tuple(plan.weekdays.split(",")), plan.window_start, plan.window_end)
            for local_date in local_dates_around(now, tz):
                if not window.occurs_on(local_date):
                    continue
                start, end = window.on(local_date, tz)
                if end <= now:
                    continue
                new.append(
                    {
                        "plan_id": plan.id,
                        "senior_id": senior.id,
                        "local_date": local_date,
                        "window_start_at": start,
                        "window_end_at": end,
                        "state": CheckinState.PENDING,
                        "next_attempt_at": start,
                        "attempts": 0,
                    }
                )
        if not new:
            return 0
        async with self._sessions.begin() as session:
            insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
            result = await session.execute(
                insert(Checkin)
                .values(new)
                .on_conflict_do_nothing(index_elements=["plan_id", "local_date"])
            )
            return max(0, getattr(result, "rowcount", 0) or 0)

    async def claim_due(self, now: datetime, claimant: str, limit: int) -> list[ClaimedCheckin]:
        """Take up to `limit` pending check-ins whose next try is due, for one try each."""
        claim = {
            "state": CheckinState.CALLING,
            "claimed_by": claimant,
            "claimed_at": now,
            "attempts": Checkin.attempts + 1,
            "current_call_id": None,
            "next_attempt_at": None,
        }
        due = (
            select(Checkin.id)
            .where(Checkin.state == CheckinState.PENDING, Checkin.next_attempt_at <= now)
            .order_by(Checkin.next_attempt_at, Checkin.id)
            .limit(limit)
        )
        async with self._sessions.begin() as session:
            if _dialect(session) == "postgresql":
                # A locking CTE runs once; as `id IN (subquery)` PostgreSQL may run the
                # subquery again per row and claim more than `limit`.
                picked = due.with_for_update(skip_locked=True).cte("due")
                statement = (
                    update(Checkin)
                    .where(Checkin.id == picked.c.id, Checkin.state == CheckinState.PENDING)
                    .values(claim)
                )
            else:
                statement = (
                    update(Checkin)
                    .where(Checkin.id.in_(due.scalar_subquery()))
                    .where(Checkin.state == CheckinState.PENDING)
                    .values(claim)
                )
            claimed_ids = (await session.execute(statement.returning(Checkin.id))).scalars().all()
        if not claimed_ids:
            return []
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Checkin, Senior, CheckinPlan)
                    .join(Senior, Senior.id == Checkin.senior_id)
                    .join(CheckinPlan, CheckinPlan.id == Checkin.plan_id)
                    .where(Checkin.id.in_(claimed_ids))
                    .options(selectinload(Senior.caregivers))
                    .order_by(Checkin.window_start_at, Checkin.id)
                )
            ).all()
        return [ClaimedCheckin(c, s, p) for c, s, p in rows]

    async def note_call(self, checkin_id: int, call_id: int) -> None:
        """The try's call is placed: show it (unless its result is already in)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Checkin)
                .where(Checkin.id == checkin_id, Checkin.state == CheckinState.CALLING)
                .values(current_call_id=call_id)
            )

    async def record_try(
        self, checkin_id: int, result: CheckinOutcome, now: datetime, *, note: str | None = None
    ) -> TryRecorded | None:
        """Record the result of the try in progress: finished when reached (or opted out), out
        of tries, or when the next try would fall after the window; else pending again after
        the plan's delay. None when no try of this check-in is in progress (a late or repeated
        result), so a result is applied once."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(Checkin, CheckinPlan)
                    .join(CheckinPlan, CheckinPlan.id == Checkin.plan_id)
                    .where(Checkin.id == checkin_id)
                )
            ).first()
            if row is None:
                return None
            checkin, plan = row
            if checkin.state is not CheckinState.CALLING:
                return None
            retry_at = now + timedelta(minutes=plan.retry_delay_minutes)
            retry = (
                not result.reached
                and result is not CheckinOutcome.SKIPPED
                and checkin.attempts < plan.max_attempts
                and retry_at < checkin.window_end_at
            )
            values: dict[str, Any] = {"last_result": result, "claimed_by": None}
            if note is not None:
                values["note"] = note[:200]
            if retry:
                values.update(state=CheckinState.PENDING, next_attempt_at=retry_at)
            else:
                values.update(
                    state=CheckinState.DONE, outcome=result, finished_at=now, next_attempt_at=None
                )
            changed = await session.execute(
                update(Checkin)
                .where(Checkin.id == checkin_id, Checkin.state == CheckinState.CALLING)
                .values(values)
            )
            if not getattr(changed, "rowcount", 0):
                return None
            updated = await session.get(Checkin, checkin_id, populate_existing=True)
            assert updated is not None
            return TryRecorded(updated, finished=not retry)

    async def close_expired(self, now: datetime, *, note: str | None = None) -> list[Checkin]:
        """Finish the pending check-ins whose window has closed (the dispatcher was down, or
        the person was not callable in time): their outcome is their last try's result, or
        `skipped` when never tried. `note` says why nothing was tried, when the caller knows
        (a check-in that already has a note keeps it). Returns those just finished."""
        untried = note or _WINDOW_CLOSED
        async with self._sessions.begin() as session:
            ids = (
                (
                    await session.execute(
                        update(Checkin)
                        .where(
                            Checkin.state == CheckinState.PENDING,
                            Checkin.window_end_at <= now,
                        )
                        .values(
                            state=CheckinState.DONE,
                            outcome=case(
                                (Checkin.last_result.is_(None), CheckinOutcome.SKIPPED.value),
                                else_=Checkin.last_result,
                            ),
                            finished_at=now,
                            next_attempt_at=None,
                            note=func.coalesce(
                                Checkin.note,
                                case(
                                    (Checkin.last_result.is_(None), untried),
                                    else_=_WINDOW_CLOSED,
                                ),
                            ),
                        )
                        .returning(Checkin.id)
                    )
                )
                .scalars()
                .all()
            )
        return await self._get_many(ids)

    async def stale_tries(self, now: datetime, older_than: timedelta) -> list[Checkin]:
        """Tries claimed so long ago that their call must be over though no result came (a
        lost status callback, or a dispatcher that died before dialing)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Checkin).where(
                    Checkin.state == CheckinState.CALLING, Checkin.claimed_at <= now - older_than
                )
            )
            return list(rows.scalars().all())

    async def get(self, checkin_id: int) -> Checkin | None:
        async with self._sessions() as session:
            return await session.get(Checkin, checkin_id)

    async def senior_and_plan(self, checkin: Checkin) -> tuple[Senior, CheckinPlan] | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(Senior, CheckinPlan)
                    .join(CheckinPlan, CheckinPlan.senior_id == Senior.id)
                    .where(and_(Senior.id == checkin.senior_id, CheckinPlan.id == checkin.plan_id))
                    .options(selectinload(Senior.caregivers))
                )
            ).first()
            return (row[0], row[1]) if row else None

    async def oldest_due(self, now: datetime) -> datetime | None:
        """When the longest-waiting pending check-in became due (None: nothing is due). How far
        behind the dispatchers are: a metric, read at scrape time (one indexed MIN)."""
        async with self._sessions() as session:
            oldest = await session.scalar(
                select(func.min(Checkin.next_attempt_at)).where(
                    Checkin.state == CheckinState.PENDING, Checkin.next_attempt_at <= now
                )
            )
        return oldest

    async def reserve_dial_slot(self, now: float, interval: float) -> float:
        """The moment (epoch seconds) this dispatcher may dial: the first free slot at or after
        `now`, reserved in one atomic UPDATE on the shared pacer row, so calls from every
        dispatcher on this database are at least `interval` seconds apart."""
        async with self._sessions.begin() as session:
            reserved = (
                await session.execute(
                    update(DialPacer)
                    .where(DialPacer.id == 1)
                    .values(
                        next_slot=case((DialPacer.next_slot > now, DialPacer.next_slot), else_=now)
                        + interval
                    )
                    .returning(DialPacer.next_slot)
                )
            ).scalar_one()
        return float(reserved) - interval

    async def _get_many(self, ids: Sequence[int]) -> list[Checkin]:
        if not ids:
            return []
        async with self._sessions() as session:
            rows = await session.execute(
                select(Checkin).where(Checkin.id.in_(list(ids))).order_by(Checkin.id)
            )
            return list(rows.scalars().all())


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name

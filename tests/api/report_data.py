"""A small program whose outcomes report is worked out by hand (`EXPECTED_*`), for the API's
and the page's tests: three weeks in Europe/London around the change to summer time (Sunday
29 March 2026, 01:00 GMT → 02:00 BST), Monday 16 March to Sunday 5 April 2026.

In UTC, week 12 is 16 March 00:00 to 23 March 00:00, week 13 (167 hours) 23 March 00:00 to
29 March 23:00, week 14 29 March 23:00 to 5 April 23:00; April starts 31 March 23:00. A few
rows sit where counting in UTC would put them in the wrong week or month (`EDGE`); a few lie
just outside the period and must not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carecall.persistence.models import (
    Alert,
    Call,
    CallChannel,
    CallRecord,
    CallStatus,
    Checkin,
    CheckinOutcome,
    CheckinPlan,
    CheckinState,
    ConversationTurn,
    Escalation,
    EscalationState,
    Senior,
    TurnRole,
)

AGENCY_ZONE = "Europe/London"
FROM, TO = "2026-03-16", "2026-04-05"
WEEKS = ("2026-W12", "2026-W13", "2026-W14")


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Stored:
    mary: int
    tom: int
    waiting_escalation: int
    """Tom's voicemail check-in's escalation: every contact told, nobody acknowledged."""


async def store_outcomes_data(sessions: async_sessionmaker[AsyncSession]) -> Stored:
    async with sessions.begin() as session:
        mary = _person(session, "Mary Smith", "+14155550101")
        tom = _person(session, "Tom Jones", "+14155550102")
        await session.flush()
        added = {who.id: _plan(session, who.id) for who in (mary, tom)}
        await session.flush()
        plans = {senior_id: plan.id for senior_id, plan in added.items()}

        def checkin(
            who: Senior,
            start: datetime,
            outcome: CheckinOutcome | None,
            attempts: int,
            local_day: date | None = None,
        ) -> Checkin:
            row = Checkin(
                plan_id=plans[who.id],
                senior_id=who.id,
                local_date=local_day or start.date(),
                window_start_at=start,
                window_end_at=start + timedelta(hours=2),
                state=CheckinState.PENDING if outcome is None else CheckinState.DONE,
                attempts=attempts,
                outcome=outcome,
                last_result=outcome,
            )
            session.add(row)
            return row

        # Week 12: Mary reached on the first try; Tom's check-in at 23:30 on Sunday (GMT)
        # still to be tried.
        c1 = checkin(mary, at(3, 17, 10), CheckinOutcome.COMPLETED, 1)
        checkin(tom, at(3, 22, 23, 30), None, 0)
        # Week 13: Mary reached on the second try; Tom not reached twice.
        c2 = checkin(mary, at(3, 24, 10), CheckinOutcome.COMPLETED, 2)
        c3 = checkin(tom, at(3, 24, 10), CheckinOutcome.NO_ANSWER, 3)
        c4 = checkin(tom, at(3, 25, 10), CheckinOutcome.VOICEMAIL, 3)
        # Week 14: Mary at 00:30 BST on Monday (23:30 UTC on Sunday: week 13 in UTC) opts out;
        # Tom's not tried; Mary busy twice.
        c5 = checkin(mary, at(3, 29, 23, 30), CheckinOutcome.OPTED_OUT, 1, date(2026, 3, 30))
        checkin(tom, at(3, 31, 10), CheckinOutcome.SKIPPED, 0)
        c8 = checkin(mary, at(4, 1, 10), CheckinOutcome.BUSY, 2)
        # Outside the period: 00:30 BST on Monday 6 April, and Sunday 15 March.
        c9 = checkin(mary, at(4, 5, 23, 30), CheckinOutcome.COMPLETED, 1, date(2026, 4, 6))
        checkin(tom, at(3, 15, 23, 59), CheckinOutcome.COMPLETED, 1)
        await session.flush()

        def escalation(
            who: Senior, opened: datetime, acknowledged: datetime | None, about: Checkin | None
        ) -> Escalation:
            row = Escalation(
                senior_id=who.id,
                checkin_id=about.id if about is not None else None,
                reason="3 tries: no answer",
                state=EscalationState.EXHAUSTED
                if acknowledged is None
                else EscalationState.ACKNOWLEDGED,
                step=2,
                created_at=opened,
                acknowledged_at=acknowledged,
                acknowledged_by=None if acknowledged is None else "Susan Smith",
            )
            session.add(row)
            return row

        escalation(tom, at(3, 24, 10, 45), at(3, 24, 11, 5), c3)  # 1200 s
        waiting = escalation(tom, at(3, 25, 10, 50), None, c4)
        escalation(mary, at(3, 26, 9), at(3, 26, 9, 5), None)  # 300 s
        escalation(mary, at(4, 1, 10, 40), at(4, 1, 10, 41), c8)  # 60 s
        escalation(tom, at(4, 6, 9), None, None)  # outside the period

        def alert(
            who: Senior, kind: str, category: str, opened: datetime, acked: datetime | None
        ) -> None:
            session.add(
                Alert(
                    senior_id=who.id,
                    kind=kind,
                    category=category,
                    severity="urgent" if kind == "red_flag" else "warning",
                    reason=f"{category} for {who.name}",
                    detector="rules" if kind == "red_flag" else "trend",
                    created_at=opened,
                    acknowledged_at=acked,
                    acknowledged_by=None if acked is None else "nurse@example.org",
                )
            )

        alert(mary, "red_flag", "fall", at(3, 18, 12), at(3, 18, 12, 2))  # week 12, 120 s
        alert(mary, "trend", "sleep", at(3, 27, 8), at(3, 27, 10))  # week 13, 7200 s
        # Week 14: 00:10 BST on Monday (1800 s), and 00:30 BST on 1 April (April, open).
        alert(tom, "red_flag", "fall", at(3, 29, 23, 10), at(3, 29, 23, 40))
        alert(tom, "red_flag", "chest_pain", at(3, 31, 23, 30), None)

        async def call(
            who: Senior | None,
            placed: datetime,
            seconds: int | None,
            about: Checkin | None = None,
            latencies: tuple[int, ...] = (),
            levels: dict[str, int] | None = None,
            channel: CallChannel = CallChannel.PHONE,
        ) -> None:
            answered = None if seconds is None else placed + timedelta(seconds=10)
            row = Call(
                to_number=who.phone_number if who is not None else "demo",
                channel=channel,
                status=CallStatus.COMPLETED if seconds is not None else CallStatus.NO_ANSWER,
                created_at=placed,
                answered_at=answered,
                ended_at=placed + timedelta(seconds=(seconds or 20) + 10),
                duration_seconds=seconds,
                senior_id=who.id if who is not None else None,
                checkin_id=about.id if about is not None else None,
            )
            session.add(row)
            await session.flush()
            session.add_all(_turns(row, answered, latencies))
            if levels is not None:
                session.add(
                    CallRecord(
                        call_id=row.id,
                        senior_id=row.senior_id,
                        created_at=row.ended_at,
                        model="fake",
                        summary="A chat.",
                        **levels,
                    )
                )

        await call(mary, at(3, 17, 10, 0, 5), 300, c1, (800, 800, 1200), {"mood": 0, "sleep": 2})
        await call(mary, at(3, 24, 10), None, c2)
        await call(
            mary, at(3, 24, 10, 15), 240, c2, (900, 1500), {"mood": 1, "sleep": 2, "pain": 3}
        )
        await call(None, at(3, 25, 12), 600, None, (700,), {"mood": 0}, CallChannel.DEMO)
        await call(mary, at(3, 29, 23, 30, 10), 120, c5, (2000,), {"mood": 0})
        await call(tom, at(4, 3, 10), 60, None, (), {"mood": 3, "loneliness": 2})
        await call(mary, at(4, 6, 10), 180, c9, (5000,), {"mood": 3})  # outside the period
    return Stored(mary.id, tom.id, waiting.id)


def _person(session: AsyncSession, name: str, phone: str) -> Senior:
    senior = Senior(
        name=name,
        phone_number=phone,
        timezone=AGENCY_ZONE,
        consent_at=at(1, 5, 9),
        consent_given_by=name,
        consent_method="verbal",
    )
    session.add(senior)
    return senior


def _plan(session: AsyncSession, senior_id: int) -> CheckinPlan:
    plan = CheckinPlan(
        senior_id=senior_id,
        weekdays="mon,tue,wed,thu,fri,sat,sun",
        window_start=time(10, 0),
        window_end=time(12, 0),
    )
    session.add(plan)
    return plan


def _turns(
    call: Call, answered: datetime | None, latencies: tuple[int, ...]
) -> list[ConversationTurn]:
    """A greeting (no latency), then each answer's latency after a line from the person."""
    if answered is None:
        return []
    turns = [_turn(call, 1, TurnRole.ASSISTANT, answered + timedelta(seconds=1), None)]
    for number, latency in enumerate(latencies):
        moment = answered + timedelta(seconds=10 + 10 * number)
        turns.append(_turn(call, 2 * number + 2, TurnRole.USER, moment, None))
        turns.append(_turn(call, 2 * number + 3, TurnRole.ASSISTANT, moment, latency))
    return turns


def _turn(
    call: Call, sequence: int, role: TurnRole, started: datetime, latency: int | None
) -> ConversationTurn:
    return ConversationTurn(
        call_id=call.id,
        sequence=sequence,
        role=role,
        text="Hello." if role is TurnRole.ASSISTANT else "Fine, thanks.",
        started_at=started + timedelta(seconds=sequence % 2),
        ended_at=started + timedelta(seconds=3),
        latency_ms=latency,
    )

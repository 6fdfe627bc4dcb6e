"""A person with caregivers and calls whose wellbeing records are stored as RecordJobs would
store them, for the alert and trend tests of the API, the pages and the browser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carecall.persistence.models import (
    Call,
    CallRecord,
    CallStatus,
    Caregiver,
    ContactMethod,
    Senior,
)

MARY = "+13125550101"
SUSAN = "+13125550103"
FALL_ADVICE = "This sounds serious. Please call 9 1 1 now. I'm also letting your caregiver know."


@dataclass(frozen=True)
class StoredPerson:
    senior_id: int
    call_ids: list[int]


async def store_person(
    sessions: async_sessionmaker[AsyncSession],
    records: Sequence[tuple[Mapping[str, int | None], Mapping[str, str]] | None],
    *,
    first_call_at: datetime,
    name: str = "Mary Smith",
    phone: str = MARY,
) -> StoredPerson:
    """Mary (Chicago), her daughter Susan (by text), and a call a day from `first_call_at`,
    each with its record (levels, evidence), or none for a call without one."""
    async with sessions.begin() as session:
        senior = Senior(name=name, phone_number=phone, timezone="America/Chicago")
        session.add(senior)
        await session.flush()
        session.add(
            Caregiver(
                senior_id=senior.id,
                position=0,
                name="Susan Smith",
                relation="daughter",
                phone_number=SUSAN,
                contact_by=ContactMethod.SMS,
            )
        )
        call_ids = []
        for day, record in enumerate(records):
            started = first_call_at + timedelta(days=day)
            call = Call(
                to_number=phone,
                status=CallStatus.COMPLETED,
                created_at=started,
                senior_id=senior.id,
            )
            session.add(call)
            await session.flush()
            call_ids.append(call.id)
            if record is None:
                continue
            levels, evidence = record
            session.add(
                CallRecord(
                    call_id=call.id,
                    senior_id=senior.id,
                    created_at=started + timedelta(minutes=10),
                    model="test",
                    evidence=dict(evidence),
                    summary="They talked about their week.",
                    follow_ups=[],
                    **levels,
                )
            )
        return StoredPerson(senior.id, call_ids)


WORSENING_SLEEP: list[tuple[Mapping[str, int | None], Mapping[str, str]] | None] = [
    ({"sleep": 0, "mood": 0}, {"sleep": "slept like a log", "mood": "cheerful"}),
    ({"sleep": 1, "mood": None}, {"sleep": "woke up a few times"}),
    None,
    ({"sleep": 2, "mood": 1}, {"sleep": "I only slept two hours", "mood": "a bit fed up"}),
]
"""Sleep 0, 1, (a call without a record), 2: a trend alert; mood 0, -, -, 1: none."""

"""Queries for wellbeing: the post-call record queue (`record_jobs`), the records
(`call_records`) and each person's memory (`senior_memory`). Each method is one unit of work.

A job is claimed with a conditional UPDATE (its state and claim as they are at that moment), so
of two workers, or two server processes, exactly one gets it; every later write names the
claim (worker and attempt), so a worker whose claim was taken back can't overwrite anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carecall.core.end_reasons import VOICEMAIL_REASON
from carecall.persistence.models import (
    Call,
    CallRecord,
    CallStatus,
    ConversationTurn,
    RecordJob,
    RecordJobState,
    Senior,
    SeniorMemory,
    TurnRole,
)


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds: `attempt` is its try number, part of the claim."""

    id: int
    call_id: int
    attempt: int


@dataclass(frozen=True)
class CallTranscript:
    call: Call
    turns: Sequence[ConversationTurn]
    senior_timezone: str | None
    """The call's person's IANA zone, None for a number not on the roster."""


@dataclass(frozen=True)
class RecordOfCall:
    """A stored record with its call's start (for the memory's dates)."""

    record: CallRecord
    call_started_at: datetime


def answered_by_a_machine(call: Call) -> bool:
    """An answering machine (or a fax) took the call: what the line said there is not the
    person's words, so it gets no wellbeing record."""
    answered_by = call.answered_by or ""
    return (
        answered_by.startswith("machine_")
        or answered_by == "fax"
        or call.end_reason == VOICEMAIL_REASON
    )


class WellbeingRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- the queue ---------------------------------------------------------------------------

    async def enqueue(self, call_id: int, now: datetime, due_at: datetime) -> bool:
        """Queue the call's record, to be made from `due_at` (once per call, however often
        this is asked); returns whether a job was added."""
        async with self._sessions.begin() as session:
            insert = _insert_for(session)
            result = await session.execute(
                insert(RecordJob)
                .values(
                    call_id=call_id,
                    state=RecordJobState.PENDING,
                    attempts=0,
                    next_try_at=due_at,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["call_id"])
            )
            return bool(getattr(result, "rowcount", 0))

    async def enqueue_missing(self, since: datetime, now: datetime, due_at: datetime) -> int:
        """Queue every call that completed since `since` with something said by the person
        and no job yet (its final status was applied while the database was failing, or by a
        process that stopped), unless an answering machine took it; returns how many were
        queued."""
        person_spoke = (
            select(ConversationTurn.id)
            .where(ConversationTurn.call_id == Call.id, ConversationTurn.role == TurnRole.USER)
            .exists()
        )
        queued = select(RecordJob.id).where(RecordJob.call_id == Call.id).exists()
        machine = (
            Call.answered_by.startswith("machine_", autoescape=True)
            | (Call.answered_by == "fax")
            | (Call.end_reason == VOICEMAIL_REASON)
        )
        async with self._sessions.begin() as session:
            missing = (
                (
                    await session.execute(
                        select(Call.id).where(
                            Call.status == CallStatus.COMPLETED,
                            Call.ended_at >= since,
                            person_spoke,
                            ~queued,
                            ~func.coalesce(machine, False),
                        )
                    )
                )
                .scalars()
                .all()
            )
            if not missing:
                return 0
            insert = _insert_for(session)
            result = await session.execute(
                insert(RecordJob)
                .values(
                    [
                        {
                            "call_id": call_id,
                            "state": RecordJobState.PENDING,
                            "attempts": 0,
                            "next_try_at": due_at,
                            "created_at": now,
                        }
                        for call_id in missing
                    ]
                )
                .on_conflict_do_nothing(index_elements=["call_id"])
            )
            return int(getattr(result, "rowcount", 0) or 0)

    async def claim_due(
        self, now: datetime, worker: str, limit: int, *, lease: timedelta
    ) -> list[ClaimedJob]:
        """Claim up to `limit` jobs that are due, or whose worker has held them past `lease`
        (it stopped mid-job). Each claim counts as a try."""
        due = or_(
            and_(RecordJob.state == RecordJobState.PENDING, RecordJob.next_try_at <= now),
            and_(RecordJob.state == RecordJobState.RUNNING, RecordJob.claimed_at < now - lease),
        )
        async with self._sessions() as session:
            rows = await session.execute(
                select(RecordJob.id, RecordJob.call_id, RecordJob.attempts)
                .where(due)
                .order_by(RecordJob.next_try_at, RecordJob.id)
                .limit(limit)
            )
            candidates = rows.all()
        claimed: list[ClaimedJob] = []
        for job_id, call_id, attempts in candidates:
            async with self._sessions.begin() as session:
                result = await session.execute(
                    update(RecordJob)
                    # The row as it is now: still in the state we saw, with the tries we saw.
                    .where(RecordJob.id == job_id, RecordJob.attempts == attempts, due)
                    .values(
                        state=RecordJobState.RUNNING,
                        attempts=attempts + 1,
                        claimed_by=worker,
                        claimed_at=now,
                    )
                )
                if getattr(result, "rowcount", 0) == 1:
                    claimed.append(ClaimedJob(job_id, call_id, attempts + 1))
        return claimed

    async def transcript(self, call_id: int) -> CallTranscript | None:
        """The call and its turns in order (read only: the transcript is never changed here)."""
        async with self._sessions() as session:
            call = await session.get(Call, call_id)
            if call is None:
                return None
            turns = await session.execute(
                select(ConversationTurn)
                .where(ConversationTurn.call_id == call_id)
                .order_by(ConversationTurn.sequence)
            )
            zone = None
            if call.senior_id is not None:
                zone = (
                    await session.execute(
                        select(Senior.timezone).where(Senior.id == call.senior_id)
                    )
                ).scalar_one_or_none()
            return CallTranscript(call, turns.scalars().all(), zone)

    async def store_record(
        self,
        job: ClaimedJob,
        worker: str,
        *,
        senior_id: int | None,
        model: str,
        levels: Mapping[str, int | None],
        evidence: Mapping[str, str],
        summary: str,
        follow_ups: Sequence[str],
        now: datetime,
    ) -> bool:
        """Store the call's record and mark its job done, together; nothing is stored when the
        claim was lost (returns False)."""
        async with self._sessions.begin() as session:
            if not await _settle(session, job, worker, RecordJobState.DONE, finished=now):
                return False
            insert = _insert_for(session)
            await session.execute(
                insert(CallRecord)
                .values(
                    call_id=job.call_id,
                    senior_id=senior_id,
                    created_at=now,
                    model=model[:100],
                    evidence=dict(evidence),
                    summary=summary,
                    follow_ups=list(follow_ups),
                    **levels,
                )
                .on_conflict_do_nothing(index_elements=["call_id"])
            )
            return True

    async def skip(self, job: ClaimedJob, worker: str, reason: str, now: datetime) -> bool:
        async with self._sessions.begin() as session:
            return await _settle(
                session, job, worker, RecordJobState.SKIPPED, error=reason, finished=now
            )

    async def retry_later(self, job: ClaimedJob, worker: str, error: str, at: datetime) -> bool:
        async with self._sessions.begin() as session:
            return await _settle(
                session, job, worker, RecordJobState.PENDING, error=error, next_try_at=at
            )

    async def fail(self, job: ClaimedJob, worker: str, error: str, now: datetime) -> bool:
        async with self._sessions.begin() as session:
            return await _settle(
                session, job, worker, RecordJobState.FAILED, error=error, finished=now
            )

    # --- reading -----------------------------------------------------------------------------

    async def job_for(self, call_id: int) -> RecordJob | None:
        async with self._sessions() as session:
            found = await session.execute(select(RecordJob).where(RecordJob.call_id == call_id))
            return found.scalar_one_or_none()

    async def record_for(self, call_id: int) -> CallRecord | None:
        async with self._sessions() as session:
            found = await session.execute(select(CallRecord).where(CallRecord.call_id == call_id))
            return found.scalar_one_or_none()

    async def recent_records(self, senior_id: int, limit: int) -> tuple[list[RecordOfCall], int]:
        """The person's latest `limit` records (by their calls' start, newest first), and how
        many records they have in all."""
        async with self._sessions() as session:
            total = (
                await session.execute(
                    select(func.count(CallRecord.id)).where(CallRecord.senior_id == senior_id)
                )
            ).scalar_one()
            rows = await session.execute(
                select(CallRecord, Call.created_at)
                .join(Call, Call.id == CallRecord.call_id)
                .where(CallRecord.senior_id == senior_id)
                .order_by(Call.created_at.desc(), Call.id.desc())
                .limit(limit)
            )
            return [RecordOfCall(record, at) for record, at in rows.all()], total

    # --- memory ------------------------------------------------------------------------------

    async def save_digest(
        self, senior_id: int, digest: str, records_seen: int, now: datetime
    ) -> bool:
        """Store the person's digest unless one built from more records is stored already (a
        concurrent build saw more); returns whether this one was stored."""
        async with self._sessions.begin() as session:
            if await session.get(Senior, senior_id) is None:
                return False
            insert = _insert_for(session)
            statement = insert(SeniorMemory).values(
                senior_id=senior_id, digest=digest, records_seen=records_seen, updated_at=now
            )
            result = await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["senior_id"],
                    set_={
                        "digest": statement.excluded.digest,
                        "records_seen": statement.excluded.records_seen,
                        "updated_at": statement.excluded.updated_at,
                    },
                    where=SeniorMemory.records_seen <= statement.excluded.records_seen,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def memory_for(self, senior_id: int) -> SeniorMemory | None:
        async with self._sessions() as session:
            found = await session.execute(
                select(SeniorMemory).where(SeniorMemory.senior_id == senior_id)
            )
            return found.scalar_one_or_none()

    async def digest_for(self, senior_id: int) -> str | None:
        """What the bot should remember of the person's recent calls, or None (no call yet).
        Data said by the person and summarised by a model: facts, never instructions."""
        memory = await self.memory_for(senior_id)
        return memory.digest if memory is not None and memory.digest else None


async def _settle(
    session: AsyncSession,
    job: ClaimedJob,
    worker: str,
    state: RecordJobState,
    *,
    error: str | None = None,
    finished: datetime | None = None,
    next_try_at: datetime | None = None,
) -> bool:
    """Move a job this worker holds on; False when its claim was taken back meanwhile."""
    values: dict[str, Any] = {"state": state, "claimed_by": None, "claimed_at": None}
    if error is not None:
        values["last_error"] = error
    if finished is not None:
        values["finished_at"] = finished
    if next_try_at is not None:
        values["next_try_at"] = next_try_at
    result = await session.execute(
        update(RecordJob)
        .where(
            RecordJob.id == job.id,
            RecordJob.state == RecordJobState.RUNNING,
            RecordJob.claimed_by == worker,
            RecordJob.attempts == job.attempt,
        )
        .values(values)
    )
    return getattr(result, "rowcount", 0) == 1


def _insert_for(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert

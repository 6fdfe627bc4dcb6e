"""`RecordJobs`: after a conversation, the background work that makes its wellbeing record and
updates the person's memory, never in the call's real-time path.

1. When a call reaches ``completed`` (`CallService.on_call_final`), a job is queued in the
   database (`record_jobs`), due `settle_seconds` later so the last turns are written first.
   That is one INSERT in the status webhook; nothing waits for the model. Every
   `CATCH_UP_EVERY` a worker also queues recent completed conversations that have no job
   (the status came while the database was failing, or it was a talk in the browser, which
   ends without Twilio).
2. Every server process may run a worker (`RECORD_WORKER_ENABLED`): each round it claims due
   jobs atomically (`persistence.wellbeing`), so no job is done twice, and a job queued before
   a restart, or held by a process that died, is picked up again.
3. A job reads the transcript (never changing it), asks the model (`wellbeing.records`), and
   stores the record and marks the job done together; then rebuilds the person's digest
   (`wellbeing.memory`) from their latest records (should that fail, the next record's
   rebuild includes this one) and tells `on_record_made` listeners.
4. A failed try is tried again after a delay that doubles each time (`retry_base_seconds`),
   up to `RECORD_MAX_ATTEMPTS` tries; then the job is ``failed`` with the reason, shown on the
   call's page. A call where the person said nothing is ``skipped``.

A call an answering machine took (Twilio's verdict, or the bot left its voicemail message)
gets no record: the machine's greeting is not the person's words. It is not queued; should
the verdict come after the call was, its job is ``skipped`` without asking the model.

Without a language model (`Settings.service_choice.llm is None`) or with
`WELLBEING_RECORDS=false`, nothing is queued or recorded, and the log says so once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loguru import logger
from openai import AsyncOpenAI

from carecall.core.clock import Clock
from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.models import Call, CallStatus, TurnRole
from carecall.persistence.wellbeing import (
    ClaimedJob,
    RecordOfCall,
    WellbeingRepository,
    answered_by_a_machine,
)
from carecall.settings import Settings
from carecall.wellbeing.memory import CALLS_REMEMBERED, RememberedCall, build_digest
from carecall.wellbeing.records import (
    MEASURES,
    NothingToRecord,
    RecordFailed,
    WellbeingRecord,
    extract_record,
)

NO_KEY = "not-needed"
"""An OpenAI-compatible server without keys still needs the SDK to send one."""
DEFAULT_SETTLE_SECONDS = 15.0
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_RETRY_BASE_SECONDS = 30.0
MAX_RETRY_DELAY = timedelta(hours=1)
DEFAULT_LEASE = timedelta(minutes=10)
"""A job held longer than this by one worker is taken back (that worker stopped mid-job)."""
DEFAULT_BATCH = 4
CATCH_UP_EVERY = timedelta(minutes=10)
CATCH_UP_WINDOW = timedelta(days=2)
"""Every so often the worker queues completed conversations of the last two days that have no
job (their final status came while the database was failing, or to a process that stopped)."""
REQUEST_TIMEOUT_SECONDS = 90.0
"""One request to the model; far above the calls' real-time limit, as nobody is waiting."""


@dataclass(frozen=True)
class RecordMade:
    """Told to `RecordJobs.on_record_made` listeners once a call's record is stored."""

    call_id: int
    senior_id: int | None
    record: WellbeingRecord


class RecordJobs:
    """The post-call record worker (see the module's docstring)."""

    def __init__(
        self,
        settings: Settings,
        repository: WellbeingRepository,
        clock: Clock,
        *,
        client: AsyncOpenAI | None = None,
        name: str | None = None,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        retry_base_seconds: float = DEFAULT_RETRY_BASE_SECONDS,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = DEFAULT_BATCH,
        database: DependencyWatch | None = None,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._database = database or database_watch()
        self._clock = clock
        self.name = name or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.settle_seconds = settle_seconds
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.lease = lease
        self._batch = batch
        self.model = settings.record_model or settings.llm_model
        self.off_reason = _off_reason(settings)
        self._client = client
        self._own_client = False
        if client is None and self.off_reason is None:
            key = settings.openai_api_key
            self._client = AsyncOpenAI(
                api_key=key.get_secret_value() if key is not None else NO_KEY,
                base_url=settings.openai_base_url,
                timeout=REQUEST_TIMEOUT_SECONDS,
                # Tries are ours: durable, spaced out, and counted on the job.
                max_retries=0,
            )
            self._own_client = True
        self._task: asyncio.Task[None] | None = None
        self._told_off = False
        self._last_catch_up: datetime | None = None
        self._record_listeners: list[Callable[[RecordMade], Awaitable[None]]] = []

    @property
    def enabled(self) -> bool:
        return self.off_reason is None

    def attach(self, calls: FinalStatusSource) -> None:
        calls.on_call_final(self.call_ended)

    def on_record_made(self, listener: Callable[[RecordMade], Awaitable[None]]) -> None:
        """Have `listener` told of each record this worker stores (after the person's memory
        is updated), e.g. to look for trends. A failing listener is logged, never retried."""
        self._record_listeners.append(listener)

    # --- queueing ----------------------------------------------------------------------------

    async def call_ended(self, call: Call) -> None:
        """A call reached its final status: queue its record if it was a conversation."""
        if call.status is not CallStatus.COMPLETED or answered_by_a_machine(call):
            return
        if not self.enabled:
            self._say_off_once()
            return
        now = self._clock.now()
        due = now + timedelta(seconds=self.settle_seconds)
        if await self._repository.enqueue(call.id, now, due):
            logger.bind(call_id=call.id).debug("Wellbeing record queued")

    # --- running -----------------------------------------------------------------------------

    async def start(self) -> None:
        if not self.enabled:
            self._say_off_once()
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="record-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._own_client and self._client is not None:
            await self._client.close()

    async def _run(self) -> None:
        logger.info(f"Wellbeing record worker {self.name} started (model {self.model})")
        while True:
            try:
                while await self.run_once() == self._batch:
                    pass
            except Exception as exc:
                if not self._database.failed(exc, "the wellbeing record worker"):
                    logger.exception("A wellbeing record round failed; trying again shortly")
            else:
                self._database.answered()
            # Polling runs on real time even under a test's clock (as the dispatcher's does).
            await asyncio.sleep(self.poll_seconds)

    async def run_once(self) -> int:
        """Claim the jobs that are due and do them (concurrently); returns how many were
        claimed."""
        if not self.enabled:
            return 0
        now = self._clock.now()
        if self._last_catch_up is None or now - self._last_catch_up >= CATCH_UP_EVERY:
            await self.catch_up(now)
        jobs = await self._repository.claim_due(now, self.name, self._batch, lease=self.lease)
        await asyncio.gather(*(self._do(job) for job in jobs))
        return len(jobs)

    async def catch_up(self, now: datetime) -> int:
        """Queue the recent conversations that have no job (see `CATCH_UP_WINDOW`)."""
        self._last_catch_up = now
        due = now + timedelta(seconds=self.settle_seconds)
        queued = await self._repository.enqueue_missing(now - CATCH_UP_WINDOW, now, due)
        if queued:
            logger.info(f"Queued {queued} wellbeing record(s) for calls that had none")
        return queued

    async def _do(self, job: ClaimedJob) -> None:
        log = logger.bind(call_id=job.call_id, attempt=job.attempt)
        try:
            await self._make_record(job)
        except (RecordFailed, NothingToRecord) as exc:
            await self._try_again_or_fail(job, str(exc))
        except Exception as exc:
            if self._database.failed(exc, "the wellbeing record worker"):
                raise  # the job stays claimed; its lease runs out and it is tried again
            log.exception("Making the wellbeing record failed")
            await self._try_again_or_fail(job, f"Unexpected error: {exc!r}"[:500])

    async def _make_record(self, job: ClaimedJob) -> None:
        log = logger.bind(call_id=job.call_id, attempt=job.attempt)
        found = await self._repository.transcript(job.call_id)
        if found is None:  # the call was deleted; its job went with it
            return
        if answered_by_a_machine(found.call):
            await self._repository.skip(
                job, self.name, "An answering machine took this call.", self._clock.now()
            )
            log.info("No wellbeing record: an answering machine took the call")
            return
        turns = [t for t in found.turns if t.text.strip()]
        if not any(t.role is TurnRole.USER for t in turns):
            await self._repository.skip(
                job, self.name, "The person said nothing on this call.", self._clock.now()
            )
            log.info("No wellbeing record: the person said nothing")
            return
        assert self._client is not None
        record = await extract_record(turns, self._client, self.model)
        if record.unsupported:
            log.info(
                "Levels without the person's words were left out: " + ", ".join(record.unsupported)
            )
        senior_id = found.call.senior_id
        stored = await self._repository.store_record(
            job,
            self.name,
            senior_id=senior_id,
            model=self.model,
            levels=record.levels(),
            evidence=record.evidence(),
            summary=record.summary,
            follow_ups=record.follow_ups,
            now=self._clock.now(),
        )
        if not stored:
            log.warning("The job was taken back by another worker; its record was not stored")
            return
        log.info("Wellbeing record made")
        if senior_id is not None:
            await self.refresh_memory(senior_id, found.senior_timezone)
        made = RecordMade(job.call_id, senior_id, record)
        for listener in self._record_listeners:
            try:
                await listener(made)
            except Exception:
                log.exception("A record listener failed")

    async def refresh_memory(self, senior_id: int, timezone: str | None) -> str:
        """Rebuild the person's digest from their latest records and store it."""
        records, total = await self._repository.recent_records(senior_id, CALLS_REMEMBERED)
        digest = build_digest([_remembered(r, _zone(timezone)) for r in records])
        await self._repository.save_digest(senior_id, digest, total, self._clock.now())
        return digest

    async def _try_again_or_fail(self, job: ClaimedJob, reason: str) -> None:
        log = logger.bind(call_id=job.call_id, attempt=job.attempt)
        now = self._clock.now()
        if job.attempt >= self._settings.record_max_attempts:
            log.warning(f"No wellbeing record after {job.attempt} tries: {reason}")
            await self._repository.fail(job, self.name, reason, now)
            return
        delay = min(
            timedelta(seconds=self.retry_base_seconds * 2 ** (job.attempt - 1)), MAX_RETRY_DELAY
        )
        log.info(f"Wellbeing record try failed ({reason}); trying again in {delay}")
        await self._repository.retry_later(job, self.name, reason, now + delay)

    def _say_off_once(self) -> None:
        if not self._told_off:
            self._told_off = True
            logger.info(f"No wellbeing records are made: {self.off_reason}")


class FinalStatusSource(Protocol):
    """What `attach` needs: `calls.service.CallService.on_call_final`."""

    def on_call_final(self, listener: Callable[[Call], Awaitable[None]]) -> None: ...


def _off_reason(settings: Settings) -> str | None:
    if not settings.wellbeing_records:
        return "WELLBEING_RECORDS is off."
    if settings.service_choice.llm is None:
        return (
            "no language model is configured (set OPENAI_API_KEY, or OPENAI_BASE_URL for an "
            "OpenAI-compatible server)."
        )
    return None


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _remembered(found: RecordOfCall, zone: ZoneInfo) -> RememberedCall:
    record = found.record
    return RememberedCall(
        day=found.call_started_at.astimezone(zone).date(),
        summary=record.summary,
        follow_ups=tuple(record.follow_ups or ()),
        levels={name: getattr(record, name) for name in MEASURES},
        evidence=dict(record.evidence or {}),
        order=record.call_id,
    )

"""`RecordWriter`: the one task that writes what calls produce, off the real-time path.

Pipelines hand it turn records, notes and steps with `submit` (never waits). A task of its own
publishes each one on the event bus at once (the dashboard stays live while the database is
slow or away), and the writer stores them in order, in batches. A failed write is retried with
backoff (the database restarted or unreachable: the batch waits, the calls go on); nothing is
dropped, and a turn or a step is never stored twice (they are keyed by call and sequence
number). A note that the person opted out marks them do-not-call here too
(`SeniorRepository.opt_out_by_call`), so the conversation never waits for that write either;
so is a note about the call's recording (`RecordingRepository.save`). An extension's figures
(`CallFigure`) are only published.
"""

from __future__ import annotations

import asyncio
import contextlib

from loguru import logger
from sqlalchemy.exc import DataError, IntegrityError

from carecall.core.end_reasons import OPT_OUT_REASON
from carecall.core.events import CallEvent, EventBus
from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.recordings import RecordingRepository
from carecall.persistence.repositories import CallRepository
from carecall.persistence.roster import SeniorRepository
from carecall.pipeline.events import CallFigure, CallNote, CallRecord, StepRecord, TurnRecord

Stored = TurnRecord | CallNote | StepRecord
"""What the writer stores (a figure is only published)."""
_MAX_BATCH = 200
_MAX_BACKOFF_SECONDS = 10.0
_STORE_TIMEOUT_SECONDS = 30.0
"""A write that hangs (the database's host gone silent, no reset) is given up and retried."""


class RecordWriter:
    def __init__(
        self,
        calls: CallRepository,
        bus: EventBus,
        seniors: SeniorRepository | None = None,
        *,
        database: DependencyWatch | None = None,
        recordings: RecordingRepository | None = None,
    ) -> None:
        self._database = database or database_watch()
        self._calls = calls
        self._bus = bus
        self._seniors = seniors
        self._recordings = recordings
        self._queue: asyncio.Queue[Stored] = asyncio.Queue()
        self._to_publish: asyncio.Queue[CallRecord] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, item: CallRecord) -> None:
        if not isinstance(item, CallFigure):  # a figure is only published
            self._idle.clear()
            self._queue.put_nowait(item)
        self._to_publish.put_nowait(item)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="record-writer")
        self._publisher = asyncio.create_task(self._publish_all(), name="record-publisher")

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until everything submitted so far is stored (used at shutdown and in tests)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self) -> None:
        await self.drain()
        for task in (self._task, self._publisher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not self._queue.empty():
            logger.error(f"{self._queue.qsize()} call records could not be stored before shutdown")

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._store_with_retry(batch)
            if self._queue.empty():
                self._idle.set()

    async def _publish_all(self) -> None:
        while True:
            await self._publish(await self._to_publish.get())

    async def _publish(self, item: CallRecord) -> None:
        if isinstance(item, CallNote) and not (item.error or item.end_reason or item.opted_out):
            return  # nothing a page shows (a pause profile)
        event = (
            item.to_event()
            if not isinstance(item, CallNote)
            else CallEvent(
                "call.error" if item.error else "call.status",
                item.call_id,
                {"error": item.error} if item.error else _note_data(item),
            )
        )
        try:
            await self._bus.publish(event)
        except Exception:
            logger.exception("Could not publish a call event")

    async def _store_with_retry(self, batch: list[Stored]) -> None:
        """Store a batch; while the database is unreachable, wait and try again.

        A batch the database *rejects* (e.g. a turn for a call that doesn't exist) is stored
        record by record instead, so one bad record can't hold back everyone else's.
        """
        delay = 0.2
        while True:
            try:
                await asyncio.wait_for(self._store(batch), _STORE_TIMEOUT_SECONDS)
                self._database.answered()
                return
            except (IntegrityError, DataError):
                await self._store_one_by_one(batch)
                return
            except Exception as exc:
                # An outage is said once (`DependencyWatch`); each retry only to the debug log.
                outage = self._database.failed(exc, "the call record writer")
                logger.log(
                    "DEBUG" if outage else "WARNING",
                    f"Storing {len(batch)} call records failed ({exc!r}); retrying in {delay:.1f}s",
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_SECONDS)

    async def _store_one_by_one(self, batch: list[Stored]) -> None:
        for item in batch:
            try:
                await self._store([item])
            except (IntegrityError, DataError) as exc:
                logger.error(f"The database rejected a record of call {item.call_id}: {exc}")

    async def _store(self, batch: list[Stored]) -> None:
        turns = [item for item in batch if isinstance(item, TurnRecord)]
        await self._calls.add_turns(turns)
        await self._calls.add_steps([item for item in batch if isinstance(item, StepRecord)])
        for item in batch:
            if isinstance(item, CallNote):
                if item.error:
                    await self._calls.note_error(item.call_id, item.error)
                if item.end_reason:
                    await self._calls.note_end_reason(item.call_id, item.end_reason)
                if item.opted_out:
                    await self._opt_out(item)
                if item.turn_patience is not None and self._seniors is not None:
                    await self._seniors.set_turn_patience_by_call(item.call_id, item.turn_patience)
                if item.recording is not None and self._recordings is not None:
                    await self._recordings.save(item.call_id, item.recording)

    async def _opt_out(self, note: CallNote) -> None:
        if self._seniors is None:
            logger.error(f"Call {note.call_id}: the person opted out, but no roster to mark")
            return
        # Idempotent: a retried batch marks the same person again, harmlessly.
        senior_id = await self._seniors.opt_out_by_call(note.call_id, OPT_OUT_REASON)
        log = logger.bind(call_id=note.call_id)
        if senior_id is None:
            log.info("The person asked not to be called again; the number is not on the roster")
        else:
            log.info(f"Person {senior_id} asked not to be called again: marked do-not-call")


def _note_data(note: CallNote) -> dict[str, object]:
    data: dict[str, object] = {"end_reason": note.end_reason}
    if note.opted_out:
        data["opted_out"] = True
    return data

"""Transcripts and recordings are kept for `TRANSCRIPT_RETENTION_DAYS` days (0: for ever). Every
hour the turns and the recordings of older calls are deleted; the calls themselves, their
wellbeing records and alerts are kept, so trends and the history stay whole.

The same hourly round deletes recording files that no call names any more (their call was
deleted while it was being recorded, or the server stopped between deleting rows and files;
`persistence.recordings`), whatever the retention period.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from loguru import logger

from carecall.core.clock import Clock
from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.privacy import PrivacyRepository
from carecall.persistence.recordings import RecordingRepository
from carecall.settings import Settings

RUN_EVERY_SECONDS = 3600.0


class TranscriptRetention:
    def __init__(
        self,
        settings: Settings,
        privacy: PrivacyRepository,
        clock: Clock,
        *,
        database: DependencyWatch | None = None,
        recordings: RecordingRepository | None = None,
    ) -> None:
        self._days = settings.transcript_retention_days
        self._database = database or database_watch()
        self._privacy = privacy
        self._recordings = recordings
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Whether old transcripts and recordings are deleted."""
        return self._days > 0

    async def start(self) -> None:
        if self.enabled or self._recordings is not None:
            self._task = asyncio.create_task(self._run(), name="transcript-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Delete the transcripts and recordings past the retention period, and recording files
        no call names; returns how many turns went."""
        if self._recordings is not None:
            await self._recordings.delete_unnamed_files()
        if not self.enabled:
            return 0
        cutoff = self._clock.now() - timedelta(days=self._days)
        deleted = await self._privacy.drop_old_transcripts(cutoff)
        if deleted:
            logger.info(f"Deleted {deleted} transcript turns of calls older than {self._days} days")
        if self._recordings is not None:
            recordings = await self._recordings.drop_older_than(cutoff)
            if recordings:
                logger.info(
                    f"Deleted {recordings} recordings of calls older than {self._days} days"
                )
        return deleted

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                if not self._database.failed(exc, "transcript retention"):
                    logger.exception("Deleting old transcripts failed; trying again in an hour")
            else:
                self._database.answered()
            await asyncio.sleep(RUN_EVERY_SECONDS)

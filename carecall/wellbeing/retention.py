"""Transcripts are kept for `TRANSCRIPT_RETENTION_DAYS` days (0: for ever). Every hour the
turns of older calls are deleted; the calls themselves, their wellbeing records and alerts are
kept, so trends and the history stay whole."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from loguru import logger

from carecall.core.clock import Clock
from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.privacy import PrivacyRepository
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
    ) -> None:
        self._days = settings.transcript_retention_days
        self._database = database or database_watch()
        self._privacy = privacy
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._days > 0

    async def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._run(), name="transcript-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Delete the transcripts past the retention period; returns how many turns went."""
        if not self.enabled:
            return 0
        cutoff = self._clock.now() - timedelta(days=self._days)
        deleted = await self._privacy.drop_old_transcripts(cutoff)
        if deleted:
            logger.info(f"Deleted {deleted} transcript turns of calls older than {self._days} days")
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

"""`StatusBacklog`: Twilio status callbacks that arrive while the database is away, kept and
applied once it is back.

Twilio does not retry a status callback that failed: answering 503 would leave the call open
until the reconciler asks Twilio about it, minutes later. Instead the callback is acknowledged
and kept here, in arrival order, and one background task applies them as soon as the database
answers again, retrying with backoff. Applying a status is idempotent and only ever moves a call
forward, so a late or repeated one is harmless. At most ``limit`` are kept: past that the oldest
is dropped with a warning, and the reconciler still closes that call. What is left when the
process stops is logged; the reconciler covers those too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from loguru import logger

from persistence.database import database_unreachable
from persistence.repositories import StatusUpdate

Apply = Callable[[StatusUpdate], Awaitable[object]]


class StatusBacklog:
    def __init__(
        self,
        apply: Apply,
        *,
        limit: int = 10_000,
        first_delay: float = 0.5,
        max_delay: float = 5.0,
    ) -> None:
        self._apply = apply
        self._limit = limit
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._pending: deque[StatusUpdate] = deque()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def keep(self, update: StatusUpdate) -> None:
        """Keep ``update`` (its database write just failed: the database is unreachable) and
        apply it once the database is back."""
        if len(self._pending) >= self._limit:
            dropped = self._pending.popleft()
            logger.bind(call_sid=dropped.call_sid).warning(
                f"{self._limit} status callbacks are waiting for the database: the oldest "
                f"({dropped.status.value}) is dropped; the reconciler will close that call"
            )
        self._pending.append(update)
        logger.bind(call_sid=update.call_sid).warning(
            f"The database is unreachable: status {update.status.value} is kept and will be "
            f"applied once it is back ({len(self._pending)} waiting)"
        )
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="status-backlog")

    async def _drain(self) -> None:
        delay = self._first_delay
        applied = 0
        while self._pending:
            update = self._pending[0]
            try:
                await self._apply(update)
            except Exception as exc:
                if database_unreachable(exc):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_delay)
                    continue
                logger.bind(call_sid=update.call_sid).exception(
                    f"A kept status callback ({update.status.value}) could not be applied"
                )
            else:
                applied += 1
            self._pending.popleft()
            delay = self._first_delay
        logger.info(f"The database is back: {applied} kept status callback(s) applied")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:
            logger.warning(
                f"{len(self._pending)} status callback(s) kept during a database outage were "
                "not applied before the server stopped; the reconciler will close those calls"
            )

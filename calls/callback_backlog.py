"""`CallbackBacklog`: what Twilio's callbacks (call statuses, answering-machine verdicts) would
have written while the database is away, kept and written once it is back.

Twilio does not retry a callback that failed: answering 503 to a status would leave the call
open until the reconciler asks Twilio about it, minutes later. Instead the callback is
acknowledged and its write kept here, in arrival order, and one background task makes them as
soon as the database answers again, retrying with backoff. Those writes are idempotent (a
status only ever moves a call forward, a verdict is kept once given), so a late or repeated one
is harmless. At most ``limit`` are kept: past that the oldest is dropped with a warning, and
the reconciler still closes that call. What is left when the process stops is logged; the
reconciler covers those too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from loguru import logger

from persistence.database import database_unreachable


@dataclass(frozen=True)
class KeptWrite:
    call_sid: str
    what: str
    """What it writes, for the log (e.g. "status completed")."""
    write: Callable[[], Awaitable[object]]


class CallbackBacklog:
    def __init__(
        self,
        *,
        limit: int = 10_000,
        first_delay: float = 0.5,
        max_delay: float = 5.0,
    ) -> None:
        self._limit = limit
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._pending: deque[KeptWrite] = deque()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def keep(self, call_sid: str, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """Keep ``write`` (it just failed: the database is unreachable) and make it once the
        database is back."""
        if len(self._pending) >= self._limit:
            dropped = self._pending.popleft()
            logger.bind(call_sid=dropped.call_sid).warning(
                f"{self._limit} callbacks are waiting for the database: the oldest "
                f"({dropped.what}) is dropped; the reconciler will close that call"
            )
        self._pending.append(KeptWrite(call_sid, what, write))
        logger.bind(call_sid=call_sid).warning(
            f"The database is unreachable: {what} is kept and will be written once it is "
            f"back ({len(self._pending)} waiting)"
        )
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="callback-backlog")

    async def _drain(self) -> None:
        delay = self._first_delay
        applied = 0
        while self._pending:
            kept = self._pending[0]
            try:
                await kept.write()
            except Exception as exc:
                if database_unreachable(exc):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._max_delay)
                    continue
                logger.bind(call_sid=kept.call_sid).exception(
                    f"A kept callback's write ({kept.what}) failed"
                )
            else:
                applied += 1
            self._pending.popleft()
            delay = self._first_delay
        logger.info(f"The database is back: {applied} kept callback write(s) made")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:
            logger.warning(
                f"{len(self._pending)} callback write(s) kept during a database outage were not "
                "made before the server stopped; the reconciler will close those calls"
            )

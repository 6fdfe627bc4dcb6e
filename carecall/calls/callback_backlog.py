"""`CallbackBacklog`: what Twilio's callbacks (call statuses, answering-machine verdicts) would
have written while the database is away, kept and written once it is back.

Twilio does not retry a callback that failed: answering 503 to a status would leave the call
open until the reconciler asks Twilio about it, minutes later. Instead the callback is
acknowledged and its write kept here, in arrival order, and one background task makes them as
soon as the database answers again, retrying with backoff.

Those writes are idempotent (a status only ever moves a call forward, a verdict is kept once
given), so a late or repeated one is harmless. At most ``limit`` are kept: past that the oldest
is dropped with a warning, and the reconciler still closes that call. What is left when the
process stops is logged; the reconciler covers those too.

`write_or_keep` is how a webhook writes, and it answers within `WRITE_WITHIN_SECONDS` whatever
the database does. A database that refuses fails the write at once; one behind a network that
drops packets would hold the webhook until the connect timeout, near Twilio's 15 s limit, so a
write not made by then is kept, in its place, and left to finish or fail by itself meanwhile
(not cancelled: a cancelled write can hang in turn; made twice, it is harmless). While writes
are kept, a new one joins them at once, behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from loguru import logger

from carecall.observability.outages import DependencyWatch, database_watch
from carecall.persistence.database import database_unreachable

T = TypeVar("T")

WRITE_WITHIN_SECONDS = 0.5
"""How long a webhook waits on its write before it is acknowledged anyway (Twilio wants an
answer within 15 s; we promise 1 s). A healthy database writes in milliseconds."""


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
        database: DependencyWatch | None = None,
    ) -> None:
        self._database = database or database_watch()
        self._limit = limit
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._pending: deque[KeptWrite] = deque()
        self._task: asyncio.Task[None] | None = None
        self._unfinished: set[asyncio.Future[Any]] = set()

    def __len__(self) -> int:
        return len(self._pending)

    async def write_or_keep(
        self,
        call_sid: str,
        what: str,
        write: Callable[[], Awaitable[T]],
        *,
        within: float = WRITE_WITHIN_SECONDS,
    ) -> tuple[bool, T | None]:
        """(True, ``write()``'s result) when it is made within ``within`` seconds; otherwise
        (False, None), and the write is kept. An error that is not the database's absence is
        raised."""
        if self._pending:  # the database is away: in order, behind the others
            self.keep(call_sid, what, write)
            return False, None
        attempt = asyncio.ensure_future(write())
        await asyncio.wait({attempt}, timeout=within)
        if not attempt.done():
            self._unfinished.add(attempt)
            attempt.add_done_callback(self._forget)
            self.keep(call_sid, what, write)
            return False, None
        exc = attempt.exception()
        if exc is None:
            return True, attempt.result()
        if not self._database.failed(exc, "a Twilio callback"):
            raise exc
        self.keep(call_sid, what, write)
        return False, None

    def keep(self, call_sid: str, what: str, write: Callable[[], Awaitable[object]]) -> None:
        """Keep ``write`` (the database is unreachable, or too slow to wait for) and make it
        once the database answers."""
        if len(self._pending) >= self._limit:
            dropped = self._pending.popleft()
            logger.bind(call_sid=dropped.call_sid).warning(
                f"{self._limit} callbacks are waiting for the database: the oldest "
                f"({dropped.what}) is dropped; the reconciler will close that call"
            )
        self._pending.append(KeptWrite(call_sid, what, write))
        logger.bind(call_sid=call_sid).info(
            f"The database did not answer: {what} is kept and will be written once it does "
            f"({len(self._pending)} waiting)"
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
                self._database.answered()
            self._pending.popleft()
            delay = self._first_delay
        logger.info(f"{applied} kept callback write(s) made")

    def _forget(self, attempt: asyncio.Future[Any]) -> None:
        """A write that was kept all the same: how this try ended no longer matters."""
        self._unfinished.discard(attempt)
        if not attempt.cancelled():
            attempt.exception()

    async def aclose(self) -> None:
        for attempt in list(self._unfinished):
            attempt.cancel()
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

"""Readiness: whether this instance should be sent new work (`/readyz`).

Ready means the database answers `SELECT 1` and, when REDIS_URL is set, Redis answers PING,
each within a short timeout, and the instance is not shutting down. A load balancer takes an
instance that is not ready out of rotation; liveness (`/healthz`) only says the process runs.
Failures are named, never explained with messages or URLs (they may hold hosts or secrets).

The timeout bounds the answer, not only the probe: behind a network that drops packets, a
cancelled database probe can take seconds more to unwind (the pool closes the connection it was
pinging, and that too hangs), so `/readyz` does not wait for it. A probe still hanging from an
earlier `/readyz` is waited on again rather than joined by another, so a load balancer's checks
never pile up connections.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHECK_TIMEOUT_SECONDS = 1.5
"""Under the README's promise (a 503 within 2 s), with room for the request itself."""
OK = "ok"
NOT_USED = "not used"


@dataclass(frozen=True)
class ReadinessReport:
    ready: bool
    body: dict[str, str] = field(default_factory=dict)


class Readiness:
    """`check()` for `/readyz`. Set `shutting_down` when the instance starts to drain: from
    then on it is not ready, whatever its database and Redis say."""

    def __init__(
        self,
        engine: AsyncEngine,
        redis_ping: Callable[[], Awaitable[object]] | None = None,
        *,
        timeout: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._engine = engine
        self._redis_ping = redis_ping
        self._timeout = timeout
        self._running: dict[str, asyncio.Future[object]] = {}
        self.shutting_down = False

    async def check(self) -> ReadinessReport:
        database, redis = await asyncio.gather(
            self._probe("database", self._select_one),
            self._probe("redis", self._redis_ping) if self._redis_ping else _not_used(),
        )
        body = {"database": database, "redis": redis}
        if self.shutting_down:
            body["status"] = "shutting down"
        ready = not self.shutting_down and database == OK and redis in (OK, NOT_USED)
        return ReadinessReport(ready, body)

    async def _select_one(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _probe(self, name: str, check: Callable[[], Awaitable[object]]) -> str:
        probe = self._running.get(name)
        if probe is None:
            probe = self._running[name] = asyncio.ensure_future(check())
            probe.add_done_callback(functools.partial(self._finished, name))
        # `wait`, unlike `wait_for`, returns at the timeout without waiting for the cancellation.
        await asyncio.wait({probe}, timeout=self._timeout)
        if not probe.done():
            probe.cancel()  # unwinds in its own time; the next check waits on it meanwhile
            return "timed out"
        if probe.cancelled():  # an earlier check's, timed out too
            return "timed out"
        return OK if probe.exception() is None else "unreachable"

    def _finished(self, name: str, probe: asyncio.Future[object]) -> None:
        if self._running.get(name) is probe:
            del self._running[name]
        if not probe.cancelled():
            probe.exception()  # retrieved: a failed probe is its answer, not a warning


async def _not_used() -> str:
    return NOT_USED

"""Readiness: whether this instance should be sent new work (`/readyz`).

Ready means the database answers `SELECT 1` and, when REDIS_URL is set, Redis answers PING,
each within a short timeout, and the instance is not shutting down. A load balancer takes an
instance that is not ready out of rotation; liveness (`/healthz`) only says the process runs.
Failures are named, never explained with messages or URLs (they may hold hosts or secrets).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CHECK_TIMEOUT_SECONDS = 2.0
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
        self.shutting_down = False

    async def check(self) -> ReadinessReport:
        database, redis = await asyncio.gather(
            self._probe(self._select_one),
            self._probe(self._redis_ping) if self._redis_ping else _not_used(),
        )
        body = {"database": database, "redis": redis}
        if self.shutting_down:
            body["status"] = "shutting down"
        ready = not self.shutting_down and database == OK and redis in (OK, NOT_USED)
        return ReadinessReport(ready, body)

    async def _select_one(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def _probe(self, check: Callable[[], Awaitable[object]]) -> str:
        try:
            await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return "timed out"
        except Exception:
            return "unreachable"
        return OK


async def _not_used() -> str:
    return NOT_USED

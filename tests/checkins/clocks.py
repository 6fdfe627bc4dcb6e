"""A clock the test moves by hand, so dispatcher, retry and escalation tests can run a day of
check-ins in milliseconds and land exactly on the edges (07:59, 08:00, 20:59 local)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Implements `core.clock.Clock`. `sleep` moves the fake time forward instead of waiting,
    then yields once so other tasks get to run, as a real sleep would let them."""

    def __init__(self, moment: datetime | None = None) -> None:
        self._now = _as_utc(moment or datetime(2026, 1, 5, 15, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _as_utc(moment)

    def advance(self, seconds: float = 0, minutes: float = 0, hours: float = 0) -> datetime:
        self._now += timedelta(seconds=seconds, minutes=minutes, hours=hours)
        return self._now

    async def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)


def _as_utc(moment: datetime) -> datetime:
    # A naive datetime here is almost always a test bug (local vs UTC), so refuse it loudly.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("FakeClock needs an aware datetime, e.g. datetime(..., tzinfo=UTC)")
    return moment.astimezone(UTC)

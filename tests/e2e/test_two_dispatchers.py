"""Two carecall instances, each a `uvicorn server:app` process running its own check-in
dispatcher (as every instance does), on one PostgreSQL database and one Redis, with one fake
Twilio REST API in the test. 200 people are due for their check-in at once: each is dialed
exactly once, the two instances share the work, and CALLS_PER_SECOND holds across both."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from carecall.core.clock import SystemClock
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.models import Checkin, CheckinState
from tests.checkins.crowd import assert_rate_held, seed_many
from tests.e2e.instances import backing
from tests.redis_support import TEST_REDIS_URL, unique_channel

pytestmark = pytest.mark.e2e

PEOPLE = 200
CALLS_PER_SECOND = 50


async def todays_checkins(database_url: str) -> list[Checkin]:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return list(
                (
                    await session.scalars(
                        select(Checkin).where(Checkin.state == CheckinState.CALLING)
                    )
                ).all()
            )
    finally:
        await engine.dispose()


async def test_two_instances_dial_200_due_checkins_once_each_within_the_rate(
    tmp_path: Path,
) -> None:
    dispatching = {
        "DISPATCHER_ENABLED": "true",
        "DISPATCH_INTERVAL_SECONDS": "0.5",
        "DISPATCH_BATCH_SIZE": "10",
        "CALLS_PER_SECOND": str(CALLS_PER_SECOND),
        "REDIS_URL": TEST_REDIS_URL,
        "REDIS_CHANNEL": unique_channel(),
    }
    async with (
        backing("carecall_dispatchers", tmp_path) as shared,
        shared.instance("a", **dispatching) as a,
        shared.instance("b", **dispatching) as b,
    ):
        # Both are up (their dispatchers find nothing due); now 200 people fall due at once.
        await seed_many(shared.database_url, SystemClock(), PEOPLE)
        seeded = time.monotonic()
        requests = shared.twilio.api.requests

        def dials() -> list[tuple[float, str]]:
            return [
                (r.at, str(r.data["To"]))
                for r in list(requests)
                if r.method == "POST" and r.url.endswith("/Calls.json")
            ]

        deadline = seeded + 30
        while len(dials()) < PEOPLE:
            assert time.monotonic() < deadline, f"only {len(dials())} of {PEOPLE} dialed"
            await asyncio.sleep(0.2)
        await asyncio.sleep(2 * 0.5 + 0.5)  # two more rounds each: nobody is dialed again
        dialed = dials()
        calling = await todays_checkins(shared.database_url)
        errors = a.logged_errors() + b.logged_errors()

    numbers = Counter(number for _, number in dialed)
    assert len(dialed) == PEOPLE and len(numbers) == PEOPLE, numbers.most_common(3)
    assert_rate_held([moment for moment, _ in dialed], CALLS_PER_SECOND)
    first, last = min(m for m, _ in dialed), max(m for m, _ in dialed)
    assert last - first >= (PEOPLE - 1) / CALLS_PER_SECOND * 0.95, "faster than the rate"
    assert len(calling) == PEOPLE
    assert all(c.attempts == 1 and c.current_call_id is not None for c in calling)
    shares = Counter(c.claimed_by for c in calling)
    assert len(shares) == 2, f"one instance did all the work: {shares}"
    assert not errors, "the servers logged errors:\n" + "\n".join(errors)

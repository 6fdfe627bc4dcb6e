"""Many people due for their check-in at once, and the calling rate they must be dialed at:
for the tests of dispatchers side by side (in one process or in several)."""

from __future__ import annotations

from datetime import time as dt_time

from sqlalchemy import insert

from carecall.core.clock import Clock
from carecall.core.schedule import parse_weekdays
from carecall.persistence.checkins import CheckinRepository
from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.models import CheckinPlan, Senior
from tests.checkins.program import midday_zone


def assert_rate_held(moments: list[float], per_second: float) -> None:
    """No more than `per_second` calls in any one-second stretch."""
    limit = int(per_second)
    ordered = sorted(moments)
    gaps = [ordered[i + limit] - ordered[i] for i in range(len(ordered) - limit)]
    assert min(gaps) >= 1.0, f"{limit + 1} calls within {min(gaps):.3f} s"


async def seed_many(database_url: str, clock: Clock, count: int) -> None:
    """`count` consenting people with a daily plan due now, in three bulk inserts."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    now = clock.now()
    zone = midday_zone(now)
    async with create_session_factory(engine).begin() as session:
        senior_ids = (
            await session.scalars(
                insert(Senior).returning(Senior.id),
                [
                    {
                        "name": f"Person {i}",
                        "phone_number": f"+1312555{1000 + i:04d}",
                        "timezone": zone,
                        "consent_given_by": "them",
                        "consent_method": "written",
                        "consent_at": now,
                        "consent_recorded_by": "tests",
                    }
                    for i in range(count)
                ],
            )
        ).all()
        await session.execute(
            insert(CheckinPlan),
            [
                {
                    "senior_id": senior_id,
                    "weekdays": ",".join(parse_weekdays("daily")),
                    "window_start": dt_time(10, 30),
                    "window_end": dt_time(13, 30),
                }
                for senior_id in senior_ids
            ],
        )
    await CheckinRepository(create_session_factory(engine)).schedule(now)
    await engine.dispose()

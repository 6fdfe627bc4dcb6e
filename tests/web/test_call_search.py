"""`CallRepository.search`: the history's filters, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from carecall.persistence.models import Call, CallStatus
from carecall.persistence.repositories import CallFilter, CallRepository

DAY = datetime(2025, 6, 16, 12, 0, tzinfo=UTC)


async def _call(repo: CallRepository, number: str, status: CallStatus, created: datetime) -> int:
    call = await repo.create(number, "+15005550006")
    async with repo._sessions.begin() as session:
        await session.execute(
            update(Call).where(Call.id == call.id).values(status=status, created_at=created)
        )
    return call.id


async def test_search_filters_and_counts(calls_repo: CallRepository) -> None:
    old = await _call(calls_repo, "+14155550100", CallStatus.COMPLETED, DAY - timedelta(days=3))
    busy = await _call(calls_repo, "+14155550100", CallStatus.BUSY, DAY)
    other = await _call(calls_repo, "+442079460958", CallStatus.NO_ANSWER, DAY)
    late = await _call(calls_repo, "+14155550199", CallStatus.FAILED, DAY.replace(hour=23))

    async def ids(filters: CallFilter, limit: int = 50, offset: int = 0) -> tuple[list[int], int]:
        calls, total = await calls_repo.search(filters, limit=limit, offset=offset)
        return [c.id for c in calls], total

    assert await ids(CallFilter()) == ([late, other, busy, old], 4)
    assert await ids(CallFilter(number_digits="0100")) == ([busy, old], 2)
    assert await ids(CallFilter(number_digits="4155550")) == ([late, busy, old], 3)
    statuses = [CallStatus.BUSY, CallStatus.FAILED]
    assert await ids(CallFilter(statuses=statuses)) == ([late, busy], 2)
    # Times with any offset, or none (UTC), compare as the same instants on both databases.
    tokyo = timezone(timedelta(hours=9))
    on_the_16th_in_tokyo = CallFilter(
        created_from=datetime(2025, 6, 16, tzinfo=tokyo),
        created_before=datetime(2025, 6, 17, tzinfo=tokyo),
    )
    assert await ids(on_the_16th_in_tokyo) == ([other, busy], 2)
    naive = CallFilter(created_from=datetime(2025, 6, 16, 23, 0))
    assert await ids(naive) == ([late], 1)
    both = CallFilter(number_digits="1415", statuses=[CallStatus.COMPLETED, CallStatus.BUSY])
    assert await ids(both, limit=1) == ([busy], 2)
    assert await ids(both, limit=1, offset=1) == ([old], 2)


async def test_a_number_search_is_digits_only(calls_repo: CallRepository) -> None:
    with pytest.raises(ValueError, match="digits only"):
        await calls_repo.search(CallFilter(number_digits="%"))

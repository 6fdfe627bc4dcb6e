"""Start-up is a stack (`server._start`): shutdown stops every service it started, and a service
that fails to start stops those that started before it, on both databases and a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

import asyncpg
import pytest
from redis.asyncio import Redis

from carecall.app_state import start_service
from carecall.calls.reconcile import Reconciler
from carecall.server import create_app
from carecall.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.redis_support import TEST_REDIS_URL, unique_channel

BACKGROUND = {
    "redis-events-publisher",
    "redis-events-subscriber",
    "metrics",
    "dashboard-feed",
    "record-writer",
    "record-publisher",
    "record-jobs",
    "checkin-dispatcher",
    "transcript-retention",
}
"""The tasks of the services started before the reconciler (the last loop to start)."""


def _everything_on(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(
        database_url=database_url,
        redis_url=TEST_REDIS_URL,
        redis_channel=unique_channel(),
        dispatcher_enabled=True,
        record_worker_enabled=True,
        transcript_retention_days=30,
        reconcile_calls=True,
    )


def _others() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def _subscribers(channel: str) -> int:
    redis = Redis.from_url(TEST_REDIS_URL)
    try:
        [(_, count)] = await redis.pubsub_numsub(channel)
        return int(count)
    finally:
        await redis.aclose()


async def _other_connections(database_url: str) -> int:
    """Connections to the test database besides this one (0 on SQLite: there are none)."""
    if not database_url.startswith("postgresql"):
        return 0
    connection = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(count)
    finally:
        await connection.close()


async def test_shutdown_stops_every_service_it_started(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = _everything_on(make_settings, database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        running = _others()
        assert BACKGROUND | {"call-reconciler"} <= {task.get_name() for task in running}
        assert await _subscribers(settings.redis_channel) == 1
        if database_url.startswith("postgresql"):
            assert await _other_connections(database_url) > 0

    assert [task.get_name() for task in running if not task.done()] == []
    assert await _subscribers(settings.redis_channel) == 0
    assert await _other_connections(database_url) == 0
    assert app.state.carecall.readiness.shutting_down


async def test_a_service_that_fails_to_start_stops_those_started_before_it(
    make_settings: Callable[..., Settings], database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _everything_on(make_settings, database_url)
    running: set[asyncio.Task[object]] = set()

    async def cannot_start(_reconciler: Reconciler) -> None:
        running.update(_others())
        assert await _subscribers(settings.redis_channel) == 1
        raise RuntimeError("the reconciler cannot start")

    monkeypatch.setattr(Reconciler, "start", cannot_start)
    app = create_app(settings)
    with pytest.raises(RuntimeError, match="the reconciler cannot start"):
        async with app.router.lifespan_context(app):
            pytest.fail("the server started without its reconciler")

    assert {task.get_name() for task in running} >= BACKGROUND
    assert [task.get_name() for task in running if not task.done()] == []
    assert await _subscribers(settings.redis_channel) == 0
    assert await _other_connections(database_url) == 0


class _HalfStarting:
    """A service whose start fails after it has set something running."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(asyncio.sleep(3600))
        raise ConnectionError("gave up half-way")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def test_a_start_that_fails_half_way_is_stopped_too() -> None:
    service = _HalfStarting()
    with pytest.raises(ConnectionError):
        async with AsyncExitStack() as stack:
            await start_service(stack, service)
    assert service.task is not None
    await asyncio.sleep(0)
    assert service.task.cancelled()

"""`/healthz` (the process answers) and `/readyz` (the database and Redis answer): a live server
whose PostgreSQL refuses connections, or whose Redis goes away, is not ready and says which;
it is ready again when they are back. Nothing secret is ever shown or logged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from loguru import logger

from carecall.observability.health import Readiness
from carecall.persistence.database import create_engine
from carecall.settings import Settings
from tests.conftest import POSTGRES_URL
from tests.e2e.harness import LiveServer, free_port
from tests.fakes.twilio_http import FakeAsyncTwilioHttpClient
from tests.postgres_support import admin_execute, database_url, own_database
from tests.redis_support import (
    ProxyThread,
    TcpProxy,
    closed_port,
    redis_url_via,
    unique_channel,
)

READY_WITHIN_SECONDS = 2.5
"""The README promises a 503 within 2 s; a little more for a loaded test machine."""


@asynccontextmanager
async def live(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    server = LiveServer(settings, FakeAsyncTwilioHttpClient(), free_port())
    with server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            yield http


async def readyz_until(
    http: httpx.AsyncClient, status: int, timeout: float = 10.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await http.get("/readyz")
        if response.status_code == status:
            body: dict[str, Any] = response.json()
            return body
        assert time.monotonic() < deadline, f"/readyz stayed {response.status_code}"
        await asyncio.sleep(0.1)


async def test_ready_without_redis_says_it_is_not_used(
    make_settings: Callable[..., Settings],
) -> None:
    async with live(make_settings()) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"database": "ok", "redis": "not used"}


async def test_not_ready_while_postgresql_refuses_connections_then_ready_again(
    make_settings: Callable[..., Settings],
) -> None:
    async with own_database() as name, live(make_settings(database_url=database_url(name))) as http:
        assert await readyz_until(http, 200) == {"database": "ok", "redis": "not used"}
        await admin_execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await admin_execute(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json() == {"database": "unreachable", "redis": "not used"}
        assert (await http.get("/healthz")).status_code == 200  # alive all the same

        await admin_execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        assert await readyz_until(http, 200) == {"database": "ok", "redis": "not used"}


async def test_a_database_behind_a_silent_network_is_named_within_2_s(
    make_settings: Callable[..., Settings],
) -> None:
    # Packets dropped, nothing refused: the pool's connections and new ones hang. Each /readyz
    # still answers in time, however many the load balancer sends meanwhile.
    target = urlsplit(POSTGRES_URL)
    with ProxyThread((target.hostname or "127.0.0.1", target.port or 5432)) as proxy:
        async with own_database() as name:
            url = urlsplit(database_url(name))
            via_proxy = urlunsplit(url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}"))
            async with live(make_settings(database_url=via_proxy)) as http:
                assert await readyz_until(http, 200) == {"database": "ok", "redis": "not used"}
                proxy.black_hole()
                try:
                    for _ in range(3):
                        began = time.monotonic()
                        down = await http.get("/readyz")
                        took = time.monotonic() - began
                        assert down.status_code == 503
                        assert down.json() == {"database": "timed out", "redis": "not used"}
                        assert took < READY_WITHIN_SECONDS, f"/readyz took {took:.1f} s"
                finally:
                    proxy.restore()
                assert await readyz_until(http, 200, timeout=20) == {
                    "database": "ok",
                    "redis": "not used",
                }


async def test_not_ready_while_redis_is_away_then_ready_again(
    make_settings: Callable[..., Settings],
) -> None:
    proxy = TcpProxy()
    await proxy.start()
    try:
        settings = make_settings(
            redis_url=redis_url_via(proxy.port), redis_channel=unique_channel()
        )
        async with live(settings) as http:
            assert await readyz_until(http, 200) == {"database": "ok", "redis": "ok"}
            await proxy.stop()
            down = await http.get("/readyz")
            assert down.status_code == 503
            assert down.json() == {"database": "ok", "redis": "unreachable"}
            await proxy.start()
            assert await readyz_until(http, 200) == {"database": "ok", "redis": "ok"}
    finally:
        await proxy.stop()


async def test_a_redis_password_is_never_shown_or_logged(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        redis_url=f"redis://:hunter2-secret@127.0.0.1:{closed_port()}/0",
        redis_channel=unique_channel(),
        log_level="INFO",
    )
    server = LiveServer(settings, FakeAsyncTwilioHttpClient(), free_port())
    logs: list[str] = []
    sink = logger.add(logs.append, level="DEBUG", format="{message}")
    try:
        with server:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
                down = await http.get("/readyz")
                metrics = await http.get("/metrics")
    finally:
        logger.remove(sink)
    assert down.status_code == 503
    assert down.json() == {"database": "ok", "redis": "unreachable"}
    assert any("Redis at redis://127.0.0.1:" in line for line in logs)  # it did say
    for text in (down.text, metrics.text, *logs):
        assert "hunter2" not in text


async def test_shutting_down_is_not_ready(make_settings: Callable[..., Settings]) -> None:
    server = LiveServer(make_settings(), FakeAsyncTwilioHttpClient(), free_port())
    with server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
            server.app.state.carecall.readiness.shutting_down = True
            response = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "not used", "status": "shutting down"}


async def test_a_database_that_never_answers_is_named_within_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, then says nothing, like a host behind a dead link

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/carecall")
    refused = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/carecall")
    try:
        began = time.monotonic()
        report = await Readiness(hung, timeout=0.3).check()
        assert time.monotonic() - began < 2
        assert (report.ready, report.body) == (
            False,
            {"database": "timed out", "redis": "not used"},
        )

        async def redis_down() -> None:
            raise ConnectionError("Error 111 connecting to redis://:pw@host")

        report = await Readiness(refused, redis_down, timeout=2).check()
        assert (report.ready, report.body) == (
            False,
            {"database": "unreachable", "redis": "unreachable"},
        )
    finally:
        await hung.dispose()
        await refused.dispose()
        server.close()

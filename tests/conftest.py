"""Shared fixtures: settings, and the two real databases (SQLite file, PostgreSQL on loopback)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from carecall.persistence.database import create_engine, create_session_factory
from carecall.persistence.migrate import upgrade_to_head
from carecall.persistence.repositories import CallRepository
from carecall.settings import Settings

_BASE_POSTGRES_URL = os.environ.get(
    "CARECALL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, … when pytest-xdist runs the suite


def _worker_url(url: str, worker: str | None) -> str:
    """Each pytest-xdist worker resets a database of its own (``test_gw0``, ``test_gw1``, …):
    tests drop and recreate the schema, so two workers must never share one."""
    if worker is None:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"{parts.path}_{worker}"))


POSTGRES_URL = _worker_url(_BASE_POSTGRES_URL, _WORKER)
TEST_AUTH_TOKEN = "test-auth-token-0123456789abcdef"
TEST_ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_BASE = "https://carecall.example.org"


async def _create_worker_database() -> None:
    parts = urlsplit(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    name = parts.path.lstrip("/")
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            from tests.postgres_support import create_database

            await create_database(admin, name)
    finally:
        await admin.close()


def pytest_configure(config: pytest.Config) -> None:
    if _WORKER is not None:
        asyncio.run(_create_worker_database())


async def reset_postgres() -> None:
    """Drop everything in the test database so each test starts from an empty schema."""
    dsn = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}"
    await reset_postgres()
    return POSTGRES_URL


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'carecall.db'}",
            "twilio_account_sid": TEST_ACCOUNT_SID,
            "twilio_auth_token": TEST_AUTH_TOKEN,
            "twilio_phone_number": "+15005550006",
            "webhook_url": PUBLIC_BASE,
            "openai_api_key": "sk-test",
            # Nothing listens there: a test without the fake OpenAI never reaches the internet.
            "openai_base_url": "http://127.0.0.1:9/v1",
            "session_secret": "test-session-secret-that-is-long-enough-0123",
            # Never ./recordings (the default with PostgreSQL): each test's own folder.
            "recordings_path": str(tmp_path / "recordings"),
            "log_level": "WARNING",
            # A test that wants the check-in dispatcher's rounds runs them itself (or turns it on).
            "dispatcher_enabled": False,
            "reconcile_calls": False,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def calls_repo(engine: AsyncEngine) -> CallRepository:
    return CallRepository(create_session_factory(engine))

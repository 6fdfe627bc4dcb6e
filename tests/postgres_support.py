"""A PostgreSQL database of a test's own, on the server of CARECALL_TEST_POSTGRES_URL: for tests
that run server processes on PostgreSQL or take the database away, without touching the shared
`test` database that other tests reset."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tests.conftest import POSTGRES_URL


def admin_dsn() -> str:
    """asyncpg's DSN for the server's `postgres` database (to create and drop databases)."""
    parts = urlsplit(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    return urlunsplit(parts._replace(path="/postgres"))


def database_url(name: str) -> str:
    """carecall's DATABASE_URL for database `name` on the same server."""
    return urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))


async def create_database(admin: asyncpg.Connection, name: str) -> None:
    """CREATE DATABASE copies `template1`, and fails while another CREATE DATABASE (another
    test worker's) is copying it: retry a few times."""
    for attempt in range(50):
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            return
        except asyncpg.ObjectInUseError:
            if attempt == 49:
                raise
            await asyncio.sleep(0.1 + random.random() * 0.2)


@asynccontextmanager
async def own_database(prefix: str = "carecall_scale") -> AsyncIterator[str]:
    """A new empty database; yields its name, dropped at the end (connections closed)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn())
    try:
        await create_database(admin, name)
        yield name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def admin_execute(sql: str) -> None:
    admin = await asyncpg.connect(admin_dsn())
    try:
        await admin.execute(sql)
    finally:
        await admin.close()

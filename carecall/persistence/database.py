"""Engine and session factory. One session per unit of work; the pool pings before reuse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_CONNECTIONS = 5
"""A file database's pool size, with no overflow. Each aiosqlite connection is a thread with its
own page cache, and SQLite runs one write at a time anyway: overflow connections, opened for a
burst of webhooks and closed after it, only churned threads (up to 17 at once in a soak, each
with its own malloc arena). A request beyond five waits for a connection."""

POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


def create_engine(database_url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    if database_url.startswith("sqlite"):
        in_memory = make_url(database_url).database in (None, "", ":memory:")
        pool: dict[str, Any] = (
            {} if in_memory else {"pool_size": SQLITE_CONNECTIONS, "max_overflow": 0}
        )
        engine = create_async_engine(
            database_url, echo=echo, connect_args={"timeout": 30}, pool_pre_ping=True, **pool
        )
        _tune_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(
        database_url,
        echo=echo,
        # A database that is unreachable (not refusing) fails a connection in 10 s, not 60.
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets the dashboard read while the writer writes; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database can't be reached right now (restarted, network
    down or unroutable, pool connection dropped, every pooled connection hung on a network
    that drops packets), as opposed to a bad query or data."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    return isinstance(exc, (OSError, PoolTimeout))  # OSError: refused, reset, no route, timed out
